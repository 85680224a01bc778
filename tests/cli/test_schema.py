"""chaos_layer/schema.json must accept exactly the documents the library accepts.

The schema is generated from the declarations (chaos_layer.cli.reference), and validation is
driven by the same declarations (chaos_layer.contract), through other code: these tests
check the two agree. The library (chaos_layer.config.parse_config) is the source of truth:
the keys the schema lists must be the declared ones and the ones the library reads (watched
on `Fields`), for every fault type of the registry. Each fault type's `examples` (valid
fault objects) are in its `$defs` entry: the generated documents start from them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from chaos_layer.config import LEGACY_KEYS, Config, parse_config
from chaos_layer.contract import Fields
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.faults import FAULT_TYPES
from chaos_layer.faults.exception import EXCEPTIONS

SCHEMA: dict[str, Any] = json.loads(resources.files("chaos_layer").joinpath("schema.json").read_text())
DEFS: dict[str, Any] = SCHEMA["$defs"]
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

# Rules JSON Schema cannot express (it cannot compare two values): the schema accepts these
# documents and the library refuses them with exactly these messages.
INEXPRESSIBLE = frozenset({"must not be less than min_ms"})
# Built-in exceptions that only some supported Python versions have; schema.json lists the rest.
VERSION_SPECIFIC_EXCEPTIONS = frozenset({"PythonFinalizationError", "EncodingWarning"})


def library_problems(document: object) -> list[Problem]:
    try:
        parse_config(document)
    except ConfigError as error:
        return error.problems or [Problem("", "a ConfigError without problems")]
    return []


def schema_accepts(document: object) -> bool:
    return bool(VALIDATOR.is_valid(document))


def fault_examples(kind: str) -> list[dict[str, Any]]:
    return list(DEFS.get(kind, {}).get("examples", []))


def all_fault_examples() -> list[dict[str, Any]]:
    return [example for kind in FAULT_TYPES for example in fault_examples(kind)]


@pytest.fixture
def keys_read(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Every key the library looks at, by the location of the object it was read from."""
    seen: dict[str, set[str]] = {}
    finish = Fields.finish

    def spy(self: Fields) -> None:
        seen.setdefault(self.location, set()).update(self.seen)
        finish(self)

    monkeypatch.setattr(Fields, "finish", spy)
    return seen


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_every_fault_type_of_the_library_is_in_the_schema() -> None:
    assert set(DEFS["fault"]["properties"]["type"]["enum"]) == set(FAULT_TYPES)
    for kind in FAULT_TYPES:
        assert DEFS[kind]["properties"]["type"] == {"const": kind}
        branch = {
            "if": {"required": ["type"], "properties": {"type": {"const": kind}}},
            "then": {"$ref": f"#/$defs/{kind}"},
        }
        assert branch in DEFS["fault"]["allOf"], f"$defs/fault does not dispatch type {kind} to $defs/{kind}"
        assert fault_examples(kind), f"$defs/{kind} needs examples"


@pytest.mark.parametrize("kind", sorted(FAULT_TYPES))
def test_each_fault_type_has_the_keys_the_library_reads(kind: str, keys_read: dict[str, set[str]]) -> None:
    # a bare fault takes the library through its "what is missing" branches, the examples through the rest
    for fault in [{"type": kind}, *fault_examples(kind)]:
        library_problems({"enabled": True, "faults": [fault]})
    declared = {"type"} | {key.name for key in FAULT_TYPES[kind].config_fields}
    assert set(DEFS[kind]["properties"]) == keys_read["faults[0]"] == declared


def test_the_top_level_has_the_keys_the_library_reads(keys_read: dict[str, set[str]]) -> None:
    for document in [{"enabled": True}, *DEFS["config"]["examples"]]:
        library_problems(document)
    assert set(DEFS["config"]["properties"]) == keys_read[""] == {key.name for key in Config.config_fields}


