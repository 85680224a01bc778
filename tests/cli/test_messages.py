"""What the commands say: what happened, and what to do next."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import KILL_SWITCH, PARAM, Cli
from tests.conftest import MotoServer

PAST = "2026-01-01T00:00:00Z"  # before the fake clock
FUTURE = "2026-09-21T16:00:00Z"  # after it


@pytest.fixture(autouse=True)
def no_periods_set_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_LAYER_MAX_AGE", raising=False)
    monkeypatch.delenv("CHAOS_LAYER_IDLE_MAX_AGE", raising=False)


def test_a_dry_run_start_says_functions_log_rather_than_inject(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--latency", "300", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Started experiment 'default'")
    assert "Every function starts logging what it would inject (dry run) within 1m" in result.stdout
    assert "starts injecting" not in result.stdout
    assert "injects the changed" not in cli("start", "--rate", "50%").stdout  # still a dry run


def test_changing_a_running_experiment_says_changed(cli: Cli) -> None:
    assert cli("start", "--rate", "1", "--latency", "300").stdout.startswith("Started experiment 'default'")
    result = cli("start", "--rate", "50%")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Changed experiment 'default'")
    assert "Started" not in result.stdout
    assert "Every function injects the changed experiment within 5s" in result.stdout
    assert "rate  1.0 -> 0.5" in result.stdout


def test_stopping_an_expired_experiment_says_a_plain_start_cannot_resume_it(cli: Cli, moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": True, "expires_at": PAST, "faults": [{"type": "exception"}]}))
    result = cli("stop")
    assert result.exit_code == 0, result.output
    assert "resumes it" not in result.stdout
    assert f"It expired at {PAST}, so `chaos-layer start` alone cannot resume it" in result.stdout
    assert "`chaos-layer start --duration 15m` (or --until) runs it again with a new expiry" in result.stdout
    assert cli("start").exit_code == 2  # as said
    assert cli("start", "--duration", "15m", "--replace", "--rate", "1").exit_code == 0


def test_stopping_an_unexpired_experiment_says_start_resumes_it_until_its_expiry(
    cli: Cli, moto_server: MotoServer
) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": True, "expires_at": FUTURE, "faults": [{"type": "exception"}]}))
    result = cli("stop")
    assert f"`chaos-layer start` resumes it until it expires at {FUTURE}." in result.stdout
    assert cli("start").exit_code == 0  # as said


def test_a_period_says_where_it_comes_from(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    started = cli("start", "--rate", "1", "--latency", "300").stdout
    assert "within 1m, the idle cache period (the default; pass --idle-max-age if your functions set" in started
    stopped = cli("stop").stdout
    assert "within 5s, the cache period (the default; pass --max-age if your functions set CHAOS_LAYER_MAX_AGE)" in (
        stopped
    )
    assert "CHAOS_LAYER_MAX_AGE=" not in started + stopped
    assert "(--max-age 30)" in cli("stop", "--max-age", "30").stdout
    assert "within 2m, the idle cache period (raised to the cache period" in cli("start", "--max-age", "120").stdout
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "5")
    assert "within 5s, the cache period (CHAOS_LAYER_MAX_AGE=5)" in cli("stop").stdout


def test_start_without_flags_on_a_missing_parameter_says_what_to_give(cli: Cli) -> None:
    result = cli("start")
    assert result.exit_code == 4
    assert result.stderr.strip() == (
        f"chaos-layer: error: config {PARAM} not found, so there is no stopped experiment to resume:"
        " give faults as flags (--latency 300, --fault TYPE KEY=VALUE ...) or a whole config with --file"
    )


@pytest.mark.parametrize(("value", "problem"), [("{broken", "not valid JSON"), ("[1, 2]", "")])
def test_stop_on_a_value_that_is_not_a_json_object_fails_and_writes_nothing(
    cli: Cli, moto_server: MotoServer, value: str, problem: str
) -> None:
    moto_server.put(PARAM, value)
    result = cli("stop")
    assert result.exit_code == 1
    first, *problems = result.stderr.strip().splitlines()
    assert first == (
        f"chaos-layer: error: {PARAM} does not hold a JSON object, so no function injects from it;"
        " nothing was written (to replace it: chaos-layer start --file CONFIG):"
    )
    (said,) = problems
    assert problem in said
    assert result.stdout == ""
    assert cli.value() == value


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("no", 'engaged (stored value "no")'),
        ("off", 'released (stored value "off")'),
        (" OFF\n", 'released (stored value " OFF\\n")'),
        ("on\x1b[31m" + "x" * 40, 'engaged (stored value "on\\u001b[31m' + "x" * 17 + '...")'),  # 24 characters
    ],
)
def test_status_shows_the_stored_kill_switch_value(cli: Cli, moto_server: MotoServer, stored: str, shown: str) -> None:
    moto_server.put(KILL_SWITCH, stored)
    result = cli("status", "--json")
    assert json.loads(result.stdout)["kill_switch"]["value"] == stored
    result = cli("status")
    assert f"kill switch  {KILL_SWITCH}: {shown}" in result.stdout
    assert "\x1b" not in result.stdout
