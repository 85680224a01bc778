"""The decorator with its own default SSM client, over real HTTP to moto on 127.0.0.1.

The library is pointed at the server only through AWS_ENDPOINT_URL_SSM, as botocore
honours it in Lambda; SSM calls are counted at the server.
"""

from __future__ import annotations

import json
from random import Random
from typing import Any

import pytest

from chaos_layer import inject_fault
from tests.conftest import FakeClock, MotoServer, RecordingSleep

PARAM = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
OK = {"statusCode": 200, "body": "ok"}
CONFIG = {
    "enabled": True,
    "experiment": "http",
    "faults": [
        {"type": "latency", "delay_ms": 120},
        {"type": "status_code", "status_code": 503, "body": "busy", "headers": {"Retry-After": "1"}},
    ],
}
REST_EVENT = {"httpMethod": "GET", "path": "/orders", "requestContext": {"stage": "prod"}}


@pytest.fixture
def endpoint(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
    monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
    return moto_server


def handler(event: Any, context: Any) -> Any:
    return OK


def test_injects_over_http(endpoint: MotoServer, clock: FakeClock, sleeps: RecordingSleep) -> None:
    endpoint.put(PARAM, json.dumps(CONFIG))
    function = inject_fault(clock=clock, sleep=sleeps)(handler)

    assert function(REST_EVENT, None) == {
        "statusCode": 503,
        "headers": {"Retry-After": "1"},
        "body": "busy",
        "isBase64Encoded": False,
    }
    assert sleeps.calls == [0.12]
    assert endpoint.requests == ["AmazonSSM.GetParameters"]


def test_secure_string_over_http(endpoint: MotoServer, clock: FakeClock, sleeps: RecordingSleep) -> None:
    endpoint.put(PARAM, json.dumps(CONFIG), type="SecureString")
    function = inject_fault(clock=clock, sleep=sleeps)(handler)
    assert function(REST_EVENT, None)["statusCode"] == 503


def test_one_request_per_cache_period(endpoint: MotoServer, clock: FakeClock, sleeps: RecordingSleep) -> None:
    endpoint.put(PARAM, json.dumps(CONFIG))
    function = inject_fault(clock=clock, sleep=sleeps, random=Random(3))(handler)
    for _ in range(2000):  # 2 s of invocations, inside one 5 s period
        function(REST_EVENT, None)
        clock.advance(0.001)
    assert endpoint.calls() == 1
    clock.advance(5)
    function(REST_EVENT, None)
    assert endpoint.calls() == 2


def test_disabled_sends_no_request_at_all(
    endpoint: MotoServer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOS_LAYER_DISABLED", "true")
    monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
    monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "0")
    endpoint.put(PARAM, json.dumps(CONFIG))
    function = inject_fault(clock=clock)(handler)
    for _ in range(10):
        assert function(REST_EVENT, None) == OK
        clock.advance(10)
    assert endpoint.requests == []


def test_kill_switch_over_http(endpoint: MotoServer, clock: FakeClock, sleeps: RecordingSleep) -> None:
    endpoint.put(PARAM, json.dumps(CONFIG))
    function = inject_fault(clock=clock, sleep=sleeps)(handler)
    assert function(REST_EVENT, None)["statusCode"] == 503

    endpoint.put(KILL, "on")
    clock.advance(5)
    assert function(REST_EVENT, None) == OK

    endpoint.put(KILL, "off")
    clock.advance(60)  # killed is idle: the release arrives within the idle period
    assert function(REST_EVENT, None)["statusCode"] == 503
    assert endpoint.calls() == 3
