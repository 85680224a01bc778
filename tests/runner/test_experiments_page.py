"""The pages on `run` and control groups (docs/experiments.md, docs/control-groups.md,
docs/chaos-toolkit.md): the game day's file is examples/game-day.yaml, its `aws cloudwatch`
set-up runs with the real AWS CLI against moto, and then the run holds (and is rejected when
the errors climb, as the page shows), on the time machine instead of two real minutes; the
report command after it runs as written."""

from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chaos_layer import ctk
from chaos_layer.cli import app as app_module
from chaos_layer.cli import run as run_module
from chaos_layer.experiment import definition, stats
from tests.docs import pages
from tests.docs.pages import ROOT
from tests.runner.conftest import Aws, TimeMachine

SECTION = pages.text("experiments.md")
CONTROL_GROUPS = pages.text("control-groups.md")
CHAOS_TOOLKIT = pages.text("chaos-toolkit.md")
AWS = Path(sys.executable).with_name("aws")


def test_the_page_shows_the_example_file() -> None:
    shown = SECTION.split("<!-- game-day.yaml -->\n```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == (ROOT / "examples" / "game-day.yaml").read_text()


def test_the_ctk_action_names_a_real_function() -> None:
    (action,) = [
        json.loads(block) for block in re.findall(r"```json\n(.*?)```", CHAOS_TOOLKIT, re.S) if '"action"' in block
    ]
    assert action["provider"]["module"] == "chaos_layer.ctk"
    assert action["provider"]["func"] in ctk.__all__


@pytest.fixture
def game_day(aws: Aws, time_machine: TimeMachine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The page's set-up commands, run as written; then `chaos-layer run` on the time machine."""
    monkeypatch.setattr(run_module, "clock", time_machine)
    monkeypatch.setattr(run_module, "sleep", time_machine.sleep)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.server.endpoint_url)
    monkeypatch.chdir(ROOT)
    journal = tmp_path / "game-day.journal.json"
    assert pages.block("experiments.md", "run game day server").split() == [
        ".venv/bin/moto_server",
        "-H",
        "127.0.0.1",
        "-p",
        "5000",
    ]  # the aws fixture's moto server, on a free port
    script = pages.block("experiments.md", "run game day set-up")
    lines = script.replace("\\\n", " ").splitlines()
    commands = [line for line in lines if line.startswith("aws ")]
    assert len(commands) == 3
    assert lines[-1] == f"chaos-layer run examples/game-day.yaml --journal {journal.name}"  # what run() runs
    for command in commands:
        words = shlex.split(command)
        result = subprocess.run([str(AWS), *words[1:]], capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr

    def run() -> tuple[int, str, dict[str, Any]]:
        result = CliRunner().invoke(
            app_module.app, ["run", "examples/game-day.yaml", "--journal", str(journal)], catch_exceptions=False
        )
        return result.exit_code, result.stdout, json.loads(journal.read_text())

    return run


def test_the_game_day_holds(game_day, aws: Aws, time_machine: TimeMachine) -> None:
    code, out, journal = game_day()
    assert code == 0, out
    assert journal["verdict"] == "held"
    assert "Verdict: held. The hypothesis held: the steady state held through 2 steps (up to rate 5%)" in out
    assert time_machine.now - time_machine.start == 120  # two steps of a minute
    assert (aws.config() or {}).get("enabled") is False


def test_the_game_day_is_rejected_when_errors_climb(
    game_day, aws: Aws, time_machine: TimeMachine, tmp_path: Path
) -> None:
    time_machine.at(75, lambda: aws.metric(9, at=time_machine.now))
    code, out, journal = game_day()
    assert code == 5, out
    assert journal["breach"]["value"] == 9.0
    assert (
        "Verdict: rejected. The hypothesis was rejected: AWS/Lambda Errors Sum (FunctionName=checkout) was 9 (max 5)"
        " at step 2 (rate 5%); the experiment was stopped." in out
    )
    assert (aws.config() or {}).get("enabled") is False

    # then the page's last commands, as written, beside the journal
    environment = {**os.environ, "PATH": f"{AWS.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    environment["AWS_ENDPOINT_URL"] = aws.server.endpoint_url
    report, get_parameter = [
        subprocess.run(["bash", "-c", line], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
        for line in pages.block("experiments.md", "run game day report").splitlines()
    ]
    assert report.returncode == 0, report.stderr
    assert "Hypothesis rejected" in (tmp_path / "report.html").read_text()
    assert get_parameter.returncode == 0, get_parameter.stderr
    assert json.loads(get_parameter.stdout)["enabled"] is False


# Control groups


def test_the_page_shows_the_comparison_file() -> None:
    shown = CONTROL_GROUPS.split("<!-- checkout-compare.yaml -->\n```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == (ROOT / "examples" / "checkout-compare.yaml").read_text()
    definition.parse_experiment(definition.decode(shown))  # and it is a valid experiment file


def test_the_sizing_table_is_what_the_statistics_say() -> None:
    """One-sided 95 %, power 80 %, a rise from 1 % to 3 % in the experiment's invocations."""
    z_alpha, z_beta, baseline, rise = stats.Z_ONE_SIDED_95, 0.8416, 0.01, 0.02
    table = CONTROL_GROUPS.split("<!-- sizing -->\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    per_group = stats.samples_per_group(baseline, baseline + rise, z_alpha, z_beta)
    assert per_group == 603
    for row in table:
        share, hurt, total, whole_hurt, whole_total = (cell.strip() for cell in row.strip("|").split("|"))
        rate = float(share.rstrip(" %")) / 100
        whole = stats.samples_per_group(baseline, baseline + rate * rise, z_alpha, z_beta)
        assert (hurt, total) == (f"{per_group:,}", f"{round(per_group / rate):,}")
        assert (whole_hurt, whole_total) == (f"{round(rate * whole):,}", f"{whole:,}")
    assert len(table) == 3
    budget = 60_000
    smallest = next(r / 1000 for r in range(1, 1000) if stats.samples_per_group(
        baseline, baseline + r / 1000 * rise, z_alpha, z_beta) <= budget)  # fmt: skip
    assert f"needs a {smallest * 100:.1f} %" in CONTROL_GROUPS
    assert f"{smallest * 100:.1f} times as many users hurt" in CONTROL_GROUPS
    assert round(per_group / budget * 100, 1) == 1.0


def test_the_comparison_probe_is_a_valid_activity() -> None:
    (probe,) = [
        json.loads(block) for block in re.findall(r"```json\n(.*?)```", CONTROL_GROUPS, re.S) if '"probe"' in block
    ]
    assert probe["provider"]["func"] in ctk.__all__
    assert probe["tolerance"]["provider"]["func"] in ctk.__all__
    arguments = probe["provider"]["arguments"]
    assert set(arguments) <= set(inspect.signature(ctk.get_comparison).parameters)
