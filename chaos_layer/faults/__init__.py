"""The fault types. Each one is a frozen dataclass that parses itself from the config
and wraps the rest of the invocation, like a middleware:

    apply(invocation, proceed) -> response

`proceed()` runs the next fault, and the handler after the last one. A fault that ends
the invocation simply does not call it, so the handler runs at most once.

To add a fault type: subclass `Fault`, give it a `type`, and list it in `FAULT_TYPES`.
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import json
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from random import Random
from typing import Any, ClassVar

from chaos_layer import events
from chaos_layer.contract import Fields, is_number, join
from chaos_layer.exceptions import InjectedFault


@dataclass
class Invocation:
    """One call of the wrapped handler, with the side effects faults may use."""

    event: Any
    context: Any
    sleep: Callable[[float], None]
    random: Random


@dataclass(frozen=True, kw_only=True)
class Fault(ABC):
    type: ClassVar[str]
    # Faults run in config order, except that earlier phases run first:
    # latency always comes before a fault that ends the invocation.
    phase: ClassVar[int] = 1
    rate: float = 1.0

    @classmethod
    @abstractmethod
    def parse(cls, fields: Fields) -> Fault:
        """Build the fault from its config object; problems go into `fields`."""

    @abstractmethod
    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        """Inject the fault around `proceed`, which runs the rest of the invocation."""

    def settings(self) -> dict[str, Any]:
        """The fault's configuration, for log records."""
        return {"type": self.type, **dataclasses.asdict(self)}


# Lambda's longest timeout (15 minutes): a longer sleep could only overflow.
MAX_DELAY_MS = 900_000


@dataclass(frozen=True, kw_only=True)
class LatencyFault(Fault):
    type: ClassVar[str] = "latency"
    phase: ClassVar[int] = 0
    min_ms: float
    max_ms: float

    @classmethod
    def parse(cls, fields: Fields) -> LatencyFault:
        rate = fields.rate()
        has_range = [fields.has("min_ms"), fields.has("max_ms")]  # both marked as known keys
        if fields.has("delay_ms"):
            delay = fields.number("delay_ms", minimum=0, maximum=MAX_DELAY_MS)
            if any(has_range):
                fields.problem("delay_ms", "give either delay_ms or min_ms and max_ms, not both")
            return cls(rate=rate, min_ms=delay, max_ms=delay)
        if not any(has_range):
            fields.problem("delay_ms", "is required (or min_ms and max_ms)")
            return cls(rate=rate, min_ms=0, max_ms=0)
        known = len(fields.problems)
        low = fields.number("min_ms", minimum=0, maximum=MAX_DELAY_MS)
        high = fields.number("max_ms", minimum=0, maximum=MAX_DELAY_MS)
        if low > high and len(fields.problems) == known:
            fields.problem("max_ms", "must not be less than min_ms")
        return cls(rate=rate, min_ms=low, max_ms=high)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        delay = self.min_ms if self.min_ms == self.max_ms else invocation.random.uniform(self.min_ms, self.max_ms)
        invocation.sleep(delay / 1000)
        return proceed()

    def settings(self) -> dict[str, Any]:
        if self.min_ms == self.max_ms:
            return {"type": self.type, "rate": self.rate, "delay_ms": self.min_ms}
        return super().settings()


def _raisable_builtins() -> dict[str, type[Exception]]:
    """Built-in subclasses of Exception (so never SystemExit, KeyboardInterrupt or
    GeneratorExit) that can be raised with a single message."""
    allowed: dict[str, type[Exception]] = {}
    for name, value in vars(builtins).items():
        if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_"):
            try:
                value("message")
            except TypeError:  # e.g. UnicodeDecodeError, ExceptionGroup need more arguments
                continue
            allowed[name] = value
    return allowed


EXCEPTIONS: dict[str, type[Exception]] = {**_raisable_builtins(), "InjectedFault": InjectedFault}


@dataclass(frozen=True, kw_only=True)
class ExceptionFault(Fault):
    type: ClassVar[str] = "exception"
    exception: str = "InjectedFault"
    message: str = "Injected by chaos-layer"

    @classmethod
    def parse(cls, fields: Fields) -> ExceptionFault:
        fault = cls(
            rate=fields.rate(),
            exception=fields.string("exception", cls.exception),
            message=fields.string("message", cls.message),
        )
        if fault.exception not in EXCEPTIONS:
            fields.problem(
                "exception",
                "must name a built-in exception (a subclass of Exception) or InjectedFault",
            )
        return fault

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        raise EXCEPTIONS[self.exception](self.message)


