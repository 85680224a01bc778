"""S3 objects: `s3://BUCKET/KEY`, the object's body is the config document (or the kill
switch's value). S3 has no account-wide read quota, so a fleet past SSM's can read here; this
is how AWS FIS's own Lambda extension receives its faults.

Each read is a conditional GET on the ETag last seen (`If-None-Match`): an unchanged object
answers 304 with no body, and the value kept from the last read is used again, so it is
neither downloaded nor parsed again. S3 has no batch read: two locations cost two GETs, both
within one READ_DEADLINE.

The library's own reads send the GET signed by hand where its endpoint and credentials are
certain (source/signed.py), as the client would send it (its checksum validation included); a
bucket in another region, which the client would follow, sends the reads through a client."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chaos_layer.source.base import (
    READ_DEADLINE,
    S3_PREFIX,
    ClientFactory,
    Provider,
    SourceError,
    Stored,
    chunks_of,
    client_region,
    error_code,
    error_message,
    partition,
    read_body,
)

NOT_MODIFIED = frozenset({"304", "NotModified"})
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
DENIED = frozenset({"AccessDenied", "403", "AllAccessDisabled"})


def split(location: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (`bucket`, `key`); ValueError for anything else."""
    bucket, _, key = location.removeprefix(S3_PREFIX).partition("/")
    if not location.startswith(S3_PREFIX) or not bucket or not key:
        raise ValueError(f"{location} is not an S3 location: expected s3://BUCKET/KEY")
    return bucket, key


def object_arn(bucket: str, key: str, region: str | None = None) -> str:
    return f"arn:{partition(region)}:s3:::{bucket}/{key}"


def default_client() -> Any:
    """An S3 client of our own session with SSM's settings: short timeouts, no retries."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client("s3", config=config)


class S3Provider(Provider):
    """Objects through one S3 client, created on the first read; with the library's own client
    (`default_client`), through signed requests wherever they are certain."""

    def __init__(self, client_factory: ClientFactory = default_client, clock: Callable[[], float] = time.monotonic):
        self._client_factory = client_factory
        self._client: Any = None
        self._clock = clock
        self._last: dict[str, Stored] = {}  # by location: the value behind the last ETag seen
        self._signed = client_factory is default_client
        self._container: list[Any] = []  # the container endpoint's credentials, once fetched

    @staticmethod
    def check(location: str) -> None:
        split(location)

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        deadline = self._clock() + READ_DEADLINE
        parts = {location: split(location) for location in locations}  # all malformed ones fail first
        if self._signed and self._client is None:
            from chaos_layer.source.signed import Redirected, SignedS3

            reader = SignedS3.certain(parts.values(), self._container)
            if reader is not None:
                try:
                    return self._read(parts, deadline, reader.get_object)
                except Redirected:  # a bucket in another region: a client follows S3 there
                    self._client = self._client_factory()
                    deadline = self._clock() + READ_DEADLINE  # the client's read starts now
            self._signed = False  # the environment does not change: a client from now on
        if self._client is None:
            self._client = self._client_factory()
        return self._read(parts, deadline, self._client_get_object)

    def _client_get_object(self, deadline: float, **arguments: str) -> Any:
        return self._client.get_object(**arguments)

    def _read(
        self, parts: dict[str, tuple[str, str]], deadline: float, get_object: Callable[..., Any]
    ) -> dict[str, Stored]:
        found = {}
        for location, (bucket, key) in parts.items():
            if self._clock() > deadline:
                raise SourceError("ReadTimeout", f"reading {location} did not start within {READ_DEADLINE:g} s")
            stored = self._get(location, bucket, key, deadline, get_object)
            if stored is not None:
                found[location] = stored
        return found

    def _get(
        self, location: str, bucket: str, key: str, deadline: float, get_object: Callable[..., Any]
    ) -> Stored | None:
        from botocore.exceptions import ClientError

        last = self._last.get(location)
        arguments = {"Bucket": bucket, "Key": key}
        if last is not None and last.token:
            arguments["IfNoneMatch"] = last.token
        try:
            response = get_object(deadline, **arguments)
        except ClientError as error:
            code = error_code(error)
            if code in NOT_MODIFIED and last is not None:
                return last
            self._last.pop(location, None)
            if code in MISSING:
                return None
            if code in DENIED:
                region = client_region(self._client) if self._client is not None else _region()
                needs = (
                    f"s3:GetObject on {object_arn(bucket, key, region)}"
                    " (and s3:ListBucket on the bucket for a missing object to read as missing)"
                )
                if "kms" in error_message(error).lower():  # an SSE-KMS object whose key the caller may not use
                    needs = f"kms:Decrypt on the KMS key of {location} (its SSE-KMS key)"
                raise SourceError(
                    "AccessDenied", f"access denied: the caller needs {needs}", error_message(error)
                ) from None
            raise
        body = response["Body"]  # the signed read's is a bytes reader already read in full
        try:
            text = read_body(chunks_of(body.read), deadline, self._clock)
        finally:
            body.close()
        stored = Stored(location, text, token=response.get("ETag"))
        self._last[location] = stored
        return stored


def _region() -> str | None:
    import os

    return os.environ.get("AWS_DEFAULT_REGION") or None
