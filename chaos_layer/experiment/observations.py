"""What a steady-state check gives: an `Observation` at one instant, in one `Phase`, whose `Judgement`
says what it means (only `ok` is a pass), and the `Context` a check reads in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, ClassVar, Protocol

from chaos_layer.control.formatting import number

# A function's timeout when it cannot be read (Lambda's maximum): before that long after an
# invocation started, it may still be running, so its missing `Completed` is not yet a failure.
DEFAULT_FUNCTION_TIMEOUT = 900.0
# How long after an invocation's end its EMF records may still reach CloudWatch.
METRICS_DELAY = 120.0


class Phase(str, Enum):
    BEFORE = "before"  # before anything is written: the steady state must hold to start
    DURING = "during"  # at every poll while the experiment runs
    AFTER = "after"  # once more after the end, with the config disabled


class Judgement(str, Enum):
    """What a reading means. A comparison of the two groups may also be `insufficient` (too few
    invocations in a group to compare yet) or `inconclusive` (enough data, but no pass: an
    interval that straddles the allowed increase, a duration over it once, or no evidence: a
    sample ratio mismatch, a failing control group): neither is a pass, and neither stops a run."""

    OK = "ok"
    BREACH = "breach"
    NO_DATA = "no_data"
    INSUFFICIENT = "insufficient"
    INCONCLUSIVE = "inconclusive"

    @property
    def passed(self) -> bool:
        return self is Judgement.OK

    @property
    def stops(self) -> bool:
        """Whether the run must stop: a breach, or a steady state it cannot see."""
        return self in (Judgement.BREACH, Judgement.NO_DATA)


@dataclass(frozen=True)
class Observation:
    """One check's result at one instant, as the journal keeps it."""

    check: str
    kind: str
    status: Judgement
    value: float | str | None
    at: float
    detail: str = ""
    data: Mapping[str, Any] | None = None  # a comparison's groups, statistics and bounds

    def describe(self) -> str:
        """`OK`, `7 (max 5)`, `no data: the alarm does not exist`; a comparison says it all in
        its detail (both groups side by side, the difference and its bounds)."""
        if self.kind == "compare":
            return self.detail
        if self.status is Judgement.NO_DATA:
            return f"no data: {self.detail}" if self.detail else "no data"
        shown = number(self.value)
        return f"{shown} ({self.detail})" if self.detail else shown


@dataclass(frozen=True)
class Context:
    """What a check may need to read: the CloudWatch client, the instant, the phase, and
    when the experiment started (a comparison reads the groups' metrics since then)."""

    cloudwatch: Any
    now: float
    phase: Phase
    started_at: float | None = None
    previous: Observation | None = None  # the check's reading at the poll before
    # Seconds after a period ends beyond which an invocation that started in it and left no
    # `Completed` record can no longer be running: the function's timeout plus METRICS_DELAY.
    unfinished_after: float = DEFAULT_FUNCTION_TIMEOUT + METRICS_DELAY


class Check(Protocol):
    kind: ClassVar[str]

    @property
    def name(self) -> str:
        """Unique within a file; labels the check in the terminal, the journal and the report."""
        ...

    def read(self, context: Context) -> Observation: ...

    def latest(self, observation: Observation) -> str:
        """What the live panel shows of the check's latest observation."""
        ...

    def definition(self) -> dict[str, Any]:
        """The check as the journal and the report show it (with its bounds)."""
        ...


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
