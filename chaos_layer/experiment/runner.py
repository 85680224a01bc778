"""`chaos-layer run`: a whole experiment from one file, the loop a game day follows.

1. Validate the whole file, the faults and blast radius with the library's own rules (the
   config each ramp step would write goes through `control.validate`). Nothing is written
   when the file is invalid.
2. Check the steady state. Unless every check passes, the run is `aborted` and nothing is
   written.
3. For each ramp step, write the config with the step's rate, then every `poll` until the
   step's hold is over: read the kill switch, read the checks and renew the lease. Every
   write is conditional on the runner's last (writes.py) and expires one lease ahead
   (2 x poll + 60 s), so a runner that dies leaves nothing running for long. Someone else's
   write to the config, or the kill switch engaged, ends the run `interrupted`.
4. On a breach (or a check without data: a runner that cannot see the steady state cannot
   say it holds), disable the config at once, engage the kill switch with `on_breach: kill`,
   and end: the runner says when the stop will have reached every function (one cache
   period) instead of waiting for it.
5. After the last step, disable the config and check the steady state once more.

Whatever ends the run (a breach, Ctrl-C or SIGTERM, an AWS error, a crash in a check), the
stop runs in a `finally`, shielded from further signals and retried, and the journal is
rewritten atomically after every event, so a crash keeps what happened. The stop disables the
config wherever it is still the runner's: a config someone else wrote is left as they wrote it.

With `compare` entries (docs/control-groups.md) the configs are written with `control_group:
true`, the comparisons are skipped before the start (there is no control group yet), read at
every poll (a breach stops the run; too little data, or an interval that straddles the allowed
increase, does not), and judged once more after the end, after `settle`, on all the data: a
comparison that does not pass then makes the run `inconclusive`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chaos_layer import control, settings
from chaos_layer.control.formatting import clock_time, percent, span
from chaos_layer.experiment.checks import (
    Check,
    CompareCheck,
    Context,
    Judgement,
    Observation,
    Phase,
)
from chaos_layer.experiment.definition import STOP_ATTEMPTS, Experiment, Step
from chaos_layer.experiment.journal import (
    EXIT_CODES,
    CheckRecord,
    FunctionTimeout,
    JournalFile,
    StepRecord,
    StopRecord,
    Verdict,
    instant,
)
from chaos_layer.experiment.observations import DEFAULT_FUNCTION_TIMEOUT, METRICS_DELAY
from chaos_layer.experiment.settings_faults import SettingsFaults
from chaos_layer.experiment.signals import Interrupted, SignalGuard
from chaos_layer.experiment.timeouts import Timeout, function_timeout
from chaos_layer.experiment.verdict import Ending, crashed, judge
from chaos_layer.experiment.writes import ConfigWrites, SomeoneElseWrote
from chaos_layer.source import Stored


class KillSwitchEngaged(Exception):
    """The kill switch was found engaged at a poll: the run ends."""


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
    latest: dict[str, Observation] = field(default_factory=dict)


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


class Runner:
    """Runs one experiment. Clients, clock and sleep are injectable so tests drive it fast;
    `sleep` must let `clock` move on (as time.sleep does)."""

    def __init__(
        self,
        experiment: Experiment,
        controller: control.Controller,
        cloudwatch: Any,
        journal: JournalFile,
        *,
        observer: Observer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        idle_max_age: float = settings.DEFAULT_IDLE_MAX_AGE,
        guard: SignalGuard | None = None,
        error_exit_code: Callable[[control.ControlError], int] = lambda error: 1,
        period_origin: Callable[[float, bool], str] | None = None,
        functions: Any = None,
        settings_faults: SettingsFaults | None = None,
    ) -> None:
        self.experiment = experiment
        self.controller = controller
        self.cloudwatch = cloudwatch
        self.file = journal
        self.journal = journal.journal
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
        self.writes = ConfigWrites(experiment, controller, journal, clock, sleep)
        # A Lambda client, to read the functions' timeout (None: Lambda's maximum stands in).
        self.functions = functions
        self.timeout: Timeout | None = None
        self.killed: str | None = None  # the kill switch's value, when found engaged at a poll

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
        breach: Observation | None = None
        aborted: Observation | None = None
        failure: BaseException | None = None
        interrupted = False
        self.started_at = self.clock()
        self.journal.started_at = instant(self.started_at)
        try:
            self._save()
            for warning in self.experiment.warnings:
                self._say(f"Warning: {warning}.", "warn")
            self._preflight()
            aborted = self._steady_state_before()
            if aborted is None:
                breach = self._ramp()
        except (SomeoneElseWrote, KillSwitchEngaged):
            pass  # recorded in self.writes.foreign / self.killed
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
        final: Observation | None = None
        unsettled: list[Observation] = []
        ended = self.writes.foreign is not None or self.killed is not None
        if (
            not ended
            and breach is None
            and aborted is None
            and failure is None
            and not interrupted
            and not stop_failure
        ):
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
        # The first write is conditional on what was read here: a write made since is someone else's.
        read = Stored(self.experiment.parameter, "", state.parameter_type, state.version, state.token)
        self.writes.begin(read if state.found else control.absent(self.experiment.parameter))
        if any(isinstance(check, CompareCheck) and check.metric == "errors" for check in self.experiment.checks):
            self.timeout = function_timeout(self.functions, self.experiment.blast_radius)
            self.journal.function_timeout = FunctionTimeout(self.timeout.seconds, self.timeout.said)
            self._say(
                f"Function timeout for the errors comparison: {span(self.timeout.seconds)} ({self.timeout.said});"
                f" an invocation without a Completed record counts as a failure {span(self._unfinished_after())}"
                " after its minute ends."
            )

    def _steady_state_before(self) -> Observation | None:
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

    def _ramp(self) -> Observation | None:
        """Write each step; at every poll read the kill switch, then the checks, then renew the
        lease. The first reading that does not pass, or None."""
        assert self.started_at is not None
        start = self.clock()
        ends = start + self.experiment.duration
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
                self._check_kill_switch()
                if self.settings_faults is not None:
                    self.settings_faults.renew()
                for check in self.experiment.checks:
                    reading = self._read(check, Phase.DURING, index)
                    if reading.status.stops:  # a comparison without enough data goes on
                        self._save()
                        return reading
                if self.clock() < step_end:  # otherwise the next step's write, or the stop, follows
                    self._renew()
                self._save()
                next_poll = wake + self.experiment.poll
            self.journal.steps[-1].ended_at = instant(self.clock())
            self.journal.steps[-1].completed = True
            self._save()
        return None

    def _check_kill_switch(self) -> None:
        """Engaged during the run: nothing is injected any more, so the run cannot judge."""
        state = self.controller.status()
        if state.killed:
            self.killed = state.kill_switch_value or "on"
            self._say(f"The kill switch {self.controller.kill_switch} is engaged: the run ends here.", "warn")
            raise KillSwitchEngaged(self.killed)

    def _renew(self) -> None:
        """Move the lease one poll on, conditionally like every write."""
        self.writes.write("renew", self.writes.rate)
        self._say(f"Lease renewed: {self.experiment.parameter} expires at {self.writes.expires_at}.", "detail")

    def _write_step(self, index: int, step: Step, ends_at: float) -> None:
        self.progress.phase = "running"
        self.progress.step, self.progress.rate, self.progress.step_ends_at = index, step.rate, ends_at
        now = self.clock()
        self.journal.steps.append(StepRecord(index + 1, step.rate, step.hold, instant(now), instant(ends_at)))
        written = self.writes.write(f"step {index + 1}", step.rate)
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
        if index == 0:
            self._say(
                f"Each write expires {span(self.experiment.lease)} ahead (the lease: 2 x poll + 60 s), renewed at"
                " every poll: if this runner dies, the experiment ends by itself within it."
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

    def _steady_state_after(self) -> tuple[Observation | None, list[Observation]]:
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

    def _read(self, check: Check, phase: Phase, step: int | None = None) -> Observation:
        previous = self.progress.latest.get(check.name)
        context = Context(
            self.cloudwatch, self.clock(), phase, self.started_at, previous, unfinished_after=self._unfinished_after()
        )
        reading = check.read(context)
        self.journal.checks.append(CheckRecord.of(reading, phase.value, None if step is None else step + 1))
        self.progress.latest[reading.check] = reading
        if reading.status.passed:  # during the run, a live display shows passes in its panel instead
            level = "detail" if phase is Phase.DURING else "ok"
        elif reading.status.stops or phase is Phase.AFTER:
            level = "error" if reading.status is Judgement.BREACH else "warn"
        else:  # a comparison still waiting for data, or undecided: the panel shows it
            level = "detail"
        self._say(f"  {reading.check}: {reading.describe()} [{reading.status.value}]", level)
        self._show()
        return reading

    def _unfinished_after(self) -> float:
        """Seconds after a minute ends beyond which its invocations can no longer be running."""
        timeout = self.timeout.seconds if self.timeout is not None else DEFAULT_FUNCTION_TIMEOUT
        return timeout + METRICS_DELAY

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
        """Disable the config where it is still the runner's, then engage the kill switch if asked."""
        if not self.writes.attempted:
            return None
        self.progress.phase = "stopping"
        self._show()
        stop = self.journal.stop = StopRecord(kill_switch=kill)
        error = self.writes.stop()
        foreign = self.writes.foreign
        if foreign is not None:
            stop.ok = stop.left_as_written_by_someone_else = True
            how = f" A write of the runner's raced theirs: {foreign.overwritten}." if foreign.overwritten else ""
            self._say(
                f"{self.experiment.parameter} was written by someone else during the run ({foreign.change}); the"
                f" runner wrote nothing more to it and left it as they wrote it.{how}",
                "warn",
            )
        elif error is None:
            now = self.clock()
            stop.at, stop.reaches_all_by, stop.ok = instant(now), instant(now + self.max_age), True
            self._say(
                f"Stopped: {self.experiment.parameter} is disabled. Every function stops injecting by"
                f" {clock_time(now + self.max_age)} (within {span(self.max_age)},"
                f" {self._period_said(self.max_age, idle=False)}); not waiting for it.",
                "ok",
            )
        else:
            stop.error = str(error)
            self._say(
                f"Could not disable {self.experiment.parameter}: {error}. It expires at {self.writes.expires_at} at"
                f" the latest (its lease); stop it now: chaos-layer stop --param {self.experiment.parameter}"
                " (or chaos-layer kill).",
                "error",
            )
        if kill:
            kill_error = self._kill()
            stop.kill_switch_engaged = kill_error is None
            if kill_error is None:
                self._say(
                    f"Kill switch {self.controller.kill_switch} engaged: every function using chaos-layer stops"
                    f" injecting within {span(self.max_age)}. It stays engaged: chaos-layer resume releases it.",
                    "ok",
                )
            else:
                stop.kill_error = str(kill_error)
                self._say(f"Could not engage the kill switch: {kill_error}.", "error")
                error = error or kill_error
        self._save()
        return error

    def _kill(self) -> control.ControlError | None:
        """Engage the kill switch, whatever it held (another parameter: nothing of anyone's is lost)."""
        error: control.ControlError | None = None
        for attempt in range(STOP_ATTEMPTS):
            try:
                written = self.controller.kill()
            except control.ControlError as failed:
                error = failed
                self.writes.record_failure("kill", failed, None)
                if attempt + 1 < STOP_ATTEMPTS:
                    self.sleep(float(attempt + 1))
                continue
            self.writes.record_write("kill", written, None)
            return None
        return error

    # the verdict

    def _judge(
        self,
        *,
        breach: Observation | None,
        final: Observation | None,
        aborted: Observation | None,
        failure: BaseException | None,
        stop_failure: control.ControlError | None,
        interrupted: bool,
        unsettled: list[Observation] | None = None,
    ) -> Outcome:
        """The verdict (verdict.py), and its exit code: the verdict's, unless an error, or a stop
        that could not be written, says more (1-4)."""
        signal_name = None
        if interrupted:
            signal_name = signal.Signals(self.guard.received[0]).name if self.guard.received else "SIGINT"
        judged = judge(
            Ending(
                experiment=self.experiment,
                step=self.progress.step,
                attempted=self.writes.attempted,
                breach=breach,
                final=final,
                aborted=aborted,
                failure=failure,
                stop_failure=stop_failure,
                signal=signal_name,
                foreign=self.writes.foreign,
                killed=self.killed,
                kill_switch=self.controller.kill_switch,
                kill_engaged=bool(self.journal.stop and self.journal.stop.kill_switch_engaged),
                unsettled=unsettled or [],
                compared=[r for r in self.progress.latest.values() if r.kind == CompareCheck.kind],
            )
        )
        if judged.breach is not None:
            self.journal.breach = judged.breach
        error = failure if isinstance(failure, control.ControlError) else stop_failure
        crash = failure if failure is not None and not isinstance(failure, control.ControlError) else None
        if crash is not None:
            code = 1
        elif error is not None:
            code = self.error_exit_code(error)
        else:
            code = EXIT_CODES[judged.verdict]
        problems = [str(e) if isinstance(e, control.ControlError) else crashed(e) for e in (failure, stop_failure) if e]
        journal = self.journal
        journal.verdict, journal.reason, journal.interruption = judged.verdict, judged.reason, judged.interruption
        journal.exit_code, journal.error = code, "; ".join(problems) or None
        journal.ended_at = instant(self.clock())
        self._save()
        return Outcome(judged.verdict, judged.reason, code, error, crash)

    def _save(self) -> None:
        had_failed = self.file.failure is not None
        try:
            with self.guard.shielded():
                self.file.save()
        except OSError:
            if not had_failed:
                self._say(f"{self.file.failure}; the run goes on without it", "warn")
