"""The reference documents, generated from the declarations (chaos_layer.contract):
`chaos_layer/schema.json`, and the tables of the documentation's pages (README.md and docs/*.md)
between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED -->`.
`python -m chaos_layer.cli.reference` (`make schema`) rewrites them all; `--check` exits 1 when
any is stale, as tests/unit/test_reference.py does.

Blocks: `config` (the document's keys), `faults TYPE ...` (those fault types, a summary and
their keys) and `blast-radius` (the filters and their keys). The library never imports this
module: it is for the repository.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from chaos_layer import contract
from chaos_layer.config import BLAST_RADIUS, LEGACY_KEYS, Config
from chaos_layer.contract import REQUIRED, Choice, Declared, Field, Kind
from chaos_layer.faults import FAULT_TYPES, Fault, FaultList
from chaos_layer.faults.base import MAX_WAIT_MS

PACKAGE = Path(__file__).resolve().parent.parent
SCHEMA_PATH = PACKAGE / "schema.json"
README_PATH = PACKAGE.parent / "README.md"
DOCS_PATH = PACKAGE.parent / "docs"
SCHEMA_ID = "https://github.com/chaos-layer/chaos-layer/blob/main/chaos_layer/schema.json"
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- END GENERATED -->)", re.DOTALL)


# --- schema.json ---------------------------------------------------------------------------


def schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    defs["config"] = {"title": "chaos-layer config", **object_schema(Config, defs)}
    defs["legacy"] = legacy_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "chaos-layer config",
        "description": (
            "The JSON document at the location CHAOS_LAYER_PARAM names (an SSM parameter, an S3 object or an"
            " AppConfig profile). Generated from the library's own"
            " declarations (python -m chaos_layer.cli.reference); `chaos-layer validate FILE` applies the library's"
            " rules themselves, including the ones this schema cannot express: a latency fault's min_ms must not"
            " exceed max_ms, a match regex must not repeat a repetition inside an open-ended one, and expires_at"
            " may also use any other ISO-8601 form Python reads."
        ),
        "oneOf": [{"$ref": "#/$defs/config"}, {"$ref": "#/$defs/legacy"}],
        "$defs": defs,
    }


def object_schema(
    declared: type[Declared], defs: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A declared object's schema; `extra` properties go first (a fault's `type`)."""
    keys = declared.config_fields
    schema: dict[str, Any] = {}
    if declared.description:
        schema["description"] = declared.description
    schema["type"] = "object"
    schema["additionalProperties"] = False
    chosen = {key for choice in declared.choices for key in choice.keys}
    required = [f.name for f in keys if f.default is REQUIRED and not f.required_if and f.name not in chosen]
    if required:
        schema["required"] = required
    schema["properties"] = {**(extra or {}), **{f.name: field_schema(f, defs) for f in keys}}
    parts = [choice_schema(choice) for choice in declared.choices] + [
        {
            "if": {"required": [f.required_if], "properties": {f.required_if: {"const": True}}},
            "then": {"required": [f.name]},
        }
        for f in keys
        if f.required_if
    ]
    parts += [dict(rule) for rule in declared.schema_rules]
    if len(parts) == 1:
        schema.update(parts[0])
    elif parts:
        schema["allOf"] = parts
    if declared.examples:
        schema["examples"] = [dict(example) for example in declared.examples]
    return schema


def field_schema(declared: Field, defs: dict[str, Any]) -> dict[str, Any]:
    schema = kind_schema(declared.kind, defs)
    if declared.default not in (REQUIRED, None, ()):  # () is "absent": no limit
        schema["default"] = plain(declared.default)
    if declared.doc:
        schema["description"] = declared.doc
    if declared.examples:
        schema["examples"] = list(declared.examples)
    return schema


