"""Who is inside the blast radius: the filters `targets`, `match` and `cohort`.

The top-level `rate` and the optional filters combine with AND and are checked cheapest
first: one random draw, then the function's name and qualifier, then a few lookups in the
event, then one hash. A config without filters has no checks, so they cost nothing unless
used. Each filter declares its keys (chaos_layer.contract) and checks an invocation with
`admits(event, context)`; `Config` keeps the parsed filters and the tuple of their checks.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from random import Random
from typing import Any, ClassVar, Protocol

from chaos_layer.contract import (
    INVALID,
    Boolean,
    Choice,
    Declared,
    Field,
    Kind,
    ListOf,
    Nested,
    Number,
    Text,
    derived,
    either,
    field,
    is_number,
    state,
)

FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
# An unqualified ARN invokes $LATEST.
UNQUALIFIED = "$LATEST"
# A regex runs on every invocation, on input the function's callers choose. RE2 is linear in
# the input, but with a factor up to the pattern's program size where its automaton is large
# (some 18 s per MB for a legal 256-character pattern): the pattern is kept short, and a value
# longer than MAX_REGEX_INPUT characters never matches, so that `$` keeps its meaning.
MAX_PATTERN_LENGTH = 256
MAX_REGEX_INPUT = 4096
# Cohort buckets: a percent is honoured to 0.0001 %.
COHORT_BUCKETS = 1_000_000
TESTS = ("equals", "prefix", "regex", "exists")
PATH_HINT = "must be a dotted path such as requestContext.http.method or Records.0.eventSource"
# The one path read from the Lambda context rather than the event: the tenant of Lambda's
# tenant isolation mode. Other paths that start with `context.` are the event's.
TENANT_PATH = ("context", "tenant_id")

Check = Callable[[Any, Any], bool]


class Radius(Protocol):
    """What the blast radius needs of a config."""

    @property
    def draw_rate(self) -> float:
        """The share the first draw keeps: the config's `rate` (1 when a control group draws itself)."""
        ...

    @property
    def checks(self) -> tuple[Check, ...]: ...


def in_blast_radius(config: Radius, event: Any, context: Any, random: Random) -> bool:
    if config.draw_rate < 1 and random.random() >= config.draw_rate:
        return False
    checks = config.checks
    return not checks or all(admits(event, context) for admits in checks)


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


def tenant_id(context: Any) -> Any:
    """The invocation's tenant (Lambda's tenant isolation mode), else _MISSING."""
    tenant = getattr(context, "tenant_id", None)
    return tenant if isinstance(tenant, str) and tenant else _MISSING


class DottedPath(Text):
    """Keys separated by dots; a number indexes a list. Becomes the tuple of keys."""

    def __init__(self) -> None:
        super().__init__(rules=((r"[^.]+(\.[^.]+)*\Z", PATH_HINT),), label="dotted path")

    def check(self, value: Any) -> tuple[Any, str | None]:
        path, problem = super().check(value)
        return (INVALID, problem) if problem is not None else (tuple(path.split(".")), None)


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


class Targets(Declared, kw_only=False):
    """Glob patterns on the function name, and exact aliases or versions."""

    schema_name = "targets"
    description = (
        "Only the named functions (glob patterns on the function name) and aliases or versions (from the invoked"
        " ARN; $LATEST when unqualified) are in the blast radius."
    )
    examples = ({"functions": ["orders-*", "checkout"], "qualifiers": ["live", "$LATEST"]},)
    functions: tuple[str, ...] = field(
        ListOf(Text(), non_empty=True, empty_hint="leave it out to target every function"),
        "Glob patterns (* and ?) on the function name, such as orders-*.",
        default=(),
    )
    qualifiers: tuple[str, ...] = field(
        ListOf(Text(), non_empty=True, empty_hint="leave it out to target every alias and version"),
        "Aliases or versions, such as live or 3; $LATEST for an unqualified ARN.",
        default=(),
    )
    choices = (
        Choice(
            ("functions",), ("qualifiers",), at_most_one=False, at="", missing="must have functions, qualifiers or both"
        ),
    )
    _names: re.Pattern[str] | None = derived()

    def __post_init__(self) -> None:
        names = re.compile("|".join(map(fnmatch.translate, self.functions))) if self.functions else None
        object.__setattr__(self, "_names", names)

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


# --- match ---------------------------------------------------------------------------------


class Regex(Text):
    """A regular expression in RE2's syntax (chaos_layer.regex): it runs in time linear in
    its input, whatever the pattern; a value longer than MAX_REGEX_INPUT never matches."""

    def __init__(self) -> None:
        super().__init__(max_length=MAX_PATTERN_LENGTH, label="regular expression (RE2)", format="regex")

    def check(self, value: Any) -> tuple[Any, str | None]:
        pattern, problem = super().check(value)
        if problem is not None:
            return INVALID, problem
        from chaos_layer import regex  # google-re2 is loaded only when a config has a regex

        problem = regex.problem(pattern)
        return (INVALID, problem) if problem is not None else (pattern, None)


