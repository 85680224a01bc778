"""Exceptions of chaos-layer.

Exception
 +-- InjectedFault   raised on purpose by an `exception` fault (the default name)
 +-- ConfigError     a config document broke the rules; carries every problem found
"""

from __future__ import annotations

from dataclasses import dataclass


class InjectedFault(Exception):
    """The exception an `exception` fault raises when the config names no other."""


@dataclass(frozen=True)
class Problem:
    """One rule a config document broke, at a JSON-path-like location."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(ValueError):
    """A config document is invalid. Messages never echo the document's values."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))
