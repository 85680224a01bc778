"""SSM Parameter Store, the default source: a parameter name, an ARN, either with a
`:label` or `:version` selector. All the locations asked for go in one GetParameters call,
so the config and the kill switch cost one request per period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaos_layer.source.base import ClientFactory, Provider, Stored

ARN_FIELDS = 6  # arn:partition:ssm:region:account:parameter/name, then maybe :selector


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
        response = self._client.get_parameters(Names=list(locations), WithDecryption=True)
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
