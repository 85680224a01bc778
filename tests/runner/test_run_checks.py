"""`chaos-layer run` checks what `start` checks before its first write: a typo in a `dependency`
fault is an invalid file, and an experiment whose reads would outrun the source is said so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from chaos_layer.cli import app as app_module
from chaos_layer.cli import run as run_module
from tests.runner.conftest import Aws, TimeMachine, experiment_document
from tests.runner.test_cli import write

Run = Callable[..., Result]


@pytest.fixture
def run(aws: Aws, time_machine: TimeMachine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """`run(FILE, ...)`: `chaos-layer run` against the moto server, on the test's time machine."""
    monkeypatch.setattr(run_module, "clock", time_machine)
    monkeypatch.setattr(run_module, "sleep", time_machine.sleep)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> Result:
        command = ["run", *args, "--endpoint-url", aws.server.endpoint_url]
        return CliRunner().invoke(app_module.app, command, catch_exceptions=False)

    return invoke


def test_a_typo_in_a_dependency_fault_is_an_invalid_file(
    run: Run, aws: Aws, time_machine: TimeMachine, tmp_path: Path
) -> None:
    fault = {"type": "dependency", "services": ["dynamo"], "error": "ThrottlingException"}
    result = run(write(tmp_path / "game-day.yaml", experiment_document(faults=[fault])), "--journal", "j.json")
    assert result.exit_code == 1
    assert "faults[0].services[0]: unknown service 'dynamo': not a boto3 client name; did you mean dynamodb?" in (
        result.stderr
    )
    assert aws.versions() == []


def test_run_warns_before_its_first_write_when_the_reads_outrun_ssm(
    run: Run, aws: Aws, time_machine: TimeMachine, tmp_path: Path
) -> None:
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": [{"Name": "FunctionName", "Value": "checkout"}],
                "Value": 800,
                "Timestamp": datetime.fromtimestamp(time_machine.now - 60, timezone.utc),
            }
        ],
    )
    aws.alarm("ALARM")  # the steady state does not hold: the run ends before writing anything
    result = run(write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    assert result.exit_code == 6, result.output
    out = " ".join(result.stdout.split())
    assert "Warning: this experiment reaches about 800 execution environments (checkout 800" in out
    assert "about 160 reads a second" in out
    assert out.index("Warning: this experiment reaches") < out.index("Steady state before the start")
    assert aws.versions() == []


def test_report_names_the_page_after_the_journal_without_its_journal_suffix(
    run: Run, aws: Aws, time_machine: TimeMachine, tmp_path: Path
) -> None:
    aws.alarm("ALARM")
    assert (
        run(write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "game-day.journal.json").exit_code
        == 6
    )
    result = CliRunner().invoke(app_module.app, ["report", "game-day.journal.json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Report: game-day.html")
    assert (tmp_path / "game-day.html").exists()
    assert not (tmp_path / "game-day.journal.html").exists()
