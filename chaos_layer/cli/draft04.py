"""The config's JSON Schema (draft 2020-12) rewritten in draft-04, the draft an AWS AppConfig
JSON Schema validator takes, so that AppConfig itself refuses to deploy an invalid config.

Each rewrite keeps the meaning: `$defs` become `definitions`; `const` a one-member `enum`;
`if`/`then`/`else` the equivalent `anyOf` pairs (`not if` or `then`; `if` or `else`);
`dependentSchemas` draft-04's schema `dependencies`; a `$ref` with other keywords beside it
(which draft-04 ignores) moves into an `allOf`; `integer`, which in draft-04 validators may
refuse 503.0, becomes a number that is a multiple of 1, as later drafts define it.
Annotations no validator reads (`examples`, `$comment`) are dropped, to stay under
AppConfig's 32,768 characters for a validator."""

from __future__ import annotations

from typing import Any

DRAFT_04 = "http://json-schema.org/draft-04/schema#"
_DROPPED = frozenset({"examples", "$comment"})
# Keywords whose value is a map of names to schemas, or a schema, or a list of schemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"})
_SCHEMAS = frozenset({"items", "additionalProperties", "not", "if", "then", "else", "additionalItems"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_RENAMED = {"$defs": "definitions", "dependentSchemas": "dependencies"}


def to_draft_04(schema: dict[str, Any]) -> dict[str, Any]:
    converted = _schema(schema)
    converted.pop("$id", None)
    return {"$schema": DRAFT_04, **converted}


def _schema(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    key: str
    out: dict[str, Any] = {}
    conditions: list[dict[str, Any]] = []
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SCHEMA_MAPS:
            out[_RENAMED.get(key, key)] = {name: _schema(child) for name, child in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_schema(child) for child in value]
        elif key in _SCHEMAS:
            out[key] = _schema(value) if not isinstance(value, list) else [_schema(child) for child in value]
        elif key == "const":
            out["enum"] = [value]
        elif key == "$ref":
            out[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "$schema":
            continue
        elif key == "type" and value == "integer":
            out[key] = "number"
            out["multipleOf"] = 1
        else:
            out[key] = value
    if "if" in out:
        condition = out.pop("if")
        then, otherwise = out.pop("then", None), out.pop("else", None)
        if then is not None:
            conditions.append({"anyOf": [{"not": condition}, then]})
        if otherwise is not None:
            conditions.append({"anyOf": [condition, otherwise]})
    if "$ref" in out and len(out) > 1:
        conditions.insert(0, {"$ref": out.pop("$ref")})
    if conditions:
        out["allOf"] = [*out.get("allOf", []), *conditions]
    return out
