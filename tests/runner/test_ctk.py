"""chaos_layer.ctk under a real Chaos Toolkit (`chaos run`, no network) against moto over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.runner.conftest import Aws
from tests.runner.lambdas import RESTORE_ROLE, lambdas_on

CHAOS = Path(sys.executable).parent / "chaos"
ROOT = Path(__file__).resolve().parents[2]
PARAM = "/chaos-layer/orders"


def activity(kind: str, name: str, func: str, **arguments: Any) -> dict[str, Any]:
    provider = {"type": "python", "module": "chaos_layer.ctk", "func": func, "arguments": arguments}
    return {"type": kind, "name": name, "provider": provider}


def experiment(method: list[dict[str, Any]]) -> dict[str, Any]:
    not_injecting = activity("probe", "nothing-is-injected", "is_injecting", parameter=PARAM)
    return {
        "version": "1.0.0",
        "title": "Orders survive 300 ms of latency",
        "description": "chaos-layer's faults inside the handler, driven by Chaos Toolkit",
        "configuration": {"aws_region": "us-east-1", "aws_endpoint_url": {"type": "env", "key": "MOTO_URL"}},
        "steady-state-hypothesis": {
            "title": "Nothing is injected outside the experiment",
            "probes": [{**not_injecting, "tolerance": False}],
        },
        "method": method,
        "rollbacks": [activity("action", "stop-the-experiment", "stop_experiment", parameter=PARAM)],
    }


def chaos_run(
    document: dict[str, Any], aws: Aws, tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], str]:
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(document))
    journal = tmp_path / "journal.json"
    result = subprocess.run(
        [str(CHAOS), "--no-version-check", "--no-log-file", "run", "--journal-path", str(journal), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "MOTO_URL": aws.server.endpoint_url, "HOME": str(tmp_path), **(env or {})},
        check=False,
    )
    if not journal.exists():  # Chaos Toolkit refused the experiment before running it
        return {}, result.stdout + result.stderr
    return json.loads(journal.read_text()), result.stdout + result.stderr


def outputs(journal: dict[str, Any]) -> dict[str, Any]:
    return {run["activity"]["name"]: run for run in journal["run"]}


def test_start_status_kill_release_and_stop_from_chaos_toolkit(aws: Aws, tmp_path: Path) -> None:
    method = [
        activity(
            "action", "inject-latency", "start_experiment",
            parameter=PARAM, faults=[{"type": "latency", "delay_ms": 300}], rate=0.05, duration="10m",
            experiment="orders-latency", blast_radius={"targets": {"functions": ["orders"]}},
        ),
        activity("probe", "status-while-running", "get_status", parameter=PARAM),
        activity("action", "big-red-button", "engage_kill_switch"),
        activity("probe", "injecting-after-the-kill", "is_injecting", parameter=PARAM),
        activity("action", "release", "release_kill_switch"),
        activity("probe", "injecting-again", "is_injecting", parameter=PARAM),
        activity("action", "end", "stop_experiment", parameter=PARAM),
    ]  # fmt: skip
    journal, log = chaos_run(experiment(method), aws, tmp_path)
    assert journal["status"] == "completed", log
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    runs = outputs(journal)
    assert all(run["status"] == "succeeded" for run in runs.values()), log
    started = runs["inject-latency"]["output"]
    assert (started["parameter"], started["version"], started["rate"]) == (PARAM, 1, 0.05)
    status = runs["status-while-running"]["output"]
    assert status["injecting"] is True
    assert status["config"]["experiment"] == "orders-latency"
    assert status["config"]["blast_radius"] == {"targets": {"functions": ["orders"]}}
    assert status["config"]["expires_at"] == started["expires_at"]
    assert runs["injecting-after-the-kill"]["output"] is False
    assert runs["injecting-again"]["output"] is True
    assert runs["end"]["output"]["stopped"] is True
    assert json.loads(aws.value(PARAM) or "null")["enabled"] is False
    assert aws.value("/chaos-layer/kill-switch") == "off"


@pytest.mark.parametrize(
    ("faults", "problems"),
    [
        ([{"type": "latency"}], ["the config is invalid", "faults[0].delay_ms: is required"]),
        ([], ["the config has no faults", "faults: must list a fault"]),
        (
            [{"type": "latency", "delay": 300}, {"type": "dependency", "services": ["dynamo"], "error": "Throttling"}],
            [
                "faults[0].delay: unknown key",
                "faults[1].services[0]: unknown service 'dynamo'",
                "did you mean dynamodb?",
            ],
        ),
    ],
)
def test_an_invalid_config_fails_the_action_with_every_problem_and_writes_nothing(
    aws: Aws, tmp_path: Path, faults: list[dict[str, Any]], problems: list[str]
) -> None:
    method = [activity("action", "inject", "start_experiment", parameter=PARAM, faults=faults, rate=0.05)]
    journal, log = chaos_run(experiment(method), aws, tmp_path)
    run = outputs(journal)["inject"]
    assert run["status"] == "failed", log
    for problem in problems:
        assert problem in run["exception"][-1]
    assert aws.value(PARAM) is None


def test_starting_without_a_rate_fails_and_writes_nothing(aws: Aws, tmp_path: Path) -> None:
    """No default rate: an experiment file that forgets it must not inject into every invocation."""
    faults = [{"type": "latency", "delay_ms": 300}]
    method = [activity("action", "inject", "start_experiment", parameter=PARAM, faults=faults)]
    journal, log = chaos_run(experiment(method), aws, tmp_path)
    assert journal.get("status") != "completed", log
    assert "required argument 'rate' is missing" in log
    assert aws.value(PARAM) is None


def test_the_example_experiment_runs_against_a_local_moto_server(aws: Aws, tmp_path: Path) -> None:
    example = json.loads((ROOT / "examples" / "chaostoolkit" / "experiment.json").read_text())
    journal, log = chaos_run(example, aws, tmp_path, {"AWS_ENDPOINT_URL": aws.server.endpoint_url})
    assert journal["status"] == "completed", log
    runs = outputs(journal)
    assert all(run["status"] == "succeeded" for run in runs.values()), log
    status = runs["injecting-now"]["output"]
    assert status["injecting"] is True
    assert (status["config"]["experiment"], status["config"]["rate"]) == ("hello-latency", 0.05)
    stored = json.loads(aws.value("/chaos-layer/hello") or "null")
    assert stored["enabled"] is False
    assert stored["expires_at"] == status["config"]["expires_at"]


def group_metrics(aws: Aws, treatment_errors: int) -> None:
    """Both groups' records of the last minutes, as CloudWatch holds them."""
    now = time.time()
    for minutes_ago in (3, 2, 1):
        aws.group("treatment", 300, treatment_errors, at=now - 60 * minutes_ago, experiment="orders-throttling")
        aws.group("control", 300, 3, at=now - 60 * minutes_ago, experiment="orders-throttling")