def test_the_legacy_format_has_the_keys_the_library_reads() -> None:
    assert set(DEFS["legacy"]["properties"]) == LEGACY_KEYS


def test_exception_names_are_the_allow_list() -> None:
    listed = set(DEFS["exception"]["properties"]["exception"]["enum"])
    assert listed <= set(EXCEPTIONS)
    assert set(EXCEPTIONS) - listed <= VERSION_SPECIFIC_EXCEPTIONS
    assert {"SystemExit", "KeyboardInterrupt", "GeneratorExit"}.isdisjoint(listed)


def test_every_example_in_the_schema_is_a_valid_config() -> None:
    documents = [
        *DEFS["config"]["examples"],
        *DEFS["legacy"]["examples"],
        *({"enabled": True, "faults": [fault]} for fault in all_fault_examples()),
    ]
    for document in documents:
        assert library_problems(document) == []
        assert schema_accepts(document), document


# Documents both sides must agree on, including the library's trickier rules.
AGREED = [
    ({"enabled": False}, True),
    ({"enabled": True, "faults": []}, True),
    ({"enabled": True}, False),  # faults required when enabled
    ({"enabled": 1, "faults": []}, False),
    ({"enabled": False, "experiment": "  "}, False),
    ({"enabled": False, "expires_at": "2026-11-27T15:00:00+01:00"}, True),
    ({"enabled": False, "expires_at": "2026-11-27T15:00:00"}, False),  # no offset
    ({"enabled": False, "expires_at": "2026-02-30T15:00:00Z"}, False),
    ({"enabled": False, "rate": 1.5}, False),
    ({"enabled": False, "rate": True}, False),
    ({"enabled": False, "dry_run_typo": True}, False),
    ({"enabled": True, "faults": [{"type": "latency", "delay_ms": 1, "min_ms": 1}]}, False),
    ({"enabled": True, "faults": [{"type": "latency", "min_ms": 1}]}, False),
    ({"enabled": True, "faults": [{"type": "latency"}]}, False),
    ({"enabled": True, "faults": [{"type": "exception", "exception": "SystemExit"}]}, False),
    ({"enabled": True, "faults": [{"type": "status_code", "status_code": 503.0}]}, True),
    ({"enabled": True, "faults": [{"type": "status_code", "status_code": 503.5}]}, False),
    ({"enabled": True, "faults": [{"type": "status_code", "status_code": 503, "headers": {"a": 1}}]}, False),
    ({"enabled": True, "faults": [{"type": "nope"}]}, False),
    ({"enabled": True, "faults": [{"delay_ms": 1}]}, False),
    ([], False),
    ({}, False),
    ({"rate": 0.5}, False),  # a legacy key without is_enabled
    ({"is_enabled": False}, True),
    ({"is_enabled": False, "fault_type": "anything"}, True),
    ({"is_enabled": True, "fault_type": "anything"}, False),
    ({"is_enabled": True, "fault_type": "latency"}, False),
    ({"is_enabled": True, "fault_type": "exception", "exception_msg": "x", "delay": "ignored"}, True),
    ({"is_enabled": True, "fault_type": "status_code", "error_code": 600}, False),
    ({"is_enabled": True, "fault_type": "latency", "delay": 1, "enabled": True}, False),
]


@pytest.mark.parametrize(("document", "valid"), AGREED)
def test_schema_and_library_agree(document: object, valid: bool) -> None:
    assert (library_problems(document) == []) is valid
    assert schema_accepts(document) is valid


def test_a_rule_the_schema_cannot_express_is_left_to_validate() -> None:
    document = {"enabled": True, "faults": [{"type": "latency", "min_ms": 800, "max_ms": 100}]}
    assert schema_accepts(document)
    assert [p.message for p in library_problems(document)] == ["must not be less than min_ms"]


