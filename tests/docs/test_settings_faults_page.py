"""docs/settings-faults.md: its run-file examples are valid files, its Chaos Toolkit action names
a real action with real arguments, and its IAM policies allow every call the settings machinery
makes (recorded against the moto server) and every restore its schedules would make."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
import yaml

from chaos_layer import ctk
from chaos_layer.exceptions import Problem
from chaos_layer.experiment import definition, settings_faults
from tests.conftest import MotoServer
from tests.docs import pages
from tests.runner.lambdas import RESTORE_ROLE, lambdas_on

PAGE = "settings-faults.md"


def actions(policy: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for statement in policy["Statement"]:
        listed = statement["Action"]
        found |= {listed} if isinstance(listed, str) else set(listed)
    return found


def test_the_settings_example_is_valid() -> None:
    document = yaml.safe_load(pages.block(PAGE, "settings keys"))
    problems: list[Problem] = []
    found = settings_faults.parse_settings(document["settings"], "settings", problems)
    assert problems == []
    assert [setting.key for setting in found] == ["reserved_concurrency", "timeout_s", "memory_mb", "enabled"]
    assert settings_faults.role_problem(document["restore_role"]) is None


def test_the_game_day_is_a_valid_run_file_that_throttles_inventory() -> None:
    experiment = definition.parse_experiment(yaml.safe_load(pages.block(PAGE, "game-day")))
    assert [(s.function, s.key, s.value) for s in experiment.settings] == [("inventory", "reserved_concurrency", 0)]
    assert experiment.blast_radius["dry_run"] is True


def test_the_chaos_toolkit_action_is_a_real_action_with_its_arguments() -> None:
    provider = json.loads(pages.block(PAGE, "ctk action"))["provider"]
    action = getattr(ctk, provider["func"])
    assert provider["func"] in ctk.__all__
    inspect.signature(action).bind(**provider["arguments"])


def test_the_policies_allow_every_call_of_a_run_and_of_its_schedules(moto_server: MotoServer) -> None:
    lambdas = lambdas_on(moto_server)
    lambdas.function("checkout")
    lambdas.function("worker")
    uuid = lambdas.mapping("worker")
    runner = lambdas_on(moto_server)  # the machinery's own clients, whose calls are recorded
    called: set[str] = set()
    for client in (runner.lam, runner.scheduler):
        client.meta.events.register(
            "before-call.*.*",
            lambda model, **_: called.add(f"{model.service_model.signing_name}:{model.name}"),
        )
    entries: list[dict[str, Any]] = []
    document = {"settings": [{"function": "checkout", "reserved_concurrency": 0, "timeout_s": 3, "memory_mb": 256},
                             {"event_source_mapping": uuid, "enabled": False}]}  # fmt: skip
    problems: list[Problem] = []
    machinery = settings_faults.SettingsFaults(
        settings_faults.parse_settings(document["settings"], "settings", problems),
        runner.settings(),
        entries,
        role=RESTORE_ROLE,
        lease=90,
    )
    machinery.check()
    machinery.apply()
    restores = {schedule["Target"]["Arn"].rsplit(":", 1)[1] for schedule in lambdas.schedules().values()}
    machinery.renew()
    machinery.restore()
    settings_faults.recover(entries, runner.settings(), lambda text, level: None)
    operator = json.loads(pages.block(PAGE, "operator policy"))
    assert called <= actions(operator), called - actions(operator)
    restore_policy = json.loads(pages.block(PAGE, "restore role policy"))
    assert {f"lambda:{name[0].upper()}{name[1:]}" for name in restores} <= actions(restore_policy)
    trust = json.loads(pages.block(PAGE, "restore role trust"))
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}


@pytest.mark.parametrize("name", ["operator policy", "restore role policy"])
def test_the_policies_change_only_opted_in_resources(name: str) -> None:
    policy = json.loads(pages.block(PAGE, name))
    for statement in policy["Statement"]:
        listed = statement["Action"]
        writes = [a for a in ([listed] if isinstance(listed, str) else listed) if not a.startswith("lambda:Get")]
        if any(action.startswith("lambda:") and not action.startswith(("lambda:List",)) for action in writes):
            condition = statement["Condition"]["StringEquals"]
            assert condition == {"aws:ResourceTag/chaos-layer:settings-faults": "allow"}
