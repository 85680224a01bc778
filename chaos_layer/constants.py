"""Constants of the contract that are not environment settings (those are in settings.py)."""

from __future__ import annotations

DEFAULT_EXPERIMENT = "default"

TRUTHY = frozenset({"true", "1", "yes"})
KILL_SWITCH_RELEASED = frozenset({"off", "false", "0"})


def kill_switch_engaged(value: str | None) -> bool:
    """Absent, `off`, `false` or `0` (trimmed, any case): released. Anything else: engaged.
    (Here, below the parser, so that a read that finds the kill switch engaged loads none.)"""
    return value is not None and value.strip().lower() not in KILL_SWITCH_RELEASED


METRIC_NAME = "InjectedFaults"
LOGGER_NAME = "chaos_layer"
