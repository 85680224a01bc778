"""A `dependency` fault's AWS names checked against botocore's own data, so a typo (`dynamo`,
`ThrottlingExeption`) is a config error with the nearest known names instead of a fault that
never matches a call. Operators only: the function side never loads service models (they take
time and memory at a cold start), so there validation stays structural.

Services are boto3 client names (or endpoint prefixes, which the fault also matches); error
codes are the service's modeled errors, the generic codes every AWS API may answer with, or
`connection` / `timeout`. A fault with `"custom_error": true` may name any code.
"""

from __future__ import annotations

import difflib
import gzip
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from chaos_layer.contract import join
from chaos_layer.exceptions import Problem

# botocore's own connection failures, which the fault raises instead of a ClientError.
CONNECTION_ERRORS = frozenset({"connection", "timeout"})
# Codes any AWS API may answer with, modeled or not: throttling (botocore's retry rules),
# transient and server failures, and the common errors of the AWS API reference.
GENERIC_ERRORS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "LimitExceededException",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "OptInRequired",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestExpired",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "TransactionInProgressException",
        "UnrecognizedClientException",
        "ValidationError",
        "ValidationException",
    }
)
CUSTOM_ERROR_HINT = 'set "custom_error": true to inject a code of your own'


@lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@lru_cache(maxsize=1)
def client_names() -> frozenset[str]:
    """boto3's client names (`dynamodb`, `s3`, `cloudwatch`, ...)."""
    return frozenset(_session().get_available_services())


@lru_cache(maxsize=1)
def endpoint_prefixes() -> frozenset[str]:
    """The endpoint prefixes botocore knows (`monitoring` for CloudWatch, ...)."""
    endpoints = _session().get_component("data_loader").load_data("endpoints")
    return frozenset(name for partition in endpoints.get("partitions", []) for name in partition.get("services", {}))


_ENDPOINT_PREFIX = re.compile(rb'"endpointPrefix"\s*:\s*"([^"]+)"')


@lru_cache(maxsize=1)
def _clients_by_prefix() -> Mapping[str, tuple[str, ...]]:
    """Client names by endpoint prefix, from the head of every service model (its metadata
    comes first), so only for a prefix that is not also a client name."""
    loader = _session().get_component("data_loader")
    found: dict[str, list[str]] = {}
    for name in sorted(client_names()):
        prefix = _endpoint_prefix(loader, name)
        if prefix:
            found.setdefault(prefix, []).append(name)
    return {prefix: tuple(names) for prefix, names in found.items()}


def _endpoint_prefix(loader: Any, client: str) -> str | None:
    version = loader.determine_latest_version(client, "service-2")
    for root in loader.search_paths:
        for suffix, opener in ((".json.gz", gzip.open), (".json", open)):
            path = os.path.join(root, client, version, f"service-2{suffix}")
            if os.path.exists(path):
                with opener(path, "rb") as file:
                    match = _ENDPOINT_PREFIX.search(file.read(4096))
                if match:
                    return match.group(1).decode()
    prefix = loader.load_service_model(client, "service-2").get("metadata", {}).get("endpointPrefix")
    return prefix if isinstance(prefix, str) else None


@lru_cache(maxsize=64)
def modeled_errors(client: str) -> frozenset[str]:
    """The error codes a service's model lists: each error shape's name and its wire code."""
    model = _session().get_service_model(client)
    codes = set()
    for shape in model.error_shapes:
        codes.add(shape.name)
        code = (shape.metadata.get("error") or {}).get("code")
        if code:
            codes.add(code)
    return frozenset(codes)


def _clients(service: str) -> tuple[str, ...]:
    if service in client_names():
        return (service,)
    return _clients_by_prefix().get(service, ())


def _nearest(name: str, known: Iterable[str], *, fold: bool = False) -> str:
    """`; did you mean X or Y?`, or nothing when no known name is near."""
    pool = sorted(set(known))
    if fold:
        by_folded = {candidate.lower(): candidate for candidate in pool}
        close = [by_folded[c] for c in difflib.get_close_matches(name.lower(), list(by_folded), n=3, cutoff=0.75)]
    else:
        close = difflib.get_close_matches(name, pool, n=3, cutoff=0.75)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def problems(document: object) -> list[Problem]:
    """Every unknown service and error code of the document's `dependency` faults, located
    (`faults[0].services[0]`). Checks only what is well formed; the library's rules list the rest."""
    if not isinstance(document, Mapping) or not isinstance(document.get("faults"), list):
        return []
    found: list[Problem] = []
    for index, fault in enumerate(document["faults"]):
        if isinstance(fault, Mapping) and fault.get("type") == "dependency":
            found += _fault_problems(fault, join("faults", index))
    return found


def _fault_problems(fault: Mapping[str, Any], where: str) -> list[Problem]:
    found: list[Problem] = []
    services = fault.get("services")
    clients: list[str] = []
    if isinstance(services, list):
        for position, service in enumerate(services):
            if not isinstance(service, str) or not service:
                continue
            name = service.lower()
            if name in client_names() or name in endpoint_prefixes():
                clients += _clients(name)
                continue
            found.append(
                Problem(
                    join(join(where, "services"), position),
                    f"unknown service {service!r}: not a boto3 client name{_nearest(name, client_names())}",
                )
            )
    error = fault.get("error")
    if not isinstance(error, str) or not error or fault.get("custom_error") is True:
        return found
    if error in CONNECTION_ERRORS or error in GENERIC_ERRORS:
        return found
    known = set(GENERIC_ERRORS).union(*(modeled_errors(client) for client in clients))
    if error in known:
        return found
    named = ", ".join(clients) or "the services"
    found.append(
        Problem(
            join(where, "error"),
            f"unknown error code {error!r}: not modeled by {named} nor a generic AWS error"
            f"{_nearest(error, known | CONNECTION_ERRORS, fold=True)} ({CUSTOM_ERROR_HINT})",
        )
    )
    return found
