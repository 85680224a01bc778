"""`corrupt`: the HTTP response body the handler returned is replaced or cut short."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from chaos_layer import events
from chaos_layer.contract import Choice, Number, Text, field
from chaos_layer.faults.base import NEVER, Fault, Invocation, not_http

_UNCHANGED: Any = object()


def cut(text: str, size: int) -> str:
    """The first `size` bytes of `text` in UTF-8, whole characters only. A lone surrogate
    (valid in a Python string, not in UTF-8) counts as its three bytes and is kept as it is."""
    data = text.encode("utf-8", "surrogatepass")[:size]
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:  # only a character cut in two, at the end
        return data[: error.start].decode("utf-8", "surrogatepass")


class CorruptFault(Fault):
    """Replaces the HTTP response body the handler returned with `body`, or truncates it
    to `truncate` bytes. It surrounds the handler, outermost, so it corrupts whatever
    response the invocation ends with."""

    type = "corrupt"
    durable = NEVER
    fails_invocation = False
    description = (
        "After the handler ran, replaces its HTTP response body with body, or truncates it to truncate bytes;"
        " only for events from HTTP sources."
    )
    examples = ({"type": "corrupt", "truncate": 100},)
    body: str | None = field(Text(), "The body to send instead.", default=None, free_text=True)
    truncate: int | None = field(
        Number(0, integer=True), "Bytes to keep (whole characters; a base64 body in its decoded bytes).", default=None
    )
    choices = (Choice(("body",), ("truncate",)),)

    def skipped_for(self, event: Any) -> str | None:
        return not_http(self.type, event)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        response = proceed()
        try:
            corrupted = self._corrupted(invocation.event, response)
        except Exception:  # a response too odd to rewrite (Lambda could not send it either): it stands
            corrupted = _UNCHANGED
        if corrupted is _UNCHANGED or not invocation.takes_effect(self):
            return response
        return corrupted

    def _corrupted(self, event: object, response: Any) -> Any:
        """The corrupted response, or _UNCHANGED when it has no body to corrupt."""
        if isinstance(response, str):
            return self._text(response)
        if isinstance(response, Mapping) and "body" in response:
            corrupted = dict(response)
            body = response["body"]
            if self.body is not None:
                corrupted["body"] = self.body
                if "isBase64Encoded" in corrupted:
                    corrupted["isBase64Encoded"] = False
            elif isinstance(body, str):
                corrupted["body"] = self._base64(body) if response.get("isBase64Encoded") else self._text(body)
            else:
                return _UNCHANGED
            return corrupted
        if (
            response is not None
            and events.http_source(event) is events.Source.HTTP_V2
            and not (isinstance(response, Mapping) and "statusCode" in response)
        ):
            # HTTP APIs and function URLs send any other return value as a JSON body.
            body = json.dumps(response, default=str)
            return events.build_response(event, 200, self._text(body), {"content-type": "application/json"})
        return _UNCHANGED  # nothing with a body: not an HTTP response

    def _text(self, text: str) -> str:
        if self.body is not None:
            return self.body
        return cut(text, self.truncate or 0)

    def _base64(self, body: str) -> str:
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return self._text(body)
        return base64.b64encode(data[: self.truncate]).decode("ascii")

    def settings(self) -> dict[str, Any]:
        return {key: value for key, value in super().settings().items() if value is not None}
