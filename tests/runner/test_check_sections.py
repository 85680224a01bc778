"""Each kind of check is drawn as itself in the report: a kind the report does not know (a
later version's journal) is listed, never drawn as an alarm's strip of states."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from chaos_layer.experiment import report
from tests.runner.conftest import Aws, TimeMachine, experiment_document


@pytest.fixture
def held(aws: Aws, time_machine: TimeMachine, run_experiment) -> dict[str, Any]:
    aws.alarm("OK")
    aws.metric(1, at=time_machine.now)
    journal: dict[str, Any] = run_experiment(experiment_document()).journal
    assert journal["verdict"] == "held"
    return journal


def test_a_check_of_an_unknown_kind_is_listed_not_drawn_as_an_alarm(held: dict[str, Any]) -> None:
    journal = copy.deepcopy(held)
    alarm = next(d for d in journal["steady_state"] if d["kind"] == "alarm")
    alarm["kind"] = "latency-budget"
    page = report.render(journal)
    section = page[page.index(f"{alarm['check']}: a latency-budget check") :]
    section = section[: section.index("</div>", section.index("</details>"))]
    assert "does not draw this kind of check" in section
    assert "class='strip'" not in section
    assert "must be OK" not in section
    assert re.search(r"\d+ readings", section)
