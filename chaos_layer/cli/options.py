"""Flags: the AWS options every command that reads or writes takes, declared once, and the
parsing of flag values into what the operator API takes."""

from __future__ import annotations

import functools
import inspect
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand

from chaos_layer import control, settings
from chaos_layer.control import UsageError
from chaos_layer.exceptions import Problem

F = TypeVar("F", bound=Callable[..., Any])


class Command(TyperCommand):
    """A command whose usage line names its arguments as people write them: `FILE` when
    required, `[FILE]` when not (Typer writes `{FILE}` and, with a bracketed metavar, `[[FILE]]`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # ctx: Typer's own Click's Context
        pieces = [self.options_metavar] if self.options_metavar else []
        for parameter in self.get_params(ctx):
            if parameter.param_type_name == "argument":
                name = parameter.metavar or (parameter.name or "").upper()
                pieces.append(name if parameter.required else f"[{name}]")
        return pieces


def parameter_type(text: str | None) -> str | None:
    """`--type`: an SSM parameter type, in any case."""
    if text is None:
        return None
    for known in control.PARAMETER_TYPES:
        if text.strip().lower() == known.lower():
            return known
    raise UsageError(f"--type {text!r} is not an SSM parameter type: choose {' or '.join(control.PARAMETER_TYPES)}")


def _period(flag: str, limit: float, env: str, default: float, when: str, reaches: str) -> Any:
    """A cache period of the functions, which says when a write has reached them all."""
    return typer.Option(
        flag,
        min=0,
        max=limit,
        metavar="SECONDS",
        help=f"Your functions' cache period while {when}, in seconds: a {reaches} reaches them within it"
        f" (default: {env}, else {default:g}).",
        show_default=False,
    )


@dataclass(frozen=True)
class Locations:
    """Where the config and kill switch are. None: settings.py's default."""

    parameter: Annotated[
        str | None,
        typer.Option(
            "--param",
            metavar="LOCATION",
            help="Where the config is: an SSM parameter name or ARN, s3://BUCKET/KEY or"
            f" appconfig://APPLICATION/ENVIRONMENT/PROFILE (default: {settings.PARAM_ENV},"
            f" then {settings.LEGACY_PARAM_ENV}).",
            show_default=False,
        ),
    ] = None
    kill_switch: Annotated[
        str | None,
        typer.Option(
            "--kill-switch",
            metavar="LOCATION",
            help=f"Where the kill switch is, in the same forms (default: {settings.KILL_SWITCH_ENV},"
            f" then {settings.DEFAULT_KILL_SWITCH}).",
            show_default=False,
        ),
    ] = None


@dataclass(frozen=True)
class Connection:
    """How to reach AWS. None: boto3's own chain (variables, profile, config files)."""

    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="REGION",
            help="AWS region (default: AWS_REGION, the profile's region).",
            show_default=False,
        ),
    ] = None
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="NAME", help="AWS profile (default: AWS_PROFILE).", show_default=False),
    ] = None
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            metavar="URL",
            help="Endpoint URL for every AWS call, e.g. a local moto server (default: AWS_ENDPOINT_URL_SSM,"
            " AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_APPCONFIG, ... then AWS_ENDPOINT_URL).",
            show_default=False,
        ),
    ] = None


@dataclass(frozen=True)
class Periods:
    """Your functions' cache periods, to say when a write reaches them. None: settings.py's
    resolution (the variable, then the default)."""

    max_age: Annotated[
        float | None,
        _period(
            "--max-age",
            settings.MAX_AGE_LIMIT,
            settings.MAX_AGE_ENV,
            settings.DEFAULT_MAX_AGE,
            "an experiment is active",
            "stop",
        ),
    ] = None
    idle_max_age: Annotated[
        float | None,
        _period(
            "--idle-max-age",
            settings.IDLE_MAX_AGE_LIMIT,
            settings.IDLE_MAX_AGE_ENV,
            settings.DEFAULT_IDLE_MAX_AGE,
            "no experiment is active",
            "start",
        ),
    ] = None


@dataclass(frozen=True)
class AwsOptions(Periods, Connection, Locations):
    """What every command that reads or writes a config or kill switch takes (fields in the
    order Locations, Connection, Periods)."""


@dataclass(frozen=True)
class RunOptions(Periods, Connection):
    """What `run` takes: its file says where the config and kill switch are."""


# The deployment strategy of the writes to AppConfig, one declaration for the commands that write.
Strategy = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        metavar="NAME",
        help="AppConfig only: the deployment strategy, by name or ID (default: AppConfig.AllAtOnce).",
        show_default=False,
    ),
]


