"""`chaos-layer run` with function settings: changed with the first step, restored in every
ending (held, rejected, interrupted by a signal, an error), someone else's change kept and said,
and after a SIGKILL, `chaos-layer recover` (twice)."""

from __future__ import annotations

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
from typer.testing import CliRunner

from chaos_layer import control
from chaos_layer.cli import app as app_module
from chaos_layer.cli import run as run_module
from chaos_layer.experiment import definition, report, runner, settings_faults
from chaos_layer.experiment.journal import JournalFile, new_journal
from tests.runner.conftest import KILL_SWITCH, PARAM, Aws, Recorder, Run, TimeMachine, exit_code, experiment_document
from tests.runner.lambdas import RESTORE_ROLE, Lambdas, lambdas_on

BIN = Path(sys.executable).parent
THROTTLE = [{"function": "checkout", "reserved_concurrency": 0}, {"function": "checkout", "timeout_s": 3}]


@pytest.fixture
def lambdas(aws: Aws) -> Lambdas:
    functions = lambdas_on(aws.server)
    functions.function("checkout", timeout=30)
    functions.lam.put_function_concurrency(FunctionName="checkout", ReservedConcurrentExecutions=25)
    return functions


def run_with_settings(aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path, **overrides: Any) -> Run:
    document = experiment_document(settings=THROTTLE, restore_role=RESTORE_ROLE, **overrides)
    parsed = definition.parse_experiment(document)
    controller = control.Controller(aws.ssm, parsed.parameter, KILL_SWITCH, max_age=5.0, clock=time_machine)
    path = tmp_path / "journal.json"
    journal = JournalFile(path, new_journal(parsed, "game-day.yaml", json.dumps(document), controller))
    changes = settings_faults.SettingsFaults(
        parsed.settings,
        lambdas.settings(clock=time_machine, sleep=time_machine.sleep),
        journal.journal.setting_entries(),
        role=RESTORE_ROLE,
        lease=settings_faults.lease_of(parsed.poll),
    )
    recorder = Recorder()
    outcome = runner.Runner(
        parsed, controller, aws.cloudwatch, journal, observer=recorder, clock=time_machine,
        sleep=time_machine.sleep, error_exit_code=exit_code, settings_faults=changes,
    ).run()  # fmt: skip
    return Run(outcome, json.loads(path.read_text()), recorder, path)


def steady(aws: Aws, time_machine: TimeMachine) -> None:
    aws.alarm("OK")
    aws.metric(1, at=time_machine.now)


def as_before(lambdas: Lambdas) -> bool:
    return lambdas.concurrency("checkout") == 25 and lambdas.configuration("checkout")["Timeout"] == 30


