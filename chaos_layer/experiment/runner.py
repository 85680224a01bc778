"""`chaos-layer run`: a whole experiment from one file, the loop a game day follows.

1. Validate the whole file, the faults and blast radius with the library's own rules (the
   config each ramp step would write goes through `control.validate`). Nothing is written
   when the file is invalid.
2. Check the steady state. Unless every check passes, the run is `aborted` and nothing is
   written.
3. For each ramp step, write the config with the step's rate, then read the checks every
   `poll` until the step's hold is over. Every config the runner writes expires at the end
   of the whole run plus a margin, so a runner that dies leaves nothing running for long.
4. On a breach (or a check without data: a runner that cannot see the steady state cannot
   say it holds), disable the config at once, engage the kill switch with `on_breach: kill`,
   and end: the runner says when the stop will have reached every function (one cache
   period) instead of waiting for it.
5. After the last step, disable the config and check the steady state once more.

Whatever ends the run (a breach, Ctrl-C or SIGTERM, an AWS error, a crash in a check), the
stop runs in a `finally`, shielded from further signals and retried, and the journal is
rewritten atomically after every event, so a crash keeps what happened.

With `compare` entries (docs/control-groups.md) the configs are written with `control_group:
true`, the comparisons are skipped before the start (there is no control group yet), read at
every poll (a breach stops the run; too little data, or an interval that straddles the allowed
increase, does not), and judged once more after the end, after `settle`, on all the data: a
comparison that does not pass then makes the run `inconclusive`.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from chaos_layer import control, settings
from chaos_layer.experiment.checks import (
    Check,
    CompareCheck,
    Context,
    Phase,
    Reading,
    Status,
    format_value,
)
from chaos_layer.experiment.definition import EXPIRY_MARGIN, STOP_ATTEMPTS, Experiment, Step
from chaos_layer.experiment.journal import EXIT_CODES, Journal, Verdict, instant
from chaos_layer.experiment.settings_faults import SettingsFaults
from chaos_layer.experiment.signals import Interrupted, SignalGuard


@dataclass
class Progress:
    """What the terminal shows while the experiment runs."""

    experiment: str
    steps: int
    phase: str = "checking the steady state"
    step: int | None = None  # 0-based
    rate: float | None = None
    step_ends_at: float | None = None
    run_ends_at: float | None = None
    latest: dict[str, Reading] = field(default_factory=dict)


class Observer(Protocol):
    def say(self, text: str, level: str = "info") -> None:
        """One line for the log; level is info, ok, warn or error."""

    def update(self, progress: Progress) -> None: ...


class Silent:
    def say(self, text: str, level: str = "info") -> None:
        pass

    def update(self, progress: Progress) -> None:
        pass


@dataclass
class Outcome:
    verdict: Verdict
    reason: str
    exit_code: int
    error: control.ControlError | None = None  # re-raised by the CLI for its exit code
    crash: BaseException | None = None  # a bug: re-raised after the stop


def percent(rate: float) -> str:
    return f"{rate * 100:.4g}%"


# A span for people (`45s`, `14m 32s`, `2h 5m`): the operator API's own.
span = control.format_seconds


def clock_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%H:%M:%SZ")


class Runner:
    """Runs one experiment. Clients, clock and sleep are injectable so tests drive it fast;
    `sleep` must let `clock` move on (as time.sleep does)."""

    def __init__(
        self,
        experiment: Experiment,
        controller: control.Controller,
        cloudwatch: Any,
        journal: Journal,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        idle_max_age: float = settings.DEFAULT_IDLE_MAX_AGE,
        guard: SignalGuard | None = None,
        error_exit_code: Callable[[control.ControlError], int] = lambda error: 1,
        period_origin: Callable[[float, bool], str] | None = None,
        settings_faults: SettingsFaults | None = None,
    ) -> None:
        self.experiment = experiment
        self.controller = controller
        self.cloudwatch = cloudwatch
        self.journal = journal
        self.observer = observer or Silent()
        self.clock = clock
        self.sleep = sleep
        self.max_age = controller.max_age
        self.idle_max_age = max(idle_max_age, controller.max_age)
        self.guard = guard or SignalGuard()
        self.error_exit_code = error_exit_code
        # Where a cache period came from (a flag, a variable, the default), said beside it so
        # nobody takes a default for their functions' setting; the caller knows, we do not.
        self.period_origin = period_origin
        # The file's function settings: checked before anything is written, changed with the
        # first step, their restoring schedules moved at each poll, restored in every ending.
        self.settings_faults = settings_faults
        if settings_faults is not None:
            settings_faults.save, settings_faults.say = self._save, self._say
        self.progress = Progress(experiment.name, len(experiment.ramp))
        self.started_at: float | None = None
        self.expires_at: str | None = None
        self._attempted_write = False
        self._rate = 0.0

    def _period_said(self, period: float, *, idle: bool) -> str:
        kind = "the idle cache period" if idle else "the cache period"
        return f"{kind}: {self.period_origin(period, idle)}" if self.period_origin else kind

    # the whole run

    def run(self) -> Outcome:
        with self.guard:
            outcome = self._run()
        self.progress.phase = f"done: {outcome.verdict.value}"
        self._show()
        return outcome

    def _run(self) -> Outcome:
        breach: Reading | None = None
        aborted: Reading | None = None
        failure: BaseException | None = None
        interrupted = False
        self.started_at = self.clock()
        self.journal.data["started_at"] = instant(self.started_at)
        try:
            self._save()
            for warning in self.experiment.warnings:
                self._say(f"Warning: {warning}.", "warn")
            self._preflight()
            aborted = self._steady_state_before()
            if aborted is None:
                breach = self._ramp()
        except (Interrupted, KeyboardInterrupt) as error:
            interrupted = True
            if isinstance(error, KeyboardInterrupt):
                self.guard.interrupt(signal.SIGINT)
        except Exception as error:  # an AWS error, or a crash in a check: stop, then report
            failure = error
        finally:
            stop_failure = self._stop_safely(kill=breach is not None and self.experiment.on_breach == "kill")
            stop_failure = self._restore_settings() or stop_failure
        interrupted = interrupted or bool(self.guard.received)
        final: Reading | None = None
        unsettled: list[Reading] = []
        if breach is None and aborted is None and failure is None and not interrupted and stop_failure is None:
            try:
                self._settle()
                final, unsettled = self._steady_state_after()
            except (Interrupted, KeyboardInterrupt):
                interrupted = True
            except Exception as error:
                failure = error
        with self.guard.shielded(deliver=False):
            return self._judge(
                breach=breach,
                final=final,
                aborted=aborted,
                failure=failure,
                stop_failure=stop_failure,
                interrupted=interrupted or bool(self.guard.received),
                unsettled=unsettled,
            )

    def _preflight(self) -> None:
        """Before anything is written: SSM answers, the kill switch is released, and no other
        experiment is running in the parameter."""
        if self.settings_faults is not None:
            self.settings_faults.check()
        state = self.controller.status()
        if state.killed:
            raise control.UsageError(
                f"the kill switch {self.controller.kill_switch} is engaged, so nothing would be injected;"
                " release it first (chaos-layer resume)"
            )
        if state.active:
            name = state.config.experiment if state.config is not None else "?"
            raise control.UsageError(
                f"an experiment ({name!r}) is already running in {self.experiment.parameter};"
                " stop it first (chaos-layer stop)"
            )

    def _steady_state_before(self) -> Reading | None:
        """The first check that does not pass, or None. Reads every check, for the record, but
        the comparisons: there is no control group before the start."""
        self._say("Steady state before the start:")
        readings = []
        for check in self.experiment.checks:
            if isinstance(check, CompareCheck):
                self._say(f"  {check.name}: judged once the experiment runs (no control group yet)", "detail")
            else:
                readings.append(self._read(check, Phase.BEFORE))
        self._save()
        return next((r for r in readings if not r.status.passed), None)

    def _ramp(self) -> Reading | None:
        """Write each step and poll its checks; the first reading that does not pass, or None."""
        assert self.started_at is not None
        start = self.clock()
        ends = start + self.experiment.duration
        self.expires_at = control.format_instant(math.ceil(ends + EXPIRY_MARGIN))
        self.journal.data["expires_at"] = self.expires_at
        self.progress.run_ends_at = ends
        step_end = start
        for index, step in enumerate(self.experiment.ramp):
            step_end += step.hold
            self._write_step(index, step, step_end)
            if index == 0 and self.settings_faults is not None:
                self.settings_faults.apply()
            next_poll = self.clock() + self.experiment.poll
            while True:
                now = self.clock()
                if now >= step_end:
                    break
                wake = min(next_poll, step_end)
                self.sleep(max(0.0, wake - now))
                now = self.clock()
                self._say(
                    f"Step {index + 1}/{len(self.experiment.ramp)} at rate {percent(step.rate)}:"
                    f" {span(step_end - now)} left in the step, {span(ends - now)} in the run",
                    "detail",
                )
                if self.settings_faults is not None:
                    self.settings_faults.renew()
                for check in self.experiment.checks:
                    reading = self._read(check, Phase.DURING, index)
                    if reading.status.stops:  # a comparison without enough data goes on
                        self._save()
                        return reading
                self._save()
                next_poll = wake + self.experiment.poll
            self.journal.data["steps"][-1]["ended_at"] = instant(self.clock())
            self.journal.data["steps"][-1]["completed"] = True
            self._save()
        return None

    def _write_step(self, index: int, step: Step, ends_at: float) -> None:
        assert self.expires_at is not None
        document = self.experiment.config(step.rate, self.expires_at)
        self.progress.phase = "running"
        self.progress.step, self.progress.rate, self.progress.step_ends_at = index, step.rate, ends_at
        now = self.clock()
        self.journal.data["steps"].append(
            {
                "step": index + 1,
                "rate": step.rate,
                "hold": step.hold,
                "started_at": instant(now),
                "ends_at": instant(ends_at),
                "ended_at": None,
                "completed": False,
            }
        )
        self._attempted_write = True
        self._rate = step.rate
        try:
            written = self.controller.write_config(document)
        except control.ControlError as error:
            self._record_failure(f"step {index + 1}", error, document)
            raise
        self._record_write(f"step {index + 1}", written, document)
        reach = (
            f"every function starts injecting within {span(self.idle_max_age)}"
            f" ({self._period_said(self.idle_max_age, idle=True)})"
            if index == 0
            else f"functions already injecting switch within {span(self.max_age)}"
            f" ({self._period_said(self.max_age, idle=False)})"
        )
        where = f"version {written.version}" if written.version is not None else written.summary()
        self._say(
            f"Step {index + 1}/{len(self.experiment.ramp)}: rate {percent(step.rate)} for {span(step.hold)}"
            f" ({written.name} {where}); {reach}."
        )
        if index == 0 and step.hold < self.idle_max_age:
            self._say(
                f"Step 1 holds {span(step.hold)}, less than the {span(self.idle_max_age)} an idle function may take"
                " to see the start: some functions may join only at a later step.",
                "warn",
            )
        self._show()
        self._save()

    def _settle(self) -> None:
        """Wait `settle`, the config disabled, for the last metrics to reach CloudWatch."""
        if self.experiment.settle <= 0:
            return
        self.progress.phase = "settling"
        self._show()
        self._say(
            f"Waiting {span(self.experiment.settle)} (settle) for the last metrics to reach CloudWatch before the final"
            " judgement."
        )
        self.sleep(self.experiment.settle)

    def _steady_state_after(self) -> tuple[Reading | None, list[Reading]]:
        """The first reading that breaches (or has no data), and the comparisons that did not
        pass, judged once on all the data."""
        self.progress.phase = "checking the steady state after the end"
        self._show()
        self._say("Steady state after the end:")
        readings = []
        for check in self.experiment.checks:
            readings.append(self._read(check, Phase.AFTER))
        self._save()
        failed = next((r for r in readings if r.status.stops), None)
        return failed, [r for r in readings if not r.status.passed and not r.status.stops]

    def _read(self, check: Check, phase: Phase, step: int | None = None) -> Reading:
        previous = self.progress.latest.get(check.name)
        context = Context(self.cloudwatch, self.clock(), phase, self.started_at, previous)
        reading = check.read(context)
        entry: dict[str, Any] = {
            "at": instant(reading.at),
            "phase": phase.value,
            "step": None if step is None else step + 1,
            "check": reading.check,
            "kind": reading.kind,
            "value": reading.value,
            "status": reading.status.value,
            "detail": reading.detail,
        }
        if reading.data is not None:
            entry["comparison"] = dict(reading.data)
        self.journal.data["checks"].append(entry)
        self.progress.latest[reading.check] = reading
        if reading.status.passed:  # during the run, a live display shows passes in its panel instead
            level = "detail" if phase is Phase.DURING else "ok"
        elif reading.status.stops or phase is Phase.AFTER:
            level = "error" if reading.status is Status.BREACH else "warn"
        else:  # a comparison still waiting for data, or undecided: the panel shows it
            level = "detail"
        self._say(f"  {reading.check}: {reading.describe()} [{reading.status.value}]", level)
        self._show()
        return reading

    def _say(self, text: str, level: str = "info") -> None:
        """The display never decides the run: a terminal that is gone (SIGHUP) is ignored."""
        try:
            self.observer.say(text, level)
        except Exception:
            self.observer = Silent()

    def _show(self) -> None:
        try:
            self.observer.update(self.progress)
        except Exception:
            self.observer = Silent()

    # stopping

    def _stop_safely(self, *, kill: bool) -> control.ControlError | None:
        """Disable the config (and engage the kill switch), shielded from signals. The guard
        raises only once, so a signal that slips in before the shield costs one more attempt."""
        while True:
            try:
                with self.guard.shielded(deliver=False):
                    return self._stop(kill=kill)
            except Interrupted:
                continue
            except KeyboardInterrupt:  # no guard installed (not the main thread)
                self.guard.interrupt(signal.SIGINT)

    def _restore_settings(self) -> control.ControlError | None:
        """Put the function settings back, shielded from signals as the stop is."""
        if self.settings_faults is None:
            return None
        while True:
            try:
                with self.guard.shielded(deliver=False):
                    return self.settings_faults.restore()
            except Interrupted:
                continue
            except KeyboardInterrupt:
                self.guard.interrupt(signal.SIGINT)

    def _stop(self, *, kill: bool) -> control.ControlError | None:
        if not self._attempted_write:
            return None
        assert self.expires_at is not None
        self.progress.phase = "stopping"
        self._show()
        document = self.experiment.config(self._rate, self.expires_at, enabled=False)
        stop = self.journal.data["stop"] = {"at": None, "reaches_all_by": None, "ok": False, "kill_switch": kill}
        error = self._retry("stop", lambda: self.controller.write_config(document), document)
        if error is None:
            now = self.clock()
            stop.update(at=instant(now), reaches_all_by=instant(now + self.max_age), ok=True)
            self._say(
                f"Stopped: {self.experiment.parameter} is disabled. Every function stops injecting by"
                f" {clock_time(now + self.max_age)} (within {span(self.max_age)},"
                f" {self._period_said(self.max_age, idle=False)}); not waiting for it.",
                "ok",
            )
        else:
            stop["error"] = str(error)
            self._say(
                f"Could not disable {self.experiment.parameter}: {error}. It expires at {self.expires_at} at the"
                f" latest; stop it now: chaos-layer stop --param {self.experiment.parameter}"
                " (or chaos-layer kill).",
                "error",
            )
        if kill:
            kill_error = self._retry("kill", self.controller.kill, None)
            stop["kill_switch_engaged"] = kill_error is None
            if kill_error is None:
                self._say(
                    f"Kill switch {self.controller.kill_switch} engaged: every function using chaos-layer stops"
                    f" injecting within {span(self.max_age)}. It stays engaged: chaos-layer resume releases it.",
                    "ok",
                )
            else:
                stop["kill_error"] = str(kill_error)
                self._say(f"Could not engage the kill switch: {kill_error}.", "error")
                error = error or kill_error
        self._save()
        return error

    def _retry(
        self, action: str, write: Callable[[], control.Written], document: dict[str, Any] | None
    ) -> control.ControlError | None:
        error: control.ControlError | None = None
        for attempt in range(STOP_ATTEMPTS):
            try:
                written = write()
            except control.ControlError as failed:
                error = failed
                self._record_failure(action, failed, document)
                if attempt + 1 < STOP_ATTEMPTS:
                    self.sleep(float(attempt + 1))
                continue
            self._record_write(action, written, document)
            return None
        return error

    def _record_failure(self, action: str, error: control.ControlError, document: dict[str, Any] | None) -> None:
        self.journal.data["writes"].append(
            {
                "at": instant(self.clock()),
                "action": action,
                "parameter": self.experiment.parameter if action != "kill" else self.controller.kill_switch,
                "version": None,
                "config": document,
                "error": str(error),
            }
        )

    def _record_write(self, action: str, written: control.Written, document: dict[str, Any] | None) -> None:
        self.journal.data["writes"].append(
            {
                "at": instant(self.clock()),
                "action": action,
                "parameter": written.name,
                "version": written.version,
                "config": document,
                "error": None,
            }
        )

    # the verdict

    def _judge(
        self,
        *,
        breach: Reading | None,
        final: Reading | None,
        aborted: Reading | None,
        failure: BaseException | None,
        stop_failure: control.ControlError | None,
        interrupted: bool,
        unsettled: list[Reading] | None = None,
    ) -> Outcome:
        """The verdict: a breach rejects, then an interrupt, then an error ends the run; an
        aborted start; the check after the end; then a comparison that did not pass at the end
        makes it inconclusive. The exit code is the verdict's, unless an error, or a stop that
        could not be written, says more (1-4)."""
        step = self.progress.step
        where = "" if step is None else f" at step {step + 1} (rate {percent(self.experiment.ramp[step].rate)})"
        stopped = "the experiment was stopped" if self._attempted_write else "nothing was written"
        if stop_failure is not None:
            stopped = "the stop could not be written"
        reading = breach or final
        if reading is not None:
            when = where if breach is not None else " after the end"
            verdict = Verdict.REJECTED
            subject = f"{reading.check}:" if reading.data is not None else reading.check
            reason = f"The hypothesis was rejected: {subject} {_what(reading)}{when}; {stopped}."
            self.journal.data["breach"] = {
                "at": instant(reading.at),
                "phase": "during" if breach is not None else "after",
                "step": None if breach is None or step is None else step + 1,
                "check": reading.check,
                "kind": reading.kind,
                "value": reading.value,
                "status": reading.status.value,
                "detail": reading.detail,
                **({"comparison": dict(reading.data)} if reading.data is not None else {}),
            }
        elif interrupted:
            name = signal.Signals(self.guard.received[0]).name if self.guard.received else "SIGINT"
            verdict, reason = Verdict.INTERRUPTED, f"Interrupted by {name}{where}; {stopped}."
        elif failure is not None:
            # The verdicts of docs/experiments.md only: an error cuts the run short (interrupted) or keeps it from
            # starting (aborted); the journal's `error` and the exit code (1-4) say which error.
            message = str(failure) if isinstance(failure, control.ControlError) else _crash(failure)
            if self._attempted_write:
                verdict, reason = Verdict.INTERRUPTED, f"Interrupted by an error{where}: {message}; {stopped}."
            else:
                verdict, reason = Verdict.ABORTED, f"Aborted by an error before the start: {message}; {stopped}."
        elif aborted is not None:
            verdict = Verdict.ABORTED
            reason = (
                f"Aborted: the steady state did not hold before the start ({aborted.check} {_what(aborted)});"
                f" {stopped}."
            )
        elif unsettled:
            verdict = Verdict.INCONCLUSIVE
            found = "; ".join(f"{r.check}: {_what(r)}" for r in unsettled)
            reason = f"Inconclusive: no breach, but {found}; {stopped}."
        else:
            top = max(step.rate for step in self.experiment.ramp)
            count = len(self.experiment.ramp)
            verdict = Verdict.HELD
            reason = (
                f"The hypothesis held: the steady state held through {count} step{'s' if count != 1 else ''}"
                f" (up to rate {percent(top)}) and after the end."
            )
            judged = [r for r in self.progress.latest.values() if r.kind == CompareCheck.kind]
            if judged:
                reason = reason[:-1] + "; " + "; ".join(f"{r.check}: {_what(r)}" for r in judged) + "."
        error = failure if isinstance(failure, control.ControlError) else stop_failure
        crash = failure if failure is not None and not isinstance(failure, control.ControlError) else None
        if crash is not None:
            code = 1
        elif error is not None:
            code = self.error_exit_code(error)
        else:
            code = EXIT_CODES[verdict]
        problems = [str(e) if isinstance(e, control.ControlError) else _crash(e) for e in (failure, stop_failure) if e]
        self.journal.data.update(
            verdict=verdict.value,
            reason=reason,
            exit_code=code,
            error="; ".join(problems) or None,
            ended_at=instant(self.clock()),
        )
        self._save()
        return Outcome(verdict, reason, code, error, crash)

    def _save(self) -> None:
        had_failed = self.journal.failure is not None
        try:
            with self.guard.shielded():
                self.journal.save()
        except OSError:
            if not had_failed:
                self._say(f"{self.journal.failure}; the run goes on without it", "warn")


def _crash(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _what(reading: Reading) -> str:
    """`was ALARM`, `was 7 (max 5)`, `had no data (the alarm does not exist)`; a comparison
    in its own words (`the error rate rose by 4 points, ...`)."""
    if reading.data is not None and "words" in reading.data:
        return str(reading.data["words"])
    if reading.status is Status.NO_DATA:
        return f"had no data ({reading.detail})" if reading.detail else "had no data"
    shown = format_value(reading.value)
    return f"was {shown} ({reading.detail})" if reading.detail else f"was {shown}"
