"""The experiment file that `chaos-layer run` reads: parsed and checked whole, with every
problem and its location, before anything is written."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chaos_layer import control, settings
from chaos_layer.config import BLAST_RADIUS_KEYS, TOP_LEVEL_KEYS
from chaos_layer.contract import Fields, describe, join
from chaos_layer.control.extras import install_command
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.checks import (
    DEFAULT_MIN_SAMPLES,
    Check,
    CompareCheck,
    parse_checks,
)
from chaos_layer.experiment.settings_faults import Setting, parse_settings, role_problem
from chaos_layer.faults import FAULT_TYPES
from chaos_layer.source import location_problem
from chaos_layer.source.base import rampable, source_of

DEFAULT_POLL = 15.0
# Every write's expires_at is a lease of 2 x poll + this ahead, renewed at every poll: room for
# one late poll and the stop, so a runner that dies leaves an experiment that soon ends by itself.
LEASE_MARGIN = 60.0
# Below this many invocations per group, a comparison's interval says nothing worth judging.
MIN_SAMPLES_FLOOR = 30
STOP_ATTEMPTS = 3
# Keys of the config that the runner sets itself; the rest of a config goes in blast_radius.
RUNNER_KEYS = TOP_LEVEL_KEYS - BLAST_RADIUS_KEYS
ON_BREACH = ("stop", "kill")
JOURNAL_VERSION = 1


@dataclass(frozen=True)
class Step:
    rate: float
    hold: float


@dataclass(frozen=True)
class Experiment:
    name: str
    hypothesis: str
    parameter: str
    kill_switch: str | None
    faults: tuple[Any, ...]
    blast_radius: Mapping[str, Any]
    checks: tuple[Check, ...]
    ramp: tuple[Step, ...]
    poll: float
    on_breach: str
    document: Mapping[str, Any] = field(repr=False)
    settle: float = 0.0
    warnings: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    restore_role: str | None = None

    @property
    def duration(self) -> float:
        return sum(step.hold for step in self.ramp)

    @property
    def lease(self) -> float:
        """How far ahead each write sets expires_at."""
        return 2 * self.poll + LEASE_MARGIN

    @property
    def cohort(self) -> bool:
        return isinstance(self.blast_radius.get("cohort"), Mapping)

    @property
    def comparing(self) -> bool:
        """Whether a steady-state entry compares the treatment with the control group."""
        return any(isinstance(check, CompareCheck) for check in self.checks)

    def config(self, rate: float, expires_at: str, *, enabled: bool = True) -> dict[str, Any]:
        """The config document the runner writes for a step (or, disabled, for the stop)."""
        return {
            "enabled": enabled,
            "experiment": self.name,
            "expires_at": expires_at,
            "rate": rate,
            **self.blast_radius,
            **({"control_group": True} if self.comparing else {}),
            "faults": list(self.faults),  # the long part last, for people reading the parameter
        }


def load_experiment(path: str) -> tuple[Experiment, str]:
    """Read and validate an experiment file (YAML, or JSON: a `.json` file is read as JSON for
    its exact error positions). Raises UsageError when it cannot be read, InvalidConfig with
    every problem when it is invalid."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise control.UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    return parse_experiment(decode(text, json_only=path.lower().endswith(".json"), name=path), path), text


