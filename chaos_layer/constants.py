"""Constants of the contract that are not environment settings (those are in settings.py)."""

DEFAULT_EXPERIMENT = "default"

TRUTHY = frozenset({"true", "1", "yes"})
KILL_SWITCH_RELEASED = frozenset({"off", "false", "0"})

METRIC_NAME = "InjectedFaults"
LOGGER_NAME = "chaos_layer"
