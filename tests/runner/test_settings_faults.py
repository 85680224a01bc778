"""Faults on a function's settings against the moto server: checked before anything is written,
applied with a journal of what they replace, guarded by a restoring schedule, restored only
where the runner's own value is still there, and recovered after a runner died."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from chaos_layer import control
from chaos_layer.cli import app as app_module
from chaos_layer.experiment import definition, settings_faults
from chaos_layer.experiment.settings_aws import at_expression, instant
from chaos_layer.experiment.settings_faults import SettingsFaults
from tests.conftest import MotoServer
from tests.runner.conftest import TimeMachine, experiment_document
from tests.runner.lambdas import RESTORE_ROLE, Lambdas, conflicting, lambdas_on, updating


@pytest.fixture
def lambdas(moto_server: MotoServer) -> Lambdas:
    return lambdas_on(moto_server)


def faults(
    lambdas: Lambdas, time_machine: TimeMachine, settings: list[dict[str, Any]], *, poll: float = 5.0
) -> tuple[SettingsFaults, list[dict[str, Any]], list[tuple[str, str]]]:
    parsed = definition.parse_experiment(experiment_document(settings=settings, restore_role=RESTORE_ROLE))
    entries: list[dict[str, Any]] = []
    said: list[tuple[str, str]] = []
    machinery = SettingsFaults(
        parsed.settings,
        lambdas.settings(clock=time_machine, sleep=time_machine.sleep),
        entries,
        role=RESTORE_ROLE,
        lease=settings_faults.lease_of(poll),
        say=lambda text, level: said.append((level, text)),
    )
    return machinery, entries, said


def problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(control.InvalidConfig) as raised:
        definition.parse_experiment(document)
    return [(problem.location, problem.message) for problem in raised.value.problems]


def test_every_problem_in_settings_is_reported_with_its_location() -> None:
    found = problems(
        experiment_document(
            restore_role=RESTORE_ROLE,
            settings=[
                {"function": "checkout", "reserved_concurrency": -1},
                {"function": "checkout", "timeout_s": 901, "memory_mb": 64},
                {"event_source_mapping": "1f2e", "enabled": "no"},
                {"function": "checkout", "enabled": False},
                {"function": "checkout:live", "timeout_s": 3},
                {"function": "checkout", "reserved_concurrency": 5},
                {"function": "checkout", "reserved_concurrency": 6},
                {"reserved_concurrency": 0},
            ],
        )
    )
    locations = [location for location, _ in found]
    assert "settings[0].reserved_concurrency" in locations
    assert "settings[1].timeout_s" in locations
    assert "settings[1].memory_mb" in locations
    assert "settings[2].enabled" in locations
    assert ("settings[3].enabled", "is a setting of an event_source_mapping") in found
    assert "settings[4].function" in locations
    assert any(loc == "settings[6].reserved_concurrency" and "already set" in msg for loc, msg in found)
    assert ("settings[7]", "must name a function or an event_source_mapping") in found


def test_settings_need_the_restoring_role() -> None:
    document = experiment_document(settings=[{"function": "checkout", "reserved_concurrency": 0}])
    assert [location for location, _ in problems(document)] == ["restore_role"]
    document["restore_role"] = "chaos-layer-restore"
    assert [location for location, _ in problems(document)] == ["restore_role"]


def test_settings_with_a_compare_entry_are_invalid_saying_why() -> None:
    document = experiment_document(
        restore_role=RESTORE_ROLE,
        settings=[{"function": "checkout", "reserved_concurrency": 0}],
        steady_state=[{"compare": "errors", "max_increase": 0.01}],
    )
    found = dict(problems(document))
    assert "treatment and control alike" in found["settings"]


def test_an_untagged_function_is_refused_before_anything_is_written(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout", tagged=False)
    lambdas.function("payments")
    uuid = lambdas.mapping("checkout")
    machinery, entries, _ = faults(
        lambdas,
        time_machine,
        [
            {"function": "payments", "reserved_concurrency": 0},
            {"function": "checkout", "reserved_concurrency": 0},
            {"event_source_mapping": uuid, "enabled": False},
            {"function": "nowhere", "timeout_s": 3},
        ],
    )
    with pytest.raises(control.InvalidConfig) as raised:
        machinery.apply()
    found = {problem.location: problem.message for problem in raised.value.problems}
    assert "does not carry the tag chaos-layer:settings-faults=allow" in found["settings[1].function"]
    assert "its function checkout" in found["settings[2].event_source_mapping"]
    assert "no such function" in found["settings[3].function"]
    # The tagged function was not changed either: the check comes before any write.
    assert lambdas.concurrency("payments") is None
    assert lambdas.enabled(uuid)
    assert lambdas.schedules() == {}
    assert entries == []


def test_timeout_and_memory_are_refused_on_a_function_with_an_alias_or_version(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout")
    version = lambdas.lam.publish_version(FunctionName="checkout")["Version"]
    lambdas.lam.create_alias(FunctionName="checkout", Name="live", FunctionVersion=version)
    machinery, _, _ = faults(
        lambdas, time_machine, [{"function": "checkout", "timeout_s": 3, "reserved_concurrency": 0}]
    )
    with pytest.raises(control.InvalidConfig) as raised:
        machinery.check()
    [problem] = raised.value.problems
    assert problem.location == "settings[0].timeout_s"
    assert "$LATEST" in problem.message
    assert "published versions (1)" in problem.message
    assert "live" in problem.message


def test_each_setting_is_changed_journaled_scheduled_and_restored(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    lambdas.function("checkout", timeout=30, memory=512)
    lambdas.lam.put_function_concurrency(FunctionName="checkout", ReservedConcurrentExecutions=50)
    lambdas.function("worker")
    uuid = lambdas.mapping("worker")
    machinery, entries, _ = faults(
        lambdas,
        time_machine,
        [
            {"function": "checkout", "reserved_concurrency": 0, "timeout_s": 3, "memory_mb": 256},
            {"event_source_mapping": uuid, "enabled": False},
        ],
    )
    machinery.apply()
    config = lambdas.configuration("checkout")
    assert (lambdas.concurrency("checkout"), config["Timeout"], config["MemorySize"]) == (0, 3, 256)
    assert not lambdas.enabled(uuid)
    assert [(e["setting"], e["replaced"], e["value"], e["state"]) for e in entries] == [
        ("reserved_concurrency", 50, 0, "changed"),
        ("timeout_s", 30, 3, "changed"),
        ("memory_mb", 512, 256, "changed"),
        ("enabled", True, False, "changed"),
    ]
    schedules = lambdas.schedules()
    assert len(schedules) == 4
    due = time_machine.now + 2 * 5 + 60
    for schedule in schedules.values():
        assert schedule["ActionAfterCompletion"] == "DELETE"
        assert schedule["Target"]["RoleArn"] == RESTORE_ROLE
        assert schedule["ScheduleExpression"] == at_expression(due)
    targets = {
        json.dumps(json.loads(s["Target"]["Input"]), sort_keys=True): s["Target"]["Arn"] for s in schedules.values()
    }
    assert "arn:aws:scheduler:::aws-sdk:lambda:putFunctionConcurrency" in targets.values()
    assert "arn:aws:scheduler:::aws-sdk:lambda:updateEventSourceMapping" in targets.values()

    assert machinery.restore() is None
    config = lambdas.configuration("checkout")
    assert (lambdas.concurrency("checkout"), config["Timeout"], config["MemorySize"]) == (50, 30, 512)
    assert lambdas.enabled(uuid)
    assert {entry["state"] for entry in entries} == {"restored"}
    assert lambdas.schedules() == {}  # deleted at the normal restore


def test_a_reservation_the_function_did_not_have_is_removed_again(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    lambdas.function("checkout")
    machinery, entries, _ = faults(lambdas, time_machine, [{"function": "checkout", "reserved_concurrency": 0}])
    machinery.apply()
    [schedule] = lambdas.schedules().values()
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:lambda:deleteFunctionConcurrency"
    assert entries[0]["replaced"] is None
    machinery.restore()
    assert lambdas.concurrency("checkout") is None


def test_the_schedule_moves_one_lease_ahead_at_each_poll(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    lambdas.function("checkout")
    machinery, entries, _ = faults(
        lambdas, time_machine, [{"function": "checkout", "reserved_concurrency": 0}], poll=15
    )
    machinery.apply()
    time_machine.sleep(15)
    machinery.renew()
    [schedule] = lambdas.schedules().values()
    assert schedule["ScheduleExpression"] == at_expression(time_machine.now + 90)
    assert entries[0]["schedule"]["due"].startswith(instant(time_machine.now + 90)[:19])


def test_the_schedule_restores_the_replaced_value_when_the_runner_is_gone(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout", timeout=30)
    lambdas.lam.put_function_concurrency(FunctionName="checkout", ReservedConcurrentExecutions=7)
    machinery, _, _ = faults(
        lambdas, time_machine, [{"function": "checkout", "reserved_concurrency": 0, "timeout_s": 2}]
    )
    machinery.apply()
    for name in list(lambdas.schedules()):
        lambdas.fire(name)
    assert lambdas.concurrency("checkout") == 7
    assert lambdas.configuration("checkout")["Timeout"] == 30


def test_someone_elses_later_change_is_kept_and_reported(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    lambdas.function("checkout", memory=512)
    machinery, entries, said = faults(
        lambdas, time_machine, [{"function": "checkout", "reserved_concurrency": 0, "memory_mb": 256}]
    )
    machinery.apply()
    lambdas.lam.put_function_concurrency(FunctionName="checkout", ReservedConcurrentExecutions=20)  # an operator
    assert machinery.restore() is None
    assert lambdas.concurrency("checkout") == 20
    assert lambdas.configuration("checkout")["MemorySize"] == 512
    kept = entries[0]
    assert (kept["state"], kept["found"]) == ("kept", 20)
    assert any(level == "warn" and "someone else changed it" in text and "20" in text for level, text in said)
    assert lambdas.schedules() == {}  # its schedule would have undone the operator's change


def test_a_change_by_someone_else_during_the_run_deletes_its_schedule_at_the_next_poll(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout")
    machinery, entries, _ = faults(lambdas, time_machine, [{"function": "checkout", "timeout_s": 3}])
    machinery.apply()
    lambdas.lam.update_function_configuration(FunctionName="checkout", Timeout=10)
    machinery.renew()
    assert entries[0]["state"] == "kept"
    assert lambdas.schedules() == {}
    machinery.restore()
    assert lambdas.configuration("checkout")["Timeout"] == 10


def test_an_update_in_progress_is_waited_for_not_skipped(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    """moto's updates finish at once; the client is made to see InProgress for three reads."""
    lambdas.function("checkout", timeout=30)
    machinery, _, _ = faults(lambdas, time_machine, [{"function": "checkout", "timeout_s": 3}])
    with updating(lambdas.lam, 3) as seen:
        machinery.apply()
    assert seen[:4] == ["InProgress", "InProgress", "InProgress", "Successful"]
    assert time_machine.sleeps == [2.0, 2.0, 2.0]
    assert lambdas.configuration("checkout")["Timeout"] == 3
    with updating(lambdas.lam, 2):
        assert machinery.restore() is None
    assert lambdas.configuration("checkout")["Timeout"] == 30