def comparison_probe(**arguments: Any) -> dict[str, Any]:
    probe = activity("probe", "treatment-against-control", "get_comparison", experiment="orders-throttling",
                     compare="errors", max_increase=0.02, since="10m", **arguments)  # fmt: skip
    provider = {"type": "python", "module": "chaos_layer.ctk", "func": "no_breach", "arguments": {}}
    tolerance = {"type": "probe", "name": "no-breach", "provider": provider}
    return {**probe, "tolerance": tolerance}


def test_the_comparison_probe_as_a_steady_state_tolerance(aws: Aws, tmp_path: Path) -> None:
    group_metrics(aws, treatment_errors=4)
    document = experiment([activity("probe", "the-comparison-now", "get_comparison", experiment="orders-throttling",
                                    compare="errors", max_increase=0.02, since="10m")])  # fmt: skip
    document["steady-state-hypothesis"]["probes"].append(comparison_probe())
    journal, log = chaos_run(document, aws, tmp_path)
    assert journal["status"] == "completed", log
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    comparison = outputs(journal)["the-comparison-now"]["output"]
    assert (comparison["status"], comparison["breached"]) == ("ok", False)
    for group, failed in (("treatment", 12), ("control", 9)):
        counts = {key: comparison[group][key] for key in ("invocations", "completed", "errors", "failures", "rate")}
        assert counts == {"invocations": 900, "completed": 900, "errors": failed, "failures": failed,
                          "rate": pytest.approx(failed / 900)}  # fmt: skip
    assert comparison["words"].startswith("the error rate rose by 0.33 points, 95 % upper bound")


