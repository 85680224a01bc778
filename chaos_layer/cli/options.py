"""Flags: the AWS options every command that reads or writes takes, declared once, and the
parsing of flag values into what the operator API takes."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer

from chaos_layer import settings
from chaos_layer.control import UsageError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AwsOptions:
    """Where the config and kill switch are and how to reach them. None: the setting's own
    default (settings.py for the locations and max age, boto3's chain for the rest)."""

    parameter: Annotated[
        str | None,
        typer.Option(
            "--param",
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
            help=f"Where the kill switch is, in the same forms (default: {settings.KILL_SWITCH_ENV},"
            f" then {settings.DEFAULT_KILL_SWITCH}).",
            show_default=False,
        ),
    ] = None
    region: Annotated[
        str | None,
        typer.Option("--region", help="AWS region (default: AWS_REGION, the profile's region).", show_default=False),
    ] = None
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).", show_default=False)
    ] = None
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="Endpoint URL for every AWS call, e.g. a local moto server (default: AWS_ENDPOINT_URL_SSM,"
            " AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_APPCONFIG, ... then AWS_ENDPOINT_URL).",
            show_default=False,
        ),
    ] = None
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            min=0,
            help=f"Your functions' cache period in seconds (default: {settings.MAX_AGE_ENV},"
            f" else {settings.DEFAULT_MAX_AGE:g}).",
            show_default=False,
        ),
    ] = None


# The deployment strategy of the writes to AppConfig, one declaration for the commands that write.
Strategy = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        help="AppConfig only: the deployment strategy, by name or ID (default: AppConfig.AllAtOnce).",
        show_default=False,
    ),
]


def aws_options(command: F) -> F:
    """Give a command the AWS options, after its own: Typer reads flags from the signature,
    so the options are added to it, and the command receives them as one `aws` argument."""
    signature = inspect.signature(command, eval_str=True)
    hints = inspect.get_annotations(AwsOptions, eval_str=True)
    shared = [
        inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hints[option.name])
        for option in fields(AwsOptions)
    ]
    own = [parameter for name, parameter in signature.parameters.items() if name != "aws"]

    @functools.wraps(command)
    def run(**values: Any) -> Any:
        aws = AwsOptions(**{option.name: values.pop(option.name) for option in fields(AwsOptions)})
        return command(aws=aws, **values)

    run.__signature__ = signature.replace(parameters=[*own, *shared])  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


# Parsing flag values. Range checks are the library's job: the config is validated whole.


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


def parse_rate(text: str) -> float:
    """`0.05` or `5%`."""
    stripped = text.strip()
    try:
        value = float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"--rate {text!r} is not a number such as 0.05 or 5%")
    return value


def _milliseconds(text: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"--latency {text!r} is not a number of milliseconds")
    return int(value) if value.is_integer() else value


def latency_fault(spec: str) -> dict[str, Any]:
    """`300` (milliseconds) or `100-800` (a uniform draw in that range)."""
    low, dash, high = spec.strip().partition("-")
    if not dash:
        return {"type": "latency", "delay_ms": _milliseconds(low)}
    return {"type": "latency", "min_ms": _milliseconds(low), "max_ms": _milliseconds(high)}


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