@dataclass(frozen=True, kw_only=True)
class StatusCodeFault(Fault):
    type: ClassVar[str] = "status_code"
    status_code: int
    body: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    prevent_execution: bool = True

    @classmethod
    def parse(cls, fields: Fields) -> StatusCodeFault:
        return cls(
            rate=fields.rate(),
            status_code=int(fields.number("status_code", minimum=100, maximum=599, integer=True)),
            body=fields.string("body", ""),
            headers=fields.string_map("headers"),
            prevent_execution=fields.boolean("prevent_execution", True),
        )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        if self.prevent_execution:
            return events.build_response(invocation.event, self.status_code, self.body, self.headers)
        return events.replace_status(invocation.event, proceed(), self.status_code, self.headers)


# --- Fault types beyond the core (issue 5). Heavy mechanics live in `_`-modules imported
# inside apply(), so neither importing chaos_layer nor a pass-through invocation pays for them.

TIMEOUT_MESSAGE = "Task timed out (injected by chaos-layer)"
# Sleep a little past the deadline, so Lambda's own timeout is what ends the invocation.
TIMEOUT_OVERSHOOT_S = 1.0
MAX_TIMEOUT_MS = 900_000  # Lambda's longest timeout


def _remaining_ms(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        value = remaining()
    except Exception:
        return None
    return max(0.0, float(value)) if is_number(value) else None


@dataclass(frozen=True, kw_only=True)
class TimeoutFault(Fault):
    """Holds the invocation until the function's own deadline, so Lambda ends it with its
    real timeout; without a Lambda context, raises TimeoutError after `fallback_ms`."""

    type: ClassVar[str] = "timeout"
    fallback_ms: float = 3000.0

    @classmethod
    def parse(cls, fields: Fields) -> TimeoutFault:
        return cls(
            rate=fields.rate(),
            fallback_ms=fields.number("fallback_ms", cls.fallback_ms, minimum=0, maximum=MAX_TIMEOUT_MS),
        )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        remaining = _remaining_ms(invocation.context)
        if remaining is None:
            invocation.sleep(self.fallback_ms / 1000)
        else:
            invocation.sleep(remaining / 1000 + TIMEOUT_OVERSHOOT_S)
        # Reached without a context, or when the sleep came back before Lambda stopped us
        # (a clock estimate off, a test's sleep): the invocation still times out, the
        # handler never runs.
        raise TimeoutError(TIMEOUT_MESSAGE)


SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
OPERATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9._-]*\Z")
# `error` values that are not AWS error codes but botocore's connection failures
DEPENDENCY_FAILURES = ("connection", "timeout")


def _patterned_list(fields: Fields, key: str, pattern: re.Pattern[str], what: str, required: bool) -> tuple[str, ...]:
    values = fields.string_list(key, required)
    if fields.has(key) and isinstance(fields.raw(key), list) and not fields.raw(key):
        fields.problem(key, "must not be empty")
    for index, value in enumerate(fields.raw(key) if isinstance(fields.raw(key), list) else []):
        if isinstance(value, str) and value and not pattern.match(value):
            fields.problem(join(key, index), f"must be {what}")
    return tuple(values)


@dataclass(frozen=True, kw_only=True)
class DependencyFault(Fault):
    """AWS SDK calls to `services` (optionally only `operations`) fail with `error` or are
    slowed by `delay_ms`, from any boto3 client, for the invocation only."""

    type: ClassVar[str] = "dependency"
    phase: ClassVar[int] = 0  # surrounds the handler, so it applies to everything it calls
    services: tuple[str, ...]
    operations: tuple[str, ...] = ()
    error: str | None = None
    delay_ms: float | None = None

    @classmethod
    def parse(cls, fields: Fields) -> DependencyFault:
        rate = fields.rate()
        services = _patterned_list(fields, "services", SERVICE_NAME, "a boto3 service name such as dynamodb", True)
        operations = _patterned_list(
            fields, "operations", OPERATION_NAME, "an API operation name such as PutItem", False
        )
        error: str | None = None
        delay: float | None = None
        if fields.has("error") == fields.has("delay_ms"):
            fields.problem("error", "give exactly one of error and delay_ms")
        if fields.has("error"):
            error = fields.string("error")
            if error not in DEPENDENCY_FAILURES and not ERROR_CODE.match(error):
                fields.problem(
                    "error", "must be an AWS error code such as ThrottlingException, or connection or timeout"
                )
        if fields.has("delay_ms"):
            delay = fields.number("delay_ms", minimum=0, maximum=MAX_TIMEOUT_MS)
        return cls(
            rate=rate,
            services=tuple(s.lower() for s in services),
            operations=operations,
            error=error,
            delay_ms=delay,
        )

    def matches(self, service_name: str, endpoint_prefix: str, operation: str) -> bool:
        if service_name not in self.services and endpoint_prefix not in self.services:
            return False
        if not self.operations or operation in self.operations:
            return True
        from botocore import xform_name  # only reached while injecting, botocore is loaded

        return xform_name(operation) in self.operations

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _dependency

        with _dependency.injected(self, invocation):
            return proceed()

    def settings(self) -> dict[str, Any]:
        return {key: value for key, value in super().settings().items() if value is not None}