def test_a_breached_comparison_fails_the_steady_state(aws: Aws, tmp_path: Path) -> None:
    group_metrics(aws, treatment_errors=60)
    document = experiment([])
    document["steady-state-hypothesis"]["probes"].append(comparison_probe())
    journal, log = chaos_run(document, aws, tmp_path)
    assert journal["steady_states"]["before"]["steady_state_met"] is False, log
    assert "Steady state probe 'treatment-against-control' is not in the given tolerance" in log
    (probe,) = [p for p in journal["steady_states"]["before"]["probes"] if p["activity"]["name"].startswith("treat")]
    assert probe["output"]["status"] == "breach"
    assert probe["tolerance_met"] is False


def test_an_invalid_comparison_fails_the_probe(aws: Aws, tmp_path: Path) -> None:
    method = [activity("probe", "bad", "get_comparison", experiment="x", compare="errors", max_increase=3)]
    journal, log = chaos_run(experiment(method), aws, tmp_path)
    run = outputs(journal)["bad"]
    assert run["status"] == "failed", log
    assert "the comparison is invalid" in run["exception"][-1]


def test_settings_actions_change_a_function_and_the_rollback_restores_it(aws: Aws, tmp_path: Path) -> None:
    lambdas = lambdas_on(aws.server)
    lambdas.function("orders", timeout=30)
    lambdas.function("worker")
    uuid = lambdas.mapping("worker")
    lambdas.lam.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=40)
    method = [
        activity("action", "throttle", "set_reserved_concurrency", function="orders", reserved_concurrency=0,
                 restore_role=RESTORE_ROLE, duration="10m"),
        activity("action", "shorter-timeout", "set_timeout", function="orders", timeout_s=3, restore_role=RESTORE_ROLE),
        activity("action", "stop-the-queue", "set_event_source_mapping_enabled", event_source_mapping=uuid,
                 enabled=False, restore_role=RESTORE_ROLE),
        activity("probe", "concurrency-during", "get_status", parameter=PARAM),
    ]  # fmt: skip
    document = experiment(method)
    document["rollbacks"] = [activity("action", "restore", "restore_settings")]
    journal, log = chaos_run(document, aws, tmp_path)
    runs = outputs(journal)
    assert all(run["status"] == "succeeded" for run in runs.values()), log
    throttle = runs["throttle"]["output"]
    assert (throttle["replaced"], throttle["value"], throttle["state"]) == (40, 0, "changed")
    assert throttle["schedule"]
    assert throttle["restores_by"]
    assert runs["stop-the-queue"]["output"]["replaced"] is True
    [restore] = [run for run in journal["rollbacks"] if run["activity"]["name"] == "restore"]
    assert restore["status"] == "succeeded", log
    assert [item["state"] for item in restore["output"]["settings"]] == ["restored", "restored", "restored"]
    assert lambdas.concurrency("orders") == 40
    assert lambdas.configuration("orders")["Timeout"] == 30
    assert lambdas.enabled(uuid)
    assert lambdas.schedules() == {}


def test_a_settings_action_on_an_untagged_function_fails_and_writes_nothing(aws: Aws, tmp_path: Path) -> None:
    lambdas = lambdas_on(aws.server)
    lambdas.function("orders", tagged=False)
    method = [activity("action", "throttle", "set_reserved_concurrency", function="orders", reserved_concurrency=0,
                       restore_role=RESTORE_ROLE)]  # fmt: skip
    journal, log = chaos_run(experiment(method), aws, tmp_path)
    run = outputs(journal)["throttle"]
    assert run["status"] == "failed", log
    assert "settings[0].function: orders does not carry the tag chaos-layer:settings-faults=allow" in (
        "".join(run["exception"])
    )
    assert lambdas.concurrency("orders") is None
    assert lambdas.schedules() == {}
