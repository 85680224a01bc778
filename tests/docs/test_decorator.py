"""The decorator's reference (docs/decorator-and-layer.md) against the code: its table lists every option `inject_fault`
takes, its examples of bad options fail at decoration as it says (no parameter set), and its
`ConfigError` example runs."""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import re
from typing import Any

import pytest

from chaos_layer import ConfigError, inject_fault
from tests.docs import pages

PAGE = "decorator-and-layer.md"
SECTION = pages.section(PAGE, "## The decorator", "## Lambda layer")
TABLE = SECTION.split("<!-- decorator options -->\n", 1)[1].split("\n\n", 1)[0]
# the paragraph on checks, on one line
CHECKS = " ".join(
    SECTION[SECTION.index("Options are keyword-only") : SECTION.index("`ConfigError` (a `ValueError`)")].split()
)


def test_the_table_lists_every_option_of_the_signature() -> None:
    documented = re.findall(r"^\| `(\w+)` \|", TABLE, re.MULTILINE)
    parameters = inspect.signature(inject_fault).parameters.values()
    options = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert documented == options


def examples() -> list[dict[str, Any]]:
    """`name=value` examples of the paragraph on checks, `a=1` with `b=2` as one call."""
    found = re.findall(r"`(\w+)=([^`]+)`(?: with `(\w+)=([^`]+)`)?", CHECKS)
    calls = []
    for name, value, other, other_value in found:
        call = {name: ast.literal_eval(value)}
        if other:
            call[other] = ast.literal_eval(other_value)
        calls.append(call)
    return calls


def test_the_paragraph_gives_examples_of_each_kind() -> None:
    assert {name for call in examples() for name in call} >= {"max_age", "idle_max_age", "max_rate", "faults"}


@pytest.mark.parametrize("options", examples(), ids=str)
def test_each_bad_option_shown_fails_at_decoration_with_no_parameter_set(options: dict[str, Any]) -> None:
    wrong_type = any(isinstance(value, str) and name.endswith("age") for name, value in options.items())
    with pytest.raises(TypeError if wrong_type else ValueError) as raised:
        inject_fault(**options)
    assert any(name in str(raised.value) for name in options)  # names the option


def test_the_message_quoted_is_the_message_given() -> None:
    (quoted,) = re.findall(r'`max_age="5"`: "([^"]+)"', CHECKS)
    with pytest.raises(TypeError) as raised:
        inject_fault(max_age="5")  # type: ignore[call-overload]
    assert str(raised.value) == quoted


def test_the_config_error_example_runs_and_lists_the_problem() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(pages.block(PAGE, "config-error"), PAGE, "exec"), {})
    assert ast.literal_eval(printed.getvalue()) == ["rate: must be a number between 0 and 1"]
    assert issubclass(ConfigError, ValueError)


def test_both_forms_of_the_decorator_shown_decorate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare and called, as written: both decorate at import, with the options shown accepted."""
    namespace: dict[str, Any] = {}
    exec(compile(pages.block(PAGE, "decorator forms"), PAGE, "exec"), namespace)
    assert namespace["handler"].__wrapped__.__name__ == "handler"  # the second one, options and all
