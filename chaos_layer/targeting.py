"""Who is inside the blast radius, and which faults each selected invocation gets.

The top-level `rate` and the optional controls `targets`, `match` and `cohort` combine with
AND and are checked cheapest first: one random draw, then the function's name and qualifier,
then a few lookups in the event, then one hash. A config without controls has no checks, so
they cost nothing unless used. Each control parses itself here, like a fault type does in
faults.py; `Config` keeps the parsed controls and the tuple of their checks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from random import Random
from typing import TYPE_CHECKING, Any

from chaos_layer.exceptions import Problem
from chaos_layer.faults import Fault
from chaos_layer.validation import Fields, describe, is_number, join

if TYPE_CHECKING:
    from chaos_layer.config import Config

FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
# An unqualified ARN invokes $LATEST.
UNQUALIFIED = "$LATEST"
# A regex runs on every invocation, on input the function's callers choose: keep both short.
MAX_PATTERN_LENGTH = 256
MAX_REGEX_INPUT = 4096
# Cohort buckets: a percent is honoured to 0.0001 %.
COHORT_BUCKETS = 1_000_000
TESTS = ("equals", "prefix", "regex", "exists")
PATH_HINT = "must be a dotted path such as requestContext.http.method or Records.0.eventSource"


def in_blast_radius(config: Config, event: Any, context: Any, random: Random) -> bool:
    if config.rate < 1 and random.random() >= config.rate:
        return False
    checks = config.checks
    return not checks or all(admits(event, context) for admits in checks)


def draw_faults(config: Config, random: Random) -> list[Fault]:
    """Every drawn fault of phase 0 (they surround the handler), then at most one later fault:
    the first one drawn ends the invocation, and a second would only blend into its outcome
    (e.g. one status fault replacing the code of another's response)."""
    drawn: list[Fault] = []
    ended = False
    for fault in config.faults:  # sorted by phase
        if fault.phase > 0 and ended:
            break
        if fault.rate >= 1 or random.random() < fault.rate:
            drawn.append(fault)
            ended = fault.phase > 0
    return drawn


# --- event paths ---------------------------------------------------------------------------

_MISSING: Any = object()


def lookup(document: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` (object keys, or list indexes written as numbers), else _MISSING."""
    current = document
    for step in path:
        if isinstance(current, dict):  # what Lambda's runtime decodes: checked before the slower ABC
            current = current.get(step, _MISSING)
            if current is _MISSING:
                return _MISSING
        elif isinstance(current, Mapping):
            if step not in current:
                return _MISSING
            current = current[step]
        elif isinstance(current, (list, tuple)) and step.isdecimal() and step.isascii():
            index = int(step)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def parse_path(fields: Fields, key: str) -> tuple[str, ...]:
    text = fields.string(key)
    if not isinstance(fields.raw(key), str):  # missing or not a string: already reported
        return ()
    steps = tuple(text.split("."))
    if not all(steps):
        fields.problem(key, PATH_HINT)
        return ()
    return steps


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: `true` is not `1`, but `1` is `1.0`."""
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) or is_number(right):
        return is_number(left) and is_number(right) and left == right
    if left is None:
        return right is None
    if isinstance(left, (list, tuple)):
        return (
            isinstance(right, (list, tuple))
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, Mapping):
        return (
            isinstance(right, Mapping)
            and left.keys() == right.keys()
            and all(json_equal(value, right[key]) for key, value in left.items())
        )
    return False


# --- targets -------------------------------------------------------------------------------


def invoked_qualifier(context: Any) -> str | None:
    """The alias or version in the ARN the caller invoked ($LATEST when unqualified)."""
    arn = getattr(context, "invoked_function_arn", None)
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[5] != "function":
        return None
    if len(parts) == 7:
        return UNQUALIFIED
    return parts[7] if len(parts) == 8 and parts[7] else None


@dataclass(frozen=True)
class Targets:
    """Glob patterns on the function name, and exact aliases or versions."""

    functions: tuple[str, ...] = ()
    qualifiers: tuple[str, ...] = ()
    _names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = re.compile("|".join(map(fnmatch.translate, self.functions))) if self.functions else None
        object.__setattr__(self, "_names", names)

    @classmethod
    def parse(cls, value: object, location: str, problems: list[Problem]) -> Targets:
        fields = Fields(value, location, problems)
        functions = _non_empty_list(fields, "functions", "target every function")
        qualifiers = _non_empty_list(fields, "qualifiers", "target every alias and version")
        if isinstance(value, Mapping) and not fields.has("functions") and not fields.has("qualifiers"):
            fields.problem("", "must have functions, qualifiers or both")
        fields.finish()
        return cls(tuple(functions), tuple(qualifiers))

    def admits(self, event: Any, context: Any) -> bool:
        if self._names is not None:
            name = getattr(context, "function_name", None) or os.environ.get(FUNCTION_NAME_ENV)
            if not isinstance(name, str) or self._names.match(name) is None:
                return False
        return not self.qualifiers or invoked_qualifier(context) in self.qualifiers

    def admits_function(self, name: str) -> bool:
        """Whether the function of this name is targeted, whatever alias or version is invoked
        (one execution environment serves several aliases)."""
        return self._names is None or self._names.match(name) is not None


def _non_empty_list(fields: Fields, key: str, instead: str) -> list[str]:
    values = fields.string_list(key)
    if fields.has(key) and isinstance(fields.raw(key), list) and not fields.raw(key):
        fields.problem(key, f"must not be empty (leave it out to {instead})")
    return values


# --- match ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One test on the value at `path` in the event."""

    path: tuple[str, ...]
    test: str
    operand: Any
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, value: object, location: str, problems: list[Problem]) -> Condition:
        fields = Fields(value, location, problems)
        path = parse_path(fields, "path")
        given = [test for test in TESTS if fields.has(test)]
        if isinstance(value, Mapping) and len(given) != 1:
            fields.problem("", "must have exactly one of equals, prefix, regex or exists")
        test = given[0] if given else "exists"
        regex = None
        if test == "equals":
            operand: Any = fields.raw("equals")
        elif test == "prefix":
            operand = fields.string("prefix")
        elif test == "regex":
            operand = fields.string("regex")
            regex = _compile(fields, "regex", operand) if isinstance(fields.raw("regex"), str) else None
        else:
            operand = fields.boolean("exists", True)
        fields.finish()
        return cls(path, test, operand, regex)

    def holds(self, event: Any) -> bool:
        value = lookup(event, self.path)
        if self.test == "exists":
            return (value is not _MISSING) is self.operand
        if self.test == "equals":
            return value is not _MISSING and json_equal(value, self.operand)
        if not isinstance(value, str):
            return False
        if self.test == "prefix":
            return value.startswith(self.operand)
        return self._regex is not None and self._regex.search(value[:MAX_REGEX_INPUT]) is not None


def _compile(fields: Fields, key: str, pattern: str) -> re.Pattern[str] | None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        fields.problem(key, f"must be at most {MAX_PATTERN_LENGTH} characters")
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as error:  # its message may quote the pattern: give the position only
        where = "" if error.pos is None else f" (error at position {error.pos})"
        fields.problem(key, f"must be a valid regular expression{where}")
        return None
    if _nests_repetition(pattern):
        fields.problem(key, "must not repeat a repetition, such as (a+)+ or (\\w+\\s?)*: it can take exponential time")
        return None
    return compiled


def _nests_repetition(pattern: str) -> bool:
    """Whether a variable repetition sits inside an open-ended one: the usual shape of
    catastrophic backtracking. A heuristic on the parsed pattern, not a proof."""
    try:
        parser: Any = importlib.import_module("re._parser")  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.10
        parser = importlib.import_module("sre_parse")
    repeats = {
        getattr(parser, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(parser, name)
    }

    def subpatterns(value: Any) -> list[Any]:
        if isinstance(value, parser.SubPattern):
            return [value]
        if isinstance(value, (tuple, list)):
            return [sub for item in value for sub in subpatterns(item)]
        return []

    def nested(items: Any, inside: bool) -> bool:
        for op, argument in items:
            if op in repeats:
                low, high, sub = argument
                variable = low != high
                if inside and variable:
                    return True
                if nested(sub, inside or (variable and high > 1)):
                    return True
            elif any(nested(sub, inside) for sub in subpatterns(argument)):
                return True
        return False

    try:
        return nested(parser.parse(pattern), False)
    except Exception:  # a private module that changed shape: the pattern compiled, accept it
        return False


@dataclass(frozen=True)
class Match:
    """Conditions on the event, all of which must hold."""

    conditions: tuple[Condition, ...]

    @classmethod
    def parse(cls, value: object, location: str, problems: list[Problem]) -> Match:
        if not isinstance(value, list):
            problems.append(Problem(location, f"must be an array, not {describe(value)}"))
            return cls(())
        if not value:
            problems.append(Problem(location, "must not be empty (leave it out to match every event)"))
        return cls(tuple(Condition.parse(item, join(location, i), problems) for i, item in enumerate(value)))

    def admits(self, event: Any, context: Any) -> bool:
        return all(condition.holds(event) for condition in self.conditions)


# --- cohort --------------------------------------------------------------------------------


def cohort_bucket(salt: str, member: str) -> int:
    """A stable bucket in [0, COHORT_BUCKETS): the same on every process and cold start
    (unlike hash(), which Python randomizes per process)."""
    digest = hashlib.sha256(f"{salt}\x00{member}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % COHORT_BUCKETS


@dataclass(frozen=True)
class Cohort:
    """The `percent` of members (the values at `key`) whose bucket falls below it. Raising
    the percent keeps everyone already in; changing the salt picks another group."""

    key: tuple[str, ...]
    percent: float
    salt: str = ""
    _limit: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_limit", self.percent / 100 * COHORT_BUCKETS)

    @classmethod
    def parse(cls, value: object, location: str, problems: list[Problem]) -> Cohort:
        fields = Fields(value, location, problems)
        key = parse_path(fields, "key")
        percent = fields.number("percent", minimum=0, maximum=100)
        salt = fields.string("salt", "")
        fields.finish()
        return cls(key, percent, salt)

    def admits(self, event: Any, context: Any) -> bool:
        member = lookup(event, self.key)
        if isinstance(member, bool) or not isinstance(member, (str, int)) or member == "":
            return False
        return cohort_bucket(self.salt, str(member)) < self._limit
