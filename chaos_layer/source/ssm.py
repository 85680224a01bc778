"""SSM Parameter Store, the default source: a parameter name, an ARN, either with a
`:label` or `:version` selector. All the locations asked for go in one GetParameters call,
so the config and the kill switch cost one request per period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaos_layer.source.base import (
    DENIED_CODES,
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
    """Parameters through one SSM client, created on the first read."""

    def __init__(self, client_factory: ClientFactory = default_client) -> None:
        self._client_factory = client_factory
        self._client: Any = None

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        if self._client is None:
            self._client = self._client_factory()
        try:
            response = self._client.get_parameters(Names=list(locations), WithDecryption=True)
        except Exception as error:
            region = client_region(self._client)
            refusal = denial(error, "ssm:GetParameters", locations, region, "kms:Decrypt")
            if refusal is None:
                raise
            raise refusal from None
        items = [item for item in response.get("Parameters", []) if isinstance(item.get("Value"), str)]
        found = {}
        for location in locations:
            item = find(items, location)
            if item is not None:
                found[location] = _stored(item, location)
        return found


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
