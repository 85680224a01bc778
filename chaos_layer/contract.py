"""Typed reads from a JSON object that collect every problem instead of stopping at the first.

The CLI's `validate` lists all problems with their locations, and the library logs them,
so messages name keys and expectations but never echo a value from the document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from chaos_layer.exceptions import Problem


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


class Fields:
    """One JSON object under validation. Getters always return a value of the right type
    (a placeholder when invalid) so callers can build objects and check `problems` once."""

    def __init__(self, data: object, location: str, problems: list[Problem]) -> None:
        self.location = location
        self.problems = problems
        self._seen: set[str] = set()
        self._is_object = isinstance(data, Mapping)
        if isinstance(data, Mapping):
            self._data: Mapping[str, Any] = data
        else:
            self.problem("", f"must be an object, not {describe(data)}")
            self._data = {}

    def problem(self, key: str | int, message: str) -> None:
        if not self._is_object and key != "":  # "must be an object" says it all
            return
        self.problems.append(Problem(join(self.location, key) if key != "" else self.location, message))

    def has(self, key: str) -> bool:
        self._seen.add(key)
        return key in self._data

    def raw(self, key: str) -> Any:
        self._seen.add(key)
        return self._data.get(key)

    def _present(self, key: str, required: bool) -> bool:
        if self.has(key):
            return True
        if required:
            self.problem(key, "is required")
        return False

    def boolean(self, key: str, default: bool | None = None) -> bool:
        if not self._present(key, default is None):
            return bool(default)
        value = self._data[key]
        if isinstance(value, bool):
            return value
        self.problem(key, f"must be true or false, not {describe(value)}")
        return False

    def string(self, key: str, default: str | None = None, *, non_empty: bool = False) -> str:
        if not self._present(key, default is None):
            return default or ""
        value = self._data[key]
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {describe(value)}")
            return ""
        if non_empty and not value.strip():
            self.problem(key, "must not be empty")
        return value

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float:
        if not self._present(key, default is None):
            return default or 0.0
        value = self._data[key]
        kind = "a whole number" if integer else "a number"
        if not is_number(value) or (integer and not float(value).is_integer()):
            self.problem(key, f"must be {kind}, not {describe(value)}")
            return minimum or 0.0
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum:g}"
            high = "" if maximum is None else f"{maximum:g}"
            bounds = f"between {low} and {high}" if low and high else f"at least {low}" if low else f"at most {high}"
            self.problem(key, f"must be {kind} {bounds}")
            return minimum or 0.0
        return float(value)

    def rate(self, key: str = "rate") -> float:
        return self.number(key, 1.0, minimum=0.0, maximum=1.0)

    def string_map(self, key: str) -> dict[str, str]:
        if not self._present(key, False):
            return {}
        value = self._data[key]
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.problem(key, "must be an object whose values are strings")
            return {}
        return dict(value)

    def array(self, key: str, required: bool = False) -> list[Any]:
        if not self._present(key, required):
            return []
        value = self._data[key]
        if not isinstance(value, list):
            self.problem(key, f"must be an array, not {describe(value)}")
            return []
        return value

    def string_list(self, key: str, required: bool = False) -> list[str]:
        values = self.array(key, required)
        for index, item in enumerate(values):
            if not isinstance(item, str) or not item:
                self.problem(join(key, index), "must be a non-empty string")
        return [v for v in values if isinstance(v, str) and v]

    def finish(self) -> None:
        """Unknown keys are errors: a newer config's extra limit must never be ignored."""
        for key in self._data:
            if key not in self._seen:
                self.problem(key, "unknown key")
