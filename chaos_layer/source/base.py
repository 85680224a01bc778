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
    if location.startswith(S3_PREFIX):
        return S3
    if location.startswith(APPCONFIG_PREFIX):
        return APPCONFIG
    return SSM


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
