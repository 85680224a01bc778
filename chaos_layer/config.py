"""The config document: its keys declared once (chaos_layer.contract), parsed and validated
from JSON into frozen objects, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

from chaos_layer.blast_radius import COHORT, MATCH, TARGETS, Check, Cohort, Match, Targets
from chaos_layer.constants import DEFAULT_EXPERIMENT
from chaos_layer.contract import REQUIRED, Boolean, Declared, Fields, Kind, Number, Text, Timestamp, derived, field
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.faults import FAULTS, Fault
from chaos_layer.faults.base import RATE, WAIT_MS

LEGACY_KEYS = frozenset({"fault_type", "delay", "is_enabled", "error_code", "exception_msg", "rate"})
BLAST_RADIUS = "blast radius"  # the docs section that documents a key
# A control group is as large as the treatment, so together they fit in every invocation.
CONTROL_GROUP_MAX_RATE = 0.5
CONTROL_GROUP_MAX_PERCENT = 50.0


def blast_radius_control(kind: Kind, doc: str) -> Any:
    """A blast-radius filter: optional, documented with the others."""
    return field(kind, doc, default=None, section=BLAST_RADIUS)


class Config(Declared, kw_only=False):
    schema_name = "config"
    examples = (
        {
            "enabled": True,
            "experiment": "checkout-latency",
            "expires_at": "2026-11-27T15:00:00Z",
            "rate": 0.05,
            "faults": [{"type": "latency", "delay_ms": 300}],
        },
        {"enabled": False, "faults": []},
        {
            "enabled": True,
            "experiment": "checkout-canary",
            "dry_run": True,
            "rate": 0.5,
            "targets": {"functions": ["checkout-*"], "qualifiers": ["live"]},
            "match": [
                {"path": "requestContext.http.method", "equals": "POST"},
                {"path": "rawPath", "regex": "^/orders(/|$)"},
                {"path": "headers.x-chaos-opt-out", "exists": False},
            ],
            "cohort": {"key": "requestContext.authorizer.jwt.claims.sub", "percent": 5, "salt": "2026-11"},
            "faults": [{"type": "latency", "delay_ms": 300}],
        },
        {
            "enabled": True,
            "experiment": "checkout-throttling",
            "rate": 0.05,
            "control_group": True,
            "faults": [
                {"type": "dependency", "services": ["dynamodb"], "error": "ProvisionedThroughputExceededException"}
            ],
        },
    )
    schema_rules = (  # `check`'s bounds with a control group
        {
            "if": {"required": ["control_group"], "properties": {"control_group": {"const": True}}},
            "then": {
                "anyOf": [
                    {
                        "required": ["cohort"],
                        "properties": {"cohort": {"properties": {"percent": {"maximum": CONTROL_GROUP_MAX_PERCENT}}}},
                    },
                    {
                        "not": {"required": ["cohort"]},
                        "required": ["rate"],
                        "properties": {"rate": {"maximum": CONTROL_GROUP_MAX_RATE}},
                    },
                ]
            },
        },
    )
    enabled: bool = field(Boolean(), "false: nothing is injected.")
    experiment: str = field(
        Text(non_empty=True), "Label carried into every log line and metric.", default=DEFAULT_EXPERIMENT
    )
    expires_at: datetime | None = field(
        Timestamp(),
        "ISO-8601 timestamp with a UTC offset; after this instant nothing is injected.",
        default=None,
        examples=("2026-11-27T15:00:00Z",),
    )
    rate: float = field(RATE, "Fraction (0..1) of invocations inside the blast radius.", default=1.0)
    faults: tuple[Fault, ...] = field(
        FAULTS,
        "The faults, each drawn with its own rate: those that surround the handler (latency, ...) come before"
        " those that end the invocation, each group in config order. Required when enabled.",
        default=(),
        required_if="enabled",
    )
    dry_run: bool = field(
        Boolean(),
        "true: every selected invocation is logged and counted (marked dry_run) but nothing is injected.",
        default=False,
        section=BLAST_RADIUS,
    )
    targets: Targets | None = blast_radius_control(
        TARGETS, "Only these functions (glob patterns on the name) and aliases or versions."
    )
    match: Match | None = blast_radius_control(
        MATCH, "Conditions on the event, all of which must hold for an invocation to be in the blast radius."
    )
    cohort: Cohort | None = blast_radius_control(
        COHORT,
        "The same percent of users (or tenants, ...) every time: the values at key in the event (or the"
        " invocation's tenant, with key context.tenant_id).",
    )
    control_group: bool = field(
        Boolean(),
        "true: the selected invocations are split into a treatment group (the faults) and a control group of the"
        " same expected size (nothing injected), and each invocation writes EMF records with dimensions experiment"
        " and group: Invocations as it starts; Completed, Errors and Duration as it ends. rate at most 0.5 then, or"
        " a cohort's percent at most 50.",
        default=False,
        section=BLAST_RADIUS,
    )
    # The filters' checks, cheapest first; empty without filters, so they cost nothing.
    checks: tuple[Check, ...] = derived()
    # Who may get the faults: `checks`, with a control group's cohort too (its treatment band),
    # for invocations that take no part in the split, such as a durable execution's.
    treatment_checks: tuple[Check, ...] = derived()
    # What the blast radius's first draw keeps: `rate`, except that a control group without a
    # cohort draws its two groups itself (chaos_layer.control_group), from every invocation.
    # `rate` stays the treatment's share, the one guardrails count (docs/blast-radius.md, *Guardrails*).
    draw_rate: float = derived()

    def __post_init__(self) -> None:
        filters = (getattr(self, name) for name in FILTER_KEYS)
        # With a control group, the cohort assigns the groups instead (chaos_layer.control_group).
        split = self.cohort if self.control_group else None
        checks = tuple(found.admits for found in filters if found is not None and found is not split)
        object.__setattr__(self, "checks", checks)
        object.__setattr__(self, "treatment_checks", checks if split is None else (*checks, split.admits))
        split_draws = self.control_group and self.cohort is None
        object.__setattr__(self, "draw_rate", 1.0 if split_draws else self.rate)

    @classmethod
    def check(cls, values: dict[str, Any], fields: Fields) -> None:
        if values.get("control_group") is not True:
            return
        cohort = values.get("cohort")
        if isinstance(cohort, Cohort) and cohort.percent > CONTROL_GROUP_MAX_PERCENT:
            fields.problem(
                "cohort.percent",
                f"must be at most {CONTROL_GROUP_MAX_PERCENT:g} with control_group: the control group's members are"
                " the next band of the same size",
            )
        rate = values.get("rate")
        if not fields.has("cohort") and isinstance(rate, float) and rate > CONTROL_GROUP_MAX_RATE:
            fields.problem(
                "rate",
                f"must be at most {CONTROL_GROUP_MAX_RATE:g} with control_group: the control group takes as many"
                " invocations as the faults",
            )

    def expires_at_epoch(self) -> float | None:
        return None if self.expires_at is None else self.expires_at.timestamp()

    def is_active(self, now: float) -> bool:
        """Whether anything may be injected at `now` (seconds since the epoch)."""
        expiry = self.expires_at_epoch()
        return self.enabled and bool(self.faults) and (expiry is None or now < expiry)


# The document's keys; those of its blast radius (dry_run and the filters); and the filters
# that narrow who is hit, in the order they are checked (`status` shows them as the limits).
TOP_LEVEL_KEYS = frozenset(declared.name for declared in Config.config_fields)
BLAST_RADIUS_KEYS = frozenset(declared.name for declared in Config.config_fields if declared.section == BLAST_RADIUS)
FILTER_KEYS = tuple(declared.name for declared in Config.config_fields if declared.kind.narrows)


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
    config = Config.parse(document, "", problems)
    if config is None:
        raise ConfigError(problems)
    return config


def _parse_legacy(document: Mapping[str, Any]) -> Config:
    """chaos-lambda 0.3's format, meaning what it meant there: one fault, the handler still
    runs for `status_code` (its status code is replaced), `exception` raises Exception.
    A fixed format, so its rules are written out here rather than declared."""
    from chaos_layer.faults.exception import ExceptionFault
    from chaos_layer.faults.latency import LatencyFault
    from chaos_layer.faults.status_code import StatusCodeFault

    problems: list[Problem] = []
    fields = Fields(document, "", problems)
    enabled = fields.read("is_enabled", Boolean()) is True
    rate = fields.read("rate", RATE, 1.0)
    kind = fields.read("fault_type", Text(), REQUIRED if enabled else "")
    fault: Fault | None = None
    if kind == "latency":
        delay = fields.read("delay", WAIT_MS)
        fault = None if problems else LatencyFault(min_ms=delay, max_ms=delay)
    elif kind == "exception":
        message = fields.read("exception_msg", Text())
        fault = None if problems else ExceptionFault(exception="Exception", message=message)
    elif kind == "status_code":
        code = fields.read("error_code", Number(100, 599, integer=True))
        fault = None if problems else StatusCodeFault(status_code=code, prevent_execution=False)
    elif enabled and isinstance(kind, str) and kind:
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