def _schema_strings(node: object) -> Iterator[object]:
    """Every enum member and const in the schema: values likely to hit a branch."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum":  # a few members of each: the long allow-lists add time, not cases
                yield from value[:3]
            elif key == "const":
                yield value
            else:
                yield from _schema_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_strings(item)


GENERIC_VALUES: list[object] = [
    None, True, False, 0, 1, -1, -0.5, 0.5, 1.5, 99, 100, 503, 503.5, 599, 600, 1000,
    900_000, 900_001, 10**12, -(10**12),
    "", " ", "x", "2026-11-27T15:00:00Z", "2026-11-27T15:00:00+01:00", "2026-11-27T15:00:00", "soon",
    [], [1], ["a"], {}, {"a": "b"}, {"a": 1},
]  # fmt: skip
EXAMPLE_VALUES = [
    value
    for example in [*DEFS["config"]["examples"], *DEFS["legacy"]["examples"], *all_fault_examples()]
    for value in example.values()
]
POOL = list(
    {
        json.dumps(value, sort_keys=True): value
        for value in (*GENERIC_VALUES, *EXAMPLE_VALUES, *_schema_strings(SCHEMA))
    }.values()
)
VALUES = st.sampled_from(POOL)


def _keys(*objects: dict[str, Any]) -> list[str]:
    return sorted({key for obj in objects for key in obj.get("properties", {})} | {"unknown"})


@st.composite
def mutated(draw: st.DrawFn, examples: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """A valid example with a few keys dropped, added or given another value."""
    document = dict(draw(st.sampled_from(examples)))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(keys))
        if key in document and draw(st.booleans()):
            del document[key]
        else:
            document[key] = draw(VALUES)
    return document


FAULTS = mutated(all_fault_examples(), _keys(*(DEFS.get(kind, {}) for kind in FAULT_TYPES)))


@st.composite
def documents(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 9)) == 0:
        return draw(mutated(DEFS["legacy"]["examples"], _keys(DEFS["legacy"], DEFS["config"])))
    document = draw(mutated(DEFS["config"]["examples"], _keys(DEFS["config"], DEFS["legacy"])))
    if isinstance(document.get("faults"), list) and draw(st.booleans()):
        document["faults"] = draw(st.lists(FAULTS, max_size=3))
    return document


def _disagreement(document: object) -> str | None:
    problems = library_problems(document)
    if schema_accepts(document):
        if {p.message for p in problems} <= INEXPRESSIBLE:
            return None
        return f"the schema accepts what the library refuses ({'; '.join(map(str, problems))}): {document}"
    return None if problems else f"the library accepts what the schema refuses: {document}"


def _single_changes() -> Iterator[object]:
    """Every example with one of its format's keys removed, or set to each value of the pool
    (plus one key of the other format or another fault type, which must be unknown)."""
    cases: list[tuple[dict[str, Any], list[str], Callable[[dict[str, Any]], object]]] = []
    for example in DEFS["config"]["examples"]:
        cases.append((example, [*_keys(DEFS["config"]), "is_enabled"], lambda d: d))
    for example in DEFS["legacy"]["examples"]:
        cases.append((example, [*_keys(DEFS["legacy"]), "enabled", "faults"], lambda d: d))
    for kind in FAULT_TYPES:
        others = sorted({key for other in FAULT_TYPES for key in DEFS.get(other, {}).get("properties", {})})
        for example in fault_examples(kind):
            keys = _keys(DEFS[kind]) + [key for key in others if key not in DEFS[kind]["properties"]][:1]
            cases.append((example, keys, lambda d: {"enabled": True, "faults": [d]}))
    for example, keys, document in cases:
        for key in keys:
            yield document({k: v for k, v in example.items() if k != key})
            for value in POOL:
                yield document({**example, key: value})


@pytest.mark.slow
def test_every_single_change_to_an_example_gets_the_same_verdict() -> None:
    disagreements = [d for d in map(_disagreement, _single_changes()) if d]
    assert not disagreements, "\n".join(disagreements[:10])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_schema_accepts_exactly_what_the_library_accepts(document: object) -> None:
    assert _disagreement(document) is None
