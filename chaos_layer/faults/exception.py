"""`exception`: raises an exception instead of running the handler, or after it ran."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from chaos_layer.contract import Boolean, Names, Text, field
from chaos_layer.exceptions import InjectedFault
from chaos_layer.faults.base import IN_STEPS, NEVER, ON_INVOCATION, Fault, Invocation


def _raisable_builtins() -> dict[str, type[Exception]]:
    """Built-in subclasses of Exception (so never SystemExit, KeyboardInterrupt or
    GeneratorExit) that can be raised with a single message."""
    allowed: dict[str, type[Exception]] = {}
    for name, value in vars(builtins).items():
        if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_"):
            try:
                value("message")
            except TypeError:  # e.g. UnicodeDecodeError, ExceptionGroup need more arguments
                continue
            allowed[name] = value
    return allowed


EXCEPTIONS: dict[str, type[Exception]] = {**_raisable_builtins(), "InjectedFault": InjectedFault}
# Built-ins that only newer Pythons have: the schema, read by every version, leaves them out.
NEWER_PYTHONS_ONLY = frozenset({"PythonFinalizationError"})


class ExceptionFault(Fault):
    """Raises `exception` with `message`: instead of the handler, or, with
    `prevent_execution` false, after the handler returned (the work is done, the answer is
    lost: what redelivery and idempotency are for)."""

    type = "exception"
    durable = ON_INVOCATION
    fails_invocation = True
    ends_invocation = True
    description = (
        "Raises the named exception with message instead of running the handler, or, with prevent_execution"
        " false, after the handler returned (an exception the handler raised itself is never hidden)."
    )
    examples = (
        {"type": "exception", "exception": "TimeoutError", "message": "injected"},
        {"type": "exception", "prevent_execution": False},
    )
    exception: str = field(
        Names(
            EXCEPTIONS,
            "must name a built-in exception (a subclass of Exception) or InjectedFault",
            documented=EXCEPTIONS.keys() - NEWER_PYTHONS_ONLY,
            label="exception name",
        ),
        "A built-in subclass of Exception, such as TimeoutError, or InjectedFault.",
        default="InjectedFault",
    )
    message: str = field(Text(), "The exception's message.", default="Injected by chaos-layer", free_text=True)
    prevent_execution: bool = field(
        Boolean(),
        "false: the handler runs first, and the exception is raised after it returns (its own exception wins).",
        default=True,
    )
    steps: tuple[str, ...] = Fault.steps_field()

    def durable_place(self) -> str:
        # After the handler returned, a step's or an execution's result is already checkpointed.
        if not self.prevent_execution:
            return NEVER
        return IN_STEPS if self.steps else ON_INVOCATION

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        if not self.prevent_execution:
            response = proceed()  # what the handler raises propagates as it is: nothing is injected then
            if not invocation.takes_effect(self):
                return response
        elif not invocation.takes_effect(self):
            return proceed()
        raise EXCEPTIONS[self.exception](self.message)