# Host names, IP literals and glob patterns of them; brackets are refused so an IPv6
# literal is written without them.
HOST_PATTERN = re.compile(r"[A-Za-z0-9.*?_:%-]+\Z")
MAX_HOST_LENGTH = 253


@dataclass(frozen=True, kw_only=True)
class DenylistFault(Fault):
    """Outbound TCP connections to matching hosts (and `ports`) are refused during the
    invocation, whatever client makes them."""

    type: ClassVar[str] = "denylist"
    phase: ClassVar[int] = 0
    hosts: tuple[str, ...]
    ports: tuple[int, ...] = ()

    @classmethod
    def parse(cls, fields: Fields) -> DenylistFault:
        rate = fields.rate()
        hosts = _patterned_list(
            fields, "hosts", HOST_PATTERN, "a host name, IP address or glob pattern such as *.example.com", True
        )
        for index, host in enumerate(hosts):
            if len(host) > MAX_HOST_LENGTH:
                fields.problem(join("hosts", index), f"must be at most {MAX_HOST_LENGTH} characters")
        ports: list[int] = []
        raw_ports = fields.array("ports")
        if fields.has("ports") and isinstance(fields.raw("ports"), list) and not raw_ports:
            fields.problem("ports", "must not be empty")
        for index, port in enumerate(raw_ports):
            if not is_number(port) or not float(port).is_integer() or not 1 <= port <= 65535:
                fields.problem(join("ports", index), "must be a whole number between 1 and 65535")
            else:
                ports.append(int(port))
        from chaos_layer.faults._network import normalize_host  # light: socket and ipaddress only

        return cls(rate=rate, hosts=tuple(normalize_host(h) for h in hosts), ports=tuple(ports))

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _network

        with _network.denied(self.hosts, self.ports):
            return proceed()


@dataclass(frozen=True, kw_only=True)
class DiskSpaceFault(Fault):
    """Fills `path` with `mb` megabytes for the invocation, always keeping `min_free_mb`
    free on its disk, and removes the file afterwards."""

    type: ClassVar[str] = "diskspace"
    phase: ClassVar[int] = 0
    mb: int
    path: str = "/tmp"  # noqa: S108 - Lambda's only writable directory; nothing secret is written
    min_free_mb: int = 64

    @classmethod
    def parse(cls, fields: Fields) -> DiskSpaceFault:
        fault = cls(
            rate=fields.rate(),
            mb=int(fields.number("mb", minimum=1, integer=True)),
            path=fields.string("path", cls.path, non_empty=True),
            min_free_mb=int(fields.number("min_free_mb", cls.min_free_mb, minimum=0, integer=True)),
        )
        if isinstance(fields.raw("path"), str) and fault.path.strip() and not posixpath.isabs(fault.path):
            fields.problem("path", "must be an absolute path such as /tmp")
        elif "\x00" in fault.path:
            fields.problem("path", "must not contain a NUL character")
        return fault

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        from chaos_layer.faults import _disk

        with _disk.filled(self.path, self.mb, self.min_free_mb):
            return proceed()


