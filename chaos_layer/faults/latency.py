"""`latency`: sleeps, then lets the invocation go on (at once, when the experiment stops meanwhile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from chaos_layer.contract import Choice, Field, Fields, field
from chaos_layer.faults.base import IN_STEPS, ON_INVOCATION, WAIT_MS, Fault, Invocation


class LatencyFault(Fault):
    type = "latency"
    durable = ON_INVOCATION
    description = (
        "Sleeps delay_ms, or a uniform draw in [min_ms, max_ms] (min_ms <= max_ms), before the handler runs;"
        " at most 900000 ms, Lambda's longest timeout."
    )
    examples = (
        {"type": "latency", "delay_ms": 300},
        {"type": "latency", "min_ms": 100, "max_ms": 800, "rate": 0.5},
    )
    # A fixed delay is kept as a range of one value.
    delay_ms: ClassVar[Field] = field(WAIT_MS, "Milliseconds to sleep.", store=False)
    min_ms: float = field(WAIT_MS, "Shortest delay of a uniform draw (with max_ms).")
    max_ms: float = field(WAIT_MS, "Longest delay of a uniform draw (with min_ms).")
    steps: tuple[str, ...] = Fault.steps_field()

    def durable_place(self) -> str:
        return IN_STEPS if self.steps else ON_INVOCATION

    choices = (
        Choice(
            ("delay_ms",),
            ("min_ms", "max_ms"),
            missing="is required (or min_ms and max_ms)",
            conflict="give either delay_ms or min_ms and max_ms, not both",
        ),
    )

    @classmethod
    def check(cls, values: dict[str, Any], fields: Fields) -> None:
        low, high = values.get("min_ms"), values.get("max_ms")
        if low is not None and high is not None and low > high and not fields.has("delay_ms"):
            fields.problem("max_ms", "must not be less than min_ms")

    @classmethod
    def build(cls, values: dict[str, Any]) -> LatencyFault:
        delay = values.pop("delay_ms", None)
        if delay is not None:
            values.update(min_ms=delay, max_ms=delay)
        return super().build(values)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        delay = self.min_ms if self.min_ms == self.max_ms else invocation.random.uniform(self.min_ms, self.max_ms)
        if not invocation.takes_effect(self):  # reported before the wait, which Lambda's timeout may end
            return proceed()
        if not invocation.wait(delay / 1000):
            invocation.cut_short(self)
        return proceed()

    def settings(self) -> dict[str, Any]:
        if self.min_ms == self.max_ms:
            fixed = {"type": self.type, "rate": self.rate, "delay_ms": self.min_ms}
            return {**fixed, "steps": self.steps} if self.steps else fixed
        return super().settings()
