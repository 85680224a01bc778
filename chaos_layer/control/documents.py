"""Config documents as the operator writes them: validated with the library's own rules,
enabled and disabled, durations read (control/formatting.py shows them)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chaos_layer.config import (
    Config,
    is_legacy,
    load_config,
    parse_config,
)
from chaos_layer.control import aws_names
from chaos_layer.control.errors import InvalidConfig, UsageError
from chaos_layer.control.stores.base import (
    Unsupported,
)
from chaos_layer.control.stores.ssm import check_type_request
from chaos_layer.exceptions import ConfigError


def validate(document: object) -> Config:
    """The library's own validation, then the AWS names of `dependency` faults against
    botocore's data (which the function side never loads); raises InvalidConfig listing
    every problem."""
    try:
        config = parse_config(document)
    except ConfigError as error:
        raise InvalidConfig("the config is invalid", [*error.problems, *aws_names.problems(document)]) from None
    found = aws_names.problems(document)
    if found:
        raise InvalidConfig("the config is invalid", found)
    return config


def validate_text(text: str) -> Config:
    try:
        document: object = json.loads(text)
    except (ValueError, RecursionError):
        document = None  # the library's parser names the problem
    try:
        config = load_config(text)
    except ConfigError as error:
        raise InvalidConfig("the config is invalid", [*error.problems, *aws_names.problems(document)]) from None
    found = aws_names.problems(document)
    if found:
        raise InvalidConfig("the config is invalid", found)
    return config


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


MAX_DURATION = 3650 * 86400


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h` or `1h30m`, in seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None:
        raise UsageError(f"{{duration}} {text!r} is not a duration such as 90s, 15m, 2h or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UsageError("{duration} must be longer than zero")
    if total > MAX_DURATION:
        raise UsageError("{duration} must be at most 3650 days (use {until} for a later end, or no expiry)")
    return float(total)


def check_type_flags(parameter_type: str | None, change_type: bool, force: bool) -> None:
    """Refuses a type change asked for in a way that makes no sense whatever is stored
    (`force` without `change_type`, either without `parameter_type`), before any read."""
    try:
        check_type_request(parameter_type, change_type, force)
    except Unsupported as error:
        raise UsageError(str(error)) from None


def new_config(faults: list[dict[str, Any]]) -> dict[str, Any]:
    """An enabled config document with these faults (not yet validated)."""
    return {"enabled": True, "faults": faults}


def enable(
    document: Mapping[str, Any],
    *,
    experiment: str | None = None,
    rate: float | None = None,
    expires_at: str | None = None,
    dry_run: bool | None = None,
    control_group: bool | None = None,
) -> dict[str, Any]:
    """The document, enabled, with these settings replaced (not yet validated)."""
    updated = dict(document)
    if is_legacy(updated):
        if experiment is not None or expires_at is not None or dry_run is not None or control_group is not None:
            raise UsageError(
                "the config is in chaos-lambda's format, which has no experiment, expiry, dry run or control group"
                "; give {document} to write a chaos-layer config"
            )
        updated["is_enabled"] = True
    else:
        updated["enabled"] = True
        if experiment is not None:
            updated["experiment"] = experiment
        if expires_at is not None:
            updated["expires_at"] = expires_at
        if dry_run is not None:
            updated["dry_run"] = dry_run
        if control_group is not None:
            updated["control_group"] = control_group
    if rate is not None:
        updated["rate"] = rate
    if "faults" in updated:  # the long part last, for people reading the parameter
        updated["faults"] = updated.pop("faults")
    return updated


def disable(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with injection switched off and everything else kept, so `start` can
    resume it. Works on configs this version cannot validate: a newer library may be
    injecting from them."""
    updated = dict(document)
    updated["is_enabled" if is_legacy(updated) else "enabled"] = False
    return updated


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)
