"""Every environment setting of chaos-layer, resolved in one visible order: the explicit
argument, then the environment variable, then the default (as Powertools' resolve_max_age).

The decorator, the zero-code wrapper and the CLI all resolve their settings here, so a
variable means the same thing wherever it is read. The names are part of SPEC.md.
"""

from __future__ import annotations

import logging
import os

from chaos_layer.constants import TRUTHY

PARAM_ENV = "CHAOS_LAYER_PARAM"
LEGACY_PARAM_ENV = "CHAOS_PARAM"  # chaos-lambda's variable, honoured when PARAM_ENV is unset
KILL_SWITCH_ENV = "CHAOS_LAYER_KILL_SWITCH"
MAX_AGE_ENV = "CHAOS_LAYER_MAX_AGE"
DISABLED_ENV = "CHAOS_LAYER_DISABLED"
HANDLER_ENV = "CHAOS_LAYER_HANDLER"
METRICS_NAMESPACE_ENV = "CHAOS_LAYER_METRICS_NAMESPACE"
# Guardrails (chaos_layer.guardrails reads them): the largest share and the fault types allowed here.
MAX_RATE_ENV = "CHAOS_LAYER_MAX_RATE"
FAULTS_ENV = "CHAOS_LAYER_FAULTS"

DEFAULT_KILL_SWITCH = "/chaos-layer/kill-switch"
DEFAULT_MAX_AGE = 5.0
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
    """The cache period in seconds: the argument, then CHAOS_LAYER_MAX_AGE, then the default.
    A bad argument is the caller's bug (ValueError); a bad variable is logged and ignored,
    because a function must not fail to start over chaos-layer's settings."""
    if explicit is not None:
        if explicit < 0:
            raise ValueError("max_age must be zero or more seconds")
        return float(explicit)
    text = os.environ.get(MAX_AGE_ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_AGE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        logger.warning("%s must be a number of seconds, zero or more; using %g", MAX_AGE_ENV, DEFAULT_MAX_AGE)
        return DEFAULT_MAX_AGE
    return value


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
