"""`status_code`: an HTTP error response, instead of the handler's or in place of its status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaos_layer import events
from chaos_layer.contract import Boolean, Number, StringMap, Text, field
from chaos_layer.faults.base import NEVER, Fault, Invocation, not_http


class StatusCodeFault(Fault):
    type = "status_code"
    durable = NEVER
    ends_invocation = True
    description = (
        "Returns an HTTP response shaped for the event's source (API Gateway, function URLs, ALB, VPC Lattice);"
        " not injected for events from other sources, whose handler runs as usual."
    )
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

    @classmethod
    def counted_as_error(cls, settings: Mapping[str, Any]) -> bool | None:
        # A status of 500 or more counts as an error; below, as the function's own code decides.
        code = settings.get("status_code")
        return True if isinstance(code, int) and code >= 500 else None

    body: str = field(Text(), "The response body.", default="", free_text=True)
    headers: dict[str, str] = field(StringMap(), "Response headers.", default={}, free_text=True)
    prevent_execution: bool = field(
        Boolean(), "false: the handler runs, and its status code (and the given headers) are replaced.", default=True
    )

    def skipped_for(self, event: Any) -> str | None:
        return not_http(self.type, event)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        if self.prevent_execution:
            if not invocation.takes_effect(self):
                return proceed()
            return events.build_response(invocation.event, self.status_code, self.body, self.headers)
        response = proceed()
        try:
            replaced = events.replace_status(invocation.event, response, self.status_code, self.headers)
        except Exception:  # a response too odd to rewrite (Lambda could not send it either): it stands
            return response
        if not invocation.takes_effect(self):
            return response
        return replaced
