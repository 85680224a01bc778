"""The fault types. Each one is a frozen dataclass that parses itself from the config
and wraps the rest of the invocation, like a middleware:

    apply(invocation, proceed) -> response

`proceed()` runs the next fault, and the handler after the last one. A fault that ends
the invocation simply does not call it, so the handler runs at most once.

To add a fault type: subclass `Fault`, give it a `type`, and list it in `FAULT_TYPES`.
"""

from __future__ import annotations

import builtins
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any, ClassVar

from chaos_layer import events
from chaos_layer.exceptions import InjectedFault
from chaos_layer.validation import Fields


@dataclass
class Invocation:
    """One call of the wrapped handler, with the side effects faults may use."""

    event: Any
    context: Any
    sleep: Callable[[float], None]
    random: Random


@dataclass(frozen=True, kw_only=True)
class Fault(ABC):
    type: ClassVar[str]
    # Faults run in config order, except that earlier phases run first:
    # latency always comes before a fault that ends the invocation.
    phase: ClassVar[int] = 1
    rate: float = 1.0

    @classmethod
    @abstractmethod
    def parse(cls, fields: Fields) -> Fault:
        """Build the fault from its config object; problems go into `fields`."""

    @abstractmethod
    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        """Inject the fault around `proceed`, which runs the rest of the invocation."""

    def settings(self) -> dict[str, Any]:
        """The fault's configuration, for log records."""
        return {"type": self.type, **dataclasses.asdict(self)}


# Lambda's longest timeout (15 minutes): a longer sleep could only overflow.
MAX_DELAY_MS = 900_000


@dataclass(frozen=True, kw_only=True)
class LatencyFault(Fault):
    type: ClassVar[str] = "latency"
    phase: ClassVar[int] = 0
    min_ms: float
    max_ms: float

    @classmethod
    def parse(cls, fields: Fields) -> LatencyFault:
        rate = fields.rate()
        has_range = [fields.has("min_ms"), fields.has("max_ms")]  # both marked as known keys
        if fields.has("delay_ms"):
            delay = fields.number("delay_ms", minimum=0, maximum=MAX_DELAY_MS)
            if any(has_range):
                fields.problem("delay_ms", "give either delay_ms or min_ms and max_ms, not both")
            return cls(rate=rate, min_ms=delay, max_ms=delay)
        if not any(has_range):
            fields.problem("delay_ms", "is required (or min_ms and max_ms)")
            return cls(rate=rate, min_ms=0, max_ms=0)
        known = len(fields.problems)
        low = fields.number("min_ms", minimum=0, maximum=MAX_DELAY_MS)
        high = fields.number("max_ms", minimum=0, maximum=MAX_DELAY_MS)
        if low > high and len(fields.problems) == known:
            fields.problem("max_ms", "must not be less than min_ms")
        return cls(rate=rate, min_ms=low, max_ms=high)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        delay = self.min_ms if self.min_ms == self.max_ms else invocation.random.uniform(self.min_ms, self.max_ms)
        invocation.sleep(delay / 1000)
        return proceed()

    def settings(self) -> dict[str, Any]:
        if self.min_ms == self.max_ms:
            return {"type": self.type, "rate": self.rate, "delay_ms": self.min_ms}
        return super().settings()


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


@dataclass(frozen=True, kw_only=True)
class ExceptionFault(Fault):
    type: ClassVar[str] = "exception"
    exception: str = "InjectedFault"
    message: str = "Injected by chaos-layer"

    @classmethod
    def parse(cls, fields: Fields) -> ExceptionFault:
        fault = cls(
            rate=fields.rate(),
            exception=fields.string("exception", cls.exception),
            message=fields.string("message", cls.message),
        )
        if fault.exception not in EXCEPTIONS:
            fields.problem(
                "exception",
                "must name a built-in exception (a subclass of Exception) or InjectedFault",
            )
        return fault

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        raise EXCEPTIONS[self.exception](self.message)


@dataclass(frozen=True, kw_only=True)
class StatusCodeFault(Fault):
    type: ClassVar[str] = "status_code"
    status_code: int
    body: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    prevent_execution: bool = True

    @classmethod
    def parse(cls, fields: Fields) -> StatusCodeFault:
        return cls(
            rate=fields.rate(),
            status_code=int(fields.number("status_code", minimum=100, maximum=599, integer=True)),
            body=fields.string("body", ""),
            headers=fields.string_map("headers"),
            prevent_execution=fields.boolean("prevent_execution", True),
        )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        if self.prevent_execution:
            return events.build_response(invocation.event, self.status_code, self.body, self.headers)
        return events.replace_status(invocation.event, proceed(), self.status_code, self.headers)


FAULT_TYPES: dict[str, type[Fault]] = {fault.type: fault for fault in (LatencyFault, ExceptionFault, StatusCodeFault)}


def parse_fault(data: object, location: str, problems: list[Any]) -> Fault | None:
    fields = Fields(data, location, problems)
    kind = fields.string("type", non_empty=True)
    fault_type = FAULT_TYPES.get(kind)
    if fault_type is None:
        if kind:
            fields.problem("type", f"unknown fault type; expected one of {', '.join(FAULT_TYPES)}")
        return None
    fault = fault_type.parse(fields)
    fields.finish()
    return fault
