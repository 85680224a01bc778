"""Extreme values give one line and the documented exit code, never a
traceback, and nothing is written."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import PARAM, Cli
from tests.conftest import MotoServer


@pytest.mark.parametrize(
    ("args", "stdin", "code"),
    [
        (("--file", "-"), "[" * 100_000 + "]" * 100_000, 1),
        (("--file", "-"), '{"enabled": true, "rate": ' + "1" * 5000 + "}", 1),
        (("--latency", "300", "--duration", "99999999999h"), None, 2),
    ],
)
def test_start_with_extreme_values_fails_in_one_line_and_writes_nothing(
    cli: Cli, args: tuple[str, ...], stdin: str | None, code: int
) -> None:
    result = cli("start", *args, input=stdin)
    assert result.exit_code == code
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert cli.value() is None


def test_until_at_the_end_of_time_is_written_with_its_offset(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--latency", "300", "--until", "9999-12-31T23:59:59-01:00")
    assert result.exit_code == 0, result.stderr
    assert cli.document()["expires_at"] == "9999-12-31T23:59:59-01:00"


def test_status_of_an_expiry_at_the_end_of_time(cli: Cli, moto_server: MotoServer) -> None:
    stored = {"enabled": True, "expires_at": "9999-12-31T23:59:59-01:00", "faults": [{"type": "exception"}]}
    moto_server.put(PARAM, json.dumps(stored))
    result = cli("status")
    assert result.exit_code == 0, result.stderr
    assert "9999-12-31T23:59:59-01:00" in result.stdout
