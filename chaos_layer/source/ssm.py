"""SSM Parameter Store, the default source: a parameter name, an ARN, either with a
`:label` or `:version` selector. All the locations asked for go in one GetParameters call,
so the config and the kill switch cost one request per period.

The library's own reads send that call signed by hand where its endpoint and credentials are
certain (source/signed.py): a new environment does not pay for a client. Everywhere else,
and for the operator's clients, it goes through a boto3 client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chaos_layer.source.base import (
    DENIED_CODES,
    READ_DEADLINE,
    ClientFactory,
    Provider,
    SourceError,
    Stored,
    client_region,
    error_code,
    error_message,
    partition,
)

ARN_FIELDS = 6  # arn:partition:ssm:region:account:parameter/name, then maybe :selector
# How SSM says that KMS refused to decrypt (or encrypt) a SecureString.
KMS_CODES = frozenset(
    {
        "InvalidKeyId",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
    }
)


def default_client() -> Any:
    """An SSM client of our own session, with short timeouts and no retries: a hanging
    endpoint holds one invocation about a second, then the failure is cached."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client("ssm", config=config)


class SSMProvider(Provider):
    """Parameters through one SSM client, created on the first read; with the library's own
    client (`default_client`), through signed requests wherever they are certain."""

    def __init__(self, client_factory: ClientFactory = default_client, clock: Callable[[], float] = time.monotonic):
        self._client_factory = client_factory
        self._client: Any = None
        self._signed = client_factory is default_client
        self._clock = clock
        self._container: list[Any] = []  # the container endpoint's credentials, once fetched

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        region: str | None = None
        try:
            response = self._signed_read(locations) if self._client is None and self._signed else None
            if response is None:
                if self._client is None:
                    self._client = self._client_factory()
                region = client_region(self._client)
                response = self._client.get_parameters(Names=list(locations), WithDecryption=True)
        except Exception as error:
            region = region or _region()
            refusal = denial(error, "ssm:GetParameters", locations, region, "kms:Decrypt")
            if refusal is None:
                raise
            raise refusal from None
        items = [
            item
            for item in response.get("Parameters", [])
            if isinstance(item, dict) and isinstance(item.get("Value"), str)
        ]
        found = {}
        for location in locations:
            item = find(items, location)
            if item is not None:
                found[location] = _stored(item, location)
        return found

    def _signed_read(self, locations: Sequence[str]) -> dict[str, Any] | None:
        """GetParameters as the client sends it, signed by hand; None where a client must
        send it (the endpoint or the credentials are not certain)."""
        from chaos_layer.source import signed

        target = signed.endpoint("ssm")
        creds = None if target is None else signed.credentials(self._container)
        if target is None or creds is None:
            self._signed = False  # the environment does not change: a client from now on
            return None
        import json

        url = target.url + "/"
        body = json.dumps({"Names": list(locations), "WithDecryption": True}).encode()
        headers = {"X-Amz-Target": "AmazonSSM.GetParameters", "Content-Type": "application/x-amz-json-1.1"}
        headers = signed.sign("POST", url, headers, body, "ssm", target.region, creds)
        answer = signed.send("POST", url, headers, body, self._clock() + READ_DEADLINE, self._clock)
        if answer.status >= 300:
            raise signed.client_error(answer, "GetParameters", *signed.json_error(answer))
        try:
            response = json.loads(answer.body.decode("utf-8"))
        except (ValueError, RecursionError):
            raise SourceError("InvalidResponse", "SSM answered GetParameters with a body that is not JSON") from None
        return response if isinstance(response, dict) else {}


def _region() -> str | None:
    import os

    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None


def _stored(item: Mapping[str, Any], location: str) -> Stored:
    version = item.get("Version")
    return Stored(
        item.get("Name", location), item["Value"], item.get("Type"), version if isinstance(version, int) else None
    )


def find(items: Sequence[Mapping[str, Any]], location: str) -> Mapping[str, Any] | None:
    """The item of a GetParameters response that answers `location`.

    SSM answers `/name:label` with Name `/name` and Selector `:label`, so an item answers
    the name or ARN it carries followed by its selector. Some SSM implementations (moto)
    leave Selector out; then the item of that name answers, and for `:version` only that
    version.
    """
    for item in items:
        selector = item.get("Selector") or ""
        if location in (item.get("Name", "") + selector, item.get("ARN", "") + selector):
            return item
    base, selector = split_selector(location)
    if not selector:
        return None
    for item in items:
        if "Selector" in item or base not in (item.get("Name"), item.get("ARN")):
            continue
        if not selector.isdigit() or item.get("Version") == int(selector):
            return item
    return None


def split_selector(location: str) -> tuple[str, str]:
    """`/name:label` -> (`/name`, `label`). Parameter names hold no colon; ARNs hold five."""
    fields = location.split(":")
    head = ARN_FIELDS if location.startswith("arn:") else 1
    if len(fields) <= head:
        return location, ""
    return ":".join(fields[:head]), ":".join(fields[head:])


def parameter_name(location: str) -> str:
    """The parameter's name, without a selector, from its name or ARN (`parameter/a/b` is
    `/a/b`: hierarchical names start with a slash, which the ARN leaves out)."""
    name = split_selector(location)[0]
    if not name.startswith("arn:"):
        return name
    path = name.split(":", 5)[5].removeprefix("parameter")
    return path if path.count("/") > 1 else path.lstrip("/")


def parameter_arn(location: str, region: str | None) -> str:
    """The parameter's ARN, without a selector: as named, or built from its name (the
    account is not known here, hence `*`)."""
    name = split_selector(location)[0]
    if name.startswith("arn:"):
        return name
    return f"arn:{partition(region)}:ssm:{region or '*'}:*:parameter/{name.lstrip('/')}"


def denial(
    error: BaseException, action: str, locations: Sequence[str], region: str | None, kms_action: str
) -> SourceError | None:
    """A refusal of `action` on these parameters in our own words (the action and the
    resources asked for, never a value), or None when the error is not a refusal. A KMS
    refusal names `kms_action` on the SecureString's key, which the request does not name."""
    code = error_code(error) or ""
    message = error_message(error)
    names = " and ".join(locations)
    if code in KMS_CODES or (code in DENIED_CODES and ("kms" in message.lower() or "ciphertext" in message.lower())):
        if code in DENIED_CODES | {"InvalidKeyId", "KMSAccessDeniedException"}:
            why = f"the caller needs {kms_action} on the KMS key of SecureString {names} (a customer managed key)"
        else:
            why = f"the KMS key of SecureString {names} cannot be used ({code})"
        return SourceError(code, f"KMS refused: {why}", detail=message)
    if code in DENIED_CODES:
        arns = " and ".join(parameter_arn(location, region) for location in locations)
        return SourceError(code, f"the caller needs {action} on {arns}", detail=message)
    return None