def decode(text: str, *, json_only: bool = False, name: str = "the experiment file") -> object:
    if json_only:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            problem = Problem("", f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})")
            raise _invalid(name, [problem]) from None
    try:
        import yaml
    except ImportError:
        raise control.UsageError(f"reading {name} needs PyYAML (the cli extra): {install_command()}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = getattr(error, "problem", None) or "cannot be parsed"
        raise _invalid(name, [Problem("", f"not valid YAML ({where}{reason})")]) from None


def _invalid(name: str, problems: list[Problem]) -> control.InvalidConfig:
    return control.InvalidConfig(f"{name} is invalid, nothing was written", problems)


def parse_experiment(document: object, name: str = "the experiment file") -> Experiment:
    """Validate a decoded experiment file; raises InvalidConfig listing every problem."""
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        problems.append(Problem("", f"must be an object, not {describe(document)}"))
    else:
        _plain_data(document, "", problems)
    if problems:
        raise _invalid(name, problems)
    fields = Fields(document, "", problems)
    experiment = fields.string("experiment", non_empty=True)
    hypothesis = fields.string("hypothesis", non_empty=True)
    parameter = fields.string("parameter", non_empty=True)
    refusal = source_of(parameter).ramp_refusal
    if refusal:
        labels = " or ".join(source.label for source in rampable())
        fields.problem("parameter", f"must be {labels}: {refusal}")
    kill_switch = fields.string("kill_switch", "") or None
    for key, location in (("parameter", parameter), ("kill_switch", kill_switch or "")):
        if malformed := location_problem(location):
            fields.problem(key, malformed)
    raw_faults = fields.array("faults", required=True)
    if fields.has("faults") and isinstance(fields.raw("faults"), list) and not raw_faults:
        fields.problem("faults", "must list at least one fault")
    blast_radius = _blast_radius(fields)
    checks = parse_checks(fields.raw("steady_state"), "steady_state", problems)
    ramp = _ramp(fields)
    poll = _duration(fields, "poll", DEFAULT_POLL)
    on_breach = fields.string("on_breach", "stop")
    if isinstance(fields.raw("on_breach"), str) and on_breach not in ON_BREACH:
        fields.problem("on_breach", "must be stop or kill")
    min_samples = int(fields.number("min_samples", DEFAULT_MIN_SAMPLES, minimum=MIN_SAMPLES_FLOOR, integer=True))
    settle = _duration(fields, "settle", 0.0, zero=True)
    namespace = fields.string("namespace", settings.DEFAULT_METRICS_NAMESPACE, non_empty=True)
    checks = tuple(
        replace(
            check,
            experiment=experiment,
            namespace=namespace,
            min_samples=min_samples,
            cohort=isinstance(blast_radius.get("cohort"), Mapping),
        )
        if isinstance(check, CompareCheck)
        else check
        for check in checks
    )
    comparisons = [check for check in checks if isinstance(check, CompareCheck)]
    if comparisons:
        if blast_radius.get("dry_run") is True:
            fields.problem(
                "blast_radius.dry_run",
                "must not be true with a compare entry in steady_state: a dry run injects nothing to compare",
            )
        if blast_radius.get("control_group") is False:
            fields.problem("blast_radius.control_group", "must not be false with a compare entry in steady_state")
    settings_found = parse_settings(fields.raw("settings"), "settings", problems)
    restore_role = fields.string("restore_role", "") or None
    if settings_found:
        if restore_role is None:
            fields.problem(
                "restore_role",
                "is required with settings: the IAM role EventBridge Scheduler assumes to restore a setting"
                " if the runner dies",
            )
        elif malformed_role := role_problem(restore_role):
            fields.problem("restore_role", malformed_role)
        if comparisons:
            fields.problem(
                "settings",
                "must not be combined with a compare entry in steady_state: a settings fault hits every"
                " invocation, treatment and control alike, so the comparison could see no difference",
            )
    elif restore_role is not None:
        fields.problem("restore_role", "is used only with settings")
    fields.finish()
    result = Experiment(
        experiment,
        hypothesis,
        parameter,
        kill_switch,
        tuple(raw_faults),
        blast_radius,
        checks,
        tuple(step for step, _ in ramp),
        poll,
        on_breach,
        document if isinstance(document, Mapping) else {},
        settle,
        tuple(_warnings(raw_faults, comparisons)),
        settings_found,
        restore_role,
    )
    # The library's own rules on the config each step would write, with the file's locations.
    if isinstance(document, Mapping) and raw_faults:
        seen = {(p.location, p.message) for p in problems}
        for index, (step, rate_given) in enumerate(ramp):
            if not rate_given:
                continue
            try:
                control.validate(result.config(step.rate, control.format_instant(0)))
            except control.InvalidConfig as error:
                for problem in error.problems:
                    located = Problem(_locate(problem.location, index), problem.message)
                    if (located.location, located.message) not in seen:
                        seen.add((located.location, located.message))
                        problems.append(located)
    if problems:
        raise _invalid(name, problems)
    return result


def _blast_radius(fields: Fields) -> dict[str, Any]:
    raw = fields.raw("blast_radius")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        fields.problem("blast_radius", f"must be an object, not {describe(raw)}")
        return {}
    kept = {}
    for key, value in raw.items():
        if key in RUNNER_KEYS:
            where = "ramp" if key == "rate" else "the top level" if key in ("experiment", "faults") else "the runner"
            fields.problem(join("blast_radius", key), f"is set by {where}, not in blast_radius")
        else:
            kept[key] = value  # dry_run/targets/match/cohort, or unknown: the library's rules say
    return kept


def _ramp(fields: Fields) -> list[tuple[Step, bool]]:
    raw = fields.array("ramp", required=True)
    if fields.has("ramp") and isinstance(fields.raw("ramp"), list) and not raw:
        fields.problem("ramp", "must list at least one step")
    steps = []
    for index, item in enumerate(raw):
        step = Fields(item, join("ramp", index), fields.problems)
        rate = step.raw("rate")
        # The range is the library's rule (checked on the config); here only that it is there.
        rate_given = isinstance(rate, (int, float)) and not isinstance(rate, bool)
        if not step.has("rate"):
            step.problem("rate", "is required")
        elif not rate_given:
            step.problem("rate", f"must be a number between 0 and 1, not {describe(rate)}")
        hold = _duration(step, "hold", None)
        step.finish()
        steps.append((Step(float(rate) if rate_given else 0.0, hold), rate_given))
    return steps


def _duration(fields: Fields, key: str, default: float | None, *, zero: bool = False) -> float:
    """`15s`, `2m`, `1h30m`, or a number of seconds; `zero`: 0 (or `0s`) will do too."""
    if not fields.has(key):
        if default is None:
            fields.problem(key, "is required")
        return default or 0.0
    value = fields.raw(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and (value > 0 or (zero and value == 0)):
            return float(value)
    elif isinstance(value, str):
        if zero and value.strip() in ("0", "0s"):
            return 0.0
        try:
            return control.parse_duration(value)
        except control.UsageError:
            pass
    bound = "zero or longer" if zero else "longer than zero"
    fields.problem(key, f"must be a duration such as 15s, 2m or 1h30m (or a number of seconds), {bound}")
    return default or 0.0


def _warnings(faults: list[Any], comparisons: list[CompareCheck]) -> list[str]:
    """Comparisons that cannot tell anything about the function, said before the run."""
    if not any(check.metric == "errors" for check in comparisons):
        return []
    found = []
    for index, fault in enumerate(faults):
        if not isinstance(fault, Mapping):
            continue
        kind, rate = fault.get("type"), fault.get("rate", 1)
        if not isinstance(kind, str) or kind not in FAULT_TYPES:
            continue
        every = isinstance(rate, (int, float)) and rate >= 1
        failing = FAULT_TYPES[kind].counted_as_error(fault)
        if failing and every:
            found.append(
                f"compare errors: faults[{index}] ({kind}) fails every treatment invocation (fault rate 1), so the"
                " difference in error rates is that rate itself and says nothing about how the function copes;"
                " give the fault a rate below 1, or inject what the function's own code must handle"
                " (dependency, denylist, latency)"
            )
        elif failing is False:
            found.append(
                f"compare errors: faults[{index}] ({kind}) fails nothing that Errors counts (Lambda sees a success),"
                " so the comparison cannot tell anything about it"
            )
    return found


def _locate(location: str, step: int) -> str:
    """A config problem's location, in the experiment file."""
    head = re.split(r"[.\[]", location, maxsplit=1)[0]
    if head == "rate":
        return f"ramp[{step}].rate" + location[len(head) :]
    if not head or head in RUNNER_KEYS:
        return location
    return join("blast_radius", location)


def _plain_data(value: object, location: str, problems: list[Problem]) -> None:
    """YAML can hold what JSON cannot (dates, binary, sets, keys that are not strings); the
    config must be JSON, and so must the journal that keeps the file."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(Problem(location, f"has a key that is not a string ({describe(key)}): quote it"))
                continue
            _plain_data(item, join(location, key), problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain_data(item, join(location, index), problems)
    elif value is not None and not isinstance(value, (str, bool, int, float)):
        problems.append(Problem(location, f"must be JSON data, not {describe(value)} (quote it in YAML)"))
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(Problem(location, "must be a finite number"))