@dataclass(frozen=True, kw_only=True)
class CorruptFault(Fault):
    """Replaces the HTTP response body the handler returned with `body`, or truncates it
    to `truncate` bytes."""

    type: ClassVar[str] = "corrupt"
    # Outermost, so it corrupts whatever response the invocation ends with.
    phase: ClassVar[int] = 0
    body: str | None = None
    truncate: int | None = None

    @classmethod
    def parse(cls, fields: Fields) -> CorruptFault:
        rate = fields.rate()
        if fields.has("body") == fields.has("truncate"):
            fields.problem("body", "give exactly one of body and truncate")
        body = fields.string("body") if fields.has("body") else None
        truncate = int(fields.number("truncate", minimum=0, integer=True)) if fields.has("truncate") else None
        return cls(rate=rate, body=body, truncate=truncate)

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        return self.corrupt(invocation.event, proceed())

    def corrupt(self, event: object, response: Any) -> Any:
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
            return corrupted
        if (
            response is not None
            and events.http_source(event) is events.Source.HTTP_V2
            and not (isinstance(response, Mapping) and "statusCode" in response)
        ):
            # HTTP APIs and function URLs send any other return value as a JSON body.
            body = json.dumps(response, default=str)
            return events.build_response(event, 200, self._text(body), {"content-type": "application/json"})
        return response  # nothing with a body: not an HTTP response

    def _text(self, text: str) -> str:
        if self.body is not None:
            return self.body
        # Cut at a byte count; a character split in two is dropped, so the result stays text.
        return text.encode()[: self.truncate].decode("utf-8", errors="ignore")

    def _base64(self, body: str) -> str:
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return self._text(body)
        return base64.b64encode(data[: self.truncate]).decode("ascii")

    def settings(self) -> dict[str, Any]:
        return {key: value for key, value in super().settings().items() if value is not None}


# Where each stream or queue puts the id that a partial batch response names.
BATCH_ITEM_IDS: dict[str, tuple[str, ...]] = {
    "aws:sqs": ("messageId",),
    "aws:kinesis": ("kinesis", "sequenceNumber"),
    "aws:dynamodb": ("dynamodb", "SequenceNumber"),
}


def batch_item_ids(event: object) -> list[str]:
    """The item identifiers of an SQS, Kinesis or DynamoDB Streams batch, in order."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return []
    ids: list[str] = []
    for record in records:
        source = record.get("eventSource") if isinstance(record, Mapping) else None
        path = BATCH_ITEM_IDS.get(source) if isinstance(source, str) else None
        value: Any = record
        for key in path or ():
            value = value.get(key) if isinstance(value, Mapping) else None
        if path and isinstance(value, str) and value not in ids:
            ids.append(value)
    return ids


@dataclass(frozen=True, kw_only=True)
class BatchFailureFault(Fault):
    """Reports a `fraction` of an SQS, Kinesis or DynamoDB Streams batch as failed in a
    partial batch response, on top of the failures the handler reports itself."""

    type: ClassVar[str] = "batch_failure"
    phase: ClassVar[int] = 0
    fraction: float

    @classmethod
    def parse(cls, fields: Fields) -> BatchFailureFault:
        return cls(rate=fields.rate(), fraction=fields.number("fraction", minimum=0, maximum=1))

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        ids = batch_item_ids(invocation.event)
        # At least one record when fraction > 0, so a selected batch always sees a failure.
        count = min(len(ids), max(1, round(self.fraction * len(ids)))) if ids and self.fraction > 0 else 0
        chosen = set(invocation.random.sample(ids, count))
        response = proceed()
        if not ids:
            return response
        failures = [item for item in ids if item in chosen]
        merged = dict(response) if isinstance(response, Mapping) else {}
        own = merged.get("batchItemFailures")
        reported: list[Any] = list(own) if isinstance(own, list) else []
        known = {item.get("itemIdentifier") for item in reported if isinstance(item, Mapping)}
        reported += [{"itemIdentifier": item} for item in failures if item not in known]
        merged["batchItemFailures"] = reported
        return merged


FAULT_TYPES: dict[str, type[Fault]] = {
    fault.type: fault
    for fault in (
        LatencyFault,
        ExceptionFault,
        StatusCodeFault,
        TimeoutFault,
        DependencyFault,
        DenylistFault,
        DiskSpaceFault,
        CorruptFault,
        BatchFailureFault,
    )
}


def parse_fault(data: object, location: str, problems: list[Any]) -> Fault | None:
    fields = Fields(data, location, problems)
    kind = fields.string("type", non_empty=True)
    fault_type = FAULT_TYPES.get(kind)
    if fault_type is None:
        if kind:
            fields.problem("type", f"unknown fault type; expected one of {', '.join(FAULT_TYPES)}")
        return None
    fault = fault_type.parse(fields)
    fields.finish()
    return fault
