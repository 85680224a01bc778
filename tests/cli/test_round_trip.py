"""The CLI, the real AWS CLI and a decorated handler all see the same parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos_layer import inject_fault
from tests.cli.conftest import KILL_SWITCH, PARAM, Cli, run_binary
from tests.conftest import FakeClock, MotoServer

API_EVENT = {"version": "2.0", "routeKey": "GET /orders", "rawPath": "/orders", "requestContext": {"http": {}}}


def aws(server: MotoServer, *args: str) -> Any:
    result = run_binary("aws", "ssm", *args, "--endpoint-url", server.endpoint_url, "--output", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def handler(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, clock: FakeClock, sleeps: Any) -> Any:
    """A decorated handler reading the config on every call through the default client,
    pointed at the moto server the way a user would: AWS_ENDPOINT_URL_SSM."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)

    @inject_fault(parameter=PARAM, max_age=0, idle_max_age=0, clock=clock, sleep=sleeps)
    def orders(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": "orders"}

    return orders


def test_a_config_written_by_start_is_read_by_the_aws_cli_and_honoured(
    cli: Cli, moto_server: MotoServer, handler: Any
) -> None:
    assert handler(API_EVENT, None)["statusCode"] == 200
    assert (
        cli("start", "--rate", "1", "--status-code", "503", "--body", "busy", "--experiment", "round-trip").exit_code
        == 0
    )

    parameter = aws(moto_server, "get-parameter", "--name", PARAM, "--with-decryption")["Parameter"]
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"]) == {
        "enabled": True,
        "experiment": "round-trip",
        "rate": 1,
        "expires_at": "2026-09-21T15:13:20Z",  # in an hour: the default
        "faults": [{"type": "status_code", "status_code": 503, "body": "busy"}],
    }
    response = handler(API_EVENT, None)
    assert (response["statusCode"], response["body"]) == (503, "busy")

    assert cli("kill").exit_code == 0
    assert handler(API_EVENT, None)["statusCode"] == 200
    assert cli("resume").exit_code == 0
    assert handler(API_EVENT, None)["statusCode"] == 503
    assert cli("stop").exit_code == 0
    assert handler(API_EVENT, None)["statusCode"] == 200


def test_latency_from_start_is_slept_by_the_handler(cli: Cli, handler: Any, sleeps: Any) -> None:
    assert cli("start", "--rate", "1", "--latency", "250").exit_code == 0
    assert handler(API_EVENT, None)["statusCode"] == 200
    assert sleeps.calls == [0.25]


@pytest.mark.slow
def test_a_config_written_by_the_aws_cli_is_shown_by_status(cli: Cli, moto_server: MotoServer) -> None:
    config = {
        "enabled": True,
        "experiment": "from-aws-cli",
        "expires_at": "2026-09-21T16:13:20+00:00",
        "rate": 0.05,
        "faults": [{"type": "exception", "exception": "TimeoutError", "message": "slow db"}],
    }
    aws(
        moto_server, "put-parameter", "--name", PARAM, "--type", "SecureString",
        "--key-id", "alias/chaos", "--value", json.dumps(config),
    )  # fmt: skip
    aws(moto_server, "put-parameter", "--name", KILL_SWITCH, "--type", "String", "--value", "OFF ")

    status = json.loads(cli("status", "--json").stdout)
    assert status["parameter"]["type"] == "SecureString"
    assert status["config"] == {
        "enabled": True,
        "experiment": "from-aws-cli",
        "rate": 0.05,
        "expires_at": "2026-09-21T16:13:20Z",
        "seconds_left": 7200.0,
        "dry_run": False,
        "control_group": False,
        "blast_radius": {},
        # the message is free text, which may be secret (this is a SecureString): never shown
        "faults": [{"type": "exception", "rate": 1.0, "exception": "TimeoutError", "prevent_execution": True}],
    }
    assert status["kill_switch"] == {
        "name": KILL_SWITCH,
        "source": "ssm",
        "engaged": False,
        "value": "OFF ",
        "deployment": None,
    }
    assert status["injecting"] is True
    text = cli("status").stdout
    assert "(in 2h)" in text
    assert 'exception exception="TimeoutError" prevent_execution=true' in text
    assert "slow db" not in text

    # and a stop through the CLI keeps it a SecureString with its key, as the AWS CLI sees it
    assert cli("stop").exit_code == 0
    (described,) = aws(moto_server, "describe-parameters", "--parameter-filters", f"Key=Name,Values={PARAM}")[
        "Parameters"
    ]
    assert (described["Type"], described["KeyId"]) == ("SecureString", "alias/chaos")


def test_the_kill_switch_written_by_the_aws_cli_as_the_readme_says(cli: Cli, moto_server: MotoServer) -> None:
    cli("start", "--rate", "1", "--latency", "300")
    aws(moto_server, "put-parameter", "--name", KILL_SWITCH, "--type", "String", "--value", "on", "--overwrite")
    status = json.loads(cli("status", "--json").stdout)
    assert (status["kill_switch"]["engaged"], status["injecting"]) == (True, False)
