"""`chaos-layer` commands: thin Typer wrappers over chaos_layer.control.

Exit codes: 0 ok, 1 invalid config or a racing write overwritten, 2 usage error (bad flags or
file), 3 AWS error (credentials, region, permissions, endpoint), 4 config not found.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # Typer vendors Click since 0.2x; older versions use Click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]

from chaos_layer import __version__, control
from chaos_layer.cli import faults as fault_flags
from chaos_layer.cli import fis as fis_commands
from chaos_layer.cli import options, output, recover, widening
from chaos_layer.cli import run as run_commands
from chaos_layer.cli.options import (
    AwsOptions,
    Strategy,
    aws_options,
    check_flags,
    exception_fault,
    latency_fault,
    parse_duration,
    parse_rate,
    parse_until,
    status_code_fault,
)
from chaos_layer.config import is_legacy
from chaos_layer.control import scale
from chaos_layer.control.controller import NO_EXPIRY_ALONE
from chaos_layer.exceptions import Problem

PROG = "chaos-layer"
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_AWS = 3
EXIT_NOT_FOUND = 4

EXIT_CODES: dict[type[control.ControlError], int] = {
    control.InvalidConfig: EXIT_INVALID,
    control.UsageError: EXIT_USAGE,
    control.AwsError: EXIT_AWS,
    control.NotFound: EXIT_NOT_FOUND,
    control.Overwritten: EXIT_INVALID,
}

# Seams for tests: the time "now" is read from, and the factory of the AWS clients.
clock: Callable[[], float] = time.time
client_factory: Callable[..., Any] = control.clients


class Group(TyperGroup):
    """Turns every user error into one line on stderr and a documented exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name or PROG, complete_var, False, windows_expand_args=windows_expand_args, **extra
            )
            code = result if isinstance(result, int) else EXIT_OK
        except click_errors.NoArgsIsHelpError as error:
            if error.format_message().strip():  # with Rich, Typer has printed the help already
                typer.echo(error.format_message(), err=True)
            code = EXIT_USAGE
        except click_errors.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            code = fail(f"{error.format_message()}{where}", EXIT_USAGE)
        except click_errors.ClickException as error:
            code = fail(error.format_message(), error.exit_code)
        except typer.Abort:
            code = fail("aborted", 130)
        except control.InvalidConfig as error:
            output.problems(sys.stderr, f"{PROG}: error: {error.message(self.flags())}", error.problems)
            code = EXIT_INVALID
        except control.ControlError as error:
            kind = next(c for kind, c in EXIT_CODES.items() if isinstance(error, kind))
            code = fail(error.message(self.flags()), kind)
        if standalone_mode:
            sys.exit(code)
        return code

    def flags(self) -> dict[str, str]:
        """How the operator API's messages name a setting here: by its flag (`--param`)."""
        names = {"document": "the faults as flags or --file", "parameter_type": "--type"}
        for command in self.commands.values():
            for parameter in command.params:
                if parameter.name and parameter.opts and parameter.opts[0].startswith("--"):
                    names.setdefault(parameter.name, parameter.opts[0])
        return names


def fail(message: str, code: int) -> int:
    typer.echo(f"{PROG}: error: {message}", err=True)
    return code


