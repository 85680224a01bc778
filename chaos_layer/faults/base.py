"""What every fault type is: a `Declared` class (chaos_layer.contract) whose fields are its
config keys, and which wraps the rest of the invocation like a middleware:

    apply(invocation, proceed) -> response

`proceed()` runs the next fault, and the handler after the last one. A fault that ends the
invocation simply does not call it, so the handler runs at most once.

A fault is logged and counted only when it takes effect: it calls
`invocation.took_effect(self)` at that moment (before a wait that Lambda may end, after the
handler for what changes its response), and never when it turns out to have nothing to do.
A fault that cannot apply to an event says why in `skipped_for`: it is then not injected,
and the reason is logged once per period (a dry run reports it the same way).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from random import Random
from typing import Any, ClassVar

from chaos_layer import events
from chaos_layer.contract import Declared, ListOf, Number, Text, field

# Lambda's longest timeout (15 minutes): a longer wait could only overflow.
MAX_WAIT_MS = 900_000
WAIT_MS = Number(0, MAX_WAIT_MS)
RATE = Number(0, 1)
# A durable function's step names (or glob patterns of them), matched with fnmatch: keep them short.
STEP_NAMES = ListOf(
    Text(max_length=256, label="step pattern"),
    non_empty=True,
    empty_hint="leave it out to reach every step, or the invocation",
)


def _ignore(_: Any) -> None:
    return None


def not_http(fault: str, event: Any) -> str | None:
    """Why a fault that answers with an HTTP response skips `event`, or None for an HTTP
    source: anything else (a queue, a stream, an authorizer) would take the response as
    work done, without the handler having run."""
    if events.http_source(event).is_http:
        return None
    return f"{fault} skipped for {events.event_kind(event)} events: it applies only to events from HTTP sources"


class Invocation:
    """One call of the wrapped handler, with the side effects faults may use.

    `report(fault)` logs and counts a fault that took effect; `warn(problem)` logs a
    problem at most once per period. Both default to doing nothing (unit tests)."""

    __slots__ = ("_report", "_warn", "context", "effective", "event", "random", "sleep")

    def __init__(
        self,
        event: Any,
        context: Any,
        sleep: Callable[[float], None],
        random: Random,
        report: Callable[[Fault], None] = _ignore,
        warn: Callable[[str], None] = _ignore,
    ) -> None:
        self.event = event
        self.context = context
        self.sleep = sleep
        self.random = random
        self._report = report
        self._warn = warn
        # The faults that took effect, in order, each once.
        self.effective: list[Fault] = []

    def took_effect(self, fault: Fault) -> None:
        """Called by a fault as it takes effect: logged and counted once per invocation."""
        if any(seen is fault for seen in self.effective):
            return
        self.effective.append(fault)
        self._report(fault)

    def skipped(self, problem: str) -> None:
        """A fault had nothing to do here; `problem` (safe to log) is warned once per period."""
        self._warn(problem)


class Fault(Declared, ABC):
    """One fault type. Its place in the pipeline (chaos_layer.faults) is one of two:
    `surrounds_handler` (every drawn one runs, outermost first) or `ends_invocation` (at
    most one is drawn, and it runs innermost: it decides how the invocation ends)."""

    type: ClassVar[str]
    ends_invocation: ClassVar[bool] = False
    surrounds_handler: ClassVar[bool] = True
    rate: float = field(RATE, "Fraction (0..1) of the invocations in the blast radius this applies to.", default=1.0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.surrounds_handler = not cls.ends_invocation
        cls.schema_name = getattr(cls, "type", "")

    @staticmethod
    def steps_field() -> Any:
        """The `steps` key, declared by the fault types a durable function's steps can take."""
        return field(
            STEP_NAMES,
            "Durable functions only: just these steps (step names, globs * ? [] allowed), and nowhere else."
            " See Durable functions.",
            default=(),
            examples=(["charge-*", "reserve"],),
        )

    def prepare(self) -> None:
        """Load the mechanics `apply` needs. Called when a config that names this fault first
        turns active, before any draw (docs/benchmarks.md, "Cold start"), so that the first
        injection costs what later ones do; `apply` imports them too, to stand alone."""

    @abstractmethod
    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        """Inject the fault around `proceed`, which runs the rest of the invocation."""

    def skipped_for(self, event: Any) -> str | None:
        """Why this fault cannot apply to `event` (safe to log: no value from the event), or
        None. Checked by the pipeline before `apply` (chaos_layer.faults.run), and by a dry run."""
        return None

    def settings(self) -> dict[str, Any]:
        """The fault's configuration, for log records: free text (a body, headers, a
        message) is left out, since a SecureString config must not leak into logs; `steps`
        only when given."""
        public = self.values(public=True)
        return {"type": self.type, **{key: value for key, value in public.items() if value or key != "steps"}}