class Condition(Declared, kw_only=False):
    """One test on the value at `path` in the event."""

    schema_name = "condition"
    description = (
        "One test on the value at path in the event (or, for context.tenant_id, the invocation's tenant):"
        " exactly one of equals (any JSON value), prefix, regex (searched in string values) or exists."
    )
    path: tuple[str, ...] = field(
        DottedPath(),
        "Where in the event: keys separated by dots, a number indexes a list, e.g. Records.0.eventSource;"
        " context.tenant_id is the invocation's tenant in Lambda's tenant isolation mode (without one, no"
        " condition on it holds).",
    )
    test: str = state()
    operand: Any = state()
    equals: ClassVar[Field] = field(Kind(), "The value there equals this JSON value.", store=False)
    prefix: ClassVar[Field] = field(Text(), "The value there is a string that starts with this.", store=False)
    regex: ClassVar[Field] = field(
        Regex(),
        f"The value there is a string of at most {MAX_REGEX_INPUT:,} characters this regular expression is found"
        " in (anchor it with ^ and $; a longer string never matches). RE2 syntax, which matches in linear time:"
        " Python's without backreferences and lookarounds ($ is the very end).",
        store=False,
    )
    exists: ClassVar[Field] = field(Boolean(), "true: there is a value there; false: there is none.", store=False)
    choices = (
        Choice(
            *((test,) for test in TESTS),
            at="",
            missing=f"must have exactly one of {either(TESTS)}",
        ),
    )
    _regex: Callable[[str], bool] | None = derived()
    _tenant: bool = derived()  # the path names the context's tenant

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tenant", self.path == TENANT_PATH)
        if self.test == "regex":
            from chaos_layer import regex

            object.__setattr__(self, "_regex", regex.searcher(self.operand))
        else:
            object.__setattr__(self, "_regex", None)

    @classmethod
    def build(cls, values: dict[str, Any]) -> Condition:
        test = next(name for name in TESTS if name in values)
        return cls(values["path"], test, values[test])

    def holds(self, event: Any, context: Any) -> bool:
        value = tenant_id(context) if self._tenant else lookup(event, self.path)
        if self._tenant and value is _MISSING:
            return False  # without a tenant id no condition on it holds, `exists: false` included
        if self.test == "exists":
            return (value is not _MISSING) is self.operand
        if self.test == "equals":
            return value is not _MISSING and json_equal(value, self.operand)
        if not isinstance(value, str):
            return False
        if self.test == "prefix":
            return value.startswith(self.operand)
        return self._regex is not None and len(value) <= MAX_REGEX_INPUT and self._regex(value)


class Match(Declared, kw_only=False):
    """Conditions on the event, all of which must hold."""

    conditions: tuple[Condition, ...] = state()

    def admits(self, event: Any, context: Any) -> bool:
        return all(condition.holds(event, context) for condition in self.conditions)


# --- cohort --------------------------------------------------------------------------------


def cohort_bucket(salt: str, member: str) -> int:
    """A stable bucket in [0, COHORT_BUCKETS): the same on every process and cold start
    (unlike hash(), which Python randomizes per process)."""
    digest = hashlib.sha256(f"{salt}\x00{member}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % COHORT_BUCKETS


class Cohort(Declared, kw_only=False):
    """The `percent` of members (the values at `key`) whose bucket falls below it. Raising
    the percent keeps everyone already in; changing the salt picks another group. The key
    context.tenant_id makes the tenants of Lambda's tenant isolation mode the members."""

    schema_name = "cohort"
    description = (
        "A sticky group: percent of the distinct values at key (a user or tenant id), picked by a stable hash"
        " of salt and value. An invocation without a value there is outside it."
    )
    examples = ({"key": "requestContext.authorizer.claims.sub", "percent": 5},)
    key: tuple[str, ...] = field(
        DottedPath(),
        "Where the member's id is in the event, such as a user or tenant id; context.tenant_id: the invocation's"
        " tenant in Lambda's tenant isolation mode.",
    )
    percent: float = field(Number(0, 100), "Percent (0..100) of the members inside the blast radius.")
    salt: str = field(Text(), "Another salt picks another group of the same size.", default="")
    _limit: float = derived()
    _tenant: bool = derived()  # the key names the context's tenant

    def __post_init__(self) -> None:
        object.__setattr__(self, "_limit", self.percent / 100 * COHORT_BUCKETS)
        object.__setattr__(self, "_tenant", self.key == TENANT_PATH)

    def admits(self, event: Any, context: Any) -> bool:
        member = tenant_id(context) if self._tenant else lookup(event, self.key)
        if isinstance(member, bool) or not isinstance(member, (str, int)) or member == "":
            return False
        return cohort_bucket(self.salt, str(member)) < self._limit

    def bucket(self, event: Any, context: Any) -> int | None:
        """The member's bucket, or None when the invocation has no member (as `admits` reads it)."""
        member = tenant_id(context) if self._tenant else lookup(event, self.key)
        if isinstance(member, bool) or not isinstance(member, (str, int)) or member == "":
            return None
        return cohort_bucket(self.salt, str(member))


# The filters, as the config document's keys take them.
TARGETS = Nested(Targets, narrows=True)
MATCH = ListOf(
    Nested(Condition, label="condition"),
    non_empty=True,
    empty_hint="leave it out to match every event",
    into=Match,
    narrows=True,
)
COHORT = Nested(Cohort, narrows=True)
