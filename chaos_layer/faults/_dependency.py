"""The `dependency` fault's mechanics: AWS SDK calls fail or slow down for one invocation.

botocore sends every API call of every client through `BaseClient._make_api_call`, so
patching it on the class reaches clients created anywhere, including module-level
clients created at import time, before chaos-layer ran. The patch is installed when the
first dependency fault of an invocation starts and removed when the last one ends
(in `finally`, so also after a handler exception).

The error is raised where botocore raises the service's own: the modeled exception class
of that client (`client.exceptions.ProvisionedThroughputExceededException` is caught by
`except client.exceptions.ProvisionedThroughputExceededException` and by
`except ClientError`), with the response dict a real error carries. It is raised before
botocore's retry loop, so it reaches the handler as an error the SDK gave up on, at once.

Threads: the patch is process-wide. In Lambda one execution environment serves one
invocation at a time, so calls from threads the handler starts are affected too (as they
should be), as are background threads, but only while the invocation runs. Overlapping
invocations in one process (local tests with threads) each add their own rule under a
lock; the original method comes back when the last one ends, whatever the order.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

if TYPE_CHECKING:
    from chaos_layer.faults import DependencyFault, Invocation

MESSAGE = "Injected by chaos-layer"
# The library's own SSM read: never failed or slowed, whatever the config says.
OWN_MODULES = frozenset({"chaos_layer.source"})

# Status codes for codes whose service model does not say (most do not).
_STATUS_BY_CODE = {
    "Throttling": 400,
    "ThrottlingException": 400,
    "ThrottledException": 400,
    "RequestLimitExceeded": 400,
    "ProvisionedThroughputExceededException": 400,
    "TooManyRequestsException": 429,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "InternalFailure": 500,
    "InternalError": 500,
    "InternalServerError": 500,
    "InternalServerException": 500,
    "AccessDenied": 403,
    "AccessDeniedException": 403,
}


@dataclass(frozen=True, eq=False)
class _Rule:
    fault: DependencyFault
    invocation: Invocation


_lock = threading.Lock()
_rules: tuple[_Rule, ...] = ()  # replaced, never mutated, so the patched method reads it without the lock
_installed: Callable[..., Any] | None = None


@contextmanager
def injected(fault: DependencyFault, invocation: Invocation) -> Iterator[None]:
    rule = _Rule(fault, invocation)
    _add(rule)
    try:
        yield
    finally:
        _remove(rule)


def active() -> bool:
    """Whether any dependency fault is in force (for tests and diagnostics)."""
    return bool(_rules)


def _add(rule: _Rule) -> None:
    global _rules, _installed
    with _lock:
        if not _rules:
            original = BaseClient.__dict__["_make_api_call"]
            _installed = _patched(original)
            setattr(BaseClient, "_make_api_call", _installed)  # noqa: B010 - a private method, not in the stubs
        _rules = (*_rules, rule)


def _remove(rule: _Rule) -> None:
    global _rules, _installed
    with _lock:
        _rules = tuple(r for r in _rules if r is not rule)
        if _rules or _installed is None:
            return
        # If someone patched on top of us meanwhile, theirs stays and ours (now inert,
        # with no rules) stays under it rather than dropping their patch.
        installed, _installed = _installed, None
        if BaseClient.__dict__.get("_make_api_call") is installed:
            setattr(BaseClient, "_make_api_call", installed.__wrapped__)  # noqa: B010


def _patched(original: Any) -> Callable[..., Any]:
    def _make_api_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        rules = _rules
        if rules:
            model = self.meta.service_model
            matching = [
                r for r in rules if r.fault.matches(model.service_name, model.endpoint_prefix or "", operation_name)
            ]
            if matching and not _called_by_chaos_layer():
                for rule in matching:
                    if rule.fault.delay_ms is not None:
                        rule.invocation.sleep(rule.fault.delay_ms / 1000)
                for rule in matching:
                    if rule.fault.error is not None:
                        raise _error(self, rule, operation_name)
        return original.__get__(self, type(self))(operation_name, api_params)

    _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
    return _make_api_call


def _called_by_chaos_layer() -> bool:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") in OWN_MODULES:
            return True
        frame = frame.f_back
    return False


def _error(client: Any, rule: _Rule, operation_name: str) -> Exception:
    code = rule.fault.error or ""
    endpoint_url = client.meta.endpoint_url
    if code == "connection":
        return EndpointConnectionError(endpoint_url=endpoint_url)
    if code == "timeout":
        return ReadTimeoutError(endpoint_url=endpoint_url)
    request_id = str(uuid.UUID(int=rule.invocation.random.getrandbits(128), version=4))
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": MESSAGE},
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": http_status(client, code),
            "HTTPHeaders": {"x-amzn-requestid": request_id},
            "RetryAttempts": 0,
        },
    }
    error_class: Any = client.exceptions.from_code(code)
    return cast(Exception, error_class(response, operation_name))


def http_status(client: Any, code: str) -> int:
    """The status the service answers `code` with: from its model when it says, else the
    usual one for that kind of error (4xx for the caller's, 5xx for the service's)."""
    shape = client.meta.service_model.shape_for_error_code(code)
    modeled = shape.metadata.get("error", {}).get("httpStatusCode") if shape is not None else None
    if isinstance(modeled, int):
        return modeled
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    if "Unavailable" in code:
        return 503
    if "Internal" in code:
        return 500
    return 400
