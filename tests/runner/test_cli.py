"""`chaos-layer run` and `chaos-layer report` as users run them: through Typer's CliRunner
on the time machine, and as a real process that gets SIGTERM or Ctrl-C."""

from __future__ import annotations

import calendar
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from chaos_layer.cli import app as app_module
from chaos_layer.cli import run as run_module
from tests.conftest import S3Bucket
from tests.runner.conftest import Aws, TimeMachine, experiment_document

BIN = Path(sys.executable).parent


@pytest.fixture
def cli(aws: Aws, time_machine: TimeMachine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(run_module, "clock", time_machine)
    monkeypatch.setattr(run_module, "sleep", time_machine.sleep)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, endpoint: bool = True) -> Result:
        extra = ["--endpoint-url", aws.server.endpoint_url] if endpoint and args[0] == "run" else []
        return CliRunner().invoke(app_module.app, [*args, *extra], catch_exceptions=False)

    return invoke


def write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def steady(aws: Aws, time_machine: TimeMachine) -> None:
    aws.alarm("OK")
    aws.metric(1, at=time_machine.now)


def test_run_prints_each_step_and_reading_and_the_verdict(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    result = cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Experiment checkout-latency: With 300 ms more latency" in out
    assert "Steady state before the start:" in out
    assert "alarm checkout-errors: OK [ok]" in out
    assert "AWS/Lambda Errors Sum (FunctionName=checkout): 1 (max 5) [ok]" in out
    assert "Step 1/2: rate 1% for 10s (/chaos-layer/checkout version 1); every function starts injecting" in out
    assert "Step 2/2 at rate 5%: 15s left in the step, 15s in the run" in out  # one line per poll, not a TTY
    assert "Every function stops injecting by" in out
    assert "Verdict: held. The hypothesis held" in out
    assert json.loads((tmp_path / "j.json").read_text())["verdict"] == "held"
    assert aws.config()["enabled"] is False


def test_a_run_with_its_config_in_s3(cli, aws, time_machine, tmp_path, s3: S3Bucket) -> None:
    steady(aws, time_machine)
    location = s3.location("checkout.json")
    document = experiment_document(parameter=location)
    result = cli("run", write(tmp_path / "game-day.yaml", document), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    assert f"Step 1/2: rate 1% for 10s ({location} S3 object, ETag" in result.stdout
    assert "Verdict: held." in result.stdout
    config = json.loads(s3.text("checkout.json") or "")
    assert (config["enabled"], config["rate"]) == (False, 0.05)
    assert [write["parameter"] for write in json.loads((tmp_path / "j.json").read_text())["writes"]] == [location] * 7


def test_someone_elses_write_to_an_s3_config_mid_run_is_left_as_they_wrote_it(
    cli, aws, time_machine, tmp_path, s3: S3Bucket
) -> None:
    """S3: every write carries If-Match with the ETag the runner last wrote."""
    steady(aws, time_machine)
    location = s3.location("checkout.json")
    theirs = json.dumps({"enabled": False, "experiment": "someone-else", "faults": [{"type": "exception"}]})
    time_machine.at(7, lambda: s3.put("checkout.json", theirs))
    result = cli(
        "run", write(tmp_path / "game-day.yaml", experiment_document(parameter=location)), "--journal", "j.json"
    )
    assert result.exit_code == 130, result.output
    assert s3.text("checkout.json") == theirs
    assert f"Verdict: interrupted. Interrupted: {location} was written by someone else during the run" in result.stdout
    journal = json.loads((tmp_path / "j.json").read_text())
    assert journal["interruption"]["change"].startswith("someone else wrote it")
    assert [w["action"] for w in journal["writes"]] == ["step 1", "renew", "step 2"]
    assert journal["writes"][-1]["version"] is None
    assert journal["writes"][-1]["error"]


def test_the_journal_has_a_default_name(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    result = cli("run", write(tmp_path / "game-day.yaml", experiment_document(experiment="checkout / latency")))
    assert result.exit_code == 0, result.output
    (journal,) = tmp_path.glob("*.journal.json")
    assert journal.name.startswith("checkout-latency-")
    assert journal.name.endswith("Z.journal.json")
    assert f"Journal: {journal.name}" in result.stdout


@pytest.mark.parametrize(
    ("alarm", "later", "code", "verdict"),
    [("OK", "ALARM", 5, "rejected"), ("ALARM", None, 6, "aborted")],
)
def test_exit_codes_of_the_verdicts(cli, aws, time_machine, tmp_path, alarm, later, code, verdict) -> None:
    aws.alarm(alarm)
    aws.metric(1, at=time_machine.now)
    if later:
        time_machine.at(5, lambda: aws.alarm(later))
    result = cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    assert result.exit_code == code, result.output
    assert f"Verdict: {verdict}." in result.stdout
    journal = json.loads((tmp_path / "j.json").read_text())
    assert (journal["verdict"], journal["exit_code"]) == (verdict, code)


def test_an_invalid_file_exits_1_before_anything_is_written(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    document = experiment_document(faults=[{"type": "latency", "delay_ms": -1}], poll="often")
    result = cli("run", write(tmp_path / "game-day.yaml", document), "--journal", "j.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"chaos-layer: error: {tmp_path / 'game-day.yaml'} is invalid, nothing was written:",
        "  poll: must be a duration such as 15s, 2m or 1h30m (or a number of seconds), longer than zero",
        "  faults[0].delay_ms: must be a number between 0 and 900000",
    ]
    assert aws.versions() == []
    assert not (tmp_path / "j.json").exists()


def test_an_unreadable_file_or_journal_is_a_usage_error(cli, aws, time_machine, tmp_path) -> None:
    result = cli("run", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr
    steady(aws, time_machine)
    path = write(tmp_path / "game-day.yaml", experiment_document())
    result = cli("run", path, "--journal", str(tmp_path / "no-such-dir" / "j.json"))
    assert result.exit_code == 2
    assert "cannot write the journal" in result.stderr
    assert aws.versions() == []


def test_an_aws_error_exits_3_with_one_line(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    path = write(tmp_path / "game-day.yaml", experiment_document())
    result = cli("run", path, "--journal", "j.json", "--endpoint-url", "http://127.0.0.1:9", endpoint=False)
    assert result.exit_code == 3
    assert result.stderr.startswith("chaos-layer: error: could not reach AWS")
    assert "Traceback" not in result.output


def test_the_live_panel_on_a_terminal(cli, aws, time_machine, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich then treats the output as a terminal
    steady(aws, time_machine)
    result = cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "step 2/2" in out
    assert "rate 5%" in out
    assert "step ends in" in out
    assert "run ends in" in out
    assert "latest" in out
    assert "1 (max 5)" in out
    assert "left in the step" not in out  # the panel shows the time left instead of a line per poll


COMPARING = {
    "steady_state": [{"alarm": "checkout-errors"}, {"compare": "errors", "max_increase": 0.02}],
    "ramp": [{"rate": 0.1, "hold": "30s"}],
    "poll": "10s",
}


def groups(aws: Aws, time_machine: TimeMachine, treatment: tuple[int, int], control: tuple[int, int]) -> None:
    for offset in (5, 15, 25):
        time_machine.at(offset, lambda: aws.group("treatment", *treatment, at=time_machine.now))
        time_machine.at(offset, lambda: aws.group("control", *control, at=time_machine.now))


def test_an_inconclusive_comparison_exits_7(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    groups(aws, time_machine, (20, 0), (20, 0))
    result = cli("run", write(tmp_path / "compare.yaml", experiment_document(**COMPARING)), "--journal", "j.json")
    assert result.exit_code == 7, result.output
    assert "compare errors: judged once the experiment runs (no control group yet)" in result.stdout
    assert (
        "Verdict: inconclusive. Inconclusive: no breach, but compare errors: too few invocations to compare:"
        " treatment 60, control 60, of the 100 each group needs: inconclusive; the experiment was stopped."
    ) in result.stdout
    assert json.loads((tmp_path / "j.json").read_text())["exit_code"] == 7
    assert aws.config()["enabled"] is False


def test_plain_output_shows_both_groups_at_every_poll(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    groups(aws, time_machine, (400, 4), (400, 4))
    result = cli("run", write(tmp_path / "compare.yaml", experiment_document(**COMPARING)), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    assert (
        "compare errors: treatment 1% of 800 | control 1% of 800: 0 points, 95 % bounds -0.88 to +0.88"
        " (allowed +2) [ok]"
    ) in result.stdout


def test_the_live_panel_shows_both_groups_side_by_side(cli, aws, time_machine, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    steady(aws, time_machine)
    groups(aws, time_machine, (400, 4), (400, 4))
    result = cli("run", write(tmp_path / "compare.yaml", experiment_document(**COMPARING)), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    out = result.stdout
    header = next(line for line in out.splitlines() if "treatment" in line and "control" in line and "latest" in line)
    assert header.index("treatment") < header.index("control") < header.index("latest")
    row = next(line for line in out.splitlines() if line.strip().startswith("compare errors") and "of 1,200" in line)
    assert "1% of 1,200" in row
    assert row.count("of 1,200") == 2  # one cell per group
    assert "0 points, 95 % bounds" in row


# report


def test_report_writes_a_page(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    result = cli("report", "j.json", "-o", "report.html")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Report: report.html (hypothesis held)"
    assert "Hypothesis held" in (tmp_path / "report.html").read_text()
    assert cli("report", "j.json").exit_code == 0
    assert (tmp_path / "j.html").exists()


def test_report_refuses_what_is_not_a_journal(cli, tmp_path) -> None:
    (tmp_path / "x.json").write_text('{"enabled": true}')
    result = cli("report", "x.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == "chaos-layer: error: x.json is not a journal of chaos-layer run"
    assert cli("report", "missing.json").exit_code == 2


def test_report_names_the_field_of_a_malformed_journal(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    journal = json.loads((tmp_path / "j.json").read_text())
    journal["steps"][0]["rate"] = "five percent"
    (tmp_path / "edited.json").write_text(json.dumps(journal))
    result = cli("report", "edited.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "chaos-layer: error: edited.json is not a journal of chaos-layer run:"
        ' steps[0].rate: expected a number, found "five percent"'
    )
    assert not (tmp_path / "edited.html").exists()


# a real process, real signals


def start_run(aws: Aws, tmp_path: Path, **overrides: Any) -> tuple[subprocess.Popen[str], Path]:
    aws.alarm("OK")
    aws.metric(1, at=time.time())
    document = experiment_document(ramp=[{"rate": 0.05, "hold": "2m"}], poll=0.2, **overrides)
    path = write(tmp_path / "game-day.yaml", document)
    journal = tmp_path / "j.json"
    process = subprocess.Popen(
        [str(BIN / "chaos-layer"), "run", path, "--journal", str(journal), "--endpoint-url", aws.server.endpoint_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until step 1 is written
        if aws.config() is not None and journal.exists() and json.loads(journal.read_text())["writes"]:
            return process, journal
        if process.poll() is not None:
            raise AssertionError(process.communicate())
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the run did not start within 60 s")


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT], [signal.SIGHUP]],
    ids=["SIGTERM", "Ctrl-C x2", "SIGHUP (terminal closed)"],
)
def test_a_signal_stops_the_experiment(aws, tmp_path, signals) -> None:
    process, journal = start_run(aws, tmp_path)
    assert aws.config()["enabled"] is True
    for signum in signals:
        process.send_signal(signum)
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert aws.config()["enabled"] is False
    record = json.loads(journal.read_text())
    assert record["verdict"] == "interrupted"
    assert record["stop"]["ok"] is True
    assert f"Interrupted by {signals[0].name}" in stdout
    assert "Traceback" not in stderr


def test_a_killed_runner_leaves_a_config_that_ends_within_its_lease(aws, tmp_path) -> None:
    """SIGKILL cannot be caught: the lease is the net. A run planned for 2 minutes, polled every
    0.2 s: the experiment it leaves ends within 2 x 0.2 + 60 s, not at the planned end."""
    process, journal = start_run(aws, tmp_path)
    deadline = time.monotonic() + 30
    while aws.config_version() < 3 and time.monotonic() < deadline:  # renewed at least twice
        time.sleep(0.05)
    assert aws.config_version() >= 3
    process.kill()
    killed = time.time()
    process.communicate(timeout=60)
    config = aws.config()
    assert config["enabled"] is True
    expiry = calendar.timegm(time.strptime(config["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert expiry <= killed + 2 * 0.2 + 60
    assert json.loads(journal.read_text())["verdict"] is None
    # and the library reads it as over by then
    from chaos_layer.config import parse_config

    ends = parse_config(config).expires_at_epoch()
    assert ends is not None
    assert ends <= killed + 60.4


def test_run_takes_the_cache_periods_as_every_command_does(cli, aws, time_machine, tmp_path) -> None:
    steady(aws, time_machine)
    path = write(tmp_path / "game-day.yaml", experiment_document())
    result = cli("run", path, "--journal", "j.json", "--max-age", "2", "--idle-max-age", "600")
    assert result.exit_code == 0, result.output
    assert "every function starts injecting within 10m" in result.stdout
    assert "Step 1 holds 10s, less than the 10m an idle function may take to see the start" in result.stdout
    assert "(within 2s, the cache period" in result.stdout
    assert "the cache period: --max-age 2" in result.stdout
    assert "the idle cache period: --idle-max-age 600" in result.stdout


def test_run_names_a_period_variable_only_where_it_is_set(cli, aws, time_machine, tmp_path, monkeypatch) -> None:
    steady(aws, time_machine)
    monkeypatch.delenv("CHAOS_LAYER_MAX_AGE", raising=False)
    monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "30")
    result = cli("run", write(tmp_path / "game-day.yaml", experiment_document()), "--journal", "j.json")
    assert result.exit_code == 0, result.output
    assert "CHAOS_LAYER_MAX_AGE=" not in result.stdout
    assert "the cache period: the default; pass --max-age if your functions set CHAOS_LAYER_MAX_AGE" in result.stdout
    assert "within 30s (the idle cache period: CHAOS_LAYER_IDLE_MAX_AGE=30)" in result.stdout
