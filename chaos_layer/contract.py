"""The config contract as data: every key of the config document, of each fault type and of
each blast-radius filter is declared once, as a `Field` (name, kind, bounds, default, one
line of doc) on the class it configures. Validation is driven by these declarations here;
`chaos_layer/schema.json` and the docs' tables (chaos_layer.cli.reference) and the CLI's
`--fault` flag (chaos_layer.cli.faults) read the same declarations. Hand-written code is
left for rules data cannot express (`Declared.check`, and a kind such as a safe regex).

Validation collects every problem instead of stopping at the first: `chaos-layer validate`
lists them all with their locations, and the library logs them, so messages name keys and
expectations but never echo a value from the document.

This module loads at every cold start: plain classes, no dataclasses, no parsing library,
and nothing that only documents (the schema, the tables) or only the CLI needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from chaos_layer.exceptions import Problem

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[Any], Any]:
        return lambda cls: cls


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# A field without a default must be given; a value that broke a rule is never built into an object.
REQUIRED: Any = _Marker("REQUIRED")
INVALID: Any = _Marker("INVALID")
# The longest key name a message echoes as it is.
MAX_SHOWN_KEY = 40


def join(location: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{location}[{key}]"
    return f"{location}.{key}" if location else key


def describe(value: object) -> str:
    """The JSON type name of a value: safe to log, unlike the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number" if is_number(value) else "an out-of-range number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def is_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a JSON integer too large for a float
        return False


def shown_key(key: object) -> str:
    """A key from the document as a message may echo it: printable, and at most
    MAX_SHOWN_KEY characters (a key can be as long and as strange as the document likes)."""
    text = key if isinstance(key, str) else str(key)
    cleaned = "".join(c if c.isprintable() else "?" for c in text[:MAX_SHOWN_KEY])  # a lone surrogate is not
    return cleaned + "..." if len(text) > MAX_SHOWN_KEY else cleaned


def either(names: Iterable[str], last: str = "or") -> str:
    """`a`, `a or b`, `a, b or c`."""
    items = list(names)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


class Fields:
    """One JSON object under validation: which keys were looked at, and every problem found."""

    def __init__(self, data: object, location: str, problems: list[Problem]) -> None:
        self.location = location
        self.problems = problems
        self.seen: set[str] = set()
        self.is_object = isinstance(data, Mapping)
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if not self.is_object:
            problems.append(Problem(location, f"must be an object, not {describe(data)}"))

    def problem(self, key: str | int, message: str) -> None:
        if key == "":
            self.problems.append(Problem(self.location, message))
        elif self.is_object:  # otherwise "must be an object" says it all
            self.problems.append(Problem(join(self.location, key), message))

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.data

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def read(self, key: str, kind: Kind, default: Any = REQUIRED) -> Any:
        """The value at `key` checked by `kind`; `default` when absent (a problem if REQUIRED)."""
        if not self.has(key):
            if default is REQUIRED:
                self.problem(key, "is required")
            return default
        return kind.read(self.data[key], join(self.location, key), self.problems)

    # Typed reads for a hand-written parser (an experiment file): the value, or a placeholder
    # of the right type when it broke a rule, so callers can build objects and check `problems` once.

    def string(self, key: str, default: str | None = None, *, non_empty: bool = False) -> str:
        value = self.read(key, Text(non_empty=non_empty), REQUIRED if default is None else default)
        return value if isinstance(value, str) else ""

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float:
        value = self.read(key, Number(minimum, maximum, integer=integer), REQUIRED if default is None else default)
        if value is INVALID:
            return minimum or 0.0
        return 0.0 if value is REQUIRED else float(value)

    def array(self, key: str, required: bool = False) -> list[Any]:
        value = self.read(key, Kind(), REQUIRED if required else [])
        if isinstance(value, list):
            return value
        if value is not REQUIRED:
            self.problem(key, f"must be an array, not {describe(value)}")
        return []

    def string_map(self, key: str) -> dict[str, str]:
        value = self.read(key, StringMap(), {})
        return value if isinstance(value, dict) else {}

    def finish(self) -> None:
        """Unknown keys are errors: a newer config's extra limit must never be ignored."""
        for key in self.data:
            if key not in self.seen:
                self.problem(shown_key(key), "unknown key")


# --- kinds: what one value must be, and what it becomes ------------------------------------


