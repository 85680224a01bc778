"""The journal of a run: one JSON object, rewritten atomically after every event, which the
report renders."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from chaos_layer import control
from chaos_layer.experiment.definition import Experiment

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


class Journal:
    """One JSON object, rewritten atomically (a temporary file, then a rename) after every
    event. After a first successful save, a failing save is reported once and the run goes on:
    stopping the experiment matters more than the record."""

    def __init__(self, path: Path | None, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.failure: str | None = None

    def save(self) -> None:
        if self.path is None:
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(self.data, file, indent=2, ensure_ascii=False)
                file.write("\n")
            os.replace(temporary, self.path)
        except OSError as error:
            self.failure = f"cannot write the journal {self.path}: {error.strerror or error}"
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise


def new_journal(experiment: Experiment, source: str, text: str, controller: control.Controller) -> dict[str, Any]:
    return {
        "journal": JOURNAL_VERSION,
        "experiment": experiment.name,
        "hypothesis": experiment.hypothesis,
        "verdict": None,
        "reason": None,
        "exit_code": None,
        "started_at": None,
        "ended_at": None,
        "file": {"path": source, "text": text, "document": experiment.document},
        "parameter": experiment.parameter,
        "kill_switch": controller.kill_switch,
        "on_breach": experiment.on_breach,
        "poll": experiment.poll,
        "max_age": controller.max_age,
        "ramp": [{"rate": step.rate, "hold": step.hold} for step in experiment.ramp],
        "steady_state": [check.definition() for check in experiment.checks],
        "settle": experiment.settle,
        "warnings": list(experiment.warnings),
        "lease": experiment.lease,
        "expires_at": None,
        "function_timeout": None,
        "steps": [],
        "writes": [],
        "checks": [],
        "breach": None,
        "interruption": None,
        "stop": None,
        "error": None,
        **({"restore_role": experiment.restore_role, "settings": []} if experiment.settings else {}),
    }
