"""chaos_layer.contract: declared values (construction, equality, freezing) and how a
declaration is read: defaults, required keys, choices, and the order of the problems."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from chaos_layer.contract import Boolean, Choice, Declared, Field, Fields, ListOf, Number, Text, derived, field
from chaos_layer.exceptions import Problem


class Window(Declared):
    """A declaration to test with: a choice between two ways to give a size."""

    seconds: ClassVar[Field] = field(Number(0), "A fixed size.", store=False)
    low: float = field(Number(0), "Smallest.")
    high: float = field(Number(0), "Largest.")
    labels: tuple[str, ...] = field(ListOf(Text(), non_empty=True), "Names.", default=())
    extra: dict[str, str] = field(Boolean(), "A flag.", default={})
    choices = (Choice(("seconds",), ("low", "high")),)
    width: float = derived()

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", self.high - self.low)

    @classmethod
    def build(cls, values: dict[str, Any]) -> Window:
        seconds = values.get("seconds")
        low, high = (seconds, seconds) if seconds is not None else (values["low"], values["high"])
        return cls(low=low, high=high, labels=values["labels"])


class Pair(Declared, kw_only=False):
    first: str = field(Text(), "One.")
    second: str = field(Text(), "Two.", default="b")


def parse(data: object) -> tuple[Window | None, list[str]]:
    problems: list[Problem] = []
    parsed = Window.parse(data, "w", problems)
    return parsed, [str(problem) for problem in problems]


def test_declared_values_are_built_from_their_fields() -> None:
    window = Window(low=1, high=3)
    assert window == Window(low=1, high=3)
    assert window != Window(low=1, high=4)
    assert window.width == 2
    assert repr(window) == "Window(low=1, high=3, labels=(), extra={})"
    assert [f.name for f in Window.config_fields] == ["seconds", "low", "high", "labels", "extra"]


def test_a_mutable_default_is_never_shared() -> None:
    first, second = Window(low=1, high=1), Window(low=1, high=1)
    assert first.extra == {}
    assert first.extra is not second.extra


def test_declared_values_are_frozen() -> None:
    window = Window(low=1, high=3)
    with pytest.raises(AttributeError, match="frozen"):
        window.low = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del window.low


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"low": 1}, "needs high"),
        ((1, 3), {}, "keyword arguments only"),
        ((), {"low": 1, "high": 3, "seconds": 2}, "unknown arguments: seconds"),
    ],
)
def test_wrong_arguments_are_type_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Window(*args, **kwargs)


def test_positional_arguments_where_declared() -> None:
    assert Pair("a") == Pair(first="a", second="b")
    assert hash(Pair("a")) == hash(Pair("a", "b"))
    with pytest.raises(TypeError, match="got first twice"):
        Pair("a", first="a")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"seconds": 5}, Window(low=5, high=5)),
        ({"low": 1, "high": 2, "labels": ["x"]}, Window(low=1, high=2, labels=("x",))),
    ],
)
def test_parse_builds_the_value(data: dict[str, Any], expected: Window) -> None:
    assert parse(data) == (expected, [])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["w.seconds: give exactly one of seconds and low and high"]),
        ({"seconds": 1, "low": 1, "high": 2}, ["w.seconds: give exactly one of seconds and low and high"]),
        ({"low": 1}, ["w.high: is required"]),
        ({"seconds": -1, "labels": [], "typo": 1}, [
            "w.seconds: must be a number at least 0",
            "w.labels: must not be empty",
            "w.typo: unknown key",
        ]),
        ({"low": "x", "high": 2, "labels": [1, "", "ok"]}, [
            "w.low: must be a number, not a string",
            "w.labels[0]: must be a non-empty string",
            "w.labels[1]: must be a non-empty string",
        ]),
        ([], ["w: must be an object, not an array"]),
    ],
)  # fmt: skip
def test_every_problem_is_listed_in_the_order_of_the_keys(data: object, expected: list[str]) -> None:
    assert parse(data) == (None, expected)


def test_a_problem_never_echoes_the_value() -> None:
    _, problems = parse({"low": "s3cr3t", "high": ["s3cr3t"], "labels": ["s3cr3t", 7]})
    assert problems
    assert not any("s3cr3t" in problem for problem in problems)


def test_fields_read_a_key_by_its_kind() -> None:
    problems: list[Problem] = []
    fields = Fields({"a": True, "b": "x"}, "", problems)
    assert fields.read("a", Boolean()) is True
    assert fields.read("c", Boolean(), False) is False
    fields.read("b", Number(0, 1))
    fields.read("d", Text())
    fields.finish()
    assert [str(p) for p in problems] == ["b: must be a number, not a string", "d: is required"]
