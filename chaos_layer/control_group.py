"""Control groups (docs/control-groups.md): the invocations an experiment selects, split into a
treatment group that gets the faults and a control group of the same expected size that gets
nothing, each invocation of either measured as its caller saw it, so the runner can compare
the two groups while the experiment runs (as Netflix's ChAP compares its clusters).

- Without a cohort, one draw u per invocation: u < rate is the treatment, rate <= u < 2 rate
  the control (the config's `draw_rate` is 1, so the blast radius leaves the draw to `select`).
- With a cohort of percent p, the member's bucket assigns the group: below p the treatment,
  in [50, 50 + p) the control, so raising p moves nobody from one group to the other; `rate`
  (drawn by the blast radius, as usual) thins both groups alike.
- Every treatment and control invocation writes one EMF record: `Invocations` 1, `Errors`
  (it raised, or an HTTP source got a status of 500 or more) and `Duration` in milliseconds.
  Where an injected wait runs to the invocation's deadline, the record is written before the
  wait: Lambda ends the invocation at the deadline, and a treatment group that lost exactly
  its worst invocations would make the experiment look better than it is.

Only configs with `control_group: true` reach this module: without one, the hot path is as
it was (the blast radius's draw reads `draw_rate`, which is `rate`). Durable executions never
do: the decorator hands them to chaos_layer.durable first, which selects them as without a
control group (docs/control-groups.md: their invocations are replays of one execution), the cohort's treatment
band included (`Config.treatment_checks`), and writes no group record.
"""

from __future__ import annotations

import logging
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
INVOCATIONS, ERRORS, DURATION = "Invocations", "Errors", "Duration"

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
        bucket = cohort.bucket(event)
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
) -> Any:
    """Run one group's invocation (the treatment through `inject`, the control untouched) and
    write its record. The handler's own exception goes on to the caller, after the record."""
    config, faults, group = selection
    assert group is not None
    record = Record(config.experiment, group, context, clock, config.dry_run)
    try:
        if group == CONTROL:
            response = run_handler()
        else:
            response = inject(config, faults, event, context, run_handler, record.sleeper(sleep))
    except Exception:
        record.write(errors=1)
        raise
    record.write(errors=1 if failed(event, response) else 0)
    return response


class Record:
    """One invocation's record, written once: at the end, or before a wait that Lambda ends."""

    __slots__ = ("clock", "context", "dry_run", "experiment", "group", "started", "written")

    def __init__(self, experiment: str, group: str, context: Any, clock: Callable[[], float], dry_run: bool) -> None:
        self.experiment = experiment
        self.group = group
        self.context = context
        self.clock = clock
        self.dry_run = dry_run
        self.started = clock()
        self.written = False

    def sleeper(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """The faults' sleep: a wait that reaches the deadline writes the record first."""

        def wait(seconds: float) -> None:
            if not self.written:
                from chaos_layer.faults.timeout import _remaining_ms  # one reading of the context, shared

                remaining = _remaining_ms(self.context)
                if remaining is not None and seconds * 1000 >= remaining:
                    self.write(errors=1, duration_ms=self._elapsed_ms() + remaining)
            sleep(seconds)

        return wait

    def write(self, errors: int, duration_ms: float | None = None) -> None:
        if self.written:
            return
        self.written = True
        duration = self._elapsed_ms() if duration_ms is None else duration_ms
        metrics = [(INVOCATIONS, COUNT, 1.0), (ERRORS, COUNT, float(errors)), (DURATION, MILLISECONDS, duration)]
        try:
            write_emf({"experiment": self.experiment, "group": self.group}, metrics, _DRY_RUN if self.dry_run else None)
        except Exception:  # a record lost is a smaller harm than an invocation failed by it
            _warn_once()

    def _elapsed_ms(self) -> float:
        return max(0.0, (self.clock() - self.started) * 1000)


_DRY_RUN: Mapping[str, Any] = {"dry_run": True}  # metadata, as for InjectedFaults: graphs keep their dimensions
_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("chaos-layer could not write a control-group record", exc_info=True)


def failed(event: Any, response: Any) -> bool:
    """Whether the caller saw a failure in a response: a status of 500 or more, for an event
    from an HTTP source (elsewhere a `statusCode` is just data)."""
    if not isinstance(response, Mapping):
        return False
    status = response.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or status < 500:
        return False
    from chaos_layer.events import http_source  # loaded only for such responses

    return http_source(event).is_http