app = typer.Typer(
    cls=Group,
    name=PROG,
    help="Drive chaos-layer experiments: write and read the configs and kill switch chaos-layer reads"
    " (in SSM, S3 or AppConfig).",
    epilog="Exit codes: 0 ok, 1 invalid config or a racing write overwritten, 2 usage error, 3 AWS error,"
    " 4 config not found; run also: 5 hypothesis rejected, 6 aborted, 7 inconclusive,"
    " 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # Click's plain help: it wraps at words, so it reads at 80 columns
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Drive chaos-layer experiments: write and read the configs and kill switch chaos-layer reads
    (in SSM, S3 or AppConfig)."""


def _option(help: str, metavar: str) -> Any:
    """A flag whose default (none) is not worth showing."""
    return typer.Option(help=help, metavar=metavar, show_default=False)


def _controller(aws: AwsOptions) -> control.Controller:
    client = client_factory(region=aws.region, profile=aws.profile, endpoint_url=aws.endpoint_url)
    return control.Controller(
        client, aws.parameter, aws.kill_switch, max_age=aws.max_age, idle_max_age=aws.idle_max_age, clock=clock
    )


def _stored_document(controller: control.Controller) -> dict[str, Any] | None:
    """The stored config as a JSON object, or None when there is none to compare with."""
    try:
        return controller.read_config()[1]
    except (control.NotFound, control.InvalidConfig):
        return None


def _before_write(
    controller: control.Controller, before: dict[str, Any] | None, replace: bool
) -> Callable[[dict[str, Any]], None]:
    """What start checks last, on the document it is about to write: the widening guard, then
    the scale of the experiment (a warning, never a refusal)."""
    guard = _widening_guard(controller.parameter, before, replace)

    def check(after: dict[str, Any]) -> None:
        guard(after)
        estimate = scale.estimate(
            lambda: controller.clients("cloudwatch"), after, controller.parameter, controller.max_age, clock()
        )
        for warning in estimate.warnings(controller.parameter):
            output.warn(warning)

    return check


class Unchanged(Exception):
    """The start would write exactly what is stored and running: nothing is written."""


def _widening_guard(parameter: str, before: dict[str, Any] | None, replace: bool) -> Callable[[dict[str, Any]], None]:
    """Refuses a start that widens the stored config's blast radius unless it is confirmed
    (on a terminal) or asked for with --replace; says what widens either way. A start that
    would write what is stored already writes nothing (a new version would change nothing)."""

    def check(after: dict[str, Any]) -> None:
        if before is not None and before.get("enabled") is True and after == before:
            raise Unchanged()
        found = widening.widenings(before, after, clock())
        if not found:
            return
        said = "; ".join(found)
        if replace:
            output.warn(f"this start widens the blast radius of {parameter} (--replace): {said}")
            return
        if sys.stdin.isatty() and sys.stdout.isatty():
            output.warn(f"this start widens the blast radius of {parameter}: {said}")
            if typer.confirm("Write it anyway?", default=False):
                return
            raise control.UsageError("not confirmed; nothing was written")
        raise control.UsageError(
            f"this start would widen the blast radius of {parameter}: {said}; nothing was written."
            " Pass --replace to write it anyway"
        )

    return check


def _read_file(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise control.UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None


@app.command(cls=fault_flags.FaultCommand)
@aws_options
def start(
    aws: AwsOptions,
    latency: Annotated[str | None, _option("Add latency: milliseconds (300) or a range (100-800).", "MS")] = None,
    exception: Annotated[
        str | None, _option("Raise this exception instead of running the handler (TimeoutError, ...).", "NAME")
    ] = None,
    message: Annotated[str | None, _option("Message of the --exception.", "TEXT")] = None,
    status_code: Annotated[
        int | None, _option("Return this HTTP status code instead of running the handler.", "CODE")
    ] = None,
    body: Annotated[str | None, _option("Response body of the --status-code.", "TEXT")] = None,
    fault: Annotated[list[str] | None, _option(fault_flags.HELP, "'TYPE KEY=VALUE ...'")] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="Write this config file (JSON; - for stdin) instead of fault flags.",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[str | None, _option("Fraction of invocations in the blast radius: 0.05 or 5%.", "RATE")] = None,
    experiment: Annotated[str | None, _option("Experiment name for logs and metrics.", "NAME")] = None,
    duration: Annotated[str | None, _option("Stop injecting after this long: 90s, 15m, 2h, 1h30m.", "SPAN")] = None,
    until: Annotated[str | None, _option("Stop injecting at this ISO-8601 time: 2026-11-27T15:00:00Z.", "TIME")] = None,
    no_expiry: Annotated[
        bool,
        typer.Option(
            "--no-expiry",
            help="Write no expiry: the experiment runs until stopped (without --duration or --until a start"
            " writes one hour).",
        ),
    ] = False,
    dry_run: Annotated[
        bool | None,
        typer.Option(
            "--dry-run/--no-dry-run",
            help="Only log the faults that would be injected (or stop doing so).",
            show_default=False,
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Write even when the change widens the blast radius (removes targets, match or cohort,"
            " raises the rate, drops or extends the expiry).",
        ),
    ] = False,
    type_name: Annotated[
        str | None,
        typer.Option(
            "--type",
            metavar="String|SecureString",
            help="SSM only: type of a new config parameter, String or SecureString (an existing one keeps its"
            " type; see --change-type).",
            show_default=False,
        ),
    ] = None,
    change_type: Annotated[
        bool,
        typer.Option(
            "--change-type",
            help="SSM only: change an existing parameter's type to --type (from SecureString to String also"
            " needs --force).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --change-type: allow SecureString to String (plain text).")
    ] = False,
    strategy: Strategy = None,
    control_group: Annotated[
        bool | None,
        typer.Option(
            "--control-group/--no-control-group",
            help="Split the selected invocations into a treatment (the faults) and an untouched control group of the"
            " same size, each recorded (EMF), for `run`'s comparisons (or stop doing so). --rate at most 0.5 then.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start an experiment: write an enabled config, validated first.

    Give faults as flags, or a whole config with --file; with neither, re-enable the
    stopped config. --rate, --experiment, --duration, --until, --dry-run and --control-group apply in
    every case. A new experiment needs --rate; every experiment written expires, in one hour
    unless --duration, --until (or the --file config) says when, or --no-expiry says never.
    """
    if message is not None and exception is None:
        raise control.UsageError("--message needs --exception")
    if body is not None and status_code is None:
        raise control.UsageError("--body needs --status-code")
    flagged: list[tuple[str, dict[str, Any]]] = []  # (the flag as given, its fault)
    if latency is not None:
        flagged.append((f"--latency {latency!r}", latency_fault(latency)))
    if exception is not None:
        flagged.append((f"--exception {exception!r}", exception_fault(exception, message)))
    if status_code is not None:
        flagged.append((f"--status-code {status_code}", status_code_fault(status_code, body)))
    flagged += [(f"{fault_flags.FLAG} {spec['type']}", spec) for spec in map(fault_flags.parse, fault or [])]
    faults = [built for _, built in flagged]
    if file is not None and faults:
        raise control.UsageError("give faults as flags or --file, not both")
    check_flags(flagged, experiment)
    parameter_type = options.parameter_type(type_name)
    control.check_type_flags(parameter_type, change_type, force)
    share = None if rate is None else parse_rate(rate)
    seconds = None if duration is None else parse_duration(duration)
    end = None if until is None else parse_until(until)
    document: dict[str, Any] | None = None
    if file is not None:
        text = _read_file(file)
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise control.InvalidConfig(
                f"{file} is not valid JSON, nothing was written",
                [Problem("", f"line {error.lineno}, column {error.colno}: {error.msg}")],
            ) from None
        except (RecursionError, ValueError):  # nested past the parser's depth, or a number too long
            raise control.InvalidConfig(
                f"{file} is not valid JSON, nothing was written",
                [Problem("", "nested too deeply or a number too long")],
            ) from None
        if not isinstance(loaded, dict):
            control.validate(loaded)  # lists the problem
        document = loaded
    if no_expiry and (duration is not None or until is not None):  # before anything is read
        raise control.UsageError(NO_EXPIRY_ALONE)
    controller = _controller(aws)
    before = _stored_document(controller)
    if faults and before is not None and not is_legacy(before):
        document = {**before, "faults": faults}  # fault flags change the faults only, never the radius
        if control.creates(before, document, experiment, replace=replace):
            document.pop("rate", None)  # a new experiment's rate is given, never inherited
    elif faults:
        document = control.new_config(faults)
    try:
        written, config = controller.start(
            document,
            before_write=_before_write(controller, before, replace),
            experiment=experiment,
            rate=share,
            duration=seconds,
            until=end,
            no_expiry=no_expiry,
            replace=replace,
            dry_run=dry_run,
            parameter_type=parameter_type,
            strategy=strategy,
            control_group=control_group,
            change_type=change_type,
            force=force,
        )
    except control.NotFound as error:
        if document is not None:
            raise
        raise control.NotFound(
            f"{error.template}, so there is no stopped experiment to resume: give faults as flags"
            " (--latency 300, --fault TYPE KEY=VALUE ...) or a whole config with --file"
        ) from None
    except Unchanged:
        output.say(
            f"Nothing changed: experiment {(before or {}).get('experiment', 'default')!r} is running in"
            f" {controller.parameter} as stored; nothing was written."
        )
        _warn_if_killed(controller)
        return
    after = _stored_document(controller) or {}
    running = before is not None and before.get("enabled") is True
    if no_expiry:
        expiry = "never: runs until stopped (--no-expiry)"
    elif duration is None and until is None and not (document or before or {}).get("expires_at"):
        expiry = "the default; choose with --duration, --until or --no-expiry"
    else:
        expiry = None
    output.started(written, config, controller, aws, running=running, document=after, expiry=expiry)
    output.changes(widening.diff(before, after))
    _warn_if_killed(controller)


def _warn_if_killed(controller: control.Controller) -> None:
    if controller.killed():
        output.warn(f"the kill switch {controller.kill_switch} is engaged: nothing is injected until `{PROG} resume`")


@app.command()
@aws_options
def stop(aws: AwsOptions, strategy: Strategy = None) -> None:
    """Stop the experiment: set enabled to false and keep the rest, so `start` resumes it
    (with a new --duration or --until once it has expired)."""
    controller = _controller(aws)
    written = controller.stop(strategy=strategy)
    if written is None:
        raise _not_an_object(controller)
    output.preempted(written)
    try:  # its expiry says whether a plain `start` can resume it
        after: dict[str, Any] | None = controller.read_config()[1]
    except control.ControlError:  # the stop is written; only that note is lost
        after = None
    output.stopped(written, after, controller, aws)


def _not_an_object(controller: control.Controller) -> control.InvalidConfig:
    """No version of the library injects from a value that is not a JSON object, so `stop`
    leaves it as it is; the error says what is wrong with it."""
    try:
        controller.read_config()
        problems = [Problem("", "must be a JSON object")]  # replaced since, by an object
    except control.InvalidConfig as error:
        problems = error.problems
    return control.InvalidConfig(
        f"{controller.parameter} does not hold a JSON object, so no function injects from it;"
        f" nothing was written (to replace it: {PROG} start --file CONFIG)",
        problems,
    )


@app.command()
@aws_options
def kill(aws: AwsOptions, strategy: Strategy = None) -> None:
    """Engage the kill switch: every function using chaos-layer stops injecting, whatever its config."""
    _switch(aws, strategy, engage=True)


@app.command()
@aws_options
def resume(aws: AwsOptions, strategy: Strategy = None) -> None:
    """Release the kill switch: enabled configs inject again."""
    _switch(aws, strategy, engage=False)


def _switch(aws: AwsOptions, strategy: str | None, *, engage: bool) -> None:
    controller = _controller(aws)
    written = controller.kill(strategy=strategy) if engage else controller.resume(strategy=strategy)
    output.preempted(written)
    output.say(f"Kill switch {written.name} {'engaged' if engage else 'released'} ({written.summary()}).")
    if engage:
        output.propagation("Every function using chaos-layer stops injecting", controller, written.name, aws)
    else:
        output.propagation("Functions with an enabled config inject again", controller, written.name, aws, idle=True)


@app.command()
@aws_options
def status(
    aws: AwsOptions, as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False
) -> None:
    """Show the config, the kill switch, and whether faults are injected right now.

    Exits 1 when the config is invalid and 4 when it does not exist (after showing the status).
    """
    controller = _controller(aws)
    state = controller.status()
    if as_json:
        typer.echo(json.dumps(state.to_dict(), indent=2))
    else:
        output.status(state)
    if not state.found:
        raise typer.Exit(EXIT_NOT_FOUND)
    if state.problems:
        raise typer.Exit(EXIT_INVALID)


@app.command(name="validate", cls=options.Command)
@aws_options
def validate_command(
    aws: AwsOptions,
    file: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE",
            help="Config file (JSON), or - for stdin; none: the config stored at --param.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a config with the library's own rules; lists every problem. Exit 0 or 1.

    Checks a file, or with no file the config stored where --param says (SSM, S3 or
    AppConfig, as deployed), as the library would read it (exit 4 when there is none).
    """
    if file is not None:
        if aws.parameter is not None:
            raise control.UsageError("give a file or --param, not both")
        text = _read_file(file)
        name = file
    else:
        controller = _controller(aws)
        text, name = controller.stored_config().value, controller.parameter
    try:
        config = control.validate_text(text)
    except control.InvalidConfig as error:
        output.problems(sys.stdout, f"{name}: invalid", error.problems)
        raise typer.Exit(EXIT_INVALID) from None
    try:
        legacy = is_legacy(json.loads(text))
    except ValueError:
        legacy = False
    output.valid(name, config, legacy)


@app.command()
def schema(
    draft_04: Annotated[
        bool,
        typer.Option(
            "--draft-04",
            help="The same schema in JSON Schema draft-04, compact: what an AppConfig JSON Schema validator takes.",
        ),
    ] = False,
) -> None:
    """Print the config's JSON Schema (draft 2020-12), for editors."""
    text = resources.files("chaos_layer").joinpath("schema.json").read_text(encoding="utf-8")
    if draft_04:
        from chaos_layer.cli.draft04 import to_draft_04

        text = json.dumps(to_draft_04(json.loads(text)), separators=(",", ":"), ensure_ascii=False) + "\n"
    typer.echo(text, nl=False)


run_commands.register(app, EXIT_CODES)  # run, report
recover.register(app)
app.add_typer(fis_commands.app)  # fis template
