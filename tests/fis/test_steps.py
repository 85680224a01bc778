"""The document's script steps as plain functions: durations as FIS and aws:sleep write them, and
which stored configs hold the parameter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chaos_layer.fis.steps import held_by, parse_duration

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT15M", 900), ("PT1H30M", 5400), ("PT90S", 90), ("P1DT2H", 93600), (" pt5m ", 300), ("P2D", 172800)],
)
def test_durations_read_as_fis_writes_them(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "15m", "PT1.5M", "PT15M ago", "-PT1M"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("stored", "holder"),
    [
        ({"enabled": True, "experiment": "a"}, "a"),
        ({"enabled": True}, "default"),
        ({"enabled": True, "experiment": "a", "expires_at": "2030-01-01T00:00:01Z"}, "a"),
        ({"enabled": True, "experiment": "a", "expires_at": "2030-01-01T00:00:00Z"}, None),
        ({"enabled": True, "experiment": "a", "expires_at": "2030-01-01T01:00:00+02:00"}, None),
        ({"enabled": False, "experiment": "a"}, None),
        ({"enabled": "true", "experiment": "a"}, None),
        ({"is_enabled": True, "fault_type": "latency", "delay": 100}, "default"),
    ],
)
def test_only_an_enabled_unexpired_config_holds_the_parameter(stored: dict[str, object], holder: str | None) -> None:
    assert held_by(stored, NOW) == holder
