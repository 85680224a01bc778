"""`chaos-layer schema --draft-04`: the schema an AWS AppConfig JSON Schema validator takes
(draft-04, at most 32,768 characters) gives every document the verdict schema.json gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft4Validator

from tests.cli.conftest import Cli
from tests.cli.test_schema import AGREED, VALIDATOR, _single_changes, documents

APPCONFIG_VALIDATOR_LIMIT = 32_768  # characters of a validator's Content


@pytest.fixture(scope="module")
def draft_04() -> dict[str, Any]:
    from typer.testing import CliRunner

    from chaos_layer.cli.app import app

    result = CliRunner().invoke(app, ["schema", "--draft-04"])
    assert result.exit_code == 0
    assert len(result.stdout) <= APPCONFIG_VALIDATOR_LIMIT
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_it_is_a_valid_draft_04_schema(draft_04: dict[str, Any]) -> None:
    assert draft_04["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(draft_04)
    text = json.dumps(draft_04)
    assert "$defs" not in text
    assert '"const"' not in text


def test_the_documented_cases_get_the_same_verdict(draft_04: dict[str, Any]) -> None:
    validator = Draft4Validator(draft_04, format_checker=Draft4Validator.FORMAT_CHECKER)
    for document, valid in AGREED:
        assert validator.is_valid(document) is valid, document


@pytest.mark.slow
def test_every_single_change_to_an_example_gets_the_same_verdict(draft_04: dict[str, Any]) -> None:
    validator = Draft4Validator(draft_04, format_checker=Draft4Validator.FORMAT_CHECKER)
    differing = [d for d in _single_changes() if validator.is_valid(d) is not VALIDATOR.is_valid(d)]
    assert not differing, differing[:5]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(documents())
def test_generated_documents_get_the_same_verdict(draft_04: dict[str, Any], document: object) -> None:
    validator = Draft4Validator(draft_04, format_checker=Draft4Validator.FORMAT_CHECKER)
    assert validator.is_valid(document) is VALIDATOR.is_valid(document)


def test_the_cli_prints_it(cli: Cli) -> None:
    result = cli("schema", "--draft-04")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["$schema"] == "http://json-schema.org/draft-04/schema#"
