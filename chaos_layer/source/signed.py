"""The library's own read of SSM and S3 without a boto3 client.

Building a client costs a new execution environment ~140 ms of CPU (a session, the endpoint
data, the service's model), more than a whole read. A GetParameters or GetObject is one small
request: here it is built as the client would build it, signed by botocore's own signer
(`SigV4Auth`, `S3SigV4Auth`) with the SDK's credentials, and sent with the standard library.

Only where the outcome is certain. The endpoint comes from AWS_ENDPOINT_URL_<SERVICE> or
AWS_ENDPOINT_URL (as given), or from the region's partition (aws, aws-cn, aws-us-gov); the
credentials from the environment or the container credentials endpoint (what Lambda and
SnapStart provide). Anything that could make a client behave otherwise (a config file or a
profile, FIPS or dual-stack endpoints, a proxy, a region of another partition, an S3 bucket
that is not virtual-hostable, an in-process mock of botocore) sends the read through a
regular client instead: `endpoint` or `credentials` answers None then.

Every request has the read's deadline (source/transport.py).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from chaos_layer.source.transport import Answer

if TYPE_CHECKING:
    import ssl

# The partitions whose endpoints are known here: a region's first word, the DNS suffix.
PARTITIONS = {
    **dict.fromkeys(("us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"), "amazonaws.com"),
    "cn": "amazonaws.com.cn",
    "us-gov": "amazonaws.com",
}
# Settings a client would take from the environment to reach another endpoint, or through
# another route: present (and not "false"), the endpoint is not certain.
UNCERTAIN_SETTINGS = (
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)
# Credentials a client would find before the container endpoint (web identity, profiles in
# files): with any of them, its chain decides.
EARLIER_CREDENTIALS = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CREDENTIAL_FILE", "BOTO_CONFIG")
# What a bucket name that is a DNS label holds: the client addresses it as `BUCKET.s3...`.
DNS_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class Endpoint(NamedTuple):
    """Where a service is reached and how requests to it are signed."""

    url: str  # scheme://host[:port][/path], without a trailing slash
    region: str
    given: bool  # by AWS_ENDPOINT_URL*: S3 is then addressed by path, as the client does


def _setting(name: str) -> str:
    return os.environ.get(name, "").strip()


def _on(name: str) -> bool:
    return _setting(name).lower() not in ("", "false")


def _has_content(path: str) -> bool:
    try:
        return os.stat(os.path.expanduser(path)).st_size > 0
    except (OSError, ValueError):
        return False


def intercepted() -> bool:
    """Whether the SDK's requests are intercepted in this process: a `before-send` handler among
    botocore's built-in ones (botocore registers none itself), as an in-process mock adds
    (moto's `mock_aws`, in a function's own tests). Then the read goes through a client, where
    the function's own calls go, and gets the same answers."""
    handlers = sys.modules.get("botocore.handlers")
    for registered in getattr(handlers, "BUILTIN_HANDLERS", ()):
        if registered[0].startswith("before-send") and getattr(registered[1], "enabled", True):
            return True
    return False


