"""Writes that never lose someone else's change or a parameter's type: a write that races
another (SSM has no conditional write), a change made between the read and the write, and
--type against an existing parameter's type. Against the moto server; the racing write is a
real PutParameter, made by a botocore event handler on the CLI's own client just before
its call goes out."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from chaos_layer import control
from chaos_layer.cli import app as app_module
from tests.cli.conftest import BIN, PARAM, Cli
from tests.conftest import MotoServer, S3Bucket

NARROW = {"enabled": False, "experiment": "narrow", "rate": 0.05, "faults": [{"type": "latency", "delay_ms": 300}]}
RACER = {**NARROW, "rate": 0.01, "experiment": "someone-else"}


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer) -> Callable[[str, str], None]:
    """`race("PutParameter", value)`: just before the CLI's first call of that operation,
    someone else writes `value` to the config parameter."""

    def arm(operation: str, value: str) -> None:
        made = app_module.client_factory

        def factory(**settings: Any) -> Any:
            clients = made(**settings)
            raced: list[bool] = []

            def racing_write(**_: Any) -> None:
                if not raced:
                    raced.append(True)
                    moto_server.client().put_parameter(Name=PARAM, Value=value, Type="String", Overwrite=True)

            clients("ssm").meta.events.register(f"before-call.ssm.{operation}", racing_write)
            return clients

        monkeypatch.setattr(app_module, "client_factory", factory)

    return arm


# a write that raced ours


def test_a_racing_write_that_was_overwritten_is_named_with_how_to_restore_it(
    cli: Cli, moto_server: MotoServer, race: Callable[[str, str], None]
) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))
    race("PutParameter", json.dumps(RACER))

    result = cli("start", "--duration", "1h")

    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "was written by someone else between this command's read and its write" in line
    assert "this write (version 3) replaced it: version 2 by " in line
    assert "changed keys experiment, rate" in line or "changed keys rate, experiment" in line
    assert "someone-else" not in line  # names keys, never values
    assert "0.01" not in line
    # The command it gives restores the overwritten version, through the real AWS CLI.
    command = re.search(r"To restore what was overwritten: (.*)$", line)
    assert command is not None
    assert f"{PARAM}:2" in command.group(1)
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url,
    }
    subprocess.run(["bash", "-c", command.group(1)], env=env, check=True, capture_output=True, timeout=60)
    assert cli.document() == RACER


def test_stop_reports_a_racing_write_too(cli: Cli, moto_server: MotoServer, race: Callable[[str, str], None]) -> None:
    moto_server.put(PARAM, json.dumps({**NARROW, "enabled": True}))
    race("PutParameter", json.dumps(RACER))
    result = cli("stop")
    assert result.exit_code == 1
    assert "version 2 by " in one_line(result.stderr)
    assert cli.document()["enabled"] is False  # the stop itself landed


def test_a_change_seen_before_writing_is_refused_and_nothing_is_written(
    cli: Cli, moto_server: MotoServer, race: Callable[[str, str], None]
) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))
    race("DescribeParameters", json.dumps(RACER))  # after the read, before the write

    result = cli("start", "--latency", "500")

    assert result.exit_code == 3
    line = one_line(result.stderr)
    assert f"{PARAM} changed since it was read (version 2 by " in line
    assert "nothing was written: run the command again" in line
    assert cli.document() == RACER
    assert moto_server.calls("PutParameter") == 1  # the racer's alone


def test_a_write_without_a_race_says_nothing_of_one(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))
    assert cli("start", "--duration", "1h").exit_code == 0
    assert cli("stop").exit_code == 0


def test_resume_reports_a_kill_that_raced_it(
    cli: Cli, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kill_switch = "/chaos-layer/kill-switch"
    moto_server.put(kill_switch, "on")
    made = app_module.client_factory

    def factory(**settings: Any) -> Any:
        clients = made(**settings)

        def racing_kill(**_: Any) -> None:
            moto_server.client().put_parameter(Name=kill_switch, Value="on", Type="String", Overwrite=True)

        clients("ssm").meta.events.register_first("before-call.ssm.PutParameter", racing_kill, unique_id="race")
        return clients

    monkeypatch.setattr(app_module, "client_factory", factory)
    result = cli("resume")
    assert result.exit_code == 1
    assert f"{kill_switch}:2" in result.stderr


# types


def test_type_differing_from_an_existing_parameter_is_a_usage_error_before_any_write(
    cli: Cli, moto_server: MotoServer
) -> None:
    moto_server.put(PARAM, json.dumps(NARROW), type="SecureString")

    result = cli("start", "--latency", "300", "--type", "String")

    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert f"{PARAM} is a SecureString parameter and --type String would change its type" in line
    assert "add --change-type to change it" in line
    assert moto_server.calls("PutParameter") == 0
    assert cli.describe()["Type"] == "SecureString"


def test_a_string_does_not_become_a_secure_string_without_change_type(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))
    result = cli("start", "--latency", "300", "--type", "SecureString")
    assert result.exit_code == 2
    assert "--change-type" in result.stderr
    assert cli.describe()["Type"] == "String"

    assert cli("start", "--latency", "300", "--type", "SecureString", "--change-type").exit_code == 0
    assert cli.describe()["Type"] == "SecureString"
    assert cli.document()["faults"] == [{"type": "latency", "delay_ms": 300}]


def test_secure_string_to_string_needs_force_as_well(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW), type="SecureString")

    result = cli("start", "--latency", "300", "--type", "String", "--change-type")
    assert result.exit_code == 2
    assert "stores its config as plain text; nothing was written. Add --force as well" in one_line(result.stderr)
    assert cli.describe()["Type"] == "SecureString"

    assert cli("start", "--latency", "300", "--type", "String", "--change-type", "--force").exit_code == 0
    assert cli.describe()["Type"] == "String"


def test_the_same_type_as_the_existing_one_needs_no_flag(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW), type="SecureString")
    assert cli("start", "--latency", "300", "--type", "SecureString").exit_code == 0
    assert cli.describe()["Type"] == "SecureString"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--change-type"], "--change-type and --force need --type"),
        (["--force"], "--change-type and --force need --type"),
        (["--type", "String", "--force"], "--force applies only with --change-type"),
    ],
)
def test_change_type_and_force_alone_are_usage_errors(
    cli: Cli, moto_server: MotoServer, flags: list[str], message: str
) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))
    result = cli("start", "--latency", "300", *flags)
    assert result.exit_code == 2
    assert message in one_line(result.stderr)
    assert moto_server.calls("PutParameter") == 0


def test_type_flags_that_make_no_sense_are_refused_before_any_read(cli: Cli, moto_server: MotoServer) -> None:
    result = cli("start", "--force")
    assert result.exit_code == 2
    assert "--change-type and --force need --type" in one_line(result.stderr)
    assert moto_server.requests == []


def test_the_type_is_checked_before_the_widening_question(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({**NARROW, "targets": {"functions": ["checkout"]}}), type="SecureString")
    result = cli("start", "--file", "-", "--type", "String", input=json.dumps({"enabled": True, **NARROW}))
    assert result.exit_code == 2
    assert "would change its type" in result.stderr
    assert "widen" not in result.stderr


def test_the_operator_api_keeps_the_type_rules(moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW), type="SecureString")
    controller = control.Controller(control.clients(endpoint_url=moto_server.endpoint_url), PARAM)
    with pytest.raises(control.UsageError, match="change_type"):
        controller.write_config({**NARROW, "enabled": True}, "String")
    assert controller.write_config(NARROW, "String", change_type=True, force=True).type == "String"


def test_fault_flags_on_an_s3_config_write_only_over_what_was_read(
    cli: Cli, s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 has conditional writes: a change made after `start` read the config is refused."""
    location = s3.location("orders.json")
    s3.put("orders.json", json.dumps(NARROW))
    clients = control.clients()
    raced: list[bool] = []

    def racing_write(**_: Any) -> None:
        if not raced:
            raced.append(True)
            s3.put("orders.json", json.dumps(RACER))

    clients("s3").meta.events.register("before-call.s3.HeadObject", racing_write)
    monkeypatch.setattr(app_module, "client_factory", lambda **_: clients)

    result = cli("start", "--param", location, "--latency", "500", endpoint=False, param=False)

    assert result.exit_code == 3
    line = one_line(result.stderr)
    assert "changed since it was read (someone else wrote it at " in line
    assert "); nothing was written" in line
    assert json.loads(s3.text("orders.json") or "") == RACER
