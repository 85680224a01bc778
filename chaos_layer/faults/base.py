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

A kill switch or a stop ends faults already under way: a fault asks
`invocation.takes_effect(self)` as it acts (false once the experiment is over), and waits with
`invocation.wait`, which is cut short then. The invocation's `Watch` asks the config cache,
which re-reads no more often than its period allows, and at most once a second.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from random import Random
from typing import Any, ClassVar, Protocol

from chaos_layer import events
from chaos_layer.contract import Declared, ListOf, Number, Text, field

logger = logging.getLogger(__name__)

# A wait is never cut into steps shorter than this (a clock that a test does not move).
MIN_WAIT_STEP = 0.01
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


class Current(Protocol):
    """The experiment's current reading, as a fault under way may ask it (the config cache)."""

    @property
    def clock(self) -> Callable[[], float]: ...

    def current(self) -> object | None: ...

    def current_until(self) -> float: ...


class Watch:
    """Whether the experiment an invocation drew its faults from is still on: no kill
    switch engaged, the config neither disabled nor expired. Between two looks at the
    reading (`until`), asking costs a clock read; once over, it stays over. While one look
    is under way (a read, whose own calls a fault in force may see), the answer so far holds,
    so a look never starts another."""

    __slots__ = ("_current", "_looking", "clock", "over", "until")

    def __init__(self, current: Current) -> None:
        self._current = current
        self._looking = False
        self.clock = current.clock
        self.until = float("-inf")
        self.over = False

    def on(self) -> bool:
        if self.over:
            return False
        if self._looking or self.clock() < self.until:
            return True
        self._looking = True
        try:
            current = self._current
            self.over = current.current() is None
            self.until = current.current_until()
        except Exception:  # fail safe: a bug of ours ends the faults, never the handler's call
            logger.warning("chaos-layer is not injecting: unexpected error", exc_info=True)
            self.over = True
        finally:
            self._looking = False
        return not self.over


class Invocation:
    """One call of the wrapped handler, with the side effects faults may use.

    `report(fault)` logs and counts a fault that took effect; `warn(problem)` logs a
    problem at most once per period. Both default to doing nothing (unit tests). Without a
    `watch`, the experiment counts as on for the whole invocation."""

    __slots__ = ("_report", "_warn", "context", "effective", "event", "random", "sleep", "watch")

    def __init__(
        self,
        event: Any,
        context: Any,
        sleep: Callable[[float], None],
        random: Random,
        report: Callable[[Fault], None] = _ignore,
        warn: Callable[[str], None] = _ignore,
        watch: Watch | None = None,
    ) -> None:
        self.event = event
        self.context = context
        self.sleep = sleep
        self.random = random
        self._report = report
        self._warn = warn
        self.watch = watch
        # The faults that took effect, in order, each once.
        self.effective: list[Fault] = []

    def took_effect(self, fault: Fault) -> None:
        """Called by a fault as it takes effect: logged and counted once per invocation."""
        if any(seen is fault for seen in self.effective):
            return
        self.effective.append(fault)
        self._report(fault)

    def ongoing(self) -> bool:
        """Whether the experiment is still on: a fault already under way acts only then."""
        watch = self.watch
        return watch is None or watch.on()

    def takes_effect(self, fault: Fault) -> bool:
        """Whether `fault` may act now (the experiment still on); if so, it is logged and
        counted as `took_effect` does."""
        if not self.ongoing():
            return False
        self.took_effect(fault)
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`, cut short as soon as the experiment is over; whether it was
        slept in full. The reading is looked at only when it may have changed."""
        watch = self.watch
        if watch is None:
            self.sleep(seconds)
            return True
        left = seconds
        while left > 0:
            if not watch.on():
                return False
            step = min(left, max(watch.until - watch.clock(), MIN_WAIT_STEP))
            self.sleep(step)
            left -= step
        return True

    def cut_short(self, fault: Fault) -> None:
        """`fault`'s wait ended early because the experiment is over; said once per period."""
        self._warn(f"{fault.type} cut short: the kill switch is engaged or the experiment has stopped")

    def skipped(self, problem: str) -> None:
        """A fault had nothing to do here; `problem` (safe to log) is warned once per period."""
        self._warn(problem)


# Where a durable execution applies a fault (chaos_layer/durable.py): on the invocation, while
# nothing is checkpointed; inside step attempts; or never (the service would reject the output).
ON_INVOCATION = "invocation"
IN_STEPS = "steps"
NEVER = "never"
DURABLE_PLACES = (ON_INVOCATION, IN_STEPS, NEVER)


class Fault(Declared, ABC):
    """One fault type. Its place in the pipeline (chaos_layer.faults) is one of two:
    `surrounds_handler` (every drawn one runs, outermost first) or `ends_invocation` (at
    most one is drawn, and it runs innermost: it decides how the invocation ends)."""

    type: ClassVar[str]
    ends_invocation: ClassVar[bool] = False
    surrounds_handler: ClassVar[bool] = True
    # Where durable functions apply it (one of DURABLE_PLACES): every fault type says so itself,
    # a type without it is refused when its class is made (durable_place may refine it).
    durable: ClassVar[str]
    # Whether the Errors that `run`'s comparison counts (chaos_layer/control_group.py: raised,
    # or a status of 500 or more to an HTTP source) count an invocation it takes: True, False
    # (it answers as a success), or None as the function's own code decides (counted_as_error).
    fails_invocation: ClassVar[bool | None] = None
    rate: float = field(RATE, "Fraction (0..1) of the invocations in the blast radius this applies to.", default=1.0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.surrounds_handler = not cls.ends_invocation
        cls.schema_name = getattr(cls, "type", "")
        if "type" in vars(cls) and vars(cls).get("durable") not in DURABLE_PLACES:
            raise TypeError(
                f"fault type {cls.type!r} must say where durable functions apply it: durable = one of {DURABLE_PLACES}"
            )

    def durable_place(self) -> str:
        """Where a durable execution applies this fault as configured (its settings may move it)."""
        return self.durable

    @classmethod
    def counted_as_error(cls, settings: Mapping[str, Any]) -> bool | None:
        """fails_invocation for a fault with these settings (as written in a config, not yet
        checked): whether the comparison's Errors count the invocations it takes."""
        return cls.fails_invocation

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
