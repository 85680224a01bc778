"""`dependency`: the handler's AWS SDK calls fail or slow down (mechanics: _dependency.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer.contract import Boolean, Choice, ListOf, Text, field
from chaos_layer.faults.base import IN_STEPS, WAIT_MS, Fault, Invocation

SERVICE_NAME = r"[A-Za-z0-9][A-Za-z0-9-]*\Z"
OPERATION_NAME = r"[A-Za-z][A-Za-z0-9_]*\Z"
# An AWS error code, or `connection` / `timeout` (botocore's own connection failures).
ERROR_CODE = r"[A-Za-z][A-Za-z0-9._-]*\Z"


class DependencyFault(Fault):
    """AWS SDK calls to `services` (optionally only `operations`) fail with `error` or are
    slowed by `delay_ms`, from any boto3 client, for the invocation only."""

    type = "dependency"
    durable = IN_STEPS
    description = (
        "AWS SDK (botocore) calls the handler makes to the named services fail with error, or are slowed by"
        " delay_ms, from any client, during the invocation only."
    )
    examples = (
        {
            "type": "dependency",
            "services": ["dynamodb"],
            "operations": ["PutItem"],
            "error": "ProvisionedThroughputExceededException",
        },
    )
    services: tuple[str, ...] = field(
        ListOf(
            Text(
                rules=((SERVICE_NAME, "must be a boto3 service name such as dynamodb"),),
                normalize=str.lower,
                label="service name",
            ),
            non_empty=True,
        ),
        "boto3 service names (or endpoint prefixes), such as dynamodb.",
    )
    operations: tuple[str, ...] = field(
        ListOf(
            Text(rules=((OPERATION_NAME, "must be an API operation name such as PutItem"),), label="operation name"),
            non_empty=True,
        ),
        "API operation names (PutItem or put_item); default: every operation.",
        default=(),
    )
    error: str | None = field(
        Text(
            rules=((ERROR_CODE, "must be an AWS error code such as ThrottlingException, or connection or timeout"),),
            label="error code",
        ),
        "An AWS error code raised as the service's ClientError (ThrottlingException,"
        " ProvisionedThroughputExceededException, ServiceUnavailable, ...), or connection / timeout for"
        " botocore's EndpointConnectionError / ReadTimeoutError.",
        default=None,
        examples=("ThrottlingException", "connection", "timeout"),
    )
    custom_error: bool = field(
        Boolean(),
        "true: error may be a code the services' models do not list (the operator's tools check it against"
        " them otherwise, and refuse a typo).",
        default=False,
    )
    delay_ms: float | None = field(WAIT_MS, "Milliseconds added before each matching call.", default=None)
    steps: tuple[str, ...] = Fault.steps_field()
    choices = (Choice(("error",), ("delay_ms",)),)

    def matches(self, service_name: str, endpoint_prefix: str, operation: str) -> bool:
        if service_name not in self.services and endpoint_prefix not in self.services:
            return False
        if not self.operations or operation in self.operations:
            return True
        from botocore import xform_name  # only reached while injecting, botocore is loaded

        return xform_name(operation) in self.operations

    def prepare(self) -> None:
        from botocore import xform_name  # noqa: F401

        from chaos_layer.faults import _dependency  # noqa: F401

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _dependency

        # Logged and counted when it first slows or fails a call the handler makes; no call is
        # touched once the experiment is over.
        with _dependency.injected(self, invocation.wait, invocation.random, lambda: invocation.takes_effect(self)):
            return proceed()

    def settings(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in super().settings().items()
            if value is not None and not (key == "custom_error" and value is False)
        }
