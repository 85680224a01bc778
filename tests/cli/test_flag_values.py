"""A bad flag value is a usage error (exit 2) in the CLI's own words, with a hint, found before
anything is read or written."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import PARAM, Cli
from tests.conftest import MotoServer

STORED = json.dumps({"enabled": False, "experiment": "kept", "faults": [{"type": "latency", "delay_ms": 1}]})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency", "300", "--rate", "5"], "--rate '5' is more than 1: for 5 percent, give 5% (or 0.05)"),
        (["--latency", "300", "--rate", "150%"], "--rate '150%' is not a percentage from 0% to 100%"),
        (["--latency", "300", "--rate", "-0.1"], "--rate '-0.1' is not a fraction from 0 to 1"),
        (["--latency", "300ms"], "--latency '300ms' is not a number of milliseconds: give 300 (no unit)"),
        (["--latency", "800-100"], "--latency '800-100' is a range from low to high: give 100-800"),
        (["--latency", "1000000"], "--latency '1000000': delay_ms: must be"),
        (["--latency", "300", "--duration", "15"], "--duration '15' needs a unit: 15s, 15m or 15h"),
        (["--status-code", "700"], "--status-code 700: status_code: must be a whole number between 100 and 599"),
        (["--exception", "SystemExit"], "--exception 'SystemExit': exception: "),
        (["--latency", "300", "--experiment", " "], "--experiment ' ': "),
        (["--fault", "latency", "delay_ms=-5"], "--fault latency: delay_ms: must be a number between 0 and 900000"),
        (["--fault", "status_code", "status_code=700"], "--fault status_code: status_code: must be a whole number"),
        (["--fault", "latency", "min_ms=800", "max_ms=100"], "--fault latency: max_ms: must not be less than min_ms"),
        (["--fault", "dependency", "services=s3"], "--fault dependency: error: give exactly one of error and"),
    ],
)
def test_a_bad_flag_value_is_a_usage_error_and_nothing_is_written(
    cli: Cli, moto_server: MotoServer, args: list[str], message: str
) -> None:
    moto_server.put(PARAM, STORED)
    result = cli("start", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("chaos-layer: error: ")
    assert "Traceback" not in result.output
    assert cli.value() == STORED


@pytest.mark.parametrize(
    "args",
    [
        ["--latency", "300ms"],
        ["--latency", "800-100"],
        ["--status-code", "700"],
        ["--latency", "300", "--rate", "5"],
        ["--latency", "300", "--duration", "15"],
        ["--fault", "latency", "delay_ms=-5"],
    ],
)
def test_a_bad_flag_value_is_found_before_anything_is_read(cli: Cli, moto_server: MotoServer, args: list[str]) -> None:
    assert cli("start", *args).exit_code == 2
    assert moto_server.requests == []


def test_good_values_at_the_bounds_are_written(cli: Cli) -> None:
    assert cli("start", "--latency", "0-0", "--rate", "100%", "--duration", "15m").exit_code == 0
    assert cli.document()["rate"] == 1
    assert cli.document()["faults"] == [{"type": "latency", "min_ms": 0, "max_ms": 0}]
    assert cli("start", "--status-code", "599", "--rate", "0").exit_code == 0
    assert cli.document()["rate"] == 0


def test_rules_that_tie_settings_together_stay_config_errors(cli: Cli) -> None:
    # Each value is fine on its own; the config they make is not: exit 1, as for --file.
    result = cli("start", "--latency", "300", "--rate", "0.6", "--control-group")
    assert result.exit_code == 1
    assert "rate: must be at most 0.5 with control_group" in result.stderr
    assert cli.value() is None
