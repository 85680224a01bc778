"""Control groups (docs/control-groups.md): the invocations an experiment selects, split into a
treatment group that gets the faults and a control group of the same expected size that gets
nothing, each invocation of either measured as its caller saw it, so the runner can compare
the two groups while the experiment runs (as Netflix's ChAP compares its clusters).

- Without a cohort, one draw u per invocation: u < rate is the treatment, rate <= u < 2 rate
  the control (the config's `draw_rate` is 1, so the blast radius leaves the draw to `select`).
- With a cohort of percent p, the member's bucket assigns the group: below p the treatment,
  in [50, 50 + p) the control, so raising p moves nobody from one group to the other; `rate`
  (drawn by the blast radius, as usual) thins both groups alike.
- Every treatment and control invocation writes two EMF records: `Invocations` 1 when it
  starts, and when it ends `Completed` 1, `Errors` (it raised, or an HTTP source got a status
  of 500 or more) and `Duration` in milliseconds, both stamped with its start so that
  CloudWatch files them in the same period. An invocation that Lambda ends (its timeout, a
  crash, out of memory, whether or not a fault caused it) leaves the first record alone, and
  `Invocations - Completed + Errors` counts it as a failure of its group: a treatment group
  that lost exactly its worst invocations would otherwise look better than it is.

Only configs with `control_group: true` reach this module: without one, the hot path is as
it was (the blast radius's draw reads `draw_rate`, which is `rate`). Durable executions never
do: the decorator hands them to chaos_layer.durable first, which selects them as without a
control group (docs/control-groups.md: their invocations are replays of one execution), the cohort's treatment
band included (`Config.treatment_checks`), and writes no group record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from random import Random
from typing import Any, Protocol

from chaos_layer.blast_radius import COHORT_BUCKETS
from chaos_layer.config import Config
from chaos_layer.faults import Fault, draw
from chaos_layer.observability import COUNT, MILLISECONDS, write_emf

logger = logging.getLogger(__name__)

TREATMENT = "treatment"
CONTROL = "control"
GROUPS = (TREATMENT, CONTROL)
# The cohort's control band starts at 50 %: [50, 50 + p) never meets the treatment's [0, p).
CONTROL_BAND = COHORT_BUCKETS // 2
INVOCATIONS, COMPLETED, ERRORS, DURATION = "Invocations", "Completed", "Errors", "Duration"

# (config, faults drawn, group); group None: selected without a control group.
Selection = tuple[Config, list[Fault], str | None]


def select(config: Config, event: Any, context: Any, random: Random) -> Selection | None:
    """The group of an invocation that `targets` and `match` (and with a cohort, `rate`)
    have admitted, and the faults drawn for the treatment; None when it is in neither."""
    cohort = config.cohort
    if cohort is None:
        draw_value = random.random()
        group = TREATMENT if draw_value < config.rate else CONTROL if draw_value < 2 * config.rate else None
    else:
        bucket = cohort.bucket(event, context)
        limit = cohort.percent / 100 * COHORT_BUCKETS
        if bucket is None:
            group = None
        elif bucket < limit:
            group = TREATMENT
        else:
            group = CONTROL if CONTROL_BAND <= bucket < CONTROL_BAND + limit else None
    if group is None:
        return None
    return config, draw(config.faults, random) if group == TREATMENT else [], group


class Injects(Protocol):
    def __call__(
        self,
        config: Config,
        faults: list[Fault],
        event: Any,
        context: Any,
        run_handler: Callable[[], Any],
        sleep: Callable[[float], None],
    ) -> Any: ...


def measure(
    selection: Selection,
    event: Any,
    context: Any,
    run_handler: Callable[[], Any],
    inject: Injects,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    wall_clock: Callable[[], float] = time.time,
) -> Any:
    """Run one group's invocation (the treatment through `inject`, the control untouched),
    recorded when it starts and when it ends. The handler's own exception goes on to the
    caller, after the record; nothing of the records' own ever does."""
    config, faults, group = selection
    assert group is not None
    record = Record(config.experiment, group, clock, wall_clock, config.dry_run)
    try:
        response = run_handler() if group == CONTROL else inject(config, faults, event, context, run_handler, sleep)
    except Exception:
        record.end(errors=1)
        raise
    record.end(errors=1 if failed_safely(event, response) else 0)
    return response


class Record:
    """One invocation's records: `Invocations` as it starts (written here), the rest as it ends."""

    __slots__ = ("clock", "dimensions", "metadata", "started", "timestamp_ms")

    def __init__(
        self, experiment: str, group: str, clock: Callable[[], float], wall_clock: Callable[[], float], dry_run: bool
    ) -> None:
        self.dimensions = {"experiment": experiment, "group": group}
        self.metadata = _DRY_RUN if dry_run else None
        self.clock = clock
        self.started = clock()
        self.timestamp_ms = _timestamp_ms(wall_clock)
        self._write([(INVOCATIONS, COUNT, 1.0)])

    def end(self, errors: int) -> None:
        duration = max(0.0, (self.clock() - self.started) * 1000)
        self._write([(COMPLETED, COUNT, 1.0), (ERRORS, COUNT, float(errors)), (DURATION, MILLISECONDS, duration)])

    def _write(self, metrics: list[tuple[str, str, float]]) -> None:
        try:
            write_emf(self.dimensions, metrics, self.metadata, self.timestamp_ms)
        except Exception:  # a record lost is a smaller harm than an invocation failed by it
            _warn_once()


def _timestamp_ms(wall_clock: Callable[[], float]) -> int | None:
    """The start in milliseconds since the epoch, or None (the write's own time) without one."""
    try:
        return int(wall_clock() * 1000)
    except Exception:
        return None


_DRY_RUN: Mapping[str, Any] = {"dry_run": True}  # metadata, as for InjectedFaults: graphs keep their dimensions
_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("chaos-layer could not write a control-group record", exc_info=True)


def failed_safely(event: Any, response: Any) -> bool:
    """`failed`, where a response or an event too odd to read counts as no failure: whatever
    the handler returned, nothing of the record's own raises into its caller."""
    try:
        return failed(event, response)
    except Exception:
        return False


def failed(event: Any, response: Any) -> bool:
    """Whether the caller saw a failure in a response: a status of 500 or more, for an event
    from an HTTP source (elsewhere a `statusCode` is just data)."""
    if not isinstance(response, Mapping):
        return False
    status = response.get("statusCode")
    if isinstance(status, str):  # API Gateway reads "503" as 503; "²" or "٥٠٣" is no status
        status = int(status) if status.isascii() and status.isdigit() and len(status) <= 3 else None
    if not isinstance(status, int) or isinstance(status, bool) or status < 500:
        return False
    from chaos_layer.events import http_source  # loaded only for such responses

    return http_source(event).is_http
