"""What every source of a config or kill switch provides (Powertools' parameters/base.py is
the model): a `Provider` fetches the values stored at some locations, and says nothing
about what they mean. Meaning (the kill-switch rule, parsing) is the reader's alone.

A location names its source by its form: `s3://BUCKET/KEY`, `appconfig://APP/ENV/PROFILE`,
anything else an SSM parameter name or ARN."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# Error codes by which AWS services say "slow down"; the reader backs off on them.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling", "SlowDown"}
)

ClientFactory = Callable[[], Any]

SSM = "ssm"
S3 = "s3"
APPCONFIG = "appconfig"
S3_PREFIX = "s3://"
APPCONFIG_PREFIX = "appconfig://"


class Source:
    """One kind of source, everything the reader, the operator API and the CLI need to know
    of it: a new source is its provider module, its store and one entry in SOURCES.

    The provider and the store are named ("module:Class"), not imported: an SSM-only function
    never loads the S3 or AppConfig modules, and the layer, which ships without the operator's
    folders, never loads a store. A plain value class (see Stored)."""

    __slots__ = ("label", "name", "prefix", "propagation", "provider", "ramp_refusal", "store", "takes_client")

    def __init__(
        self,
        name: str,
        prefix: str,  # how a location names this source; "" for the source of any other location
        provider: str,  # the library's reader, "module:Class"; called with no argument (or the client)
        store: str,  # the operator API's reader and writer, "module:Class"
        label: str,  # what one location of it is, for people: "an S3 object"
        propagation: str | None = None,  # what adds to CHAOS_LAYER_MAX_AGE before a write reaches functions
        ramp_refusal: str | None = None,  # why `run` cannot ramp a config kept here (None: it can)
        takes_client: bool = False,  # the decorator's boto3_client= makes this source's client
    ) -> None:
        self.name = name
        self.prefix = prefix
        self.provider = provider
        self.store = store
        self.label = label
        self.propagation = propagation
        self.ramp_refusal = ramp_refusal
        self.takes_client = takes_client

    def __repr__(self) -> str:
        return f"Source({self.name!r})"


# The first whose prefix a location starts with names its source: the one without a prefix last.
SOURCES: tuple[Source, ...] = (
    Source(
        S3,
        S3_PREFIX,
        "chaos_layer.source.s3:S3Provider",
        "chaos_layer.control.stores.s3:S3Store",
        "an S3 object",
    ),
    Source(
        APPCONFIG,
        APPCONFIG_PREFIX,
        "chaos_layer.source.appconfig:AgentProvider",
        "chaos_layer.control.stores.appconfig:AppConfigStore",
        "an AppConfig configuration profile",
        propagation="the deployment strategy's duration and the AppConfig agent's poll interval"
        " (AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS, 45 s unless the function sets it)",
        # AppConfig runs one deployment at a time per environment (AppConfig.AllAtOnce then
        # bakes 10 minutes), so a ramp, which writes once per step, would stall.
        ramp_refusal="`run` writes a step of its ramp while AppConfig may still deploy the last one",
    ),
    Source(
        SSM,
        "",
        "chaos_layer.source.ssm:SSMProvider",
        "chaos_layer.control.stores.ssm:SSMStore",
        "an SSM parameter",
        takes_client=True,
    ),
)


def source_of(location: str) -> Source:
    """The source a location names by its form."""
    return next(source for source in SOURCES if location.startswith(source.prefix))


def rampable() -> list[Source]:
    """The sources whose configs `run` can ramp."""
    return [source for source in SOURCES if not source.ramp_refusal]


def named(source: str) -> Source:
    """The source of this name (`ssm`, `s3`, `appconfig`)."""
    return next(entry for entry in SOURCES if entry.name == source)


def load(path: str) -> Any:
    """The class a registry entry names ("module:Class"), importing its module (by the
    builtin: importlib itself would be one more module at a new environment's first read)."""
    module, _, name = path.partition(":")
    return getattr(__import__(module, fromlist=[name]), name)


# The longest a library read may hold an invocation, whatever the source: each request has
# 1 s to connect and 1 s per read of the socket, and a body that trickles in is cut off here.
READ_DEADLINE = 2.0
# A config is a few kilobytes; anything past this is refused before it is parsed.
MAX_DOCUMENT_BYTES = 1 << 20
_CHUNK = 64 * 1024


class Stored:
    """A value as its source keeps it, with what the source says about it. A plain value
    class: the first read of a new environment would pay ~0.5 ms to define a dataclass."""

    __slots__ = ("name", "token", "type", "value", "version")

    def __init__(
        self,
        name: str,  # the source's own name for it (SSM: the parameter name, without a selector)
        value: str,
        type: str | None = None,  # SSM: String or SecureString
        version: int | None = None,  # SSM: the parameter version; AppConfig: the deployed version
        token: str | None = None,  # what a conditional write compares: S3's ETag
    ) -> None:
        self.name = name
        self.value = value
        self.type = type
        self.version = version
        self.token = token

    def _key(self) -> tuple[str, str, str | None, int | None, str | None]:
        return (self.name, self.value, self.type, self.version, self.token)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if type(other) is Stored else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:  # the value is left out: it may be a secret
        return f"Stored(name={self.name!r}, type={self.type!r}, version={self.version!r}, token={self.token!r})"


class Provider(ABC):
    """One kind of source: SSM parameters, S3 objects, AppConfig profiles."""

    @staticmethod  # noqa: B027 (a name of any form is the source's own to judge: SSM)
    def check(location: str) -> None:
        """Raises ValueError when `location` is malformed for this source."""

    @abstractmethod
    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        """The values stored at these locations, read in as few calls as the source allows,
        keyed by location as given; a location with nothing stored is left out. Raises
        whatever the source raises: the caller decides what a failure means."""


class SourceError(Exception):
    """A source's refusal that is not a botocore ClientError (the agent's HTTP errors, a
    malformed location, a denial in our own words), with an AWS-style `code` so the reader
    treats both alike. `detail` keeps AWS's own message for the operator's terminal; the
    library never logs it."""

    def __init__(self, code: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.response = {"Error": {"Code": code, "Message": message}}

    @property
    def denied(self) -> bool:
        return self.code in DENIED_CODES


# Error codes by which AWS services say "not allowed".
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})


