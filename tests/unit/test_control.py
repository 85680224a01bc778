"""The operator API speaks of its own arguments; only the CLI names flags."""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chaos_layer import control
from chaos_layer.control import AwsError, Controller, UsageError

FLAG = re.compile(r"(?<![\w-])--[a-z]")


def test_parse_duration_names_no_flag() -> None:
    assert control.parse_duration("1h30m") == 5400.0
    with pytest.raises(UsageError) as error:
        control.parse_duration("15")
    assert str(error.value) == "duration '15' is not a duration such as 90s, 15m, 2h or 1h30m"
    with pytest.raises(UsageError, match=r"^duration must be longer than zero$"):
        control.parse_duration("0m")


def test_settings_are_named_as_the_api_takes_them() -> None:
    with pytest.raises(UsageError, match=r"^no config parameter: pass parameter or set CHAOS_LAYER_PARAM$"):
        _ = Controller(client=None).parameter
    until = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match=r"^give duration or until, not both$"):
        Controller(None, "/p").start({"enabled": True}, duration=60, until=until)
    with pytest.raises(UsageError, match=r"^the config is in chaos-lambda's format.*; give a new document to write"):
        control.enable({"is_enabled": False}, experiment="x")


def test_a_caller_names_the_settings_its_own_way() -> None:
    error = UsageError("give {duration} or {until}, not both")
    assert error.message({"duration": "--duration", "until": "--until"}) == "give --duration or --until, not both"
    assert error.message({"duration": "--duration"}) == "give --duration or until, not both"


def test_other_braces_in_a_message_are_left_alone() -> None:
    error = AwsError("could not read /p: ValidationException: {region} must match {pattern}")
    assert error.message({"region": "--region"}) == (
        "could not read /p: ValidationException: --region must match {pattern}"
    )


def test_no_message_of_the_operator_api_names_a_flag() -> None:
    tree = ast.parse(Path(control.__file__).read_text(encoding="utf-8"))
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
    assert [text for text in strings if FLAG.search(text)] == []
