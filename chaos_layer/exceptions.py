"""Exceptions of chaos-layer.

Exception
 +-- InjectedFault   raised on purpose by an `exception` fault (the default name)
 +-- ConfigError     a config document broke the rules; carries every problem found
"""

from __future__ import annotations


class InjectedFault(Exception):
    """The exception an `exception` fault raises when the config names no other."""


class Problem:
    """One rule a config document broke, at a JSON-path-like location. A plain value class:
    every cold start loads this module, and a dataclass costs ~0.5 ms to define."""

    __slots__ = ("location", "message")

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        self.message = message

    def __eq__(self, other: object) -> bool:
        if type(other) is not Problem:
            return NotImplemented
        return (self.location, self.message) == (other.location, other.message)

    def __hash__(self) -> int:
        return hash((self.location, self.message))

    def __repr__(self) -> str:
        return f"Problem(location={self.location!r}, message={self.message!r})"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(ValueError):
    """A config document is invalid. Messages never echo the document's values."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
