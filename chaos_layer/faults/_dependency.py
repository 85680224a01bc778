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

The patch is process-wide while any dependency fault is in force (chaos_layer._patches
says what that means for threads); the library's own SSM read is exempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from random import Random
from typing import Any, Protocol, cast

from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from chaos_layer import _patches

MESSAGE = "Injected by chaos-layer"
# A durable function's checkpoints, the AWS Durable Execution SDK's own calls: never faulted.
DURABLE_API = frozenset({("lambda", "CheckpointDurableExecution"), ("lambda", "GetDurableExecutionState")})


class Failure(Protocol):
    """What to do to which calls: a DependencyFault."""

    @property
    def error(self) -> str | None: ...

    @property
    def delay_ms(self) -> float | None: ...

    def matches(self, service_name: str, endpoint_prefix: str, operation: str) -> bool: ...


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


class _Rule:
    __slots__ = ("failure", "on_effect", "random", "sleep")

    def __init__(
        self, failure: Failure, sleep: Callable[[float], object], random: Random, on_effect: Callable[[], bool]
    ) -> None:
        self.failure = failure
        self.sleep = sleep
        self.random = random
        self.on_effect = on_effect


def _targets() -> list[_patches.Target]:
    return [(BaseClient, "_make_api_call", _patched)]


_PATCHES: _patches.Patches[_Rule] = _patches.Patches(_targets)


def _always() -> bool:
    return True


@contextmanager
def injected(
    failure: Failure, sleep: Callable[[float], object], random: Random, on_effect: Callable[[], bool] = _always
) -> Iterator[None]:
    """`failure` in force for the block; `on_effect()` is asked before each call it would
    hit, and the call is left alone when it says no (the experiment is over)."""
    with _PATCHES.applied(_Rule(failure, sleep, random, on_effect)):
        yield


def active() -> bool:
    """Whether any dependency fault is in force (for tests and diagnostics)."""
    return _PATCHES.active()


def _patched(original: Any) -> Callable[..., Any]:
    def _make_api_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
        rules = _PATCHES.rules
        if rules:
            model = self.meta.service_model
            prefix = model.endpoint_prefix or ""
            matching = [r for r in rules if r.failure.matches(model.service_name, prefix, operation_name)]
            if matching and not _patches.exempted() and (model.service_name, operation_name) not in DURABLE_API:
                matching = [rule for rule in matching if rule.on_effect()]
                delayed = False
                for rule in matching:
                    if rule.failure.delay_ms is not None:
                        rule.sleep(rule.failure.delay_ms / 1000)
                        delayed = True
                for rule in matching:  # after a delay, asked again: the experiment may have ended meanwhile
                    if rule.failure.error is not None and (not delayed or rule.on_effect()):
                        raise _error(self, rule, operation_name)
        return original(self, operation_name, api_params)

    _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
    return _make_api_call


def _error(client: Any, rule: _Rule, operation_name: str) -> Exception:
    code = rule.failure.error or ""
    endpoint_url = client.meta.endpoint_url
    if code == "connection":
        return EndpointConnectionError(endpoint_url=endpoint_url)
    if code == "timeout":
        return ReadTimeoutError(endpoint_url=endpoint_url)
    request_id = str(uuid.UUID(int=rule.random.getrandbits(128), version=4))
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
