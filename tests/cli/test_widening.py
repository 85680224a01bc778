"""Which changes of a stored config widen its blast radius (chaos_layer.cli.widening)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.cli.widening import diff, widenings

NARROW: dict[str, Any] = {
    "enabled": True,
    "experiment": "narrow",
    "expires_at": "2030-01-01T00:30:00Z",
    "rate": 0.05,
    "targets": {"functions": ["checkout-*"]},
    "cohort": {"key": "user", "percent": 1},
    "faults": [{"type": "latency", "delay_ms": 300, "rate": 0.5}],
}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"targets": None}, "removes targets"),
        ({"targets": {"functions": ["*"]}}, "changes targets"),
        ({"cohort": None}, "removes cohort"),
        ({"cohort": {"key": "user", "percent": 5}}, "changes cohort"),
        ({"rate": 0.5}, "raises rate from 0.05 to 0.5"),
        ({"rate": None}, "raises rate from 0.05 to 1"),
        ({"expires_at": None}, "drops the expiry"),
        ({"expires_at": "2030-01-01T01:00:00Z"}, "extends the expiry"),
    ],
)
def test_each_widening_is_named(change: dict[str, Any], said: str) -> None:
    after = {**NARROW, **change}
    after = {k: v for k, v in after.items() if v is not None}
    assert any(said in line for line in widenings(NARROW, after))


@pytest.mark.parametrize(
    "change",
    [
        {"faults": [{"type": "latency", "delay_ms": 500}]},
        {"rate": 0.01},
        {"cohort": {"key": "user", "percent": 0.5}},
        {"expires_at": "2030-01-01T00:10:00Z"},
        {"experiment": "other"},
    ],
)
def test_changes_that_do_not_widen_are_not_flagged(change: dict[str, Any]) -> None:
    assert widenings(NARROW, {**NARROW, **change}) == []


def test_a_new_config_widens_nothing() -> None:
    assert widenings(None, NARROW) == []


def test_the_diff_lists_changed_keys_before_and_after() -> None:
    after = {**NARROW, "rate": 0.1}
    del after["cohort"]
    assert diff(NARROW, after) == [("rate", "0.05", "0.1"), ("cohort", '{"key": "user", "percent": 1}', "(absent)")]