def kind_schema(kind: Kind, defs: dict[str, Any], item: bool = False) -> dict[str, Any]:
    """The JSON Schema of a value of `kind` (`item`: as a list's item)."""
    if isinstance(kind, contract.Boolean):
        return {"type": "boolean"}
    if isinstance(kind, contract.Text):
        return text_schema(kind, item)
    if isinstance(kind, contract.Number):
        schema: dict[str, Any] = {"type": "integer" if kind.integer else "number"}
        schema.update({k: plain(v) for k, v in (("minimum", kind.minimum), ("maximum", kind.maximum)) if v is not None})
        return schema
    if isinstance(kind, contract.StringMap):
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if isinstance(kind, contract.Timestamp):
        # The forms every validator's date-time takes; Python reads a few more.
        offset = "([Zz]|[+-][0-9]{2}:[0-9]{2})"
        pattern = f"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\\.[0-9]+)?)?{offset}$"
        return {"type": "string", "format": "date-time", "pattern": pattern}
    if isinstance(kind, contract.Names):
        return {"enum": sorted(kind.documented)}
    if isinstance(kind, contract.ListOf):
        schema = {"type": "array", "minItems": 1} if kind.non_empty else {"type": "array"}
        return {**schema, "items": kind_schema(kind.item, defs, item=True)}
    if isinstance(kind, contract.Nested):
        return {"$ref": f"#/$defs/{nested_schema(kind.declared, defs)}"}
    if isinstance(kind, FaultList):
        return {"type": "array", "items": {"$ref": f"#/$defs/{faults_schema(defs)}"}}
    return {}  # any JSON value


