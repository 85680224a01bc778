"""What the commands print, with Rich. Values from the config go in as Text, never as markup."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from rich.console import Console
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from chaos_layer import settings
from chaos_layer.cli.options import Periods
from chaos_layer.cli.widening import instant
from chaos_layer.config import FILTER_KEYS, Config
from chaos_layer.control import Controller, Deployment, Status, Written
from chaos_layer.control.formatting import format_instant, format_seconds, percent
from chaos_layer.control.stores.base import Store
from chaos_layer.exceptions import Problem
from chaos_layer.source.base import load, named

CONTROL_GROUP = "yes: as many invocations again are recorded untouched, for comparison"


def _console(file: IO[str] | None = None) -> Console:
    # A new console per call: it picks up the stream in use (tests swap sys.stdout).
    return Console(file=file, highlight=False, soft_wrap=True)


def print_table(table: Table) -> None:
    """A table without the spaces Rich pads every line with to the table's width (they
    trail every copied line and every line a script reads)."""
    console = _console()
    for line in console.render_lines(table, console.options, pad=False):
        while line and not line[-1].text.strip() and not line[-1].control:
            line.pop()
        if line:
            last = line[-1]
            line[-1] = Segment(last.text.rstrip(), last.style, last.control)
        console.print(Segments([*line, Segment.line()]), end="")


def say(message: str) -> None:
    _console().print(Text(message))


def warn(message: str) -> None:
    _console().print(Text(f"Warning: {message}", style="yellow"))


def problems(file: IO[str], title: str, found: list[Problem]) -> None:
    console = _console(file)
    console.print(Text(f"{title}:" if found else title, style="red"))
    for problem in found:
        console.print(Text(f"  {problem}"))


def describe_fault(settings: dict[str, Any]) -> str:
    """`latency delay_ms=300`, `exception exception="TimeoutError" message="injected" (50% ...)`;
    empty settings (no body, no headers) are left out."""
    rest = {k: v for k, v in settings.items() if k not in ("type", "rate") and v not in ("", {}, [], None)}
    parts = [str(settings.get("type", "?"))]
    parts += [f"{key}={json.dumps(_plain(value), ensure_ascii=False)}" for key, value in rest.items()]
    rate = settings.get("rate", 1.0)
    if rate != 1:
        parts.append(f"({percent(rate)} of invocations in the blast radius)")
    return " ".join(parts)


def _plain(value: Any) -> Any:
    """300.0 reads as 300."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def propagation(what: str, controller: Controller, location: str, given: Periods, idle: bool = False) -> None:
    """How long until every execution environment has seen a write: one cache period, the
    active one for a stop, the idle one for a start (docs/sources-and-scale.md, "Polling periods"), plus what the
    source adds (AppConfig: the deployment and the agent's poll interval)."""
    period = controller.idle_max_age if idle else controller.max_age
    origin = period_origin(period, given, idle)
    if period == 0:
        when = f"on its next invocation ({origin})"
    else:
        kind = "idle cache period" if idle else "cache period"
        when = f"within {format_seconds(period)}, the {kind} ({origin})"
    extra = controller.propagation(location)
    say(f"{what} {when}" + (f", after {extra}." if extra else "."))


def period_origin(period: float, given: Periods, idle: bool) -> str:
    """Where a period came from, so nobody takes a default for a setting: the flag, the
    variable as set where the CLI runs, or the default, which the functions may not use."""
    flag, env, default = (
        (given.idle_max_age, settings.IDLE_MAX_AGE_ENV, settings.DEFAULT_IDLE_MAX_AGE)
        if idle
        else (given.max_age, settings.MAX_AGE_ENV, settings.DEFAULT_MAX_AGE)
    )
    name = "--idle-max-age" if idle else "--max-age"
    if flag is not None and flag == period:
        return f"{name} {period:g}"
    if _env_seconds(env) == period:
        return f"{env}={period:g}"
    if period == default:
        return f"the default; pass {name} if your functions set {env}"
    return "raised to the cache period: the idle one is never shorter"


def _env_seconds(name: str) -> float | None:
    try:
        return float(os.environ.get(name, ""))
    except ValueError:
        return None


def preempted(written: Written) -> None:
    """An in-progress AppConfig deployment that a stop or kill rolled back to make way."""
    if written.preempted is not None:
        warn(f"stopped the {written.preempted.summary()} first (AppConfig rolls it back) to make way")


def started(
    written: Written,
    config: Config,
    controller: Controller,
    given: Periods,
    running: bool = False,
    document: dict[str, Any] | None = None,
    expiry: str | None = None,
) -> None:
    """The whole resulting config, blast radius included; `running`: an experiment was
    already enabled there, so this changed it rather than started it; `expiry`: where the
    expiry came from, when nobody chose it (the default) or chose none."""
    verb = "Changed" if running else "Started"
    say(f"{verb} experiment {config.experiment!r} in {written.name} ({written.summary()}).")
    table = _grid()
    table.add_row("rate", Text(percent(config.rate) + " of invocations"))
    shown = document or {}
    for key in FILTER_KEYS:
        if shown.get(key) is not None:
            table.add_row(key, Text(json.dumps(shown[key])))
    if all(getattr(config, key, None) is None for key in FILTER_KEYS):
        table.add_row("radius", Text("every invocation of every function that reads it (no targets, match or cohort)"))
    if config.expires_at is not None:
        left = config.expires_at.timestamp() - controller.clock()
        said = f"in {format_seconds(left)}" + (f", {expiry}" if expiry else "")
        table.add_row("expires", Text(f"{format_instant(config.expires_at)} ({said})"))
    else:
        table.add_row("expires", Text(expiry if expiry and expiry.startswith("never") else "never: runs until stopped"))
    dry_run = getattr(config, "dry_run", False)
    if dry_run:
        table.add_row("dry run", Text("yes: faults are logged, not injected"))
    if config.control_group:
        table.add_row("control group", Text(CONTROL_GROUP))
    for index, fault in enumerate(config.faults):
        table.add_row("faults" if index == 0 else "", Text(describe_fault(fault.settings())))
    print_table(table)
    say("Functions may still refuse it by their guardrails (CHAOS_LAYER_MAX_RATE, CHAOS_LAYER_FAULTS).")
    if dry_run:
        what = "Every function starts logging what it would inject (dry run)"
        propagation(what, controller, written.name, given, idle=not running)
    elif running:
        propagation("Every function injects the changed experiment", controller, written.name, given)
    else:
        propagation("Every function starts injecting", controller, written.name, given, idle=True)