class Kind:
    """Checks and converts one JSON value: `check` returns (value, None) or (INVALID, why).
    This base takes any JSON value. `label` names the kind in the docs."""

    label = ""
    # True for the blast-radius filters: their value narrows who is hit (`admits`).
    narrows = False

    def check(self, value: Any) -> tuple[Any, str | None]:
        return value, None

    def check_item(self, value: Any) -> tuple[Any, str | None]:
        return self.check(value)

    def read(self, value: Any, location: str, problems: list[Problem]) -> Any:
        converted, problem = self.check(value)
        if problem is not None:
            problems.append(Problem(location, problem))
        return converted

    def read_item(self, value: Any, location: str, problems: list[Problem]) -> Any:
        converted, problem = self.check_item(value)
        if problem is not None:
            problems.append(Problem(location, problem))
        return converted


class Boolean(Kind):
    def check(self, value: Any) -> tuple[Any, str | None]:
        if isinstance(value, bool):
            return value, None
        return INVALID, f"must be true or false, not {describe(value)}"


class Text(Kind):
    """A string; `non_empty`: not blank. `rules` are (regex, message) pairs tried in order;
    a regex must match from the start (end it with \\Z to anchor the end). `normalize`
    applies to a valid value; `format` is JSON Schema's."""

    def __init__(
        self,
        *,
        non_empty: bool = False,
        rules: tuple[tuple[str, str], ...] = (),
        max_length: int | None = None,
        normalize: Callable[[str], Any] | None = None,
        label: str = "",
        format: str | None = None,
    ) -> None:
        self.non_empty = non_empty
        self.rules = tuple((re.compile(pattern), message) for pattern, message in rules)
        self.max_length = max_length
        self.normalize = normalize
        self.label = label
        self.format = format

    def check(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return INVALID, f"must be a string, not {describe(value)}"
        if self.non_empty and not value.strip():
            return INVALID, "must not be empty"
        return self._rules(value)

    def check_item(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str) or not value:
            return INVALID, "must be a non-empty string"
        return self._rules(value)

    def _rules(self, value: str) -> tuple[Any, str | None]:
        for regex, message in self.rules:
            if not regex.match(value):
                return INVALID, message
        if self.max_length is not None and len(value) > self.max_length:
            return INVALID, f"must be at most {self.max_length} characters"
        return (self.normalize(value) if self.normalize else value), None


class Number(Kind):
    def __init__(self, minimum: float | None = None, maximum: float | None = None, *, integer: bool = False) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.integer = integer
        self.noun = "a whole number" if integer else "a number"
        low = "" if minimum is None else f"{minimum:g}"
        high = "" if maximum is None else f"{maximum:g}"
        bounds = f"between {low} and {high}" if low and high else f"at least {low}" if low else ""
        self.phrase = f"{self.noun} {bounds or (f'at most {high}' if high else '')}".strip()

    def check(self, value: Any) -> tuple[Any, str | None]:
        if not is_number(value) or (self.integer and not float(value).is_integer()):
            return INVALID, f"must be {self.noun}, not {describe(value)}"
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            return INVALID, f"must be {self.phrase}"
        return (int(value) if self.integer else float(value)), None

    def check_item(self, value: Any) -> tuple[Any, str | None]:
        converted, problem = self.check(value)
        return converted, None if problem is None else f"must be {self.phrase}"


class StringMap(Kind):
    def check(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            return INVALID, "must be an object whose values are strings"
        return dict(value), None


class Timestamp(Kind):
    def check(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return INVALID, f"must be a string, not {describe(value)}"
        try:
            # Python 3.10's fromisoformat does not take a trailing "Z".
            instant = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
        except ValueError:
            return INVALID, "must be an ISO-8601 timestamp such as 2026-11-27T15:00:00Z"
        if instant.tzinfo is None:
            return INVALID, "must include a UTC offset, such as Z or +01:00"
        return instant, None


class Names(Kind):
    """One name of an allow-list; the schema lists `documented` (default: all of them)."""

    def __init__(
        self, names: Iterable[str], message: str, *, documented: Iterable[str] | None = None, label: str = ""
    ) -> None:
        self.names = frozenset(names)
        self.message = message
        self.documented = self.names if documented is None else frozenset(documented)
        self.label = label

    def check(self, value: Any) -> tuple[Any, str | None]:
        if not isinstance(value, str):
            return INVALID, f"must be a string, not {describe(value)}"
        return (value, None) if value in self.names else (INVALID, self.message)


class ListOf(Kind):
    """An array of `item`s, converted with `into` (a tuple by default)."""

    def __init__(
        self,
        item: Kind,
        *,
        non_empty: bool = False,
        empty_hint: str = "",
        into: Callable[[tuple[Any, ...]], Any] = tuple,
        narrows: bool = False,
    ) -> None:
        self.item = item
        self.non_empty = non_empty
        self.empty_hint = empty_hint
        self.into = into
        self.narrows = narrows

    def read(self, value: Any, location: str, problems: list[Problem]) -> Any:
        if not isinstance(value, list):
            problems.append(Problem(location, f"must be an array, not {describe(value)}"))
            return INVALID
        if self.non_empty and not value:
            hint = f" ({self.empty_hint})" if self.empty_hint else ""
            problems.append(Problem(location, f"must not be empty{hint}"))
            return INVALID
        known = len(problems)
        items = [self.item.read_item(item, join(location, index), problems) for index, item in enumerate(value)]
        return INVALID if len(problems) > known else self.into(tuple(items))


class Nested(Kind):
    """An object declared by a `Declared` class (a blast-radius filter, say)."""

    def __init__(self, declared: type[Declared], *, narrows: bool = False, label: str = "") -> None:
        self.declared = declared
        self.narrows = narrows
        self.label = label

    def read(self, value: Any, location: str, problems: list[Problem]) -> Any:
        parsed = self.declared.parse(value, location, problems)
        return INVALID if parsed is None else parsed

    read_item = read


# --- declarations --------------------------------------------------------------------------


class Field:
    """One key of a config object. `default` REQUIRED: the key must be given (unless a
    `Choice` decides). `required_if`: required when that boolean key is true. `store`:
    False for a key that only feeds `build` (it is not an attribute). `config`: False for
    an attribute that is no config key at all. `section`: which docs table lists it.
    `free_text`: a value that may hold anything (a body, a message), so never logged."""

    def __init__(
        self,
        name: str | None,
        kind: Kind,
        doc: str,
        *,
        default: Any = REQUIRED,
        required_if: str | None = None,
        store: bool = True,
        config: bool = True,
        examples: tuple[Any, ...] = (),
        section: str = "",
        free_text: bool = False,
    ) -> None:
        self.name = name or ""
        self.kind = kind
        self.doc = doc
        self.default = default
        self.required_if = required_if
        self.store = store
        self.config = config
        self.examples = examples
        self.section = section
        self.free_text = free_text

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(
    kind: Kind,
    doc: str,
    *,
    default: Any = REQUIRED,
    required_if: str | None = None,
    store: bool = True,
    examples: tuple[Any, ...] = (),
    section: str = "",
    free_text: bool = False,
) -> Any:
    """Declares a config key as an attribute: `min_ms: float = field(Number(0), "...")`."""
    return Field(
        None,
        kind,
        doc,
        default=default,
        required_if=required_if,
        store=store,
        examples=examples,
        section=section,
        free_text=free_text,
    )


def state() -> Any:
    """A constructor argument that is no config key (`build` derives it from the keys)."""
    return Field(None, Kind(), "", config=False)


def derived(*, init: Literal[False] = False) -> Any:
    """An attribute `__post_init__` computes: neither a config key nor an argument."""
    return Field(None, Kind(), "", config=False, store=False)


class Choice:
    """Which of several groups of keys to give: exactly one (`at_most_one`) or at least one.
    The keys of the group given are all required; `at` is the key (or "" for the object
    itself) a problem is reported at."""

    def __init__(
        self,
        *groups: tuple[str, ...],
        at_most_one: bool = True,
        at: str | None = None,
        missing: str | None = None,
        conflict: str | None = None,
    ) -> None:
        self.groups = groups
        self.at_most_one = at_most_one
        self.at = groups[0][0] if at is None else at
        self.missing = missing or f"give exactly one of {either([' and '.join(g) for g in groups], 'and')}"
        self.conflict = conflict or self.missing
        self.keys = tuple(key for group in groups for key in group)

    def check(self, fields: Fields) -> set[str]:
        """Reports a wrong choice; returns the keys that must be present."""
        given = [group for group in self.groups if any([fields.has(key) for key in group])]
        wrong = self.missing if not given else self.conflict if len(given) > 1 and self.at_most_one else None
        if wrong is not None and fields.is_object:  # otherwise "must be an object" says it all
            fields.problem(self.at, wrong)
        return set(given[0]) if len(given) == 1 else set()


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field, state, derived))
class Declared:
    """A frozen value whose attributes are declared with `field()`: keyword construction
    (positional too with `kw_only=False`), equality, hash and repr come from the declarations,
    and so does `parse`, which validates a config object into an instance.

    Subclasses may add `choices`, `examples`, `description`, a `check` for rules data cannot
    express and a `build` for keys that are not attributes one to one.
    """

    fields: ClassVar[tuple[Field, ...]] = ()  # every declared field, in order (inherited first)
    config_fields: ClassVar[tuple[Field, ...]] = ()  # those that are config keys
    choices: ClassVar[tuple[Choice, ...]] = ()
    examples: ClassVar[tuple[dict[str, Any], ...]] = ()
    description: ClassVar[str] = ""
    schema_name: ClassVar[str] = ""
    # What `check` enforces, as JSON Schema where it can say it (for schema.json).
    schema_rules: ClassVar[tuple[dict[str, Any], ...]] = ()
    _stored: ClassVar[tuple[Field, ...]] = ()
    _positional: ClassVar[bool] = False

    def __init_subclass__(cls, *, kw_only: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [value for value in vars(cls).values() if isinstance(value, Field)]
        names = {declared.name for declared in own}
        cls.fields = (*(inherited for inherited in cls.fields if inherited.name not in names), *own)
        cls.config_fields = tuple(declared for declared in cls.fields if declared.config)
        cls._stored = tuple(declared for declared in cls.fields if declared.store)
        cls._positional = not kw_only

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        name = type(self).__name__
        stored = self._stored
        if args and (not self._positional or len(args) > len(stored)):
            raise TypeError(f"{name}() takes {'keyword ' if not self._positional else ''}arguments only")
        for declared, value in zip(stored[: len(args)], args, strict=True):
            if declared.name in kwargs:
                raise TypeError(f"{name}() got {declared.name} twice")
            kwargs[declared.name] = value
        for declared in stored:
            value = kwargs.pop(declared.name, declared.default)
            if value is REQUIRED:
                raise TypeError(f"{name}() needs {declared.name}")
            if isinstance(value, (dict, list)) and value is declared.default:
                value = type(value)(value)  # never share a mutable default
            object.__setattr__(self, declared.name, value)
        if kwargs:
            raise TypeError(f"{name}() got unknown arguments: {', '.join(sorted(kwargs))}")
        self.__post_init__()

    def __post_init__(self) -> None:
        """Derived attributes, set with object.__setattr__."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name}")

    def values(self, *, public: bool = False) -> dict[str, Any]:
        """The attributes, in declaration order; `public`: without free text (for logs)."""
        return {
            declared.name: getattr(self, declared.name)
            for declared in self._stored
            if not (public and declared.free_text)
        }

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, declared.name) for declared in self._stored)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return isinstance(other, Declared) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.__class__, self._key()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.values().items())
        return f"{type(self).__name__}({inner})"

    @classmethod
    def parse(cls, data: object, location: str, problems: list[Problem]) -> Self | None:
        """The instance a config object describes, or None when it broke a rule (the
        problems are added to `problems`)."""
        known = len(problems)
        fields = Fields(data, location, problems)
        parsed = cls.read(fields)
        fields.finish()
        return parsed if len(problems) == known else None

    @classmethod
    def read(cls, fields: Fields) -> Self | None:
        """Like `parse`, for an object whose reader is open (`fields.finish()` is the caller's)."""
        known = len(fields.problems)
        values = read_fields(cls.config_fields, cls.choices, fields)
        cls.check(values, fields)
        if len(fields.problems) > known or not fields.is_object:
            return None
        return cls.build(values)

    @classmethod
    def check(cls, values: dict[str, Any], fields: Fields) -> None:
        """Rules data cannot express; `values` holds only the values that passed their own."""

    @classmethod
    def build(cls, values: dict[str, Any]) -> Self:
        return cls(**{declared.name: values[declared.name] for declared in cls._stored if declared.config})


def read_fields(declared: tuple[Field, ...], choices: tuple[Choice, ...], fields: Fields) -> dict[str, Any]:
    """The valid values of the declared keys, in order; every problem goes into `fields`.
    A choice is checked where its first key is declared, so problems keep the keys' order."""
    choice_at = {choice.keys[0]: choice for choice in choices}
    in_choice = {key for choice in choices for key in choice.keys}
    required_by_choice: set[str] = set()
    values: dict[str, Any] = {}
    for item in declared:
        name = item.name
        choice = choice_at.get(name)
        if choice is not None:
            required_by_choice |= choice.check(fields)
        if name in in_choice:
            required = name in required_by_choice
        elif item.required_if is not None:
            required = values.get(item.required_if) is True
        else:
            required = item.default is REQUIRED
        if not fields.has(name):
            if required:
                fields.problem(name, "is required")
            elif item.default is not REQUIRED:
                values[name] = item.default
            continue
        value = item.kind.read(fields.data[name], join(fields.location, name), fields.problems)
        if value is not INVALID:
            values[name] = value
    return values