def with_options(group: type[Any]) -> Callable[[F], F]:
    """Give a command the options of a dataclass such as AwsOptions, after its own: Typer
    reads flags from the signature, so the options are added to it, and the command
    receives them as one `aws` argument."""
    hints = typing.get_type_hints(group, include_extras=True)
    options = [option.name for option in fields(group)]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        shared = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hints[name])
            for name in options
        ]
        own = [parameter for name, parameter in signature.parameters.items() if name != "aws"]

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            return command(aws=group(**{name: values.pop(name) for name in options}), **values)

        run.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate


aws_options = with_options(AwsOptions)


# Parsing flag values. Each value is checked on its own here, before anything is read or
# written, so a bad one is a usage error in the flag's words; rules that tie several settings
# together are the library's, checked with the whole config.

_NUMBER = re.compile(r"\s*\d+\s*")  # a duration without its unit


def parse_until(text: str) -> datetime:
    """An ISO-8601 instant with a UTC offset (or Z), as the config's expires_at takes."""
    stripped = text.strip()
    try:
        value = datetime.fromisoformat(stripped[:-1] + "+00:00" if stripped.endswith(("Z", "z")) else stripped)
    except ValueError:
        raise UsageError(f"--until {text!r} is not an ISO-8601 time such as 2026-11-27T15:00:00Z") from None
    if value.tzinfo is None:
        raise UsageError(f"--until {text!r} needs a UTC offset, such as Z or +01:00")
    return value


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h` or `1h30m`, in seconds; a bare number asks for its unit."""
    if _NUMBER.fullmatch(text):
        number = text.strip()
        raise UsageError(f"--duration {text!r} needs a unit: {number}s, {number}m or {number}h")
    return control.parse_duration(text)


def parse_rate(text: str) -> float:
    """`0.05` or `5%`: a fraction from 0 to 1."""
    stripped = text.strip()
    percent = stripped.endswith("%")
    try:
        value = float(stripped[:-1]) / 100 if percent else float(stripped)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"--rate {text!r} is not a number such as 0.05 or 5%")
    if percent and not 0 <= value <= 1:
        raise UsageError(f"--rate {text!r} is not a percentage from 0% to 100%")
    if 1 < value <= 100:
        raise UsageError(
            f"--rate {text!r} is more than 1: for {stripped} percent, give {stripped}% (or {value / 100:g})"
        )
    if not 0 <= value <= 1:
        raise UsageError(f"--rate {text!r} is not a fraction from 0 to 1 (such as 0.05) or a percentage (such as 5%)")
    return value


def _milliseconds(text: str, spec: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(
            f"--latency {spec!r} is not a number of milliseconds: give 300 (no unit) or a range such as 100-800"
        )
    return int(value) if value.is_integer() else value


def latency_fault(spec: str) -> dict[str, Any]:
    """`300` (milliseconds) or `100-800` (a uniform draw in that range)."""
    low, dash, high = spec.strip().partition("-")
    if not dash:
        return {"type": "latency", "delay_ms": _milliseconds(low, spec)}
    least, most = _milliseconds(low, spec), _milliseconds(high, spec)
    if least > most:
        raise UsageError(f"--latency {spec!r} is a range from low to high: give {high.strip()}-{low.strip()}")
    return {"type": "latency", "min_ms": least, "max_ms": most}


def check_flags(faults: list[tuple[str, dict[str, Any]]], experiment: str | None = None) -> None:
    """Each fault from a flag (labelled as the user gave it: `--status-code 700`) and the
    experiment name, by the library's own rules, each on its own: a bad value is a usage error."""
    checks = [(label, {"enabled": True, "faults": [fault]}, "faults[0]") for label, fault in faults]
    if experiment is not None:
        checks.append((f"--experiment {experiment!r}", {"enabled": False, "experiment": experiment}, "experiment"))
    for label, document, where in checks:
        try:
            control.validate(document)
        except control.InvalidConfig as error:
            found = [problem for problem in error.problems if problem.location.startswith(where)]
            if found:
                said = "; ".join(str(Problem(p.location[len(where) :].lstrip("."), p.message)) for p in found)
                raise UsageError(f"{label}: {said}") from None


def exception_fault(name: str, message: str | None = None) -> dict[str, Any]:
    fault: dict[str, Any] = {"type": "exception", "exception": name}
    if message is not None:
        fault["message"] = message
    return fault


def status_code_fault(code: int, body: str | None = None) -> dict[str, Any]:
    fault: dict[str, Any] = {"type": "status_code", "status_code": code}
    if body is not None:
        fault["body"] = body
    return fault
