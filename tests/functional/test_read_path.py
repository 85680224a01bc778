"""One read path: what `status` shows is what a decorated handler reads, for every way of
naming the parameters (name, ARN, `:label`, `:version`), against moto over HTTP."""

from __future__ import annotations

import json
import logging
from random import Random
from typing import Any

import pytest

from chaos_layer import inject_fault
from chaos_layer.control import Controller, Status
from tests.conftest import HTTP_EVENT, FakeClock, MotoServer

PARAM = "/chaos-layer/read-path"
KILL = "/chaos-layer/read-path-kill"
OK = {"statusCode": 200, "body": "ok"}
# Version 1 (labelled `stable`) answers 503, version 2 (the latest) answers 429.
VERSIONS = [
    {"enabled": True, "experiment": "stable", "faults": [{"type": "status_code", "status_code": 503}]},
    {"enabled": True, "experiment": "latest", "faults": [{"type": "status_code", "status_code": 429}]},
]


@pytest.fixture
def client(moto_server: MotoServer) -> Any:
    client = moto_server.client()
    for document in VERSIONS:
        client.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)
    client.label_parameter_version(Name=PARAM, ParameterVersion=1, Labels=["stable"])
    return client


def arn(client: Any, name: str) -> str:
    return str(client.get_parameter(Name=name)["Parameter"]["ARN"])


def handler_reads(client: Any, clock: FakeClock, parameter: str, kill_switch: str = KILL) -> Any:
    """What a handler decorated with these locations answers (no sleeping, a fixed draw)."""

    @inject_fault(parameter=parameter, kill_switch=kill_switch, boto3_client=client, clock=clock, random=Random(1))
    def handler(event: Any, context: Any) -> Any:
        return OK

    return handler(HTTP_EVENT, None)


def status(client: Any, clock: FakeClock, parameter: str, kill_switch: str = KILL) -> Status:
    return Controller(client, parameter, kill_switch, clock=clock).status()


@pytest.mark.parametrize(
    ("selector", "experiment", "version", "code"),
    [("", "latest", 2, 429), (":stable", "stable", 1, 503), (":1", "stable", 1, 503), (":2", "latest", 2, 429)],
)
@pytest.mark.parametrize("by", ["name", "arn"])
def test_status_and_the_handler_read_the_same_version(
    client: Any, clock: FakeClock, by: str, selector: str, experiment: str, version: int, code: int
) -> None:
    parameter = (PARAM if by == "name" else arn(client, PARAM)) + selector
    shown = status(client, clock, parameter)
    assert shown.found
    assert shown.config is not None
    assert (shown.config.experiment, shown.version, shown.injecting) == (experiment, version, True)
    assert [fault["status_code"] for fault in shown.to_dict()["config"]["faults"]] == [code]
    assert handler_reads(client, clock, parameter)["statusCode"] == code


def test_a_label_or_version_that_does_not_exist_is_missing_for_both(client: Any, clock: FakeClock) -> None:
    for parameter in (f"{PARAM}:7", f"{PARAM}:unlabelled"):
        assert not status(client, clock, parameter).found
        assert handler_reads(client, clock, parameter) == OK


@pytest.mark.parametrize(("value", "engaged"), [("on", True), ("stop", True), (" OFF ", False), ("0", False)])
@pytest.mark.parametrize("by", ["name", "arn", "label", "version"])
def test_the_kill_switch_rule_is_the_same_for_both(
    client: Any, clock: FakeClock, by: str, value: str, engaged: bool
) -> None:
    client.put_parameter(Name=KILL, Value="off" if engaged else "on", Type="String")  # version 1: the opposite
    client.put_parameter(Name=KILL, Value=value, Type="String", Overwrite=True)
    client.label_parameter_version(Name=KILL, ParameterVersion=2, Labels=["game-day"])
    kill_switch = {"name": KILL, "arn": arn(client, KILL), "label": f"{KILL}:game-day", "version": f"{KILL}:2"}[by]

    shown = status(client, clock, PARAM, kill_switch)
    assert shown.killed is engaged
    assert shown.kill_switch_value == value
    assert shown.injecting is not engaged
    assert (handler_reads(client, clock, PARAM, kill_switch) == OK) is engaged


def test_an_invalid_config_shows_the_problems_the_library_logs(
    client: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client.put_parameter(
        Name=PARAM, Value=json.dumps({"enabled": True, "rate": 2, "faults": [{"type": "nope"}]}), Overwrite=True
    )
    shown = status(client, clock, PARAM)
    assert shown.found
    assert shown.problems

    caplog.set_level(logging.WARNING, logger="chaos_layer")
    assert handler_reads(client, clock, PARAM) == OK
    (warning,) = [r.getMessage() for r in caplog.records if r.name.startswith("chaos_layer")]
    assert warning == f"chaos-layer is not injecting: config in {PARAM} is invalid: " + "; ".join(
        str(problem) for problem in shown.problems
    )
