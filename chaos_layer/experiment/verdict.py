"""The verdict of a run, from how it ended: one sentence that says why, and, for a run cut
short, what interrupted it. Priorities: someone else's write to the config (the run can say
nothing more about the hypothesis), a breach, the kill switch, a signal, an error, an aborted
start, then a comparison that did not pass at the end; else the hypothesis held."""

from __future__ import annotations

from dataclasses import dataclass, field

from chaos_layer import control
from chaos_layer.control.formatting import number, percent
from chaos_layer.experiment.definition import Experiment
from chaos_layer.experiment.journal import CheckRecord, Interruption, Verdict, instant
from chaos_layer.experiment.observations import Judgement, Observation
from chaos_layer.experiment.writes import Change


@dataclass(frozen=True)
class Ending:
    """How a run ended, as the runner saw it."""

    experiment: Experiment
    step: int | None  # 0-based, the step under way
    attempted: bool  # a write went out
    breach: Observation | None = None  # during the run
    final: Observation | None = None  # after the end
    aborted: Observation | None = None  # before the start
    failure: BaseException | None = None
    stop_failure: control.ControlError | None = None
    signal: str | None = None  # SIGINT, SIGTERM, ...
    foreign: Change | None = None
    killed: str | None = None
    kill_switch: str = ""
    kill_engaged: bool = False
    unsettled: list[Observation] = field(default_factory=list)
    compared: list[Observation] = field(default_factory=list)


@dataclass(frozen=True)
class Judged:
    verdict: Verdict
    reason: str
    interruption: Interruption | None = None  # what cut the run short
    breach: CheckRecord | None = None  # the reading that broke the steady state


def judge(end: Ending) -> Judged:
    """The verdict, its reason, and what goes in the journal with them."""
    step = end.step
    where = "" if step is None else f" at step {step + 1} (rate {percent(end.experiment.ramp[step].rate)})"
    stopped = "the experiment was stopped" if end.attempted else "nothing was written"
    if end.stop_failure is not None:
        stopped = "the stop could not be written"
    breach, reading = end.breach, end.breach or end.final
    foreign = end.foreign
    interruption: Interruption | None = None
    record: CheckRecord | None = None
    if reading is not None:
        during = breach is not None
        at_step = step + 1 if during and step is not None else None
        record = CheckRecord.of(reading, "during" if during else "after", at_step)
    if foreign is not None:
        verdict = Verdict.INTERRUPTED
        reason = (
            f"Interrupted: {end.experiment.parameter} was written by someone else during the run{where}"
            f" ({foreign.change}); the runner wrote nothing more to it and left it as they wrote it."
        )
        if foreign.overwritten:
            reason += f" A write of the runner's raced theirs: {foreign.overwritten}"
        if reading is not None:
            subject = f"{reading.check}:" if reading.data is not None else reading.check
            engaged = " The kill switch was engaged." if end.kill_engaged else ""
            reason += f" The steady state was breached after their write: {subject} {what(reading)}.{engaged}"
        cause = "someone else wrote the config"
        interruption = Interruption(cause, foreign.change, instant(foreign.at), foreign.overwritten)
    elif reading is not None:
        when = where if breach is not None else " after the end"
        verdict = Verdict.REJECTED
        subject = f"{reading.check}:" if reading.data is not None else reading.check
        reason = f"The hypothesis was rejected: {subject} {what(reading)}{when}; {stopped}."
    elif end.killed is not None:
        verdict = Verdict.INTERRUPTED
        reason = (
            f"Interrupted: the kill switch {end.kill_switch} was engaged during the run{where}, so"
            f" nothing more was injected; {stopped}."
        )
        interruption = Interruption("the kill switch was engaged", kill_switch=end.kill_switch)
    elif end.signal is not None:
        name = end.signal
        verdict, reason = Verdict.INTERRUPTED, f"Interrupted by {name}{where}; {stopped}."
        interruption = Interruption(f"{name} (the runner was told to stop)")
    elif end.failure is not None:
        failure = end.failure
        # The verdicts of docs/experiments.md only: an error cuts the run short (interrupted) or keeps it from
        # starting (aborted); the journal's `error` and the exit code (1-4) say which error.
        message = str(failure) if isinstance(failure, control.ControlError) else crashed(failure)
        if end.attempted:
            verdict, reason = Verdict.INTERRUPTED, f"Interrupted by an error{where}: {message}; {stopped}."
            interruption = Interruption("an error", error=message)
        else:
            verdict, reason = Verdict.ABORTED, f"Aborted by an error before the start: {message}; {stopped}."
    elif end.aborted is not None:
        aborted = end.aborted
        verdict = Verdict.ABORTED
        reason = (
            f"Aborted: the steady state did not hold before the start ({aborted.check} {what(aborted)}); {stopped}."
        )
    elif end.unsettled:
        verdict = Verdict.INCONCLUSIVE
        found = "; ".join(f"{r.check}: {what(r)}" for r in end.unsettled)
        reason = f"Inconclusive: no breach, but {found}; {stopped}."
    else:
        top = max(ramp.rate for ramp in end.experiment.ramp)
        count = len(end.experiment.ramp)
        verdict = Verdict.HELD
        reason = (
            f"The hypothesis held: the steady state held through {count} step{'s' if count != 1 else ''}"
            f" (up to rate {percent(top)}) and after the end."
        )
        if end.compared:
            reason = reason[:-1] + "; " + "; ".join(f"{r.check}: {what(r)}" for r in end.compared) + "."
    return Judged(verdict, reason, interruption, record)


def crashed(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def what(reading: Observation) -> str:
    """`was ALARM`, `was 7 (max 5)`, `had no data (the alarm does not exist)`; a comparison
    in its own words (`the error rate rose by 4 points, ...`)."""
    if reading.data is not None and "words" in reading.data:
        return str(reading.data["words"])
    if reading.status is Judgement.NO_DATA:
        return f"had no data ({reading.detail})" if reading.detail else "had no data"
    shown = number(reading.value)
    return f"was {shown} ({reading.detail})" if reading.detail else f"was {shown}"
