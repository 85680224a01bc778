"""The journal of a run: one JSON object, rewritten atomically after every event, which the
report renders. The runner fills a `Journal` and the report reads one: both see the same typed
record, and `Journal.from_json` checks a journal read from a file, field by field."""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from chaos_layer import control
from chaos_layer.experiment.definition import Experiment
from chaos_layer.experiment.observations import Observation

JOURNAL_VERSION = 1


class Verdict(str, Enum):
    HELD = "held"
    REJECTED = "rejected"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    INCONCLUSIVE = "inconclusive"


EXIT_CODES = {
    Verdict.HELD: 0,
    Verdict.REJECTED: 5,
    Verdict.ABORTED: 6,
    Verdict.INCONCLUSIVE: 7,
    Verdict.INTERRUPTED: 130,
}


def instant(seconds: float) -> str:
    """UTC to the millisecond, with a Z."""
    text = datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class MalformedJournal(ValueError):
    """A journal whose JSON does not have the journal's shape; says which field."""


@dataclass
class Record:
    """A part of the journal. Its JSON keys are its fields, in order; those named in `OMITTED`
    are left out while they are None (the journal never had them then)."""

    OMITTED: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            item.name: _to_json(getattr(self, item.name))
            for item in fields(self)
            if not (item.name in self.OMITTED and getattr(self, item.name) is None)
        }


@dataclass
class FileRecord(Record):
    """The experiment file as it was read."""

    path: str
    text: str
    document: dict[str, Any]


@dataclass
class RampStep(Record):
    rate: float
    hold: float


@dataclass
class FunctionTimeout(Record):
    seconds: float
    found: str  # how it was found: read from Lambda, or Lambda's maximum standing in


@dataclass
class StepRecord(Record):
    step: int  # 1-based
    rate: float
    hold: float
    started_at: str
    ends_at: str | None = None
    ended_at: str | None = None
    completed: bool = False


@dataclass
class WriteRecord(Record):
    """One write to the config or the kill switch; `error` when it did not land, or what it did
    besides (replaced someone else's write)."""

    at: str
    action: str  # step N, renew, stop, kill, restore
    parameter: str
    version: int | None = None
    config: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class CheckRecord(Record):
    """One reading of a check; the breach is the reading that broke the steady state."""

    OMITTED = frozenset({"comparison"})

    at: str
    phase: str  # before, during, after
    step: int | None
    check: str
    kind: str
    value: float | str | None
    status: str  # ok, breach, no_data, insufficient, inconclusive
    detail: str | None = None
    comparison: dict[str, Any] | None = None  # a comparison's groups, statistics and bounds

    @classmethod
    def of(cls, reading: Observation, phase: str, step: int | None) -> CheckRecord:
        """`step` 1-based, None outside the ramp."""
        comparison = dict(reading.data) if reading.data is not None else None
        return cls(
            instant(reading.at), phase, step, reading.check, reading.kind, reading.value,
            reading.status.value, reading.detail, comparison,
        )  # fmt: skip


@dataclass
class StopRecord(Record):
    OMITTED = frozenset({"error", "left_as_written_by_someone_else", "kill_switch_engaged", "kill_error"})

    at: str | None = None
    reaches_all_by: str | None = None
    ok: bool = False
    kill_switch: bool = False  # asked to engage it (on_breach: kill)
    error: str | None = None
    left_as_written_by_someone_else: bool | None = None
    kill_switch_engaged: bool | None = None
    kill_error: str | None = None


@dataclass
class Interruption(Record):
    """What cut the run short. Someone else's write always says its change, instant and
    whether a write of the runner's landed on it."""

    cause: str
    change: str | None = None
    at: str | None = None
    overwritten: str | None = None
    kill_switch: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        found = super().to_json()
        return {
            key: value
            for key, value in found.items()
            if value is not None or (self.change is not None and key in ("at", "overwritten"))
        }


