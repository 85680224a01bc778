"""A refused call names the missing action and the resource in the CLI's error, for every
source, before AWS's own words and without a config's value. The refusal is AWS's answer,
made by a botocore handler on the CLI's own client (moto does not enforce IAM); everything
else is the moto server and the AppConfig stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from chaos_layer import control
from chaos_layer.cli import app as app_module
from tests.cli.conftest import PARAM, Cli
from tests.conftest import AppConfig, MotoServer, S3Bucket
from tests.scripted_endpoint import ScriptedEndpoint

SECRET = "s3cr3t-body"
CONFIG = {"enabled": False, "faults": [{"type": "status_code", "status_code": 503, "body": SECRET}]}


def one_line(text: str) -> str:
    return " ".join(text.split())


def deny(
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    operation: str,
    message: str = "not authorized",
    code: str = "AccessDeniedException",
) -> None:
    """The CLI's `service` client answers `operation` as AWS does when IAM refuses it."""
    clients = control.clients()

    def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": code, "Message": message}
        return AWSResponse("", 400, HTTPHeaders(), None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    clients(service).meta.events.register(
        f"before-call.{clients(service).meta.service_model.service_id.hyphenize()}.{operation}", refuse
    )
    monkeypatch.setattr(app_module, "client_factory", lambda **_: clients)


@pytest.fixture
def run(cli: Cli, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    return lambda *args: cli(*args, endpoint=False, param=False)


def test_ssm_put_parameter(run: Any, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    moto_server.put(PARAM, json.dumps(CONFIG))
    deny(monkeypatch, "ssm", "PutParameter")
    result = run("stop", "--param", PARAM)
    assert result.exit_code == 3
    assert one_line(result.stderr) == (
        f"chaos-layer: error: access denied: could not write {PARAM}: the caller needs ssm:PutParameter on"
        f" arn:aws:ssm:us-east-1:*:parameter{PARAM} (AWS: not authorized)"
    )


def test_ssm_get_parameters_of_a_config_named_by_arn(
    run: Any, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/chaos-layer/orders"
    deny(monkeypatch, "ssm", "GetParameters")
    result = run("status", "--param", arn, "--kill-switch", "/chaos-layer/kill-switch")
    assert result.exit_code == 3
    assert (
        f"the caller needs ssm:GetParameters on {arn} and arn:aws:ssm:us-east-1:*:parameter/chaos-layer/kill-switch"
        in (one_line(result.stderr))
    )


def test_s3_get_object_of_an_sse_kms_object_names_kms_decrypt(
    run: Any, s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("orders.json", json.dumps(CONFIG))
    deny(
        monkeypatch,
        "s3",
        "GetObject",
        "User: x is not authorized to perform: kms:Decrypt on the resource",
        "AccessDenied",
    )
    result = run("status", "--param", s3.location("orders.json"))
    assert result.exit_code == 3
    line = one_line(result.stderr)
    assert f"the caller needs kms:Decrypt on the KMS key of {s3.location('orders.json')} (its SSE-KMS key)" in line
    assert SECRET not in line


@pytest.mark.parametrize(
    ("operation", "resource"),
    [
        ("StartDeployment", "application/{app}/environment/{env} and"),
        ("CreateHostedConfigurationVersion", "application/{app}/configurationprofile/{profile}"),
    ],
)
def test_appconfig_writes(
    run: Any, appconfig: AppConfig, monkeypatch: pytest.MonkeyPatch, operation: str, resource: str
) -> None:
    location = appconfig.profile()
    appconfig.deploy(location, json.dumps(CONFIG))
    ids = appconfig.ids(location)
    deny(monkeypatch, "appconfig", operation)

    result = run("stop", "--param", location)

    assert result.exit_code == 3
    line = one_line(result.stderr)
    named = resource.format(app=ids["ApplicationId"], env=ids["EnvironmentId"], profile=ids["ConfigurationProfileId"])
    assert (
        f"could not write {location}: the caller needs appconfig:{operation} on arn:aws:appconfig:us-east-1:*:{named}"
        in line
    )
    assert line.endswith("(AWS: not authorized)")
    assert SECRET not in line


def test_appconfig_reads(run: Any, appconfig: AppConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    location = appconfig.profile()
    appconfig.deploy(location, json.dumps(CONFIG))
    deny(monkeypatch, "appconfigdata", "StartConfigurationSession")
    result = run("status", "--param", location)
    assert result.exit_code == 3
    assert "the caller needs appconfig:StartConfigurationSession on arn:aws:appconfig:us-east-1:*:application/" in (
        one_line(result.stderr)
    )


def test_an_unlisted_application_names_list_applications(
    run: Any, appconfig: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny(monkeypatch, "appconfig", "ListApplications")
    result = run("stop", "--param", "appconfig://orders/prod/chaos")
    assert result.exit_code == 3
    assert "the caller needs appconfig:ListApplications on arn:aws:appconfig:us-east-1:*:application/*" in (
        one_line(result.stderr)
    )


def test_scripted_s3_denial_is_unchanged(
    run: Any, scripted_endpoint: ScriptedEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_endpoint.answer(403)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", scripted_endpoint.endpoint_url)
    result = run("status", "--param", "s3://chaos-layer-configs/orders.json")
    assert result.exit_code == 3
    assert "the caller needs s3:GetObject on arn:aws:s3:::chaos-layer-configs/orders.json" in one_line(result.stderr)