def endpoint(service: str) -> Endpoint | None:
    """Where the client of `service` (`ssm`, `s3`) would send its requests, when that is certain."""
    if any(_on(name) for name in UNCERTAIN_SETTINGS) or intercepted():
        return None
    if _has_content(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"):
        return None  # a profile may set the region, an endpoint, FIPS, addressing: the client decides
    region = _setting("AWS_DEFAULT_REGION")
    if not region:
        return None
    if _setting("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").lower() != "true":
        given = _setting(f"AWS_ENDPOINT_URL_{service.upper()}") or _setting("AWS_ENDPOINT_URL")
        if given:
            return Endpoint(given.rstrip("/"), region, True) if given.startswith(("http://", "https://")) else None
    suffix = partition_suffix(region)
    if suffix is None:
        return None
    if (
        service == "s3"
        and region == "us-east-1"
        and _setting("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT").lower() != "regional"
    ):
        return Endpoint(f"https://s3.{suffix}", region, False)  # the client's legacy global endpoint
    return Endpoint(f"https://{service}.{region}.{suffix}", region, False)


def partition_suffix(region: str) -> str | None:
    """The DNS suffix of a region's partition (`us-east-1`, `cn-north-1`, `us-gov-west-1`), or
    None for a region of a partition not known here (or not a region's form)."""
    words = region.split("-")
    head = "-".join(words[:2]) if region.startswith("us-gov-") else words[0]
    rest = words[2:] if head == "us-gov" else words[1:]
    if len(rest) != 2 or not rest[0].isalnum() or not rest[1].isdigit() or not rest[1].isascii():
        return None
    return PARTITIONS.get(head)


def virtual_hostable(bucket: str) -> bool:
    """Whether the client addresses a bucket as `BUCKET.s3...`: a DNS label (3-63 lower-case
    letters, digits, hyphens, not at either end); directory buckets (`--x-s3`) need a session
    of their own, the client's."""
    return (
        3 <= len(bucket) <= 63
        and set(bucket) <= DNS_LABEL
        and bucket[0] != "-"
        and bucket[-1] != "-"
        and not bucket.endswith("--x-s3")
    )


class EnvironmentCredentials(NamedTuple):
    """The credentials in the environment, as botocore's EnvProvider reads them (and in the
    form its signer takes: `get_frozen_credentials`)."""

    access_key: str
    secret_key: str
    token: str | None

    def get_frozen_credentials(self) -> EnvironmentCredentials:
        return self


def credentials(container: list[Any]) -> Any:
    """The SDK's credentials where its chain certainly finds them: the environment (its first
    link, read afresh each time), else the container credentials endpoint (Lambda SnapStart,
    ECS), with botocore's own provider. None: leave it to a client. `container` keeps the
    container's refreshable credentials between reads."""
    environ = os.environ
    access_key, secret_key = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        token = environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN") or None
        return EnvironmentCredentials(access_key, secret_key, token)
    if container:
        return container[0]
    if any(_setting(name) for name in EARLIER_CREDENTIALS):
        return None
    if _has_content(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials") or _has_content("~/.boto"):
        return None
    from botocore.credentials import ContainerProvider

    if not (_setting(ContainerProvider.ENV_VAR) or _setting(ContainerProvider.ENV_VAR_FULL)):
        return None
    found = ContainerProvider(fetcher=_quick_fetcher()).load()
    if found is not None:
        container.append(found)
    return found


def _quick_fetcher() -> Any:
    """botocore's container fetcher, asked once with the read's short timeout (its own default
    tries three times, two seconds each: past the read's deadline)."""
    from botocore.utils import ContainerMetadataFetcher

    class QuickFetcher(ContainerMetadataFetcher):
        TIMEOUT_SECONDS = 1  # seconds, as CONNECT_TIMEOUT
        RETRY_ATTEMPTS = 1

    return QuickFetcher()


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    service: str,
    region: str,
    creds: Any,
) -> dict[str, str]:
    """The headers to send: `headers` plus what botocore's SigV4 signer adds (X-Amz-Date, the
    session token, Authorization; S3's payload hash)."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(creds.get_frozen_credentials(), service, region).add_auth(request)
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    items: list[tuple[str, Any]] = list(request.headers.items())
    signed = {name: value.decode() if isinstance(value, bytes) else str(value) for name, value in items}
    signed["User-Agent"] = _user_agent()  # unsigned, as the client's
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ and trace:  # the SDK's recursion detection, unsigned as there
        from urllib.parse import quote

        signed["X-Amzn-Trace-Id"] = quote(trace, safe="-=;:+&[]{}\"',")
    return signed


def _user_agent() -> str:
    import botocore

    return f"chaos-layer Botocore/{botocore.__version__} lang/python#{sys.version.split()[0]}"


_context: list[ssl.SSLContext] = []  # one per process: loading a trust store costs tens of ms


def tls_context() -> ssl.SSLContext:
    """The library's TLS context, built once: the SDK's trust store (AWS_CA_BUNDLE, else the
    bundle botocore uses), certificates and host names verified."""
    if not _context:
        import ssl

        from botocore.httpsession import get_cert_path

        bundle = _setting("AWS_CA_BUNDLE") or get_cert_path(True)
        _context.append(ssl.create_default_context(cafile=bundle))
    return _context[0]


def send(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """One request, its whole answer by `deadline` (monotonic) or the connection closed.
    Failures are botocore's own exceptions, as a client raises them (EndpointConnectionError,
    ConnectTimeoutError, ReadTimeoutError, SSLError, ConnectionClosedError), or a SourceError
    `ReadTimeout` when the answer outlasted the deadline."""
    from botocore import exceptions

    from chaos_layer.source import transport

    context = tls_context() if url.startswith("https:") else None
    try:
        return transport.exchange(method, url, headers, body, deadline, clock, context)
    except transport.ConnectTimedOut as error:
        raise exceptions.ConnectTimeoutError(endpoint_url=url, error=_cause(error)) from None
    except transport.TlsFailed as error:
        raise exceptions.SSLError(endpoint_url=url, error=_cause(error)) from None
    except transport.ConnectFailed as error:
        raise exceptions.EndpointConnectionError(endpoint_url=url, error=_cause(error)) from None
    except transport.ReadTimedOut as error:
        raise exceptions.ReadTimeoutError(endpoint_url=url, error=_cause(error)) from None
    except transport.Closed as error:
        raise exceptions.ConnectionClosedError(endpoint_url=url, error=_cause(error)) from None


def _cause(error: Exception) -> Exception:
    cause = error.__cause__
    return cause if isinstance(cause, Exception) else error


def client_error(answer: Answer, operation: str, code: str, message: str) -> Exception:
    """A refusal as the client raises it: botocore's ClientError, with AWS's code and message."""
    from botocore.exceptions import ClientError

    metadata: dict[str, Any] = {"HTTPStatusCode": answer.status, "HTTPHeaders": dict(answer.headers)}
    request_id = answer.headers.get("x-amzn-requestid") or answer.headers.get("x-amz-request-id")
    if request_id:
        metadata["RequestId"] = request_id
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": metadata}
    return ClientError(response, operation)


def json_error(answer: Answer) -> tuple[str, str]:
    """The code and message of an error in AWS's JSON protocol, read as botocore reads them."""
    import json

    try:
        body = json.loads(answer.body.decode("utf-8")) if answer.body else {}
    except (ValueError, RecursionError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("message", body.get("Message", ""))
    code = str(body.get("__type") or answer.status).split(":", 1)[0].rsplit("#", 1)[-1]
    query_error = answer.headers.get("x-amzn-query-error", "")
    if ";" in query_error:
        code = query_error.split(";", 1)[0]
    return code, str(message)


def xml_error(answer: Answer) -> tuple[str, str]:
    """The code and message of an S3 error: from its XML body, else from the HTTP status (a
    304 or a HEAD has no body), as botocore reads them."""
    import re
    from html import unescape
    from http.client import responses

    text = answer.body.decode("utf-8", "replace")
    fields = dict(re.findall(r"<(Code|Message)>([^<]*)</\1>", text)) if answer.body else {}
    if "Code" not in fields:
        return str(answer.status), responses.get(answer.status, "")
    return unescape(fields["Code"]), unescape(fields.get("Message", ""))


# The checksums a client without the CRT validates in a GetObject answer, in its order.
_CHECKSUMS = ("crc32", "sha1", "sha256")


def _digest(algorithm: str, body: bytes) -> bytes:
    if algorithm == "crc32":
        import zlib

        return zlib.crc32(body).to_bytes(4, "big")
    import hashlib

    return hashlib.new(algorithm, body).digest()


def check_checksum(answer: Answer) -> None:
    """Validate the object's checksum as the client does (the first of crc32, sha1, sha256 in
    the answer; a multipart object's composite checksum, `...-N`, is not one to compare)."""
    import base64

    for algorithm in _CHECKSUMS:
        expected = answer.headers.get(f"x-amz-checksum-{algorithm}")
        if expected is None or "-" in expected:
            continue
        actual = _digest(algorithm, answer.body)
        if base64.b64decode(expected) != actual:
            from botocore.exceptions import FlexibleChecksumError

            raise FlexibleChecksumError(
                error_msg=f"Expected checksum {expected} did not match calculated checksum: "
                f"{base64.b64encode(actual).decode()}"
            )
        return


class Redirected(Exception):
    """The bucket is in another region: a client follows S3 there, the signed read does not."""


class SignedS3:
    """GetObject, signed by hand, for buckets whose address is certain."""

    def __init__(self, target: Endpoint, creds: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.creds = creds
        self.clock = clock

    @classmethod
    def certain(cls, buckets_and_keys: Any, container: list[Any]) -> SignedS3 | None:
        target = endpoint("s3")
        if target is None:
            return None
        if not target.given and not all(virtual_hostable(bucket) for bucket, _ in buckets_and_keys):
            return None  # path-style or directory buckets: the client's rules decide
        creds = credentials(container)
        return None if creds is None else cls(target, creds)

    def url(self, bucket: str, key: str) -> str:
        from urllib.parse import quote

        path = quote(key, safe="/~")
        if self.target.given:  # the client addresses a given endpoint by path
            return f"{self.target.url}/{bucket}/{path}"
        scheme, host = self.target.url.split("://", 1)
        return f"{scheme}://{bucket}.{host}/{path}"

    def get_object(self, deadline: float, Bucket: str, Key: str, IfNoneMatch: str | None = None) -> dict[str, Any]:
        """What the client's get_object returns that the reader uses: Body and ETag."""
        import io

        headers = {}
        if IfNoneMatch:
            headers["If-None-Match"] = IfNoneMatch
        if _setting("AWS_RESPONSE_CHECKSUM_VALIDATION").lower() != "when_required":
            headers["x-amz-checksum-mode"] = "ENABLED"
        url = self.url(Bucket, Key)
        headers = sign("GET", url, headers, b"", "s3", self.target.region, self.creds)
        answer = send("GET", url, headers, None, deadline, self.clock)
        if answer.status >= 300:
            code, message = xml_error(answer)
            elsewhere = answer.headers.get("x-amz-bucket-region")
            if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "301") or (
                elsewhere and elsewhere != self.target.region
            ):
                raise Redirected(elsewhere or code)
            raise client_error(answer, "GetObject", code, message)
        check_checksum(answer)
        return {"Body": io.BytesIO(answer.body), "ETag": answer.headers.get("etag")}
