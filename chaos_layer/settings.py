"""Every environment setting of chaos-layer, resolved in one visible order: the explicit
argument, then the environment variable, then the default (as Powertools' resolve_max_age).

The decorator, the zero-code wrapper and the CLI all resolve their settings here, so a
variable means the same thing wherever it is read. The names are public (docs/decorator-and-layer.md).
"""

from __future__ import annotations

import logging
import os

from chaos_layer.constants import TRUTHY

PARAM_ENV = "CHAOS_LAYER_PARAM"
LEGACY_PARAM_ENV = "CHAOS_PARAM"  # chaos-lambda's variable, honoured when PARAM_ENV is unset
KILL_SWITCH_ENV = "CHAOS_LAYER_KILL_SWITCH"
MAX_AGE_ENV = "CHAOS_LAYER_MAX_AGE"
IDLE_MAX_AGE_ENV = "CHAOS_LAYER_IDLE_MAX_AGE"
DISABLED_ENV = "CHAOS_LAYER_DISABLED"
HANDLER_ENV = "CHAOS_LAYER_HANDLER"
METRICS_NAMESPACE_ENV = "CHAOS_LAYER_METRICS_NAMESPACE"
# Lambda's own: set on Lambda Managed Instances, where several request processes share /tmp.
MAX_CONCURRENCY_ENV = "AWS_LAMBDA_MAX_CONCURRENCY"
# Guardrails (chaos_layer.guardrails reads them): the largest share and the fault types allowed here.
MAX_RATE_ENV = "CHAOS_LAYER_MAX_RATE"
FAULTS_ENV = "CHAOS_LAYER_FAULTS"

DEFAULT_KILL_SWITCH = "/chaos-layer/kill-switch"
DEFAULT_MAX_AGE = 5.0
DEFAULT_IDLE_MAX_AGE = 60.0
# The longest periods a setting may ask for: a stop must reach an injecting environment within
# minutes, a start any environment within the hour.
MAX_AGE_LIMIT = 300.0
IDLE_MAX_AGE_LIMIT = 3600.0
DEFAULT_METRICS_NAMESPACE = "ChaosLayer"

logger = logging.getLogger(__name__)

_disabled_logged = False  # once per process: the cold start, not every decorated handler


def resolve_parameter(explicit: str | None = None) -> str | None:
    """The config's location: the argument, then CHAOS_LAYER_PARAM, then chaos-lambda's CHAOS_PARAM."""
    return explicit or os.environ.get(PARAM_ENV) or os.environ.get(LEGACY_PARAM_ENV) or None


def resolve_kill_switch(explicit: str | None = None) -> str:
    """The kill switch's location: the argument, then CHAOS_LAYER_KILL_SWITCH, then the default."""
    return explicit or os.environ.get(KILL_SWITCH_ENV) or DEFAULT_KILL_SWITCH


def resolve_max_age(explicit: float | None = None) -> float:
    """The cache period while an experiment is active here, in seconds: the argument, then
    CHAOS_LAYER_MAX_AGE, then the default. A bad argument is the caller's bug (TypeError,
    ValueError); a bad variable is logged and ignored, because a function must not fail to
    start over chaos-layer's settings."""
    if explicit is not None:
        return _checked_seconds("max_age", explicit, MAX_AGE_LIMIT)
    return _seconds_from_env(MAX_AGE_ENV, DEFAULT_MAX_AGE, MAX_AGE_LIMIT)


def resolve_periods(max_age: float | None = None, idle_max_age: float | None = None) -> tuple[float, float]:
    """(active, idle): the cache periods while an experiment is active here and while none is.
    The idle period is never below the active one: given below it in the same place as the
    active one, that is the caller's bug (ValueError); otherwise it is raised to it, with a
    warning."""
    active = resolve_max_age(max_age)
    if idle_max_age is not None:
        idle = _checked_seconds("idle_max_age", idle_max_age, IDLE_MAX_AGE_LIMIT)
        if idle < active and max_age is not None:
            raise ValueError(f"idle_max_age ({idle:g}) must not be below max_age ({active:g})")
        named: str | None = "idle_max_age"
    else:
        idle = _seconds_from_env(IDLE_MAX_AGE_ENV, DEFAULT_IDLE_MAX_AGE, IDLE_MAX_AGE_LIMIT)
        chosen = idle != DEFAULT_IDLE_MAX_AGE or bool(os.environ.get(IDLE_MAX_AGE_ENV, "").strip())
        named = IDLE_MAX_AGE_ENV if chosen else None  # the default simply follows a longer max_age
    if idle < active:
        if named is not None:
            logger.warning("%s (%g) must not be below the active period (%g); using %g", named, idle, active, active)
        return active, active
    return active, idle


def check_periods(max_age: object = None, idle_max_age: object = None) -> None:
    """The decorator's period options on their own: TypeError or ValueError at decoration."""
    active = None if max_age is None else _checked_seconds("max_age", max_age, MAX_AGE_LIMIT)
    idle = None if idle_max_age is None else _checked_seconds("idle_max_age", idle_max_age, IDLE_MAX_AGE_LIMIT)
    if active is not None and idle is not None and idle < active:
        raise ValueError(f"idle_max_age ({idle:g}) must not be below max_age ({active:g})")


def _checked_seconds(name: str, value: object, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not 0 <= value <= limit:  # NaN fails this too
        raise ValueError(f"{name} must be a number of seconds from 0 to {limit:g}")
    return float(value)


def _seconds_from_env(name: str, default: float, limit: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= limit:  # NaN, infinities and 1e308 too: the kill switch must be read again
        logger.warning("%s must be a number of seconds from 0 to %g; using %g", name, limit, default)
        return default
    return value


def shares_processes() -> bool:
    """Whether this environment runs several request processes (Lambda Managed Instances)."""
    return bool(os.environ.get(MAX_CONCURRENCY_ENV, "").strip())


def is_disabled() -> bool:
    """Whether CHAOS_LAYER_DISABLED is on (`true`, `1` or `yes`, any case). The first time it
    is found on, one line says so: a pass-through nobody can see is hard to tell from a
    broken experiment (Powertools warns likewise for POWERTOOLS_IDEMPOTENCY_DISABLED)."""
    global _disabled_logged
    disabled = os.environ.get(DISABLED_ENV, "").strip().lower() in TRUTHY
    if disabled and not _disabled_logged:
        _disabled_logged = True
        logger.warning("chaos-layer is disabled by %s: handlers run unchanged and SSM is never read", DISABLED_ENV)
    return disabled


def resolve_handler() -> str | None:
    """The function's own handler in zero-code mode (`module.function`), from CHAOS_LAYER_HANDLER."""
    return os.environ.get(HANDLER_ENV)


def resolve_metrics_namespace() -> str:
    """The CloudWatch namespace of the injected-fault metric."""
    return os.environ.get(METRICS_NAMESPACE_ENV) or DEFAULT_METRICS_NAMESPACE
