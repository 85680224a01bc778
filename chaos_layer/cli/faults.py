"""`--fault TYPE key=value ...` for `chaos-layer start`: any fault type from flags.

The keys a fault type takes, and how each value is read, come from its declarations
(chaos_layer.contract): a number, a whole number, true/false, a string, a list as
`a,b,c` (or a JSON array), an object as `name:value,name2:value2` (or a JSON object). A value
that cannot be read is a usage error that says what to give; the library's own rules (ranges,
patterns, which keys go together) are checked with the whole config, as for every fault flag.

Click gives an option one value, so `FaultCommand` joins the words that follow `--fault`
(up to the next option) into one before parsing: both `--fault dependency services=s3
delay_ms=200` and `--fault 'dependency services=s3 delay_ms=200'` work, and it repeats.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from typing import Any

from typer.core import TyperCommand

from chaos_layer.contract import Boolean, Field, Kind, ListOf, Nested, Number, StringMap
from chaos_layer.control import UsageError
from chaos_layer.faults import FAULT_TYPES

FLAG = "--fault"
HELP = (
    "Add a fault of any type: TYPE key=value ..., e.g. --fault dependency services=dynamodb"
    f" error=ThrottlingException. Repeatable. Types: {', '.join(FAULT_TYPES)}."
)


def gather(args: Sequence[str]) -> list[str]:
    """The command line with the words after each `--fault` joined into its one value
    (quoted, so `parse` splits them back as they were; one word stays as the user wrote it)."""
    gathered: list[str] = []
    words: list[str] | None = None
    for arg in args:
        if words is not None and arg.startswith("-"):
            gathered.append(_joined(words))
            words = None
        if words is not None:
            words.append(arg)
        elif arg == FLAG:
            gathered.append(arg)
            words = []
        elif arg.startswith(FLAG + "="):
            gathered.append(FLAG)
            words = [arg[len(FLAG) + 1 :]]
        else:
            gathered.append(arg)
    if words:
        gathered.append(_joined(words))
    return gathered


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else shlex.join(words)


class FaultCommand(TyperCommand):
    """A command whose `--fault` takes the words that follow it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: Typer's own Click's Context
        return super().parse_args(ctx, gather(args))


def parse(spec: str) -> dict[str, Any]:
    """`dependency services=dynamodb error=ThrottlingException` as a fault object."""
    try:
        words = shlex.split(spec)
    except ValueError as error:
        raise UsageError(f"{FLAG} {spec!r}: {error}") from None
    if not words:
        raise UsageError(f"{FLAG} needs a fault type: {', '.join(FAULT_TYPES)}")
    kind, *pairs = words
    fault_type = FAULT_TYPES.get(kind)
    if fault_type is None:
        raise UsageError(f"{FLAG} {kind!r} is not a fault type: {', '.join(FAULT_TYPES)}")
    keys = {declared.name: declared for declared in fault_type.config_fields}
    fault: dict[str, Any] = {"type": kind}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals or key not in keys:
            raise UsageError(f"{FLAG} {kind}: {pair!r} is not key=value with a key of {kind}: {', '.join(keys)}")
        if key in fault:
            raise UsageError(f"{FLAG} {kind}: {key} is given twice")
        fault[key] = value(kind, keys[key], text)
    return fault


def value(kind: str, declared: Field, text: str) -> Any:
    try:
        return from_text(declared.kind, text)
    except ValueError as expected:
        raise UsageError(f"{FLAG} {kind} {declared.name}={text!r} is not {expected}") from None


def from_text(kind: Kind, text: str) -> Any:
    """The value `text` stands for; ValueError says what to give instead."""
    if isinstance(kind, Boolean):
        word = text.strip().lower()
        if word in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return word in ("true", "yes", "on", "1")
        raise ValueError("true or false")
    if isinstance(kind, Number):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (kind.integer and not number.is_integer()):
            raise ValueError(kind.phrase)
        return int(number) if number.is_integer() else number
    if isinstance(kind, ListOf):
        if text.lstrip().startswith("["):
            return _json(text, list, "a comma-separated list, or a JSON array")
        try:
            return [from_text(kind.item, part.strip()) for part in text.split(",") if part.strip()]
        except ValueError as error:
            raise ValueError(f"a comma-separated list, each {error}") from None
    if isinstance(kind, StringMap):
        hint = "name:value pairs such as Retry-After:1,X-Reason:chaos, or a JSON object of strings"
        if text.lstrip().startswith("{"):
            return _json(text, dict, hint)
        pairs = [part.partition(":") for part in text.split(",") if part.strip()]
        if not all(colon and name.strip() for name, colon, _ in pairs):
            raise ValueError(hint)
        return {name.strip(): content.strip() for name, _, content in pairs}
    if isinstance(kind, Nested):
        return _json(text, dict, "a JSON object")
    if type(kind) is Kind:  # any JSON value: JSON if it reads as JSON, else the text
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text  # a string, a name, a timestamp: as given


def _json(text: str, expected: type, hint: str) -> Any:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, expected):
        raise ValueError(hint)
    return parsed
