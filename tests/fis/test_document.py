"""The FIS Automation document, run step by step by the stand-in executor against the moto
server: what it leaves in the config parameter on each path a real execution can take."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from chaos_layer import control
from chaos_layer.fis.template import ALLOWED_ACTIONS, document
from tests.automation_standin import Automation, Execution
from tests.conftest import REGION, MotoServer

CONFIG = "/chaos-layer/checkout"
KILL_SWITCH = "/chaos-layer/kill-switch"
SOURCE = "/chaos-layer/fis/checkout-latency"
EXPERIMENT = {"experiment": "checkout-latency", "rate": 0.05, "faults": [{"type": "latency", "delay_ms": 300}]}
PARAMETERS = {
    "AutomationAssumeRole": "arn:aws:iam::123456789012:role/chaos-layer-automation",
    "ConfigParameter": CONFIG,
    "KillSwitchParameter": KILL_SWITCH,
    "ExperimentConfigParameter": SOURCE,
    "Duration": "PT15M",
}
STEPS = [step["name"] for step in document()["mainSteps"]]
# The steps a run takes when nothing gets in its way.
SUCCESS_PATH = ["ReadState", "Prepare", "Write", "CheckWrite", "Hold", "ReadCurrent", "DecideEnd", "StillOurs"]
SUCCESS_PATH += ["WriteStop", "CheckStop"]


class Run:
    """One execution of the document against the moto server, with what the hold saw."""

    def __init__(self, moto_server: MotoServer) -> None:
        self.moto = moto_server
        self.ssm = moto_server.client()
        self.slept: list[float] = []
        self.during_hold: dict[str, Any] | None = None
        self.during_hold_hook: Any = None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.moto.endpoint_url)  # type: ignore[call-overload]

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.during_hold = self.config()
        if self.during_hold_hook:
            self.during_hold_hook()

    def config(self) -> dict[str, Any] | None:
        try:
            parameter = self.ssm.get_parameter(Name=CONFIG)["Parameter"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        return {"version": parameter["Version"], **json.loads(parameter["Value"])}

    def __call__(self, **settings: Any) -> Execution:
        self.automation = Automation(document(), self.client, sleep=self.sleep, **settings)
        self.started = datetime.now(timezone.utc)
        execution = self.automation.run(PARAMETERS)
        self.ended = datetime.now(timezone.utc)
        return execution

    @property
    def writes(self) -> int:
        return sum(1 for _, api, _ in self.automation.api_calls if api == "PutParameter")


@pytest.fixture
def run(moto_server: MotoServer) -> Run:
    moto_server.put(SOURCE, json.dumps(EXPERIMENT))
    return Run(moto_server)


def expiry(config: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(config["expires_at"].replace("Z", "+00:00"))


def test_the_document_uses_only_the_allowed_actions_and_holds_with_one_sleep() -> None:
    actions = [step["action"] for step in document()["mainSteps"]]
    assert set(actions) <= ALLOWED_ACTIONS
    assert actions.count("aws:sleep") == 1
    assert document()["schemaVersion"] == "0.3"


def test_success_writes_the_config_holds_for_the_duration_then_disables_it(run: Run) -> None:
    execution = run()

    assert execution.status == "Success", execution.steps
    assert execution.names == SUCCESS_PATH
    assert run.slept == [900.0]
    held = run.during_hold
    assert held is not None
    assert held["enabled"] is True
    assert held["version"] == 1
    assert {key: held[key] for key in EXPERIMENT} == EXPERIMENT
    # The config the functions read during the hold is one the library accepts.
    control.validate({key: value for key, value in held.items() if key != "version"})
    # It ends by itself at most 5 minutes after the hold, whatever happens to the document.
    assert run.started + timedelta(minutes=20) - timedelta(seconds=1) <= expiry(held)
    assert expiry(held) <= run.ended + timedelta(minutes=20)
    final = run.config()
    assert final is not None
    assert final["enabled"] is False
    assert final["version"] == 2
    assert final["faults"] == EXPERIMENT["faults"]


@pytest.mark.parametrize("step", SUCCESS_PATH)
def test_a_cancel_at_any_step_leaves_no_enabled_config(run: Run, step: str) -> None:
    execution = run(cancel_at=step)

    assert execution.status == "Cancelled"
    assert (step, "Cancelled") in [(s.name, s.status) for s in execution.steps]
    final = run.config()
    if SUCCESS_PATH.index(step) <= SUCCESS_PATH.index("Write"):
        assert final is None, "nothing was written before the write"
        assert run.writes == 0
    else:
        assert final is not None
        assert final["enabled"] is False
        assert "Hold" not in execution.names[execution.names.index(step) + 1 :], "a cancel never holds again"


@pytest.mark.parametrize("step", ["Write", "WriteStop"])
def test_a_cancel_that_lands_after_a_write_was_made_still_ends_it(run: Run, step: str) -> None:
    execution = run(cancel_at=step, cancel_after_action=True)

    assert execution.status == "Cancelled"
    final = run.config()
    assert final is not None
    assert final["enabled"] is False


@pytest.mark.parametrize("step", ["Write", "CheckWrite", "Hold", "DecideEnd", "WriteStop"])
def test_a_failing_step_after_the_start_ends_the_experiment(run: Run, step: str) -> None:
    execution = run(fail_at=frozenset({step}))

    assert execution.status == "Failed"
    final = run.config()
    if step == "Write":
        assert final is None
    elif step in ("DecideEnd", "WriteStop"):
        # The end itself failed (three attempts): the config ends by itself at its expiry.
        assert final is not None
        assert final["enabled"] is True
        assert expiry(final) <= run.ended + timedelta(minutes=20)
    else:
        assert final is not None
        assert final["enabled"] is False


def test_a_failing_end_leaves_a_config_that_expires_by_itself_within_the_duration_and_5_minutes(run: Run) -> None:
    execution = run(fail_at=frozenset({"ReadCurrent"}))

    assert execution.status == "Failed"
    assert [s.status for s in execution.steps if s.name == "ReadCurrent"] == ["Failed"]
    final = run.config()
    assert final is not None
    assert final["enabled"] is True
    assert expiry(final) <= run.ended + timedelta(minutes=20)


@pytest.mark.parametrize("value", ["on", " ON ", "engaged", "1", "true"])
def test_an_engaged_kill_switch_refuses_the_start(run: Run, value: str) -> None:
    run.moto.put(KILL_SWITCH, value)

    execution = run()

    assert execution.status == "Failed"
    assert execution.names == ["ReadState", "Prepare"]
    assert "kill switch" in execution.step("Prepare").message
    assert run.config() is None
    assert run.writes == 0


@pytest.mark.parametrize("value", [None, "off", " False ", "0", "OFF\n"])
def test_a_released_or_absent_kill_switch_lets_it_run(run: Run, value: str | None) -> None:
    if value is not None:
        run.moto.put(KILL_SWITCH, value)

    assert run().status == "Success"


def test_a_config_held_by_another_enabled_experiment_is_not_touched(run: Run) -> None:
    theirs = {
        "enabled": True,
        "experiment": "payments-errors",
        "expires_at": (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "faults": [{"type": "exception"}],
    }
    run.moto.put(CONFIG, json.dumps(theirs))

    execution = run()

    assert execution.status == "Failed"
    assert "payments-errors" in execution.step("Prepare").message
    assert run.config() == {"version": 1, **theirs}
    assert run.writes == 0


@pytest.mark.parametrize(
    "stored",
    [
        {"enabled": False, "experiment": "earlier", "faults": []},
        {"enabled": True, "experiment": "earlier", "expires_at": "2020-01-01T00:00:00Z", "faults": []},
    ],
    ids=["disabled", "expired"],
)
def test_a_disabled_or_expired_config_is_taken_over_at_the_version_read(run: Run, stored: dict[str, Any]) -> None:
    run.moto.put(CONFIG, json.dumps(stored))

    execution = run()

    assert execution.status == "Success"
    assert run.during_hold is not None
    assert run.during_hold["version"] == 2
    final = run.config()
    assert final is not None
    assert final["enabled"] is False
    assert final["version"] == 3


@pytest.mark.parametrize("operator_value", [{"enabled": False, "experiment": "checkout-latency", "faults": []}, "x"])
def test_an_operators_write_during_the_hold_is_never_undone(run: Run, operator_value: Any) -> None:
    text = json.dumps(operator_value) if isinstance(operator_value, dict) else operator_value
    run.during_hold_hook = lambda: run.moto.put(CONFIG, text)

    execution = run()

    assert execution.status == "Success"
    assert execution.names[-1] == "LeaveIt"
    assert "written after this experiment" in execution.step("LeaveIt").outputs["Message"]
    parameter = run.ssm.get_parameter(Name=CONFIG)["Parameter"]
    assert (parameter["Version"], parameter["Value"]) == (2, text)


def test_an_operators_stop_during_a_cancel_is_never_undone(run: Run) -> None:
    stop = json.dumps({"enabled": False, "experiment": "checkout-latency", "faults": []})
    execution = run(cancel_at="ReadCurrent", before={"ReadCurrent": lambda: run.moto.put(CONFIG, stop)})

    assert execution.status == "Cancelled"
    assert run.ssm.get_parameter(Name=CONFIG)["Parameter"]["Value"] == stop


def test_a_write_that_races_the_start_is_named_and_the_experiment_ended(run: Run) -> None:
    racing = json.dumps({"enabled": False, "experiment": "someone", "faults": []})

    execution = run(before={"Write": lambda: run.moto.put(CONFIG, racing)})

    assert execution.status == "Failed"
    message = execution.step("CheckWrite").message
    assert "version 1 was overwritten" in message
    assert f"get-parameter-history --name {CONFIG}" in message
    assert "Hold" not in execution.names
    final = run.config()
    assert final is not None
    assert final["enabled"] is False
    assert final["version"] == 3


def test_the_stand_in_refuses_a_call_that_botocore_would_refuse(moto_server: MotoServer) -> None:
    """The model check can fail: a misspelt member never reaches the moto server."""
    broken = {
        "schemaVersion": "0.3",
        "mainSteps": [
            {
                "name": "Write",
                "action": "aws:executeAwsApi",
                "inputs": {"Service": "ssm", "Api": "PutParameter", "Nme": "/x", "Value": "y"},
            }
        ],
    }
    automation = Automation(broken, lambda service: moto_server.client())
    with pytest.raises(AssertionError, match='Unknown parameter in input: "Nme"'):
        automation.run({})
