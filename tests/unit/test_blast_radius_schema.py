"""chaos_layer/schema.json describes the blast-radius controls exactly as the library checks
them (tests/cli/test_schema.py covers the top-level keys; this goes inside the controls)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chaos_layer.config import parse_config
from chaos_layer.exceptions import ConfigError

SCHEMA: dict[str, Any] = json.loads(resources.files("chaos_layer").joinpath("schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
# The one rule a JSON Schema cannot express: a regex must be one RE2 can run.
RE2_ONLY = "must be a regular expression in RE2 syntax"


def library_accepts(document: dict[str, Any]) -> bool:
    try:
        parse_config(document)
    except ConfigError:
        return False
    return True


def with_controls(**controls: Any) -> dict[str, Any]:
    return {"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}], **controls}


CONTROLS: list[tuple[dict[str, Any], bool]] = [
    ({"dry_run": True}, True),
    ({"dry_run": False}, True),
    ({"dry_run": None}, False),
    ({"targets": {"functions": ["a*"]}}, True),
    ({"targets": {"qualifiers": ["$LATEST", "live", "3"]}}, True),
    ({"targets": {"functions": ["a"], "qualifiers": ["b"]}}, True),
    ({"targets": {}}, False),
    ({"targets": {"functions": []}}, False),
    ({"targets": {"functions": [""]}}, False),
    ({"targets": {"functions": [" "]}}, True),
    ({"targets": {"functions": "a*"}}, False),
    ({"targets": {"qualifiers": [3]}}, False),
    ({"targets": {"functions": ["a"], "names": ["b"]}}, False),
    ({"targets": ["a"]}, False),
    ({"match": [{"path": "a.b", "equals": {"x": [1, None]}}]}, True),
    ({"match": [{"path": "a", "equals": None}]}, True),
    ({"match": [{"path": "Records.0.eventSource", "prefix": ""}]}, True),
    ({"match": [{"path": "a", "regex": "^x(y|z)+$"}]}, True),
    ({"match": [{"path": "a", "regex": ""}]}, True),
    ({"match": [{"path": "a", "regex": "a" * 256}]}, True),
    ({"match": [{"path": "a", "regex": "a" * 257}]}, False),
    ({"match": [{"path": "a", "regex": "(unclosed"}]}, False),
    ({"match": [{"path": "a", "regex": "\\"}]}, False),
    ({"match": [{"path": "a", "exists": False}]}, True),
    ({"match": [{"path": "a", "exists": 0}]}, False),
    ({"match": [{"path": "a", "prefix": 1}]}, False),
    ({"match": [{"path": "a"}]}, False),
    ({"match": [{"path": "a", "equals": 1, "exists": True}]}, False),
    ({"match": [{"path": "a", "regex": 1, "prefix": "x"}]}, False),
    ({"match": [{"equals": 1}]}, False),
    ({"match": [{"path": "", "equals": 1}]}, False),
    ({"match": [{"path": ".a", "equals": 1}]}, False),
    ({"match": [{"path": "a.", "equals": 1}]}, False),
    ({"match": [{"path": "a..b", "equals": 1}]}, False),
    ({"match": [{"path": 1, "equals": 1}]}, False),
    ({"match": [{"path": "a", "equals": 1, "note": "x"}]}, False),
    ({"match": []}, False),
    ({"match": {"path": "a", "equals": 1}}, False),
    ({"match": ["a"]}, False),
    ({"cohort": {"key": "user", "percent": 5}}, True),
    ({"cohort": {"key": "a.0.b", "percent": 0.25, "salt": ""}}, True),
    ({"cohort": {"key": "user", "percent": 0}}, True),
    ({"cohort": {"key": "user", "percent": 100}}, True),
    ({"cohort": {"key": "user", "percent": 100.5}}, False),
    ({"cohort": {"key": "user", "percent": -1}}, False),
    ({"cohort": {"key": "user", "percent": "5"}}, False),
    ({"cohort": {"key": "user", "percent": False}}, False),
    ({"cohort": {"key": "user"}}, False),
    ({"cohort": {"percent": 5}}, False),
    ({"cohort": {"key": "", "percent": 5}}, False),
    ({"cohort": {"key": "user", "percent": 5, "salt": None}}, False),
    ({"cohort": {"key": "user", "percent": 5, "extra": 1}}, False),
    ({"cohort": []}, False),
]


@pytest.mark.parametrize(("controls", "valid"), CONTROLS)
def test_schema_and_library_agree_on_the_controls(controls: dict[str, Any], valid: bool) -> None:
    document = with_controls(**controls)
    assert library_accepts(document) is valid
    assert VALIDATOR.is_valid(document) is valid


def test_the_controls_hold_for_a_disabled_experiment_too() -> None:
    document = {"enabled": False, "cohort": {"key": "user"}}
    assert not library_accepts(document)
    assert not VALIDATOR.is_valid(document)


def test_what_re2_cannot_run_is_left_to_the_library() -> None:
    document = with_controls(match=[{"path": "a", "regex": "(?<=a)b"}])
    assert VALIDATOR.is_valid(document)
    with pytest.raises(ConfigError, match=RE2_ONLY):
        parse_config(document)


def test_the_schema_example_with_every_control_is_valid() -> None:
    examples = [e for e in SCHEMA["$defs"]["config"]["examples"] if {"targets", "match", "cohort"} <= e.keys()]
    assert examples
    for example in examples:
        assert library_accepts(example)
        assert VALIDATOR.is_valid(example)
