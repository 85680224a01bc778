"""Every sample event (tests/events) through `@inject_fault`: which fault applies to which
event source, and that no fault makes a non-HTTP invocation report success without running
its handler (SQS would delete the batch unprocessed)."""

from __future__ import annotations

import json
import logging
from random import Random
from typing import Any

import pytest

from chaos_layer import InjectedFault, inject_fault
from chaos_layer.faults import FAULT_TYPES
from tests import sample_events
from tests.conftest import MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos

RESPONSE = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hello world"}
# Whether each sample is from an HTTP source; every file in tests/events is listed once.
HTTP = {name: True for name in sample_events.HTTP_EVENTS} | {name: False for name in sample_events.NON_HTTP_EVENTS}
# A durable execution's envelope: response faults and a lost answer are never applied there
# (the service would reject the output, or a replay take another path), without a warning.
DURABLE = frozenset({"durable-execution"})


def test_every_event_file_is_classified() -> None:
    assert sorted(HTTP) == sample_events.all_names()


class Handler:
    """Counts its runs; returns an HTTP-shaped response whatever the event (so a fault that
    wrongly treats a queue's invocation as HTTP would have a body to change)."""

    def __init__(self) -> None:
        self.runs = 0
        self.__name__ = self.__qualname__ = "handler"

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return json.loads(json.dumps(RESPONSE))


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="chaos_layer")
    return caplog


def injected(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "chaos_layer"]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "chaos_layer.decorator"]