def kind(location: str) -> str:
    """Which source a location names: `s3`, `appconfig` or `ssm`."""
    return source_of(location).name


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError or a SourceError (or None)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None


def error_message(error: BaseException) -> str:
    """AWS's own message of a ClientError, on one line (for the operator, never logged)."""
    response = getattr(error, "response", None)
    message = response.get("Error", {}).get("Message") if isinstance(response, dict) else None
    return " ".join(str(message or "").split())


def client_region(client: Any) -> str | None:
    """A boto3 client's region (None for a stand-in without one), for messages that name a resource."""
    return getattr(getattr(client, "meta", None), "region_name", None)


def partition(region: str | None) -> str:
    """The ARN partition of a region, for messages that name a resource."""
    region = region or ""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def read_body(chunks: Iterator[bytes], deadline: float, clock: Callable[[], float] = time.monotonic) -> str:
    """A response body as text, read until `deadline` (monotonic) at the latest and at most
    MAX_DOCUMENT_BYTES long: a slow or huge answer costs a bounded wait, never more."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > MAX_DOCUMENT_BYTES:
            raise SourceError("DocumentTooLarge", f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
        if clock() > deadline:
            raise SourceError("ReadTimeout", f"the document took longer than {READ_DEADLINE:g} s to arrive")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError("NotUtf8", "the document is not UTF-8 text") from None


def chunks_of(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """`read(n)` until it returns nothing, as chunks for read_body."""
    while chunk := read(_CHUNK):
        yield chunk
