"""Environment variable names and defaults (the public contract in SPEC.md)."""

PARAM_ENV = "CHAOS_LAYER_PARAM"
LEGACY_PARAM_ENV = "CHAOS_PARAM"  # chaos-lambda's variable, honoured when PARAM_ENV is unset
KILL_SWITCH_ENV = "CHAOS_LAYER_KILL_SWITCH"
MAX_AGE_ENV = "CHAOS_LAYER_MAX_AGE"
DISABLED_ENV = "CHAOS_LAYER_DISABLED"
HANDLER_ENV = "CHAOS_LAYER_HANDLER"
METRICS_NAMESPACE_ENV = "CHAOS_LAYER_METRICS_NAMESPACE"

DEFAULT_KILL_SWITCH = "/chaos-layer/kill-switch"
DEFAULT_MAX_AGE = 5.0
DEFAULT_METRICS_NAMESPACE = "ChaosLayer"
DEFAULT_EXPERIMENT = "default"

TRUTHY = frozenset({"true", "1", "yes"})
KILL_SWITCH_RELEASED = frozenset({"off", "false", "0"})

METRIC_NAME = "InjectedFaults"
LOGGER_NAME = "chaos_layer"
