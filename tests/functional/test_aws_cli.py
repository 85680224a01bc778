"""The docs' AWS CLI commands, run with the real AWS CLI against moto on 127.0.0.1, drive a
decorated handler: create the config, start an experiment from a file, pull the kill switch,
release it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaos_layer import inject_fault
from tests.conftest import FakeClock, MotoServer, RecordingSleep

AWS = Path(sys.executable).with_name("aws")
PARAM = "/chaos-layer/orders"
OK = {"statusCode": 200, "body": "ok"}
EVENT = {"version": "2.0", "rawPath": "/orders", "requestContext": {"http": {"method": "GET"}}}


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Runs `aws ...` (a command line of the docs) against the moto server, from tmp_path."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
    monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)

    def aws(command: str) -> subprocess.CompletedProcess[str]:
        words = shlex.split(command)
        assert words[0] == "aws"
        result = subprocess.run(
            [str(AWS), "--endpoint-url", moto_server.endpoint_url, *words[1:]],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result

    return aws


def handler(event: Any, context: Any) -> Any:
    return OK


@pytest.mark.slow
def test_readme_commands_drive_the_handler(aws: Any, tmp_path: Path, clock: FakeClock, sleeps: RecordingSleep) -> None:
    function = inject_fault(clock=clock, sleep=sleeps)(handler)

    aws("""aws ssm put-parameter --name /chaos-layer/orders --type String \
        --value '{"enabled": false, "faults": []}'""")
    assert function(EVENT, None) == OK

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "enabled": True,
                "experiment": "cli",
                "faults": [{"type": "status_code", "status_code": 503, "body": '{"message": "busy"}'}],
            },
            indent=2,
        )
    )
    aws("aws ssm put-parameter --name /chaos-layer/orders --type String --value file://config.json --overwrite")
    clock.advance(60)  # a start reaches an idle environment within CHAOS_LAYER_IDLE_MAX_AGE
    assert function(EVENT, None)["statusCode"] == 503

    aws("aws ssm put-parameter --name /chaos-layer/kill-switch --type String --value on --overwrite")
    assert function(EVENT, None)["statusCode"] == 503  # cached until the period ends
    clock.advance(5)
    assert function(EVENT, None) == OK

    aws("aws ssm put-parameter --name /chaos-layer/kill-switch --type String --value off --overwrite")
    clock.advance(60)
    assert function(EVENT, None) == {
        "statusCode": 503,
        "headers": {},
        "body": '{"message": "busy"}',
        "isBase64Encoded": False,
    }

    aws("aws ssm put-parameter --name /chaos-layer/kill-switch --type String --value on --overwrite")
    clock.advance(5)
    assert function(EVENT, None) == OK
    aws("aws ssm delete-parameter --name /chaos-layer/kill-switch")  # "or delete the parameter"
    clock.advance(60)
    assert function(EVENT, None)["statusCode"] == 503


def test_readme_experiment_command(aws: Any, clock: FakeClock, sleeps: RecordingSleep) -> None:
    """The config document written with the AWS CLI: 5 % of invocations get 300 ms, until expires_at."""
    function = inject_fault(clock=clock, sleep=sleeps)(handler)
    aws("""aws ssm put-parameter --name /chaos-layer/orders --type String --overwrite --value '{
      "enabled": true, "experiment": "orders-latency", "rate": 0.05,
      "expires_at": "2026-11-27T15:00:00Z",
      "faults": [{"type": "latency", "delay_ms": 300}]}'""")

    for _ in range(2000):
        assert function(EVENT, None) == OK
    assert 50 < len(sleeps.calls) < 150
    assert set(sleeps.calls) == {0.3}
