"""The typed journal: a journal read from a file is checked field by field, and a malformed one
is refused with the path of the field that is wrong, never a traceback."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaos_layer.experiment import report
from chaos_layer.experiment.journal import Journal, MalformedJournal, Verdict

JOURNAL: dict[str, Any] = {
    "journal": 1,
    "experiment": "checkout-latency",
    "hypothesis": "Checkout holds",
    "verdict": "rejected",
    "reason": "The hypothesis was rejected",
    "exit_code": 5,
    "started_at": "2026-11-27T15:00:00.000Z",
    "ended_at": "2026-11-27T15:00:20.000Z",
    "steps": [
        {
            "step": 1,
            "rate": 0.05,
            "hold": 60,
            "started_at": "2026-11-27T15:00:00.000Z",
            "ends_at": "2026-11-27T15:01:00.000Z",
            "ended_at": None,
            "completed": False,
        },
    ],
    "writes": [
        {
            "at": "2026-11-27T15:00:00.000Z",
            "action": "step 1",
            "parameter": "/chaos/x",
            "version": 2,
            "config": {"enabled": True, "rate": 0.05},
            "error": None,
        }
    ],
    "checks": [
        {
            "at": "2026-11-27T15:00:10.000Z",
            "phase": "during",
            "step": 1,
            "check": "alarm a",
            "kind": "alarm",
            "value": "ALARM",
            "status": "breach",
            "detail": "",
        }
    ],
    "breach": {
        "at": "2026-11-27T15:00:10.000Z",
        "phase": "during",
        "step": 1,
        "check": "alarm a",
        "kind": "alarm",
        "value": "ALARM",
        "status": "breach",
        "detail": "",
    },
    "stop": {
        "at": "2026-11-27T15:00:10.000Z",
        "reaches_all_by": "2026-11-27T15:00:15.000Z",
        "ok": True,
        "kill_switch": False,
    },
}


def broken(path: str, value: object) -> dict[str, Any]:
    """JOURNAL with the field at `path` (dots and list indexes) set to `value`, or removed."""
    journal = copy.deepcopy(JOURNAL)
    *parents, last = [
        int(part) if part.isdigit() else part for part in path.replace("[", ".").replace("]", "").split(".")
    ]
    target: Any = journal
    for part in parents:
        target = target[part]
    if value is REMOVED:
        del target[last]
    else:
        target[last] = value
    return journal


REMOVED = object()


def test_a_journal_reads_as_typed_records_and_writes_back_the_same_json() -> None:
    journal = Journal.from_json(JOURNAL)
    assert journal.verdict is Verdict.REJECTED
    assert journal.steps[0].rate == 0.05
    assert journal.breach is not None
    assert journal.breach.value == "ALARM"
    assert journal.stop is not None
    assert journal.stop.reaches_all_by == "2026-11-27T15:00:15.000Z"
    written = journal.to_json()
    assert {key: written[key] for key in JOURNAL} == JOURNAL


def test_an_old_journal_without_the_later_fields_still_reads() -> None:
    """A journal from before the lease, the timeout and the settle period reads and renders."""
    old = {key: JOURNAL[key] for key in ("experiment", "hypothesis", "started_at", "steps", "checks", "verdict")}
    journal = Journal.from_json(old)
    assert journal.lease is None
    assert journal.function_timeout is None
    assert journal.writes == []
    words = report.render(old)
    assert "Hypothesis rejected" in words
    assert "Checkout holds" in words


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        ("hypothesis", REMOVED, "hypothesis: missing"),
        ("experiment", ["a"], "experiment: expected a string, found a list"),
        ("steps[0].rate", "five percent", 'steps[0].rate: expected a number, found "five percent"'),
        ("steps[0].completed", "no", 'steps[0].completed: expected true or false, found "no"'),
        ("steps[0].step", True, "steps[0].step: expected an integer, found true"),
        ("checks[0].status", None, "checks[0].status: expected a string, found null"),
        ("checks[0].value", {"v": 1}, "checks[0].value: expected a number or a string, found an object"),
        ("checks[0].at", REMOVED, "checks[0].at: missing"),
        ("breach", "ALARM", 'breach: expected an object, found "ALARM"'),
        ("writes[0].config", "on", 'writes[0].config: expected an object, found "on"'),
        ("stop.kill_switch", "yes", 'stop.kill_switch: expected true or false, found "yes"'),
        ("verdict", "great", 'verdict: "great" is none of held, rejected, aborted, interrupted, inconclusive'),
        ("steps", {}, "steps: expected a list, found an object"),
    ],
)
def test_a_malformed_journal_is_refused_naming_the_field(path: str, value: object, said: str) -> None:
    with pytest.raises(MalformedJournal) as refused:
        Journal.from_json(broken(path, value))
    assert str(refused.value) == said


def test_what_is_not_an_object_is_not_a_journal() -> None:
    with pytest.raises(MalformedJournal, match="a journal is a JSON object, not a list"):
        Journal.from_json([JOURNAL])
