"""The config document: parsed and validated from JSON into frozen dataclasses, no I/O."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

from chaos_layer.blast_radius import Cohort, Match, Targets
from chaos_layer.constants import DEFAULT_EXPERIMENT, KILL_SWITCH_RELEASED
from chaos_layer.contract import Fields, join
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.faults import MAX_DELAY_MS, ExceptionFault, Fault, LatencyFault, StatusCodeFault, parse_fault

LEGACY_KEYS = frozenset({"fault_type", "delay", "is_enabled", "error_code", "exception_msg", "rate"})


@dataclass(frozen=True)
class Config:
    enabled: bool
    experiment: str = DEFAULT_EXPERIMENT
    expires_at: datetime | None = None
    rate: float = 1.0
    faults: tuple[Fault, ...] = ()
    dry_run: bool = False
    targets: Targets | None = None
    match: Match | None = None
    cohort: Cohort | None = None
    # The controls' checks, cheapest first; empty without controls, so they cost nothing.
    checks: tuple[Callable[[Any, Any], bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        controls = (self.targets, self.match, self.cohort)
        object.__setattr__(self, "checks", tuple(control.admits for control in controls if control is not None))

    def expires_at_epoch(self) -> float | None:
        return None if self.expires_at is None else self.expires_at.timestamp()

    def is_active(self, now: float) -> bool:
        """Whether anything may be injected at `now` (seconds since the epoch)."""
        expiry = self.expires_at_epoch()
        return self.enabled and bool(self.faults) and (expiry is None or now < expiry)


def parse_timestamp(fields: Fields, key: str) -> datetime | None:
    if not fields.has(key):
        return None
    text = fields.string(key)
    if not isinstance(fields.raw(key), str):  # already reported as not a string
        return None
    try:
        # Python 3.10's fromisoformat does not take a trailing "Z".
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        fields.problem(key, "must be an ISO-8601 timestamp such as 2026-11-27T15:00:00Z")
        return None
    if value.tzinfo is None:
        fields.problem(key, "must include a UTC offset, such as Z or +01:00")
        return None
    return value


def is_legacy(document: object) -> TypeGuard[Mapping[str, Any]]:
    """Whether a document is in chaos-lambda's format (the CLI asks too, to keep it so).
    `rate` alone does not make a legacy document: both formats have it."""
    return (
        isinstance(document, Mapping) and "enabled" not in document and bool((LEGACY_KEYS - {"rate"}) & document.keys())
    )


def parse_config(document: object) -> Config:
    """Validate a decoded config document; raises ConfigError listing every problem."""
    if is_legacy(document):
        return _parse_legacy(document)
    problems: list[Problem] = []
    fields = Fields(document, "", problems)
    enabled = fields.boolean("enabled")
    experiment = fields.string("experiment", DEFAULT_EXPERIMENT, non_empty=True)
    expires_at = parse_timestamp(fields, "expires_at")
    rate = fields.rate()
    raw_faults = fields.array("faults", required=enabled)
    faults = [parse_fault(item, join("faults", i), problems) for i, item in enumerate(raw_faults)]
    dry_run = fields.boolean("dry_run", False)
    targets = Targets.parse(fields.raw("targets"), "targets", problems) if fields.has("targets") else None
    match = Match.parse(fields.raw("match"), "match", problems) if fields.has("match") else None
    cohort = Cohort.parse(fields.raw("cohort"), "cohort", problems) if fields.has("cohort") else None
    fields.finish()
    if problems:
        raise ConfigError(problems)
    ordered = sorted((f for f in faults if f is not None), key=lambda f: f.phase)
    return Config(enabled, experiment, expires_at, rate, tuple(ordered), dry_run, targets, match, cohort)


def _parse_legacy(document: Mapping[str, Any]) -> Config:
    """chaos-lambda 0.3's format, meaning what it meant there: one fault, the handler still
    runs for `status_code` (its status code is replaced), `exception` raises Exception."""
    problems: list[Problem] = []
    fields = Fields(document, "", problems)
    enabled = fields.boolean("is_enabled")
    rate = fields.rate()
    kind = fields.string("fault_type", "" if not enabled else None)
    fault: Fault | None = None
    if kind == "latency":
        delay = fields.number("delay", minimum=0, maximum=MAX_DELAY_MS)
        fault = LatencyFault(min_ms=delay, max_ms=delay)
    elif kind == "exception":
        fault = ExceptionFault(exception="Exception", message=fields.string("exception_msg"))
    elif kind == "status_code":
        code = int(fields.number("error_code", minimum=100, maximum=599, integer=True))
        fault = StatusCodeFault(status_code=code, prevent_execution=False)
    elif enabled and kind:
        fields.problem("fault_type", "must be latency, exception or status_code")
    for key in LEGACY_KEYS:  # the example configs carry every key whatever the fault type
        fields.raw(key)
    fields.finish()
    if problems:
        raise ConfigError(problems)
    return Config(enabled=enabled, rate=rate, faults=(fault,) if fault else ())


def load_config(text: str) -> Config:
    """Parse the parameter's value; raises ConfigError (never echoing the value)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([Problem("", f"not valid JSON (line {error.lineno}, column {error.colno})")]) from None
    except RecursionError:
        raise ConfigError([Problem("", "not valid JSON (nested too deeply)")]) from None
    except ValueError:  # e.g. an integer longer than Python's int_max_str_digits
        raise ConfigError([Problem("", "not valid JSON (a number is too long)")]) from None
    return parse_config(document)


def kill_switch_engaged(value: str | None) -> bool:
    """Absent, `off`, `false` or `0` (trimmed, any case): released. Anything else: engaged."""
    return value is not None and value.strip().lower() not in KILL_SWITCH_RELEASED
