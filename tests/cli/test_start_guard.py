"""`start` never widens a blast radius silently: fault flags change the
faults only; a widening change is refused without --replace when nobody can confirm it; the
operator API (the runner's ramp) raises a rate without asking; every write shows its diff."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos_layer import control
from tests.cli.conftest import PARAM, Cli
from tests.conftest import MotoServer

NARROW: dict[str, Any] = {
    "enabled": True,
    "experiment": "narrow",
    "expires_at": "2026-09-21T14:43:20Z",  # 30 minutes after the fake clock
    "rate": 0.05,
    "targets": {"functions": ["checkout-*"]},
    "cohort": {"key": "user", "percent": 1},
    "faults": [{"type": "latency", "delay_ms": 300, "rate": 0.5}],
}


@pytest.fixture
def narrow(moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(NARROW))


def rows(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.mark.usefixtures("narrow")
def test_fault_flags_change_only_the_faults(cli: Cli) -> None:
    result = cli("start", "--latency", "500")
    assert result.exit_code == 0, result.stderr
    assert cli.document() == {**NARROW, "faults": [{"type": "latency", "delay_ms": 500}]}
    shown = rows(result.stdout)
    assert any(line.startswith('targets {"functions": ["checkout-*"]}') for line in shown)
    assert any(line.startswith('cohort {"key": "user", "percent": 1}') for line in shown)
    assert result.stdout.startswith("Changed experiment 'narrow'")
    assert any(line.startswith("faults [") and "-> [" in line for line in shown)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--rate", "50%"), "raises rate from 0.05 to 0.5"),
        (("--duration", "2h"), "extends the expiry"),
        (("--file", "-"), "removes targets"),
    ],
)
@pytest.mark.usefixtures("narrow")
def test_a_widening_start_is_refused_without_replace_and_nothing_is_written(
    cli: Cli, moto_server: MotoServer, args: tuple[str, ...], said: str
) -> None:
    wide = json.dumps({"enabled": True, "rate": 0.05, "faults": [{"type": "latency", "delay_ms": 500}]})
    result = cli("start", *args, input=wide if "-" in args else None)
    assert result.exit_code == 2
    assert said in result.stderr
    assert "--replace" in result.stderr
    assert cli.document() == NARROW
    replaced = cli("start", *args, "--replace", input=wide if "-" in args else None)
    assert replaced.exit_code == 0, replaced.stderr
    assert said in replaced.stdout
    assert cli.document() != NARROW


@pytest.mark.usefixtures("narrow")
def test_a_narrowing_start_needs_no_replace(cli: Cli) -> None:
    assert cli("start", "--rate", "1%").exit_code == 0
    assert cli.document()["rate"] == 0.01


@pytest.mark.usefixtures("narrow")
def test_the_operator_api_lets_a_ramp_raise_the_rate(cli: Cli, moto_server: MotoServer, fake_clock: Any) -> None:
    controller = control.Controller(moto_server.client(), PARAM, clock=fake_clock)
    controller.start(rate=0.5)
    assert cli.document()["rate"] == 0.5