def stopped(written: Written, document: dict[str, Any] | None, controller: Controller, given: Periods) -> None:
    """What a stop did, and whether a plain `start` can resume it: not past its expiry
    (`document`, as read after the stop; None: it could not be read, so nothing is said)."""
    expiry = None if document is None else instant(document.get("expires_at"))
    done = f"Stopped: {written.name} is disabled ({written.summary()})"
    if document is None:
        say(f"{done}.")
    elif expiry is not None and expiry.timestamp() <= controller.clock():
        say(
            f"{done}. It expired at {format_instant(expiry)}, so `chaos-layer start` alone cannot resume it:"
            " `chaos-layer start --duration 15m` (or --until) runs it again with a new expiry."
        )
    elif expiry is not None:
        say(f"{done}; `chaos-layer start` resumes it until it expires at {format_instant(expiry)}.")
    else:
        say(f"{done}; `chaos-layer start` resumes it.")
    propagation("Every function stops injecting", controller, written.name, given)


def changes(changed: list[tuple[str, str, str]]) -> None:
    """What a write changed, key by key: before -> after."""
    if not changed:
        say("Nothing changed in the stored config.")
        return
    table = _grid()
    for key, before, after in changed:
        table.add_row(key, Text(f"{before} -> {after}"))
    say("Changed:")
    print_table(table)


def valid(file: str, config: Config, legacy: bool) -> None:
    kind = "chaos-lambda (legacy) config" if legacy else "config"
    count = len(config.faults)
    state = "enabled" if config.enabled else "disabled"
    say(f"{file}: valid {kind}, {state}, {count} fault{'s' if count != 1 else ''}.")


def status(state: Status) -> None:
    table = _grid()
    if not state.found:
        table.add_row("config", Text(f"{state.parameter}: not found", style="red"))
    else:
        fmt = "chaos-lambda format" if state.legacy else "chaos-layer format"
        table.add_row("config", Text(f"{state.parameter} ({_stored(state)}, {fmt})"))
    if state.deployment is not None:
        table.add_row("deployment", _deployment(state.deployment))
    for index, problem in enumerate(state.problems):
        table.add_row("problems" if index == 0 else "", Text(str(problem), style="red"))
    config = state.config
    if config is not None:
        table.add_row("experiment", Text(config.experiment))
        table.add_row("enabled", Text("yes" if config.enabled else "no"))
        table.add_row("rate", Text(percent(config.rate) + " of invocations"))
        if config.expires_at is None:
            table.add_row("expires", Text("never"))
        else:
            left = state.expires_in or 0.0
            when = f"in {format_seconds(left)}" if left > 0 else f"{format_seconds(-left)} ago"
            table.add_row("expires", Text(f"{format_instant(config.expires_at)} ({when})"))
        if state.dry_run:
            table.add_row("dry run", Text("yes: faults are logged, not injected"))
        if config.control_group:
            table.add_row("control group", Text(CONTROL_GROUP))
        for key, value in state.blast_radius.items():
            table.add_row(key, Text(json.dumps(value, ensure_ascii=False)))
        if not config.faults:
            table.add_row("faults", Text("none"))
        for index, fault in enumerate(config.faults):
            table.add_row("faults" if index == 0 else "", Text(describe_fault(fault.settings())))
    kill = "engaged" if state.killed else "released"
    value = state.kill_switch_value
    kill += " (absent)" if value is None else f" (stored value {_short(value)})"
    table.add_row("kill switch", Text(f"{state.kill_switch}: {kill}", style="red" if state.killed else ""))
    if state.kill_switch_deployment is not None:
        table.add_row("deployment", _deployment(state.kill_switch_deployment))
    verdict = "yes" if state.injecting else "no"
    table.add_row("injecting", Text(f"{verdict}: {state.reason}", style="bold"))
    print_table(table)


def _short(value: str, most: int = 24) -> str:
    """A stored value shown short and escaped (quotes, spaces, control characters visible)."""
    return json.dumps(value if len(value) <= most else value[:most] + "...")


def _stored(state: Status) -> str:
    """`String, version 3`, `S3 object, ETag "9b2c..."`, `AppConfig, deployed`."""
    store: type[Store] = load(named(state.source).store)
    return store.stored(state.parameter_type, state.version, state.token)


def _deployment(deployment: Deployment) -> Text:
    line = deployment.summary()
    if deployment.last_event:
        line += f" ({deployment.last_event})"
    bad = deployment.state in ("ROLLED_BACK", "REVERTED")
    return Text(line, style="yellow" if deployment.in_progress or bad else "")


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    return table