def text_schema(kind: contract.Text, item: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if kind.format:
        schema["format"] = kind.format
    if kind.max_length is not None:
        schema["maxLength"] = kind.max_length
    if item and not kind.rules:
        schema["minLength"] = 1
    # A rule matches from the start in Python; a JSON Schema pattern is searched (ECMA-262).
    patterns = ["^" + (p[:-2] + "$" if p.endswith("\\Z") else p) for p in (regex.pattern for regex, _ in kind.rules)]
    if kind.non_empty and not patterns:
        patterns = ["\\S"]
    if len(patterns) == 1:
        schema["pattern"] = patterns[0]
    elif patterns:
        schema["allOf"] = [{"pattern": pattern} for pattern in patterns]
    return schema


def choice_schema(choice: Choice) -> dict[str, Any]:
    if not choice.at_most_one:
        return {"anyOf": [{"required": list(group)} for group in choice.groups]}
    if all(len(group) == 1 for group in choice.groups):
        return {"oneOf": [{"required": list(group)} for group in choice.groups]}
    return {
        "oneOf": [
            {"required": list(group), "not": {"anyOf": [{"required": [k]} for k in choice.keys if k not in group]}}
            for group in choice.groups
        ]
    }


def nested_schema(declared: type[Declared], defs: dict[str, Any]) -> str:
    if declared.schema_name not in defs:
        defs[declared.schema_name] = {}  # reserved first: a declaration may refer to itself
        defs[declared.schema_name] = object_schema(declared, defs)
    return declared.schema_name


def faults_schema(defs: dict[str, Any]) -> str:
    """`fault`: a `type` of the registry, and the keys of that type."""
    if "fault" not in defs:
        defs["fault"] = {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": list(FAULT_TYPES)}},
            "allOf": [
                {
                    "if": {"required": ["type"], "properties": {"type": {"const": kind}}},
                    "then": {"$ref": f"#/$defs/{kind}"},
                }
                for kind in FAULT_TYPES
            ],
        }
        for kind, fault_type in FAULT_TYPES.items():
            defs[kind] = object_schema(fault_type, defs, {"type": {"const": kind}})
    return "fault"


def plain(value: Any) -> Any:
    """1.0 as 1, a tuple as a list: for documents people read."""
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def legacy_schema() -> dict[str, Any]:
    """chaos-lambda 0.3's format: fixed, so written out rather than declared."""
    rate = {"type": "number", "minimum": 0, "maximum": 1, "default": 1}
    properties: dict[str, Any] = {
        "is_enabled": {"type": "boolean"},
        "rate": {**rate, "description": "Fraction (0..1) of invocations this applies to."},
        "fault_type": {"type": "string"},
        "delay": {"description": "Milliseconds, for fault_type latency."},
        "error_code": {"description": "Status code, for fault_type status_code."},
        "exception_msg": {"description": "Message, for fault_type exception."},
    }
    assert set(properties) == LEGACY_KEYS

    def when(key: str, value: object, then: dict[str, Any]) -> dict[str, Any]:
        return {"if": {"required": [key], "properties": {key: {"const": value}}}, "then": then}

    def needs(key: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"required": [key], "properties": {key: schema}}

    return {
        "title": "chaos-lambda 0.3 config",
        "description": "The format of the chaos-lambda package, accepted as it was there.",
        "type": "object",
        "required": ["is_enabled"],
        "additionalProperties": False,
        "properties": properties,
        "allOf": [
            when("is_enabled", True, needs("fault_type", {"enum": ["latency", "exception", "status_code", ""]})),
            when("fault_type", "latency", needs("delay", {"type": "number", "minimum": 0, "maximum": MAX_WAIT_MS})),
            when("fault_type", "exception", needs("exception_msg", {"type": "string"})),
            when("fault_type", "status_code", needs("error_code", {"type": "integer", "minimum": 100, "maximum": 599})),
        ],
        "examples": [
            {
                "is_enabled": True,
                "fault_type": "latency",
                "delay": 400,
                "error_code": 404,
                "exception_msg": "chaos",
                "rate": 1,
            },
            {"is_enabled": True, "fault_type": "status_code", "error_code": 503},
            {"is_enabled": True, "fault_type": "exception", "exception_msg": "chaos", "rate": 0.5},
            {"is_enabled": False},
        ],
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


# --- the pages' tables ---------------------------------------------------------------------


def _code(value: object) -> str:
    return f"`{json.dumps(plain(value), ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(declared: Field, owner: type[Declared]) -> str:
    choice = next((c for c in owner.choices if declared.name in c.keys), None)
    if choice is not None:
        return _choice(choice)
    if declared.required_if:
        return f"required when `{declared.required_if}`"
    if declared.default is REQUIRED:
        return "required"
    if declared.default == ():
        return "all"  # an absent list sets no limit
    return "none" if declared.default is None else _code(declared.default)


def _choice(choice: Choice) -> str:
    groups = [" + ".join(f"`{key}`" for key in group) for group in choice.groups]
    return f"{'one' if choice.at_most_one else 'at least one'} of {', '.join(groups)}"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def label(kind: Kind) -> str:
    """What a value of `kind` is, in the documentation's words."""
    if kind.label:
        return kind.label
    if isinstance(kind, contract.Number):
        low, high = (None if v is None else f"{v:g}" for v in (kind.minimum, kind.maximum))
        span = f"{low}..{high}" if low and high else f">= {low}" if low else f"<= {high}" if high else ""
        return f"{'whole number' if kind.integer else 'number'} {span}".strip()
    if isinstance(kind, contract.ListOf):
        item = label(kind.item)
        return "list of " + (item.replace("number", "numbers", 1) if "number" in item else f"{item}s")
    names = {
        contract.Boolean: "bool",
        contract.Text: "string",
        contract.StringMap: "object of strings",
        contract.Timestamp: "ISO-8601 with offset",
    }
    names.update({contract.Names: "name", contract.Nested: "object", FaultList: "list of faults"})
    return next((name for cls, name in names.items() if isinstance(kind, cls)), "any JSON value")


def _rows(owner: type[Declared], fields: Iterable[Field], *first: str) -> Iterator[list[str]]:
    for index, declared in enumerate(fields):
        lead = list(first) if index == 0 else [""] * len(first)
        doc = declared.doc.replace("*", "\\*")  # a glob's * is no emphasis
        yield [*lead, f"`{declared.name}`", label(declared.kind), _default(declared, owner), doc]


def config_table() -> str:
    keys = [f for f in Config.config_fields if f.section != BLAST_RADIUS]
    rows = [row[1:] for row in _rows(Config, keys, "")]
    rows += [[f"fault {row[1]}", *row[2:]] for row in _rows(Fault, Fault.config_fields, "")]
    return _table(["key", "value", "default", "meaning"], rows)


def faults_table(kinds: Iterable[str]) -> str:
    types = [FAULT_TYPES[kind] for kind in kinds]
    summary = _table(
        ["type", "runs", "effect"],
        [
            [
                f"`{t.type}`",
                "ends the invocation" if t.ends_invocation else "surrounds the handler",
                t.description.replace("*", "\\*"),
            ]
            for t in types
        ],
    )
    own = [(t, [f for f in t.config_fields if f.name != "rate"]) for t in types]
    rows = (row for kind, fields in own for row in _rows(kind, fields, f"`{kind.type}`"))
    keys = _table(["type", "key", "value", "default", "meaning"], rows)
    return f"{summary}\nEvery fault also takes `rate`. Their keys:\n\n{keys}"


def blast_radius_table() -> str:
    keys = [f for f in Config.config_fields if f.section == BLAST_RADIUS]
    top = _table(["key", "value", "default", "meaning"], (row[1:] for row in _rows(Config, keys, "")))
    rows: list[list[str]] = []
    for declared in keys:
        nested = declared_object(declared)
        if nested is not None:
            where = f"`{declared.name}[]`" if isinstance(declared.kind, contract.ListOf) else f"`{declared.name}`"
            rows += _rows(nested, nested.config_fields, where)
    return f"{top}\n{_table(['filter', 'key', 'value', 'default', 'meaning'], rows)}"


def declared_object(declared: Field) -> type[Declared] | None:
    """The declared class a field's value is (a blast-radius filter), if it is one."""
    kind: Any = declared.kind
    inner = getattr(kind, "declared", None) or getattr(getattr(kind, "item", None), "declared", None)
    return inner if isinstance(inner, type) and issubclass(inner, Declared) else None


def table(name: str) -> str:
    words = name.split()
    if words[0] == "config" and len(words) == 1:
        return config_table()
    if words[0] == "faults" and len(words) > 1 and all(word in FAULT_TYPES for word in words[1:]):
        return faults_table(words[1:])
    if words[0] == "blast-radius" and len(words) == 1:
        return blast_radius_table()
    raise ValueError(f"no generated table named {name!r}")


def page_text(text: str) -> str:
    """A page with every generated block rewritten."""
    return BLOCK.sub(lambda m: f"{m.group(1)}\n{table(m.group('name'))}\n{m.group(4)}", text)


def blocks(text: str) -> list[str]:
    return [match.group("name") for match in BLOCK.finditer(text)]


# --- the command ---------------------------------------------------------------------------


def pages() -> list[Path]:
    """The documentation's pages: the README and the site's Markdown files."""
    return [README_PATH, *sorted(DOCS_PATH.glob("*.md"))]


def main(argv: list[str]) -> int:
    current = {path: path.read_text(encoding="utf-8") for path in (SCHEMA_PATH, *pages())}
    fresh = {path: schema_text() if path == SCHEMA_PATH else page_text(text) for path, text in current.items()}
    stale = [path for path, text in fresh.items() if text != current[path]]
    names = ", ".join(path.name for path in stale)
    if "--check" in argv and stale:
        print(f"stale: {names}; run python -m chaos_layer.cli.reference", file=sys.stderr)
        return 1
    for path in stale:
        path.write_text(fresh[path], encoding="utf-8")
    print(f"rewrote: {names}" if stale else "up to date: schema.json and the pages' tables")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