def test_an_update_refused_as_in_progress_is_made_once_lambda_is_done(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout", timeout=30)
    machinery, entries, _ = faults(lambdas, time_machine, [{"function": "checkout", "timeout_s": 3}])
    with conflicting(lambdas.lam, "UpdateFunctionConfiguration"):
        machinery.apply()
    assert lambdas.configuration("checkout")["Timeout"] == 3
    assert entries[0]["state"] == "changed"


def test_a_value_changed_while_the_runner_waited_to_change_it_is_left_alone(
    lambdas: Lambdas, time_machine: TimeMachine
) -> None:
    lambdas.function("checkout", timeout=30)
    machinery, entries, _ = faults(lambdas, time_machine, [{"function": "checkout", "timeout_s": 3}])
    someone = lambdas_on(lambdas.server).lam
    with (
        conflicting(lambdas.lam, "UpdateFunctionConfiguration", lambda: someone.update_function_configuration(
            FunctionName="checkout", Timeout=10)),
        pytest.raises(control.AwsError, match="changed by someone else while the runner was changing it"),
    ):  # fmt: skip
        machinery.apply()
    assert machinery.restore() is None
    assert lambdas.configuration("checkout")["Timeout"] == 10
    assert (entries[0]["state"], entries[0]["found"]) == ("kept", 10)
    assert lambdas.schedules() == {}


def test_recover_restores_what_is_still_changed_and_is_idempotent(lambdas: Lambdas, time_machine: TimeMachine) -> None:
    lambdas.function("checkout", memory=512)
    lambdas.function("worker")
    uuid = lambdas.mapping("worker")
    machinery, entries, _ = faults(
        lambdas,
        time_machine,
        [
            {"function": "checkout", "reserved_concurrency": 0, "memory_mb": 256},
            {"event_source_mapping": uuid, "enabled": False},
        ],
    )
    machinery.apply()  # and the runner dies here
    lambdas.lam.update_function_configuration(FunctionName="checkout", MemorySize=1024)  # someone else's
    said: list[tuple[str, str]] = []
    client = lambdas.settings(clock=time_machine, sleep=time_machine.sleep)
    assert settings_faults.recover(entries, client, lambda text, level: said.append((level, text))) is None
    assert lambdas.concurrency("checkout") is None
    assert lambdas.enabled(uuid)
    assert lambdas.configuration("checkout")["MemorySize"] == 1024
    assert [entry["state"] for entry in entries] == ["restored", "kept", "restored"]
    assert lambdas.schedules() == {}
    before = json.dumps(entries)
    said.clear()
    assert settings_faults.recover(entries, client, lambda text, level: said.append((level, text))) is None
    assert all("nothing to do" in text for _, text in said)
    assert lambdas.concurrency("checkout") is None
    assert lambdas.configuration("checkout")["MemorySize"] == 1024
    assert json.loads(before) == entries


def test_fis_template_refuses_a_file_with_settings_for_that_reason_alone(tmp_path: Path) -> None:
    document = experiment_document(
        settings=[{"function": "checkout", "reserved_concurrency": 0}],
        restore_role=RESTORE_ROLE,
        steady_state=[{"alarm": "checkout-errors"}],
    )
    path = tmp_path / "game-day.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(app_module.app, ["fis", "template", str(path)])
    assert result.exit_code == 1, result.output
    assert "faults on a function's settings" in result.output
    assert "restore_role" not in result.output