def test_a_held_run_throttles_with_the_first_step_and_restores_at_the_end(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    during: list[tuple[int | None, int, int]] = []
    time_machine.at(
        12,
        lambda: during.append(
            (lambdas.concurrency("checkout"), lambdas.configuration("checkout")["Timeout"], len(lambdas.schedules()))
        ),
    )
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 0, run.lines.text
    assert during == [(0, 3, 2)]
    assert as_before(lambdas)
    assert lambdas.schedules() == {}
    entries = run.journal["settings"]
    assert [(e["setting"], e["replaced"], e["value"], e["state"]) for e in entries] == [
        ("reserved_concurrency", 25, 0, "restored"),
        ("timeout_s", 30, 3, "restored"),
    ]
    # The schedule was moved forward at the polls after its creation.
    [created] = [event for event in entries[0]["events"] if event["event"] == "scheduled"]
    assert entries[0]["schedule"]["due"] > created["detail"].removeprefix("restore due ")
    assert "Restored reserved_concurrency of function checkout: 25." in run.lines.text
    page = report.render(run.journal)
    assert "Function settings" in page
    assert "reserved_concurrency of function checkout" in page
    assert "none set" not in page


def test_a_rejected_run_restores_the_settings(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: aws.alarm("ALARM"))
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 5, run.lines.text
    assert as_before(lambdas)
    assert lambdas.schedules() == {}


def test_a_signal_during_the_run_restores_the_settings(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: os.kill(os.getpid(), signal.SIGTERM))
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 130, run.lines.text
    assert as_before(lambdas)
    assert {entry["state"] for entry in run.journal["settings"]} == {"restored"}


def test_an_error_during_the_run_restores_the_settings(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)

    def broken_alarm(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a crash in a check")

    time_machine.at(12, lambda: setattr(aws.cloudwatch, "describe_alarms", broken_alarm))
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.journal["verdict"] == "interrupted", run.lines.text
    assert as_before(lambdas)
    assert lambdas.schedules() == {}


def test_someone_elses_change_during_the_run_is_kept_and_reported(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    time_machine.at(
        12, lambda: lambdas.lam.put_function_concurrency(FunctionName="checkout", ReservedConcurrentExecutions=10)
    )
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 0, run.lines.text
    assert lambdas.concurrency("checkout") == 10
    assert lambdas.configuration("checkout")["Timeout"] == 30
    kept = run.journal["settings"][0]
    assert (kept["state"], kept["found"]) == ("kept", 10)
    assert ("warn", "reserved_concurrency of function checkout is now 10, not the 0 the runner set: someone else"
            " changed it; kept as they set it (not restored to 25).") in run.lines.lines  # fmt: skip
    assert lambdas.schedules() == {}


def test_a_file_naming_an_untagged_function_exits_1_and_writes_nothing(
    aws: Aws, time_machine: TimeMachine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steady(aws, time_machine)
    functions = lambdas_on(aws.server)
    functions.function("checkout", tagged=False)
    monkeypatch.setattr(run_module, "clock", time_machine)
    monkeypatch.setattr(run_module, "sleep", time_machine.sleep)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "game-day.yaml"
    path.write_text(yaml.safe_dump(experiment_document(settings=THROTTLE, restore_role=RESTORE_ROLE)))
    result = CliRunner().invoke(
        app_module.app, ["run", str(path), "--journal", "j.json", "--endpoint-url", aws.server.endpoint_url]
    )
    assert result.exit_code == 1, result.output
    assert "settings[0].function: checkout does not carry the tag chaos-layer:settings-faults=allow" in result.output
    assert aws.config() is None
    assert functions.concurrency("checkout") is None
    assert functions.schedules() == {}


def test_a_killed_runner_is_recovered_and_recover_can_run_again(aws: Aws, lambdas: Lambdas, tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the schedules and `recover` are the nets."""
    aws.alarm("OK")
    aws.metric(1, at=time.time())
    document = experiment_document(
        ramp=[{"rate": 0.05, "hold": "2m"}], poll=0.2, settings=THROTTLE, restore_role=RESTORE_ROLE
    )
    path = tmp_path / "game-day.yaml"
    path.write_text(yaml.safe_dump(document))
    journal = tmp_path / "j.json"
    command = [str(BIN / "chaos-layer"), "run", str(path), "--journal", str(journal)]
    process = subprocess.Popen(
        [*command, "--endpoint-url", aws.server.endpoint_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until both settings are changed
        record = json.loads(journal.read_text()) if journal.exists() else {}
        if [entry["state"] for entry in record.get("settings", [])] == ["changed", "changed"]:
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.kill()
    process.communicate(timeout=60)
    assert lambdas.concurrency("checkout") == 0
    assert len(lambdas.schedules()) == 2  # the dead man's switch is armed

    def recover() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "chaos-layer"), "recover", str(journal), "--endpoint-url", aws.server.endpoint_url],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    first = recover()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Restored reserved_concurrency of function checkout: 25." in first.stdout
    assert as_before(lambdas)
    assert lambdas.schedules() == {}
    assert [entry["state"] for entry in json.loads(journal.read_text())["settings"]] == ["restored", "restored"]
    second = recover()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Restored" not in second.stdout
    assert "nothing to do (restored)" in second.stdout
    assert as_before(lambdas)


def test_someone_elses_write_to_the_config_ends_the_run_and_restores_the_settings(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    stopped = {"enabled": False, "experiment": "someone-else", "rate": 0.01, "faults": [{"type": "latency"}]}
    time_machine.at(12, lambda: aws.ssm.put_parameter(Name=PARAM, Value=json.dumps(stopped), Overwrite=True))
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 130, run.lines.text
    assert as_before(lambdas)
    assert lambdas.schedules() == {}


def test_the_kill_switch_during_the_run_restores_the_settings_at_the_next_poll(
    aws: Aws, lambdas: Lambdas, time_machine: TimeMachine, tmp_path: Path
) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: aws.ssm.put_parameter(Name=KILL_SWITCH, Value="on", Type="String", Overwrite=True))
    run = run_with_settings(aws, lambdas, time_machine, tmp_path)
    assert run.outcome.exit_code == 130, run.lines.text
    assert as_before(lambdas)
    assert {entry["state"] for entry in run.journal["settings"]} == {"restored"}