def metrics(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [json.loads(line)["fault"] for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


@pytest.mark.parametrize("name", sample_events.all_names())
class TestEveryEventSource:
    def test_status_code(
        self,
        name: str,
        moto_server: MotoServer,
        sleeps: RecordingSleep,
        logged: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        handler = Handler()
        function = with_chaos(moto_server, sleeps, {"type": "status_code", "status_code": 503, "body": "busy"})(handler)
        capsys.readouterr()

        responses = [function(sample_events.load(name), None) for _ in range(3)]

        if HTTP[name]:
            assert handler.runs == 0
            assert all(response["statusCode"] == 503 and response["body"] == "busy" for response in responses)
            if name.startswith(("alb", "vpc-lattice")):
                assert all(r["statusDescription"] == "503 Service Unavailable" for r in responses)
            assert [record["fault"] for record in injected(logged)] == ["status_code"] * 3
            assert metrics(capsys) == ["status_code"] * 3
            assert warnings(logged) == []
        else:
            assert handler.runs == 3
            assert responses == [RESPONSE] * 3
            assert injected(logged) == []
            assert metrics(capsys) == []
            if name in DURABLE:
                return
            [warning] = warnings(logged)  # once per period, not once per invocation
            assert warning.startswith("chaos-layer: status_code skipped for ")
            assert warning.endswith(" events: it applies only to events from HTTP sources")

    def test_status_code_after_the_handler(
        self, name: str, moto_server: MotoServer, sleeps: RecordingSleep, logged: pytest.LogCaptureFixture
    ) -> None:
        handler = Handler()
        fault = {"type": "status_code", "status_code": 500, "prevent_execution": False}
        response = with_chaos(moto_server, sleeps, fault)(handler)(sample_events.load(name), None)

        assert handler.runs == 1
        if HTTP[name]:
            assert response["statusCode"] == 500
            assert response["body"] == "hello world"
            assert len(injected(logged)) == 1
        else:
            assert response == RESPONSE
            assert injected(logged) == []

    def test_corrupt(
        self, name: str, moto_server: MotoServer, sleeps: RecordingSleep, logged: pytest.LogCaptureFixture
    ) -> None:
        handler = Handler()
        response = with_chaos(moto_server, sleeps, {"type": "corrupt", "truncate": 5})(handler)(
            sample_events.load(name), None
        )

        assert handler.runs == 1
        if HTTP[name]:
            assert response == {**RESPONSE, "body": "hello"}
            assert [record["fault"] for record in injected(logged)] == ["corrupt"]
        else:
            assert response == RESPONSE
            assert injected(logged) == []
            if name not in DURABLE:
                [warning] = warnings(logged)
                assert warning.startswith("chaos-layer: corrupt skipped for ")

    def test_exception_after_the_handler(
        self, name: str, moto_server: MotoServer, sleeps: RecordingSleep, logged: pytest.LogCaptureFixture
    ) -> None:
        handler = Handler()
        function = with_chaos(moto_server, sleeps, {"type": "exception", "prevent_execution": False})(handler)

        if name in DURABLE:
            assert function(sample_events.load(name), None) == RESPONSE
            assert (handler.runs, injected(logged)) == (1, [])
            return
        with pytest.raises(InjectedFault):
            function(sample_events.load(name), None)

        assert handler.runs == 1  # the work was done; the answer is lost
        assert [record["fault"] for record in injected(logged)] == ["exception"]


class TestExceptionAfterTheHandler:
    """The failure that tests idempotency: SQS redelivers a batch its consumer processed."""

    def test_an_sqs_consumer_processes_the_batch_once_then_the_invocation_fails(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        processed: list[str] = []

        @with_chaos(moto_server, sleeps, {"type": "exception", "exception": "TimeoutError", "prevent_execution": False})
        def consumer(event: Any, context: Any) -> None:
            processed.extend(record["messageId"] for record in event["Records"])

        event = sample_events.load("sqs")
        with pytest.raises(TimeoutError, match=r"^Injected by chaos-layer$"):
            consumer(event, None)

        assert processed == [record["messageId"] for record in event["Records"]]

    def test_an_api_handler_does_its_work_once_then_the_invocation_fails(
        self, moto_server: MotoServer, sleeps: RecordingSleep
    ) -> None:
        created: list[str] = []

        @with_chaos(moto_server, sleeps, {"type": "exception", "prevent_execution": False})
        def api(event: Any, context: Any) -> dict[str, Any]:
            created.append(event["path"])
            return {"statusCode": 201, "body": "created"}

        with pytest.raises(InjectedFault):
            api(sample_events.load("apigateway-rest"), None)

        assert created == [sample_events.load("apigateway-rest")["path"]]

    def test_the_handlers_own_exception_is_never_hidden(
        self, moto_server: MotoServer, sleeps: RecordingSleep, logged: pytest.LogCaptureFixture
    ) -> None:
        @with_chaos(moto_server, sleeps, {"type": "exception", "exception": "TimeoutError", "prevent_execution": False})
        def consumer(event: Any, context: Any) -> None:
            raise ValueError("poison message")

        with pytest.raises(ValueError, match=r"^poison message$"):
            consumer(sample_events.load("sqs"), None)
        assert injected(logged) == []


# One valid config of every fault type; the timeout waits on the recording sleep, then raises.
EVERY_TYPE: dict[str, dict[str, Any]] = {
    "latency": {"type": "latency", "delay_ms": 10},
    "exception": {"type": "exception"},
    "status_code": {"type": "status_code", "status_code": 503},
    "timeout": {"type": "timeout", "fallback_ms": 10},
    "dependency": {"type": "dependency", "services": ["dynamodb"], "error": "ThrottlingException"},
    "denylist": {"type": "denylist", "hosts": ["api.example.com"]},
    "diskspace": {"type": "diskspace", "mb": 1, "min_free_mb": 0},
    "corrupt": {"type": "corrupt", "body": "garbage"},
    "batch_failure": {"type": "batch_failure", "fraction": 1},
}


def test_every_fault_type_is_checked() -> None:
    assert sorted(EVERY_TYPE) == sorted(FAULT_TYPES)


@pytest.mark.parametrize("kind", sorted(EVERY_TYPE))
@pytest.mark.parametrize("name", sample_events.NON_HTTP_EVENTS)
def test_no_fault_makes_a_non_http_invocation_succeed_without_running_its_handler(
    kind: str, name: str, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Any
) -> None:
    fault = dict(EVERY_TYPE[kind])
    if kind == "diskspace":
        fault["path"] = str(tmp_path)
    handler = Handler()
    function = with_chaos(moto_server, sleeps, fault)(handler)
    event = sample_events.load(name)

    try:
        response = function(event, None)
    except Exception:  # the invocation failed: Lambda retries or reports it, nothing is lost
        assert kind in {"exception", "timeout"}
        assert handler.runs == 0
        return
    assert handler.runs == 1
    if kind == "batch_failure" and name in sample_events.BATCH_EVENTS:
        assert response["batchItemFailures"]  # its documented meaning: records reported failed
    else:
        assert response == RESPONSE


@pytest.mark.parametrize("name", ["sqs", "s3", "eventbridge", "apigateway-authorizer-token"])
def test_a_dry_run_reports_a_skipped_fault_as_skipped(
    name: str, moto_server: MotoServer, sleeps: RecordingSleep, logged: pytest.LogCaptureFixture
) -> None:
    moto_server.put(
        "/chaos-layer/dry",
        json.dumps({"enabled": True, "dry_run": True, "faults": [{"type": "status_code", "status_code": 503}]}),
    )
    handler = Handler()
    function = inject_fault(
        parameter="/chaos-layer/dry", max_age=0, boto3_client=moto_server.client(), random=Random(1), sleep=sleeps
    )(handler)

    assert function(sample_events.load(name), None) == RESPONSE
    assert injected(logged) == []  # no "would inject"
    [warning] = warnings(logged)
    assert warning.startswith("chaos-layer: status_code skipped for ")
