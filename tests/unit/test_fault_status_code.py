"""The `status_code` fault on its own: the response it returns or replaces."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.faults import run
from chaos_layer.faults.status_code import StatusCodeFault
from tests.unit.fault_harness import Handler, invocation, only_fault
from tests.unit.test_events import ALB, HTTP_V2, REST_V1


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


class TestOnlyForHttpSources:
    @pytest.mark.parametrize("prevent_execution", [True, False])
    def test_a_non_http_event_runs_the_handler_and_nothing_is_injected(self, prevent_execution: bool) -> None:
        reported: list[str] = []
        warned: list[str] = []
        event = {"Records": [{"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"}]}
        call, _ = invocation(event, report=lambda fault: reported.append(fault.type), warn=warned.append)
        handler = Handler(None)

        result = run([StatusCodeFault(status_code=503, prevent_execution=prevent_execution)], call, handler)

        assert result is None
        assert handler.runs == 1
        assert reported == []
        assert warned == ["status_code skipped for aws:sqs events: it applies only to events from HTTP sources"]

    def test_the_body_and_headers_are_free_text_left_out_of_the_log_record(self) -> None:
        fault = only_fault({"type": "status_code", "status_code": 503, "body": "s3cr3t", "headers": {"X-Key": "k"}})
        assert fault.settings() == {"type": "status_code", "rate": 1.0, "status_code": 503, "prevent_execution": True}
