"""S3: PutObject conditional on the ETag that was read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos_layer.control.stores.base import (
    CONFLICT,
    DENIED,
    Conflict,
    Denied,
    Store,
    Unsupported,
    Write,
    Written,
    _text,
    was_absent,
)
from chaos_layer.source import Stored
from chaos_layer.source import s3 as s3_source
from chaos_layer.source.base import (
    S3,
    Provider,
    error_code,
)
from chaos_layer.source.s3 import S3Provider


class S3Store(Store):
    source = S3

    @staticmethod
    def written(written: Written) -> str:
        return f"S3 object, ETag {written.token}" if written.token else "S3 object"

    @staticmethod
    def stored(type: str | None, version: int | None, token: str | None) -> str:
        return f"S3 object, ETag {token}" if token else "S3 object"

    def provider(self) -> Provider:
        return S3Provider(lambda: self.clients(S3))

    def check(self, location: str) -> None:
        try:
            s3_source.split(location)
        except ValueError as error:
            raise Unsupported(str(error)) from None

    def _write(self, location: str, value: str, write: Write) -> Written:
        from botocore.exceptions import ClientError

        self.check(location)
        bucket, key = s3_source.split(location)
        arn = s3_source.object_arn(bucket, key, self.clients.region)
        head = self._head(bucket, key, arn)
        arguments: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": value.encode(),
            "ContentType": write.content_type,
        }
        for setting in ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled"):
            if head is not None and head.get(setting) is not None:
                arguments[setting] = head[setting]
        if write.conditional:
            arguments.update(self._condition(location, head, write.expected))
        try:
            response = self.clients(S3).put_object(**arguments)
        except ClientError as error:
            code = error_code(error)
            if code in CONFLICT:
                raise Conflict(
                    f"{location} changed while it was being written; nothing was overwritten",
                    change="someone else wrote it while this write was on its way",
                ) from None
            if code in DENIED:
                key_id = arguments.get("SSEKMSKeyId")
                kms = f" and kms:GenerateDataKey on {key_id}" if key_id else ""
                raise Denied(f"s3:PutObject on {arn}{kms} is needed to write {location}") from None
            raise
        return Written(location, "S3 object", None, source=S3, token=response.get("ETag"))

    def _head(self, bucket: str, key: str, arn: str) -> dict[str, Any] | None:
        """The object's ETag and encryption settings, or None when it does not exist."""
        from botocore.exceptions import ClientError

        try:
            return dict(self.clients(S3).head_object(Bucket=bucket, Key=key))
        except ClientError as error:
            code = error_code(error)
            if code in s3_source.MISSING:
                return None
            if code in DENIED:
                raise Denied(
                    f"s3:GetObject on {arn} is needed to read the object's encryption settings before writing it"
                    " (and s3:ListBucket on the bucket, for a missing object to read as missing)"
                ) from None
            raise

    @staticmethod
    def _condition(location: str, head: Mapping[str, Any] | None, expected: Stored | None) -> dict[str, str]:
        """If-Match on the ETag read or last written (or just seen), If-None-Match: * for a
        new object."""
        modified = _text(head.get("LastModified")) if head is not None else None
        change = f"someone else wrote it at {modified}" if modified else "someone else wrote it"
        changed = Conflict(
            f"{location} changed since it was read ({change}); nothing was written: run the command again",
            change=change,
        )
        if head is None:
            if expected is not None and not was_absent(expected):  # it was there when read, and is gone
                raise Conflict(
                    f"{location} was deleted since it was read; nothing was written: run the command again",
                    change="it was deleted",
                )
            return {"IfNoneMatch": "*"}
        if was_absent(expected):  # it was absent when read, and someone created it
            raise changed
        token = expected.token if expected is not None and expected.token else head.get("ETag")
        if expected is None and not token:
            return {}
        if head.get("ETag") and token != head["ETag"]:
            raise changed
        return {"IfMatch": str(token)}
