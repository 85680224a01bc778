"""Each fault type on its own: what it does around the rest of the invocation."""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any

import pytest

from chaos_layer import InjectedFault
from chaos_layer.config import parse_config
from chaos_layer.faults import ExceptionFault, Fault, Invocation, LatencyFault, StatusCodeFault
from tests.conftest import RecordingSleep
from tests.unit.test_events import ALB, HTTP_V2, REST_V1


class Handler:
    """Stands in for the rest of the invocation; counts how often it runs."""

    def __init__(self, response: Any = None) -> None:
        self.response = {"statusCode": 200, "body": "ok"} if response is None else response
        self.runs = 0

    def __call__(self) -> Any:
        self.runs += 1
        return self.response


def invocation(event: Any = None, seed: int = 7) -> tuple[Invocation, RecordingSleep]:
    sleep = RecordingSleep()
    return Invocation(event=event, context=None, sleep=sleep, random=Random(seed)), sleep


def only_fault(fault: dict[str, Any]) -> Fault:
    return parse_config({"enabled": True, "faults": [fault]}).faults[0]


class TestLatency:
    def test_fixed_delay_sleeps_then_runs_the_handler_once(self) -> None:
        call, sleep = invocation()
        handler = Handler()

        result = only_fault({"type": "latency", "delay_ms": 300}).apply(call, handler)

        assert sleep.calls == [0.3]
        assert handler.runs == 1
        assert result == handler.response

    def test_uniform_range_draws_every_delay_inside_the_range(self) -> None:
        fault = only_fault({"type": "latency", "min_ms": 100, "max_ms": 800})
        call, sleep = invocation(seed=42)

        for _ in range(2000):
            fault.apply(call, Handler())

        assert len(sleep.calls) == 2000
        assert min(sleep.calls) >= 0.1
        assert max(sleep.calls) <= 0.8
        # A uniform draw: both ends of the range are reached and the mean sits in the middle.
        assert min(sleep.calls) < 0.15
        assert max(sleep.calls) > 0.75
        assert 0.42 < sum(sleep.calls) / len(sleep.calls) < 0.48

    def test_uniform_range_is_reproducible_with_a_seeded_random(self) -> None:
        fault = only_fault({"type": "latency", "min_ms": 100, "max_ms": 800})
        first, first_sleep = invocation(seed=3)
        second, second_sleep = invocation(seed=3)
        for _ in range(5):
            fault.apply(first, Handler())
            fault.apply(second, Handler())
        assert first_sleep.calls == second_sleep.calls
        assert len(set(first_sleep.calls)) == 5

    def test_zero_delay_still_runs_the_handler(self) -> None:
        call, sleep = invocation()
        handler = Handler()
        only_fault({"type": "latency", "delay_ms": 0}).apply(call, handler)
        assert sleep.calls == [0]
        assert handler.runs == 1

    def test_settings_name_the_delay(self) -> None:
        assert only_fault({"type": "latency", "delay_ms": 300}).settings() == {
            "type": "latency",
            "rate": 1.0,
            "delay_ms": 300,
        }
        assert only_fault({"type": "latency", "min_ms": 1, "max_ms": 2, "rate": 0.5}).settings() == {
            "type": "latency",
            "rate": 0.5,
            "min_ms": 1,
            "max_ms": 2,
        }


class TestException:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("TimeoutError", TimeoutError), ("ConnectionError", ConnectionError), ("InjectedFault", InjectedFault)],
    )
    def test_raises_the_named_exception_with_the_message_instead_of_the_handler(
        self, name: str, expected: type[Exception]
    ) -> None:
        call, sleep = invocation()
        handler = Handler()

        with pytest.raises(expected) as caught:
            only_fault({"type": "exception", "exception": name, "message": "injected"}).apply(call, handler)

        assert type(caught.value) is expected
        assert caught.value.args == ("injected",)
        assert handler.runs == 0
        assert sleep.calls == []

    def test_default_is_injected_fault(self) -> None:
        call, _ = invocation()
        with pytest.raises(InjectedFault, match=r"^Injected by chaos-layer$"):
            ExceptionFault().apply(call, Handler())


class TestStatusCode:
    @pytest.mark.parametrize("event", [REST_V1, HTTP_V2])
    def test_prevent_execution_returns_the_response_without_running_the_handler(self, event: dict[str, Any]) -> None:
        call, _ = invocation(event)
        handler = Handler()
        fault = only_fault(
            {"type": "status_code", "status_code": 503, "body": '{"message": "busy"}', "headers": {"Retry-After": "1"}}
        )

        result = fault.apply(call, handler)

        assert handler.runs == 0
        assert result == {
            "statusCode": 503,
            "headers": {"Retry-After": "1"},
            "body": '{"message": "busy"}',
            "isBase64Encoded": False,
        }

    def test_alb_response(self) -> None:
        call, _ = invocation(ALB)
        result = only_fault({"type": "status_code", "status_code": 500}).apply(call, Handler())
        assert result["statusDescription"] == "500 Internal Server Error"
        assert result["isBase64Encoded"] is False

    def test_without_prevent_execution_the_handler_runs_once_and_its_status_is_replaced(self) -> None:
        call, _ = invocation(REST_V1)
        handler = Handler({"statusCode": 200, "headers": {"x-order": "42"}, "body": "created"})
        fault = only_fault({"type": "status_code", "status_code": 500, "prevent_execution": False})

        result = fault.apply(call, handler)

        assert handler.runs == 1
        assert result == {"statusCode": 500, "headers": {"x-order": "42"}, "body": "created"}

    def test_the_handlers_exception_propagates_unchanged(self) -> None:
        call, _ = invocation(REST_V1)

        def failing() -> Any:
            raise KeyError("the handler's own bug")

        fault = StatusCodeFault(status_code=500, prevent_execution=False)
        with pytest.raises(KeyError, match="the handler's own bug"):
            fault.apply(call, failing)


def test_faults_compose_like_middleware() -> None:
    """Latency wraps the next fault: the sleep happens, then the status response ends it."""
    call, sleep = invocation(HTTP_V2)
    handler = Handler()
    latency = LatencyFault(min_ms=50, max_ms=50)
    status = StatusCodeFault(status_code=429)
    proceed: Callable[[], Any] = lambda: status.apply(call, handler)  # noqa: E731

    result = latency.apply(call, proceed)

    assert sleep.calls == [0.05]
    assert result["statusCode"] == 429
    assert handler.runs == 0
