"""`chaos-layer run` and `chaos-layer report`: a whole experiment from a file, and its journal
as an HTML page. The loop itself is chaos_layer.experiment.runner; this module builds its clients and
shows its progress: a live panel on a terminal, plain lines otherwise."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos_layer import control
from chaos_layer.cli import output
from chaos_layer.cli.options import Command, RunOptions, with_options
from chaos_layer.control import scale
from chaos_layer.control.formatting import percent, span
from chaos_layer.experiment import checks, definition, report, runner, settings_faults, signals
from chaos_layer.experiment.checks import Judgement
from chaos_layer.experiment.journal import JournalFile, new_journal

# Seams for tests: time, and the client factories (same signature as control.ssm_client).
clock: Callable[[], float] = time.time
sleep: Callable[[float], None] = time.sleep
ssm_factory: Callable[..., Any] = control.ssm_client
cloudwatch_factory: Callable[..., Any] = checks.cloudwatch_client
settings_factory: Callable[..., Any] = settings_faults.new_client

STYLES = {"info": "", "ok": "green", "warn": "yellow", "error": "bold red", "detail": "dim"}
VERDICT_STYLES = {"held": "bold green", "rejected": "bold red"}


class Display:
    """The runner's Observer. On a terminal: event lines above a live panel (step, rate, time
    left, each check's latest reading); elsewhere: every line, readings included, plain."""

    def __init__(self, console: Console, now: Callable[[], float]) -> None:
        self.console = console
        self.now = now
        self.live_mode = console.is_terminal
        self.progress: runner.Progress | None = None
        self.checks: dict[str, checks.Check] = {}  # by name, for how the panel shows a comparison
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.live_mode:
            self._live = Live(_Panel(self), console=self.console, refresh_per_second=2, transient=False)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def say(self, text: str, level: str = "info") -> None:
        if self.live_mode and level == "detail":
            return  # the panel shows it
        stamp = datetime.fromtimestamp(self.now(), timezone.utc).strftime("%H:%M:%S")
        self.console.print(Text(f"{stamp} {text}", style=STYLES.get(level, "")))

    def update(self, progress: runner.Progress) -> None:
        self.progress = progress
        if self._live is not None:
            self._live.refresh()


class _Panel:
    """Rendered at every refresh, so the time left counts down between polls."""

    def __init__(self, display: Display) -> None:
        self.display = display

    def __rich__(self) -> RenderableType:
        progress = self.display.progress
        if progress is None:
            return Text("")
        now = self.display.now()
        head = Text(f"{progress.experiment}: {progress.phase}", style="bold")
        if progress.step is not None and progress.rate is not None and progress.phase == "running":
            head.append(f"   step {progress.step + 1}/{progress.steps}   rate {percent(progress.rate)}")
            if progress.step_ends_at is not None:
                head.append(f"   step ends in {span(progress.step_ends_at - now)}")
            if progress.run_ends_at is not None:
                head.append(f"   run ends in {span(progress.run_ends_at - now)}")
        if not progress.latest:
            return head
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("check")
        # A comparison shows its two groups side by side, then the difference.
        comparing = any(reading.data is not None for reading in progress.latest.values())
        if comparing:
            table.add_column("treatment")
            table.add_column("control")
        table.add_column("latest")
        table.add_column("status")
        table.add_column("read")
        for name, reading in progress.latest.items():
            style = "green" if reading.status.passed else "red" if reading.status is Judgement.BREACH else "yellow"
            cells = [Text(name)]
            if comparing:
                data = reading.data
                cells += [Text(checks.side(data, group) if data else "") for group in ("treatment", "control")]
            check = self.display.checks.get(name)
            latest = reading.describe() if check is None else check.latest(reading)
            cells += [
                Text(latest),
                Text(reading.status.value, style=style),
                Text(f"{span(now - reading.at)} ago"),
            ]
            table.add_row(*cells)
        return Group(head, table)


def _journal_path(given: str | None, experiment: str, now: float) -> Path:
    if given:
        return Path(given)
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", experiment).strip("-.") or "experiment"
    return Path(f"{safe}-{stamp}.journal.json")


def _report_path(journal: str) -> Path:
    """`X.journal.json` -> `X.html`, next to the journal; any other name: its suffix -> `.html`."""
    path = Path(journal)
    if path.name.endswith(".journal.json") and len(path.name) > len(".journal.json"):
        return path.with_name(path.name[: -len(".journal.json")] + ".html")
    return path.with_suffix(".html")


