"""`status_code`: an HTTP error response, instead of the handler's or in place of its status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer import events
from chaos_layer.contract import Boolean, Number, StringMap, Text, field
from chaos_layer.faults.base import Fault, Invocation


class StatusCodeFault(Fault):
    type = "status_code"
    ends_invocation = True
    description = "Returns an HTTP response shaped for the event's source."
    examples = (
        {
            "type": "status_code",
            "status_code": 503,
            "body": '{"message": "busy"}',
            "headers": {"Retry-After": "1"},
            "prevent_execution": True,
        },
    )
    status_code: int = field(Number(100, 599, integer=True), "The response's HTTP status code.")
    body: str = field(Text(), "The response body.", default="")
    headers: dict[str, str] = field(StringMap(), "Response headers.", default={})
    prevent_execution: bool = field(
        Boolean(), "false: the handler runs, and its status code (and the given headers) are replaced.", default=True
    )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        if self.prevent_execution:
            return events.build_response(invocation.event, self.status_code, self.body, self.headers)
        return events.replace_status(invocation.event, proceed(), self.status_code, self.headers)
