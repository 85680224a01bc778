"""A control group end to end (examples/control_group.py, the worked example of docs/control-groups.md): the
checkout function, decorated, with a `dependency` fault throttling its DynamoDB writes and its
own retry loop, invoked thousands of times; its EMF records read from its stdout and turned
into PutMetricData calls as CloudWatch Logs would; judged by `chaos-layer run` itself, all on
the demo's embedded moto server."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.docs import pages
from tests.docs.pages import ROOT

PAGE = pages.text("control-groups.md")
STAMP = re.compile(r"\d\d:\d\d:\d\d")  # times of day, which differ from run to run


def shown_block(marker: str) -> list[str]:
    """The lines of the page's output block after `<!-- marker -->`, but its `...` elisions."""
    block = PAGE.split(f"<!-- {marker} -->\n```text\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line != "..."]


def assert_shown(marker: str, out: str) -> None:
    """Every line the page shows is a line of the run's output (times of day aside)."""
    lines = {STAMP.sub("", line) for line in out.splitlines()}
    missing = [line for line in shown_block(marker) if STAMP.sub("", line) not in lines]
    assert not missing, "\n".join(missing)


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("control_group_example", ROOT / "examples" / "control_group.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def final(journal: dict[str, Any], check: str) -> dict[str, Any]:
    (reading,) = [r for r in journal["checks"] if r["check"] == check and r["phase"] == "after"]
    return dict(reading)


@pytest.mark.slow
def test_retries_and_the_outbox_keep_the_error_rate_of_the_control_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    journal_path = tmp_path / "checkout.journal.json"
    # the page's command, its arguments as the example's own parser reads them
    command = pages.block("control-groups.md", "control group example").split()
    assert command[:2] == [".venv/bin/python", "examples/control_group.py"]
    arguments = example().parser().parse_args(command[2:])
    code = example().run(outbox=not arguments.no_outbox, journal=arguments.journal)
    out = capsys.readouterr().out
    assert code == 0, out
    journal = json.loads(journal_path.read_text())
    assert journal["verdict"] == "held"
    errors = final(journal, "compare errors")["comparison"]
    treatment, control = errors["treatment"], errors["control"]
    # the split: two groups of about the same size, 10 % then 25 % of the traffic each
    assert treatment["invocations"] >= 300
    assert abs(treatment["invocations"] - control["invocations"]) < 0.25 * control["invocations"]
    # throttled writes were retried, then saved to the outbox: no request failed
    assert (treatment["errors"], control["errors"]) == (0, 0)
    assert errors["upper"] <= 0.01
    # but the treatment paid for the retries: 50 + 100 ms of backoff in about 30 % of its invocations
    duration = final(journal, "compare duration Average")["comparison"]
    assert 25 < duration["difference"] < 100
    assert "Traffic: 2,100 invocations" in out
    assert "Verdict: held." in out
    assert_shown("worked example: held", out)
    # the config the run wrote asked for a control group, and was left disabled
    configs = [write["config"] for write in journal["writes"]]
    assert all(config["control_group"] is True for config in configs)
    assert configs[-1]["enabled"] is False


@pytest.mark.slow
def test_without_the_outbox_the_run_is_rejected_at_the_first_poll_with_enough_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # as the page shows
    journal_path = tmp_path / "journal.json"
    code = example().run(outbox=False, journal=journal_path)
    out = capsys.readouterr().out
    assert code == 5, out
    journal = json.loads(journal_path.read_text())
    breach = journal["breach"]
    assert breach["check"] == "compare errors"
    comparison = breach["comparison"]
    assert min(comparison["treatment"]["invocations"], comparison["control"]["invocations"]) >= 100
    assert comparison["control"]["errors"] == 0
    assert 0.15 < comparison["treatment"]["rate"] < 0.45  # the 30 % of the treatment that was throttled
    earlier = [r for r in journal["checks"] if r["check"] == "compare errors" and r["at"] < breach["at"]]
    assert {r["status"] for r in earlier} == {"insufficient"}  # stopped at the first poll that could judge
    assert journal["writes"][-1]["config"]["enabled"] is False
    assert "a safety stop, 95 % per look" in out
    assert_shown("worked example: rejected", out)


@pytest.mark.slow
def test_the_example_leaves_the_process_as_it_found_it(tmp_path: Path) -> None:
    import os
    import sys

    from chaos_layer.cli import run as run_module

    before = (dict(os.environ), sys.stdout, run_module.clock, run_module.sleep)
    example().run(outbox=False, journal=tmp_path / "journal.json")
    assert (dict(os.environ), sys.stdout, run_module.clock, run_module.sleep) == before
