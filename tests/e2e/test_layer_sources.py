"""The built layer in zero-code mode with its config in S3 or AppConfig: the function's code
knows nothing of chaos-layer, and operators change the object with the real AWS CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import AppConfig, MotoServer, S3Bucket, config_json
from tests.e2e.conftest import StartLambda
from tests.e2e.lambda_sim import aws_cli
from tests.e2e.test_layer import hello_response, http_api_event, injection_records

KILL_SWITCH = "/chaos-layer/kill-switch"
BUSY = [{"type": "status_code", "status_code": 503, "body": '{"message": "busy"}'}]


def put_object(moto_server: MotoServer, s3: S3Bucket, key: str, body: str, tmp_path: Path) -> None:
    """`aws s3api put-object`, as an operator runs it."""
    file = tmp_path / "body"
    file.write_text(body)
    aws_cli(
        "s3api", "put-object", "--bucket", s3.name, "--key", key, "--body", str(file),
        endpoint=moto_server.endpoint_url,
    )  # fmt: skip


def test_a_config_in_s3_is_injected_and_stopped_with_the_aws_cli(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer, s3: S3Bucket, tmp_path: Path
) -> None:
    moto_server.put(KILL_SWITCH, "off")  # in SSM, as template.yaml creates it
    put_object(moto_server, s3, "hello.json", config_json(experiment="s3-busy", faults=BUSY), tmp_path)
    function = start_lambda(
        example_function,
        environment={"CHAOS_LAYER_PARAM": s3.location("hello.json"), "AWS_ENDPOINT_URL_S3": moto_server.endpoint_url},
    )

    busy = function.invoke(http_api_event())
    put_object(moto_server, s3, "hello.json", json.dumps({"enabled": False, "faults": BUSY}), tmp_path)
    stopped = function.invoke(http_api_event())

    assert (busy.kind, busy.payload["statusCode"]) == ("response", 503)
    assert [record["experiment"] for record in injection_records(function.logs())] == ["s3-busy"]
    assert (stopped.kind, stopped.payload) == ("response", hello_response())


def test_a_kill_switch_in_s3_stops_a_config_in_s3(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer, s3: S3Bucket, tmp_path: Path
) -> None:
    put_object(moto_server, s3, "hello.json", config_json(faults=BUSY), tmp_path)
    function = start_lambda(
        example_function,
        environment={
            "CHAOS_LAYER_PARAM": s3.location("hello.json"),
            "CHAOS_LAYER_KILL_SWITCH": s3.location("kill-switch"),
            "AWS_ENDPOINT_URL_S3": moto_server.endpoint_url,
        },
    )
    assert function.invoke(http_api_event()).payload["statusCode"] == 503

    put_object(moto_server, s3, "kill-switch", "on", tmp_path)

    assert function.invoke(http_api_event()).payload == hello_response()
    assert "chaos-layer is not injecting" not in function.logs()


def test_a_config_in_appconfig_is_read_from_the_agent(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer, appconfig: AppConfig
) -> None:
    moto_server.put(KILL_SWITCH, "off")
    location = appconfig.profile(application="hello", environment="prod", profile="chaos")
    appconfig.deploy(location, config_json(faults=BUSY))
    function = start_lambda(
        example_function,
        environment={
            "CHAOS_LAYER_PARAM": location,
            "AWS_APPCONFIG_EXTENSION_HTTP_PORT": str(appconfig.standin.agent_port),
        },
    )

    busy = function.invoke(http_api_event())
    appconfig.create_version(location, json.dumps({"enabled": False}))  # hosted, not deployed
    still_busy = function.invoke(http_api_event())
    appconfig.deploy(location, json.dumps({"enabled": False}))
    stopped = function.invoke(http_api_event())

    assert [reply.payload["statusCode"] for reply in (busy, still_busy)] == [503, 503]
    assert stopped.payload == hello_response()
