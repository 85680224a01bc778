"""Every `chaos-layer` command against a moto SSM server over HTTP, through Typer's CliRunner."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.cli.conftest import KILL_SWITCH, PARAM, Cli
from tests.conftest import FakeClock, MotoServer

NOW = "2026-09-21T14:13:20Z"  # tests/conftest.py's FakeClock starts at 1_790_000_000
IN_AN_HOUR = "2026-09-21T15:13:20Z"  # the expiry a start writes when none is given


def test_the_fake_clock_is_the_instant_the_tests_assume(fake_clock: FakeClock) -> None:
    assert datetime.fromtimestamp(fake_clock(), timezone.utc).isoformat() == "2026-09-21T14:13:20+00:00"


# start


def test_start_writes_an_enabled_config_from_flags(cli: Cli) -> None:
    result = cli("start", "--latency", "300", "--rate", "5%", "--experiment", "orders-latency", "--duration", "15m")
    assert result.exit_code == 0, result.output
    assert cli.document() == {
        "enabled": True,
        "experiment": "orders-latency",
        "expires_at": "2026-09-21T14:28:20Z",
        "rate": 0.05,
        "faults": [{"type": "latency", "delay_ms": 300}],
    }
    assert cli.describe()["Type"] == "String"
    assert "Started experiment 'orders-latency'" in result.stdout
    # A start reaches functions with nothing active within their idle period.
    assert "Every function starts injecting within 1m, the idle cache period" in result.stdout


def test_start_takes_every_fault_flag(cli: Cli) -> None:
    result = cli(
        "start",
        "--latency", "100-800",
        "--exception", "TimeoutError", "--message", "injected",
        "--status-code", "503", "--body", '{"message": "busy"}',
        "--rate", "0.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cli.document()["faults"] == [
        {"type": "latency", "min_ms": 100, "max_ms": 800},
        {"type": "exception", "exception": "TimeoutError", "message": "injected"},
        {"type": "status_code", "status_code": 503, "body": '{"message": "busy"}'},
    ]
    assert cli.document()["rate"] == 0.5


def test_start_until_is_written_in_utc(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--status-code", "503", "--until", "2026-09-21T17:00:00+01:00")
    assert result.exit_code == 0, result.output
    assert cli.document()["expires_at"] == "2026-09-21T16:00:00Z"
    assert "(in 1h 46m)" in result.stdout


def test_start_writes_a_config_file_with_the_flags_applied(cli: Cli, tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"enabled": False, "experiment": "from-file", "faults": [{"type": "exception"}]}))
    result = cli("start", "--file", str(path), "--rate", "0.1")
    assert result.exit_code == 0, result.output
    assert cli.document() == {
        "enabled": True,
        "experiment": "from-file",
        "rate": 0.1,
        "expires_at": IN_AN_HOUR,
        "faults": [{"type": "exception"}],
    }


def test_start_reads_the_file_from_stdin(cli: Cli) -> None:
    result = cli(
        "start", "--rate", "1", "--file", "-", input='{"enabled": true, "faults": [{"type": "latency", "delay_ms": 5}]}'
    )
    assert result.exit_code == 0, result.output
    assert cli.document()["faults"] == [{"type": "latency", "delay_ms": 5}]


@pytest.mark.parametrize(
    ("document", "location"),
    [
        ({"enabled": False, "faults": [{"type": "status_code", "status_code": 700}]}, "faults[0].status_code"),
        ({"enabled": False, "rate": 1.5, "faults": [{"type": "latency", "delay_ms": 1}]}, "rate"),
        ({"enabled": False, "experiment": " ", "faults": [{"type": "latency", "delay_ms": 1}]}, "experiment"),
    ],
)
def test_start_refuses_an_invalid_stored_config_and_leaves_the_parameter_untouched(
    cli: Cli, moto_server: MotoServer, document: dict[str, Any], location: str
) -> None:
    # Bad flag values are usage errors (tests/cli/test_flag_values.py); a stored config that
    # the flags leave invalid is a config error.
    before = json.dumps(document)
    moto_server.put(PARAM, before)
    result = cli("start")
    assert result.exit_code == 1
    assert "the config is invalid, nothing was written" in result.stderr
    assert f"  {location}: " in result.stderr
    assert cli.value() == before
    assert "Traceback" not in result.output


def test_start_from_an_invalid_file_lists_every_problem_and_writes_nothing(cli: Cli, tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"enabled": True, "rat": 1, "faults": [{"type": "latency"}, {"type": "fire"}]}))
    result = cli("start", "--file", str(path))
    assert result.exit_code == 1
    assert "faults[0].delay_ms: is required" in result.stderr
    assert "faults[1].type: unknown fault type" in result.stderr
    assert "rat: unknown key" in result.stderr
    assert cli.value() is None


def test_start_from_a_file_that_is_not_json_writes_nothing(cli: Cli, tmp_path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"enabled": true,')
    result = cli("start", "--file", str(path))
    assert result.exit_code == 1
    assert "is not valid JSON, nothing was written" in result.stderr
    assert cli.value() is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency", "300", "--duration", "15x"], "--duration '15x' is not a duration such as 90s"),
        (["--latency", "300", "--duration", "0m"], "--duration must be longer than zero"),
        (["--latency", "300", "--until", "tomorrow"], "--until 'tomorrow' is not an ISO-8601 time"),
        (["--latency", "300", "--until", "2026-12-01T00:00:00"], "needs a UTC offset"),
        (["--latency", "300", "--until", "2026-01-01T00:00:00Z"], "--until 2026-01-01T00:00:00Z has already passed"),
        (["--latency", "300", "--duration", "1m", "--until", "2027-01-01T00:00:00Z"], "not both"),
        (["--latency", "fast"], "--latency 'fast' is not a number of milliseconds"),
        (["--latency", "300", "--rate", "lots"], "--rate 'lots' is not a number"),
        (["--message", "hi"], "--message needs --exception"),
        (["--body", "hi"], "--body needs --status-code"),
        (["--latency", "300", "--file", "x.json"], "give faults as flags or --file, not both"),
        (["--file", "/nonexistent/config.json"], "cannot read /nonexistent/config.json"),
        (["--latencyy", "300"], "No such option: --latencyy"),
        (["--status-code", "busy"], "Invalid value for '--status-code'"),
        (["--latency", "300", "--type", "StringList"], "--type 'StringList' is not an SSM parameter type"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(cli: Cli, args: list[str], message: str) -> None:
    result = cli("start", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("chaos-layer: error: ")
    assert cli.value() is None


def test_without_faults_start_resumes_the_stopped_config(cli: Cli) -> None:
    assert cli("start", "--rate", "1", "--status-code", "503", "--experiment", "resume-me").exit_code == 0
    assert cli("stop").exit_code == 0
    assert cli.document()["enabled"] is False
    result = cli("start", "--rate", "0.2")
    assert result.exit_code == 0, result.output
    assert cli.document() == {
        "enabled": True,
        "experiment": "resume-me",
        "rate": 0.2,
        "expires_at": IN_AN_HOUR,
        "faults": [{"type": "status_code", "status_code": 503}],
    }


def test_resuming_an_expired_config_asks_for_a_new_expiry(cli: Cli, moto_server: MotoServer) -> None:
    stored = {"enabled": False, "expires_at": "2026-01-01T00:00:00Z", "faults": [{"type": "exception"}]}
    moto_server.put(PARAM, json.dumps(stored))
    result = cli("start")
    assert result.exit_code == 2
    assert "has passed; pass --duration or --until" in result.stderr
    assert cli("start", "--duration", "1h").exit_code == 0
    assert cli.document()["expires_at"] == "2026-09-21T15:13:20Z"


def test_start_without_faults_or_a_config_says_so(cli: Cli) -> None:
    result = cli("start")
    assert result.exit_code == 4
    assert f"config {PARAM} not found" in result.stderr


def test_start_resumes_a_chaos_lambda_config_in_its_own_format(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({"is_enabled": False, "fault_type": "latency", "delay": 400, "rate": 1}))
    assert cli("start").exit_code == 0
    assert cli.document() == {"is_enabled": True, "fault_type": "latency", "delay": 400, "rate": 1}
    result = cli("start", "--experiment", "x")
    assert result.exit_code == 2
    assert "chaos-lambda's format" in result.stderr


def test_start_creates_a_secure_string_when_asked(cli: Cli) -> None:
    assert cli("start", "--rate", "1", "--latency", "300", "--type", "SecureString").exit_code == 0
    assert cli.describe()["Type"] == "SecureString"
    assert cli.document()["faults"] == [{"type": "latency", "delay_ms": 300}]


def test_writes_keep_a_secure_string_and_its_key(cli: Cli, moto_server: MotoServer) -> None:
    client = moto_server.client()
    client.put_parameter(
        Name=PARAM, Type="SecureString", KeyId="alias/chaos", Value=json.dumps({"enabled": False, "faults": []})
    )
    assert cli("start", "--rate", "1", "--latency", "300").exit_code == 0
    assert (cli.describe()["Type"], cli.describe()["KeyId"]) == ("SecureString", "alias/chaos")
    assert cli("stop").exit_code == 0
    assert (cli.describe()["Type"], cli.describe()["KeyId"]) == ("SecureString", "alias/chaos")
    assert cli.document()["enabled"] is False


def test_start_warns_when_the_kill_switch_is_engaged(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(KILL_SWITCH, "on")
    result = cli("start", "--rate", "1", "--latency", "300")
    assert result.exit_code == 0
    assert "the kill switch /chaos-layer/kill-switch is engaged" in result.stdout


def test_start_needs_a_parameter_name(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--latency", "300", param=False)
    assert result.exit_code == 2
    assert "no config parameter: pass --param or set CHAOS_LAYER_PARAM" in result.stderr


def test_the_parameter_name_comes_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_LAYER_PARAM", "/from/env")
    assert cli("start", "--rate", "1", "--latency", "300", param=False).exit_code == 0
    assert cli.document("/from/env")["faults"] == [{"type": "latency", "delay_ms": 300}]


def test_the_endpoint_comes_from_the_aws_environment(
    cli: Cli, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
    assert cli("start", "--rate", "1", "--latency", "300", endpoint=False).exit_code == 0
    assert cli.document()["enabled"] is True


# stop


def test_stop_disables_and_keeps_the_rest(cli: Cli, moto_server: MotoServer) -> None:
    stored = {"enabled": True, "experiment": "e", "rate": 0.5, "faults": [{"type": "latency", "delay_ms": 3}]}
    moto_server.put(PARAM, json.dumps(stored))
    result = cli("stop")
    assert result.exit_code == 0
    assert cli.document() == {**stored, "enabled": False}
    assert "Every function stops injecting within 5s" in result.stdout


def test_stop_says_how_long_with_the_functions_cache_period(cli: Cli, moto_server: MotoServer, monkeypatch) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": True, "faults": [{"type": "exception"}]}))
    assert "within 30s" in cli("stop", "--max-age", "30").stdout
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
    assert "on its next invocation" in cli("stop").stdout
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "90")
    assert "within 1m 30s" in cli("stop").stdout


def test_start_says_how_long_with_the_functions_idle_period(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        "within 10m, the idle cache period"
        in cli("start", "--rate", "1", "--latency", "1", "--idle-max-age", "600").stdout
    )
    monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "90")
    cli("stop")  # a start of a stopped experiment reaches idle functions; a change, injecting ones
    assert "within 1m 30s" in cli("start").stdout
    assert "within 5s, the cache period" in cli("start", "--rate", "0.5").stdout
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
    monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "0")
    cli("stop")
    assert "on its next invocation (CHAOS_LAYER_IDLE_MAX_AGE=0)" in cli("start").stdout


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-age", "301"],
        ["--max-age", "nan"],
        ["--idle-max-age", "3601"],
        ["--max-age", "30", "--idle-max-age", "10"],
    ],
)
def test_periods_out_of_bounds_are_usage_errors(cli: Cli, flags: list[str]) -> None:
    result = cli("stop", *flags)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_stop_disables_a_config_this_version_cannot_read(cli: Cli, moto_server: MotoServer) -> None:
    # A newer library may be injecting from it: stop must still stop it.
    stored = {"enabled": True, "faults": [{"type": "from-the-future"}], "future_key": 1}
    moto_server.put(PARAM, json.dumps(stored))
    assert cli("stop").exit_code == 0
    assert cli.document() == {**stored, "enabled": False}


def test_stop_disables_a_chaos_lambda_config(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({"is_enabled": True, "fault_type": "latency", "delay": 400}))
    assert cli("stop").exit_code == 0
    assert cli.document() == {"is_enabled": False, "fault_type": "latency", "delay": 400}


def test_stop_leaves_a_value_that_is_not_a_json_object(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, "not json")
    result = cli("stop")
    assert result.exit_code == 1  # an invalid config (tests/cli/test_messages.py)
    assert "nothing was written" in result.stderr
    assert cli.value() == "not json"


def test_stop_without_a_config_exits_4(cli: Cli) -> None:
    result = cli("stop")
    assert result.exit_code == 4
    assert result.stderr.strip() == f"chaos-layer: error: config {PARAM} not found"


# kill and resume


def test_kill_and_resume_write_the_kill_switch(cli: Cli) -> None:
    result = cli("kill")
    assert result.exit_code == 0
    assert cli.value(KILL_SWITCH) == "on"
    assert "Every function using chaos-layer stops injecting within 5s" in result.stdout
    result = cli("resume")
    assert result.exit_code == 0
    assert cli.value(KILL_SWITCH) == "off"
    assert "inject again within 1m, the idle cache period (the default; pass --idle-max-age" in result.stdout


def test_kill_uses_the_kill_switch_named_in_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_LAYER_KILL_SWITCH", "/team/kill")
    assert cli("kill", param=False).exit_code == 0
    assert cli.value("/team/kill") == "on"
    assert cli.value(KILL_SWITCH) is None
    assert cli("kill", "--kill-switch", "/other/kill", param=False).exit_code == 0
    assert cli.value("/other/kill") == "on"


def test_kill_keeps_a_secure_string_kill_switch(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(KILL_SWITCH, "off", type="SecureString")
    assert cli("kill").exit_code == 0
    assert cli.describe(KILL_SWITCH)["Type"] == "SecureString"
    assert cli.value(KILL_SWITCH) == "on"


# status


def rows(text: str) -> list[str]:
    """The lines of a table, with the column padding squeezed to one space."""
    return [" ".join(line.split()) for line in text.splitlines()]


def status_json(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("status", "--json", *args)
    return dict(json.loads(result.stdout), exit_code=result.exit_code)


def test_status_of_a_running_experiment(cli: Cli, fake_clock: FakeClock) -> None:
    assert (
        cli("start", "--latency", "300", "--rate", "0.05", "--experiment", "checkout", "--duration", "15m").exit_code
        == 0
    )
    fake_clock.advance(28)
    result = cli("status")
    assert result.exit_code == 0
    lines = rows(result.stdout)
    assert f"config {PARAM} (String, version 1, chaos-layer format)" in lines
    assert "experiment checkout" in lines
    assert "rate 5% of invocations" in lines
    assert "expires 2026-09-21T14:28:20Z (in 14m 32s)" in lines
    assert "faults latency delay_ms=300" in lines
    assert "kill switch /chaos-layer/kill-switch: released (absent)" in lines
    assert "injecting yes: the experiment is running" in lines


def test_status_json(cli: Cli, fake_clock: FakeClock) -> None:
    cli("start", "--rate", "1", "--latency", "100-800", "--exception", "TimeoutError", "--duration", "1h")
    fake_clock.advance(600)
    status = status_json(cli)
    assert status == {
        "exit_code": 0,
        "injecting": True,
        "reason": "the experiment is running",
        "now": "2026-09-21T14:23:20Z",
        "parameter": {
            "name": PARAM,
            "source": "ssm",
            "found": True,
            "type": "String",
            "version": 1,
            "etag": None,
            "deployment": None,
            "format": "chaos-layer",
            "valid": True,
            "problems": [],
        },
        "config": {
            "enabled": True,
            "experiment": "default",
            "rate": 1.0,
            "expires_at": "2026-09-21T15:13:20Z",
            "seconds_left": 3000.0,
            "dry_run": False,
            "control_group": False,
            "blast_radius": {},
            "faults": [
                {"type": "latency", "rate": 1.0, "min_ms": 100.0, "max_ms": 800.0},
                # free text (a message, a body, headers) is never shown: a SecureString may hold it
                {"type": "exception", "rate": 1.0, "exception": "TimeoutError", "prevent_execution": True},
            ],
        },
        "kill_switch": {"name": KILL_SWITCH, "source": "ssm", "engaged": False, "value": None, "deployment": None},
        "max_age": 5.0,
        "idle_max_age": 60.0,
    }


def test_status_after_the_experiment_expires(cli: Cli, fake_clock: FakeClock) -> None:
    cli("start", "--rate", "1", "--latency", "300", "--duration", "10m")
    fake_clock.advance(601)
    status = status_json(cli)
    assert (status["injecting"], status["reason"], status["config"]["seconds_left"]) == (
        False,
        "the experiment has expired",
        0.0,
    )
    assert "(1s ago)" in cli("status").stdout


def test_status_when_stopped_and_when_killed(cli: Cli) -> None:
    cli("start", "--rate", "1", "--latency", "300")
    cli("kill")
    status = status_json(cli)
    assert (status["injecting"], status["reason"], status["kill_switch"]["engaged"]) == (
        False,
        "the kill switch is engaged",
        True,
    )
    cli("resume")
    assert status_json(cli)["injecting"] is True
    cli("stop")
    assert (status_json(cli)["injecting"], status_json(cli)["reason"]) == (False, "the config is disabled")


def test_status_of_a_missing_config_exits_4(cli: Cli) -> None:
    status = status_json(cli)
    assert status["exit_code"] == 4
    assert (status["injecting"], status["parameter"]["found"], status["config"]) == (False, False, None)
    result = cli("status")
    assert f"{PARAM}: not found" in result.stdout
    assert "injecting no: nothing is stored at the config's location" in rows(result.stdout)


def test_status_of_an_invalid_config_shows_its_problems_and_exits_1(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": True, "faults": [{"type": "latency", "delay_ms": "slow"}], "x": 1}))
    status = status_json(cli)
    assert status["exit_code"] == 1
    assert status["injecting"] is False
    assert {p["location"] for p in status["parameter"]["problems"]} == {"faults[0].delay_ms", "x"}
    result = cli("status")
    assert result.exit_code == 1
    assert "problems faults[0].delay_ms: must be a number, not a string" in rows(result.stdout)
    assert "x: unknown key" in rows(result.stdout)
    assert "injecting no: the config is invalid" in rows(result.stdout)


def test_status_of_a_chaos_lambda_config(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(
        PARAM, json.dumps({"is_enabled": True, "fault_type": "status_code", "error_code": 404, "rate": 0.5})
    )
    status = status_json(cli)
    assert status["parameter"]["format"] == "chaos-lambda"
    assert status["config"]["faults"] == [
        {"type": "status_code", "rate": 1.0, "status_code": 404, "prevent_execution": False}
    ]
    assert (status["config"]["rate"], status["injecting"]) == (0.5, True)
    assert "chaos-lambda format" in cli("status").stdout


def test_status_of_a_dry_run_with_blast_radius_limits(cli: Cli, moto_server: MotoServer) -> None:
    stored = {
        "enabled": True,
        "dry_run": True,
        "targets": {"functions": ["orders-*"]},
        "faults": [{"type": "latency", "delay_ms": 300}],
    }
    moto_server.put(PARAM, json.dumps(stored))
    status = status_json(cli)
    assert (status["injecting"], status["reason"]) == (False, "dry run: faults are logged, not injected")
    assert (status["config"]["dry_run"], status["config"]["blast_radius"]) == (True, {"targets": stored["targets"]})
    lines = rows(cli("status").stdout)
    assert 'targets {"functions": ["orders-*"]}' in lines
    assert "dry run yes: faults are logged, not injected" in lines
    # and going for real keeps the limits
    assert cli("start", "--no-dry-run").exit_code == 0
    assert cli.document() == {**stored, "dry_run": False, "expires_at": IN_AN_HOUR}
    assert status_json(cli)["injecting"] is True


def test_start_a_dry_run(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--latency", "300", "--dry-run")
    assert result.exit_code == 0
    assert cli.document() == {
        "enabled": True,
        "rate": 1,
        "expires_at": IN_AN_HOUR,
        "dry_run": True,
        "faults": [{"type": "latency", "delay_ms": 300}],
    }
    assert "dry run yes: faults are logged, not injected" in rows(result.stdout)


def test_start_with_a_control_group_and_status_shows_it(cli: Cli) -> None:
    result = cli("start", "--latency", "300", "--rate", "5%", "--control-group")
    assert result.exit_code == 0, result.stdout
    assert cli.document() == {
        "enabled": True,
        "control_group": True,
        "rate": 0.05,
        "expires_at": IN_AN_HOUR,
        "faults": [{"type": "latency", "delay_ms": 300}],
    }
    control_row = "control group yes: as many invocations again are recorded untouched, for comparison"
    assert control_row in rows(result.stdout)
    assert control_row in rows(cli("status").stdout)
    assert status_json(cli)["config"]["control_group"] is True
    assert cli("start", "--no-control-group").exit_code == 0
    assert cli.document()["control_group"] is False
    assert status_json(cli)["config"]["control_group"] is False
    assert not any(row.startswith("control group") for row in rows(cli("status").stdout))


def test_a_control_group_needs_room_for_itself(cli: Cli) -> None:
    result = cli("start", "--latency", "300", "--rate", "0.6", "--control-group")
    assert result.exit_code == 1
    assert "rate: must be at most 0.5 with control_group" in result.stderr
    assert cli.value() is None


def test_status_reads_config_and_kill_switch_in_one_call(cli: Cli, moto_server: MotoServer) -> None:
    cli("start", "--rate", "1", "--latency", "300")
    moto_server.reset()
    cli("status")
    assert moto_server.requests == ["AmazonSSM.GetParameters"]


# validate and schema


def test_validate_a_valid_file(cli: Cli, tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps({"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}, {"type": "exception"}]})
    )
    result = cli("validate", str(path))
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{path}: valid config, enabled, 2 faults."


def test_validate_lists_every_problem_with_its_location(cli: Cli, tmp_path) -> None:
    path = tmp_path / "c.json"
    document = {
        "enabled": "yes",
        "rate": 2,
        "faults": [{"type": "status_code", "status_code": 99}, {"type": "exception", "exception": "KeyboardInterrupt"}],
    }
    path.write_text(json.dumps(document))
    result = cli("validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}: invalid:",
        "  enabled: must be true or false, not a string",
        "  rate: must be a number between 0 and 1",
        "  faults[0].status_code: must be a whole number between 100 and 599",
        "  faults[1].exception: must name a built-in exception (a subclass of Exception) or InjectedFault",
    ]


def test_validate_invalid_json_and_a_legacy_config_from_stdin(cli: Cli) -> None:
    result = cli("validate", "-", input="{nope")
    assert result.exit_code == 1
    assert "not valid JSON (line 1, column 2)" in result.stdout
    result = cli("validate", "-", input='{"is_enabled": false}')
    assert result.exit_code == 0
    assert "valid chaos-lambda (legacy) config, disabled, 0 faults" in result.stdout


def test_validate_a_missing_file_exits_2(cli: Cli) -> None:
    result = cli("validate", "/nonexistent.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == "chaos-layer: error: cannot read /nonexistent.json: No such file or directory"


def test_schema_prints_the_packaged_schema(cli: Cli) -> None:
    from importlib import resources

    result = cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(resources.files("chaos_layer").joinpath("schema.json").read_text())
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_help_and_version(cli: Cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("start", "stop", "kill", "resume", "status", "validate", "schema"):
        assert command in result.stdout
    assert "Exit codes" in result.stdout
    assert cli("--version").stdout.startswith("chaos-layer 0.")