@dataclass
class Journal(Record):
    """The whole journal, as `chaos-layer run` writes it and `chaos-layer report` reads it."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("experiment", "hypothesis", "started_at", "steps", "checks")

    experiment: str
    hypothesis: str
    journal: int = JOURNAL_VERSION
    verdict: Verdict | None = None
    reason: str | None = None
    exit_code: int | None = None
    started_at: str | None = None
    ended_at: str | None = None
    file: FileRecord | None = None
    parameter: str | None = None
    kill_switch: str | None = None
    on_breach: str | None = None
    poll: float | None = None
    max_age: float | None = None
    ramp: list[RampStep] = field(default_factory=list)
    steady_state: list[dict[str, Any]] = field(default_factory=list)  # each check's definition
    settle: float | None = None
    warnings: list[str] = field(default_factory=list)
    lease: float | None = None
    expires_at: str | None = None
    function_timeout: FunctionTimeout | None = None
    steps: list[StepRecord] = field(default_factory=list)
    writes: list[WriteRecord] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)
    breach: CheckRecord | None = None
    interruption: Interruption | None = None
    stop: StopRecord | None = None
    error: str | None = None
    # Only in a run that changes function settings: the role their restoring schedules assume,
    # and each setting's entry (docs/settings-faults.md), which its own module reads and writes.
    restore_role: str | None = None
    settings: list[dict[str, Any]] | None = None

    OMITTED = frozenset({"restore_role", "settings"})

    def to_json(self) -> dict[str, Any]:
        found = super().to_json()
        # the journal's version first, as every journal has had it
        return {"journal": found.pop("journal"), **found}

    @classmethod
    def from_json(cls, data: object) -> Journal:
        """Raises MalformedJournal naming the first field that is missing or of the wrong type."""
        if not isinstance(data, Mapping):
            raise MalformedJournal(f"a journal is a JSON object, not {_kind(data)}")
        for key in cls.REQUIRED:
            if key not in data:
                raise MalformedJournal(f"{key}: missing")
        return _load(cls, data, "")

    def setting_entries(self) -> list[dict[str, Any]]:
        """The function settings' entries, which their module (settings_faults.py) fills in place."""
        if self.settings is None:
            self.settings = []
        return self.settings

    def readings(self, check: str) -> list[CheckRecord]:
        return [reading for reading in self.checks if reading.check == check]


class JournalFile:
    """The journal on disk, rewritten atomically (a temporary file, then a rename) after every
    event. After a first successful save, a failing save is reported once and the run goes on:
    stopping the experiment matters more than the record."""

    def __init__(self, path: Path | None, journal: Journal) -> None:
        self.path = path
        self.journal = journal
        self.failure: str | None = None

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(self.journal.to_json(), file, indent=2, ensure_ascii=False)
                file.write("\n")
            os.replace(temporary, self.path)
        except OSError as error:
            self.failure = f"cannot write the journal {self.path}: {error.strerror or error}"
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise


def new_journal(experiment: Experiment, source: str, text: str, controller: control.Controller) -> Journal:
    return Journal(
        experiment=experiment.name,
        hypothesis=experiment.hypothesis,
        file=FileRecord(source, text, dict(experiment.document)),
        parameter=experiment.parameter,
        kill_switch=controller.kill_switch,
        on_breach=experiment.on_breach,
        poll=experiment.poll,
        max_age=controller.max_age,
        ramp=[RampStep(step.rate, step.hold) for step in experiment.ramp],
        steady_state=[check.definition() for check in experiment.checks],
        settle=experiment.settle,
        warnings=list(experiment.warnings),
        lease=experiment.lease,
        restore_role=experiment.restore_role if experiment.settings else None,
        settings=[] if experiment.settings else None,
    )


# JSON to records and back

R = TypeVar("R", bound=Record)


def _to_json(value: object) -> object:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    return value


def _load(cls: type[R], data: Mapping[str, Any], where: str) -> R:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in fields(cls):
        if item.name in data:
            values[item.name] = _value(hints[item.name], data[item.name], f"{where}{item.name}")
        elif item.default is MISSING and item.default_factory is MISSING:
            raise MalformedJournal(f"{where}{item.name}: missing")
    return cls(**values)


def _value(kind: Any, value: object, where: str) -> Any:
    """`value` as `kind`, or MalformedJournal naming `where`."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        rest = [argument for argument in arguments if argument is not type(None)]
        if len(rest) == 1:
            return _value(rest[0], value, where)
        if any(_accepts(argument, value) for argument in rest):  # float | str: plain values only
            return value
        raise MalformedJournal(f"{where}: expected {_said(kind)}, found {_kind(value)}")
    if kind is Any:
        return value
    if origin is list:
        if not isinstance(value, list):
            raise MalformedJournal(f"{where}: expected a list, found {_kind(value)}")
        return [_value(arguments[0], item, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise MalformedJournal(f"{where}: expected an object, found {_kind(value)}")
        return value
    if isinstance(kind, type) and is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise MalformedJournal(f"{where}: expected an object, found {_kind(value)}")
        return _load(kind, value, f"{where}.")  # type: ignore[type-var]
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(str(member.value) for member in kind)
            raise MalformedJournal(f"{where}: {_kind(value)} is none of {known}") from None
    if not _accepts(kind, value):
        raise MalformedJournal(f"{where}: expected {_said(kind)}, found {_kind(value)}")
    return value


def _accepts(kind: Any, value: object) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _said(kind: Any) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_said(argument) for argument in typing.get_args(kind) if argument is not type(None))
    return {str: "a string", float: "a number", int: "an integer", bool: "true or false"}.get(kind, str(kind))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:40], ensure_ascii=False) + ("..." if len(value) > 40 else "")
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