def register(app: typer.Typer, exit_codes: Mapping[type[control.ControlError], int]) -> None:
    """Adds `run` and `report` to the CLI; `exit_codes` is the CLI's mapping of errors."""

    def exit_code(error: control.ControlError) -> int:
        return next((code for kind, code in exit_codes.items() if isinstance(error, kind)), 1)

    @app.command(name="run", cls=Command)
    @with_options(RunOptions)
    def run_command(
        aws: RunOptions,
        file: Annotated[
            str, typer.Argument(metavar="FILE", help="Experiment file (YAML or JSON).", show_default=False)
        ],
        journal: Annotated[
            str | None,
            typer.Option(
                "--journal",
                "-j",
                metavar="FILE",
                help="Write the journal here (default: EXPERIMENT-TIME.journal.json in this directory).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run a whole experiment: check the steady state, ramp the blast radius step by step,
        stop at once on a breach, keep a journal.

        Exit codes: 0 the hypothesis held, 5 rejected (the steady state was breached; the
        experiment was stopped), 6 aborted (the steady state did not hold before the start;
        nothing was written), 7 inconclusive (no breach, but a comparison of the treatment with
        the control group did not pass at the end: too little data, or an interval that straddles
        the allowed increase, a sample ratio mismatch, a failing control group), 130 interrupted
        (Ctrl-C, SIGTERM or SIGHUP, someone else's write to the config, the kill switch engaged;
        the experiment was stopped wherever it was still the runner's), 1 invalid file, 2 usage
        error, 3 AWS error, 4 not found. In every ending the config is left disabled, except
        where someone else wrote it during the run: then it is left as they wrote it. Every write
        expires one lease (2 x poll + 60 s) ahead and is renewed at every poll.
        """
        experiment, text = definition.load_experiment(file)
        connection = {"region": aws.region, "profile": aws.profile, "endpoint_url": aws.endpoint_url}
        ssm = ssm_factory(**connection)
        cloudwatch = cloudwatch_factory(**connection)
        clients = control.Clients(**connection, ssm=ssm)  # S3 from the same settings
        controller = control.Controller(
            clients,
            experiment.parameter,
            experiment.kill_switch,  # None: as the library resolves it
            max_age=aws.max_age,
            idle_max_age=aws.idle_max_age,
            clock=clock,
        )
        path = _journal_path(journal, experiment.name, clock())
        record = JournalFile(path, new_journal(experiment, file, text, controller))
        try:
            record.save()
        except OSError:
            raise control.UsageError(str(record.failure)) from None
        console = Console(highlight=False, soft_wrap=True)
        console.print(Text(f"Experiment {experiment.name}: {experiment.hypothesis}", style="bold"))
        console.print(Text(f"Journal: {path}"))
        reach = scale.estimate(
            lambda: cloudwatch, experiment.blast_radius, controller.parameter, controller.max_age, clock()
        )
        for warning in reach.warnings(controller.parameter):  # before the first write
            console.print(Text(f"Warning: {warning}", style="yellow"))
        display = Display(console, clock)
        display.checks = {check.name: check for check in experiment.checks}
        changes = None
        if experiment.settings:
            changes = settings_faults.SettingsFaults(
                experiment.settings,
                settings_factory(connection, clock=clock, sleep=sleep),
                record.journal.setting_entries(),
                role=str(experiment.restore_role),
                lease=settings_faults.lease_of(experiment.poll),
            )
        guard = signals.SignalGuard()  # held until the verdict is printed: a late Ctrl-C changes nothing
        with guard, display:
            outcome = runner.Runner(
                experiment,
                controller,
                cloudwatch,
                record,
                observer=display,
                clock=clock,
                sleep=sleep,
                idle_max_age=controller.idle_max_age,
                guard=guard,
                error_exit_code=exit_code,
                period_origin=lambda period, idle: output.period_origin(period, aws, idle),
                functions=clients("lambda"),
                settings_faults=changes,
            ).run()
            with guard.shielded(deliver=False):
                display.close()
                style = VERDICT_STYLES.get(outcome.verdict.value, "bold yellow")
                console.print(Text(f"Verdict: {outcome.verdict.value}. {outcome.reason}", style=style))
                console.print(Text(f"Journal: {path} (chaos-layer report {path} -o report.html)"))
        if guard.received:
            # Interrupted, stopped, and on the way out: another Ctrl-C must not turn exit code
            # 130 into death by SIGINT. (Only after an interrupt, so tests' processes keep theirs.)
            for signum in signals.SignalGuard.SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
        if outcome.crash is not None:
            raise outcome.crash
        if outcome.error is not None:
            raise outcome.error
        raise typer.Exit(outcome.exit_code)

    @app.command(name="report", cls=Command)
    def report_command(
        journal: Annotated[
            str, typer.Argument(metavar="JOURNAL", help="Journal written by `run`.", show_default=False)
        ],
        output: Annotated[
            str | None,
            typer.Option(
                "--output",
                "-o",
                metavar="FILE",
                help="HTML file to write (default: the journal's name, .html).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Render a run's journal as one self-contained HTML page (no network needed to view it)."""
        data = report.load_journal(journal)
        target = Path(output) if output else _report_path(journal)
        page = report.render(data)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(page, encoding="utf-8")
            os.replace(temporary, target)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise control.UsageError(f"cannot write {target}: {error.strerror or error}") from None
        headline, _ = report.verdict_text(data)
        typer.echo(f"Report: {target} ({headline.lower()})")
