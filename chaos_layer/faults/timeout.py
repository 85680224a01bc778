"""`timeout`: the invocation runs out of time, as a real timeout ends it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer.contract import field, is_number
from chaos_layer.faults.base import ON_INVOCATION, WAIT_MS, Fault, Invocation

TIMEOUT_MESSAGE = "Task timed out (injected by chaos-layer)"
# Sleep a little past the deadline, so Lambda's own timeout is what ends the invocation.
TIMEOUT_OVERSHOOT_S = 1.0


def _remaining_ms(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        value = remaining()
    except Exception:
        return None
    return max(0.0, float(value)) if is_number(value) else None


class TimeoutFault(Fault):
    """Holds the invocation until the function's own deadline, so Lambda ends it with its
    real timeout; without a Lambda context, raises TimeoutError after `fallback_ms`. When the
    experiment stops meanwhile, the wait ends and the handler runs, as if never drawn."""

    type = "timeout"
    durable = ON_INVOCATION
    fails_invocation = True
    ends_invocation = True
    description = (
        "Holds the invocation until the function's own deadline (context.get_remaining_time_in_millis()), so Lambda"
        " ends it with its real timeout; without a Lambda context, raises TimeoutError after fallback_ms."
        " The handler does not run, unless the kill switch or a stop cuts the wait short: then it runs."
    )
    examples = ({"type": "timeout", "fallback_ms": 1500, "rate": 0.1},)
    fallback_ms: float = field(
        WAIT_MS, "Milliseconds to wait before raising TimeoutError when there is no Lambda context.", default=3000.0
    )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        remaining = _remaining_ms(invocation.context)
        if not invocation.takes_effect(self):  # reported now: Lambda ends the process before the wait does
            return proceed()
        wait = self.fallback_ms / 1000 if remaining is None else remaining / 1000 + TIMEOUT_OVERSHOOT_S
        if not invocation.wait(wait):
            invocation.cut_short(self)
            return proceed()
        # Reached without a context, or when the sleep came back before Lambda stopped us
        # (a clock estimate off, a test's sleep): the invocation still times out, the
        # handler never runs.
        raise TimeoutError(TIMEOUT_MESSAGE)
