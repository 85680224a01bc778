"""SSM Parameter Store: PutParameter, guarded against races before and after the write."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from chaos_layer.control.stores.base import (
    DENIED,
    PARAMETER_TYPES,
    Conflict,
    Denied,
    RacedWrite,
    Store,
    Unsupported,
    Write,
    Written,
    _text,
    changed_keys,
)
from chaos_layer.source import Stored
from chaos_layer.source import ssm as ssm_source
from chaos_layer.source.base import (
    SSM,
    Provider,
    client_region,
    error_code,
)
from chaos_layer.source.ssm import SSMProvider


class SSMStore(Store):
    source = SSM
    typed = True

    def provider(self) -> Provider:
        return SSMProvider(lambda: self.clients(SSM))

    def check_type(
        self, location: str, parameter_type: str | None, *, change_type: bool = False, force: bool = False
    ) -> None:
        if parameter_type is not None or change_type or force:
            self._type(location, self._describe(location), parameter_type, change_type, force)

    def _write(self, location: str, value: str, write: Write) -> Written:
        from botocore.exceptions import ClientError

        existing = self._describe(location)
        parameter_type = self._type(location, existing, write.parameter_type, write.change_type, write.force)
        base = self._base(location, existing, write.expected if write.conditional else None)
        # A parameter that was not there when read is created only if it still is not: SSM's one
        # conditional write (Overwrite false), so a parameter made meanwhile is never overwritten.
        overwrite = existing is not None or not write.conditional
        arguments: dict[str, Any] = {"Name": location, "Value": value, "Overwrite": overwrite, "Type": parameter_type}
        if existing and existing.get("Tier") == "Advanced":
            arguments["Tier"] = "Advanced"  # SSM refuses to downgrade a tier
        if parameter_type == "SecureString" and existing and existing.get("KeyId"):
            arguments["KeyId"] = existing["KeyId"]
        client = self.clients(SSM)
        try:
            response = client.put_parameter(**arguments)
        except ClientError as error:
            if error_code(error) == "ParameterAlreadyExists":
                raise Conflict(
                    f"{location} was created since it was read; nothing was written: run the command again",
                    change="it was created",
                ) from None
            refusal = ssm_source.denial(error, "ssm:PutParameter", [location], client_region(client), "kms:Encrypt")
            if refusal is None:
                raise
            said = f" (AWS: {refusal.detail[:300]})" if refusal.detail else ""
            raise Denied(f"{refusal}{said}") from None
        version = response.get("Version")
        if write.conditional and base is not None and isinstance(version, int) and version != base + 1:
            change = self._changes(location, base, version)
            message = self._overwritten(location, base, version, arguments, change)
            raise RacedWrite(message, version=version, lost=version - 1, change=change)
        return Written(location, parameter_type, version)

    def _type(
        self, location: str, existing: Mapping[str, Any] | None, wanted: str | None, change_type: bool, force: bool
    ) -> str:
        """The type to write: the existing parameter's, changed only on request (`change_type`,
        and `force` as well from SecureString to plain text); String for a new parameter."""
        check_type_request(wanted, change_type, force)
        current = None if existing is None else existing.get("Type")
        if existing is not None and not current:
            raise Denied(f"could not tell the type of the existing parameter {location}; nothing was written")
        if existing is None or wanted is None or wanted == current:
            return str(current or wanted or "String")
        if not change_type:
            raise Unsupported(
                f"{location} is a {current} parameter and {{parameter_type}} {wanted} would change its type;"
                " nothing was written. Leave out {parameter_type} to keep its type, or add {change_type} to change it"
            )
        if current == "SecureString" and not force:
            raise Unsupported(
                f"changing {location} from SecureString to {wanted} stores its config as plain text;"
                " nothing was written. Add {force} as well to do it"
            )
        return wanted

    def _describe(self, location: str) -> dict[str, Any] | None:
        """Type, tier, KMS key and version of an existing parameter, or None when GetParameters
        confirms there is none: a type is never guessed for a parameter that exists.
        DescribeParameters cannot be limited to some parameters in IAM, so when it is denied
        (or does not list the parameter) GetParameters' type will do, except for a
        SecureString, whose key only DescribeParameters tells."""
        from botocore.exceptions import ClientError

        name = ssm_source.parameter_name(location)
        filters = [{"Key": "Name", "Option": "Equals", "Values": [name]}]
        why = "does not list it"
        try:  # every page: one may be empty and still carry a NextToken
            for page in self.clients(SSM).get_paginator("describe_parameters").paginate(ParameterFilters=filters):
                for item in page.get("Parameters", []):
                    if item.get("Name") == name:
                        return dict(item)
        except ClientError as error:
            if error_code(error) not in DENIED:
                raise
            why = "was denied"
        stored = self.provider().get([location]).get(location)
        if stored is None:
            return None
        if stored.type == "SecureString":
            raise Denied(
                f"ssm:DescribeParameters on {location} {why}, and only it tells this SecureString's KMS key;"
                " nothing was written"
            )
        return {"Type": stored.type, "Version": stored.version}

    def _base(self, location: str, existing: Mapping[str, Any] | None, expected: Stored | None) -> int | None:
        """The version this write replaces (None when SSM did not say). A change since
        `expected` was read is refused before anything is written."""
        current = existing.get("Version") if existing else 0
        if not isinstance(current, int):
            return None
        if expected is None or expected.version is None or current == expected.version:
            return current
        if existing is None:
            raise Conflict(
                f"{location} was deleted since it was read; nothing was written: run the command again",
                change="it was deleted",
            )
        changes = self._changes(location, expected.version, current + 1)
        raise Conflict(
            f"{location} changed since it was read ({changes}); nothing was written: run the command again",
            change=changes,
        )

    def _overwritten(self, location: str, base: int, version: int, arguments: Mapping[str, Any], change: str) -> str:
        """What a write that raced ours (SSM has no conditional write) left, and how to get it back."""
        lost = version - 1
        name = shlex.quote(location)
        key = f" --key-id {shlex.quote(arguments['KeyId'])}" if arguments.get("KeyId") else ""
        restore = (
            f"aws ssm put-parameter --name {name} --type {arguments['Type']}{key} --overwrite --value"
            f' "$(aws ssm get-parameter --name {shlex.quote(f"{location}:{lost}")} --with-decryption'
            ' --query Parameter.Value --output text)"'
        )
        return (
            f"{location} was written by someone else between this command's read and its write, and this write"
            f" (version {version}) replaced it: {change}."
            f" To restore what was overwritten: {restore}"
        )

    def _changes(self, location: str, since: int, until: int) -> str:
        """The versions after `since` and before `until`, who wrote each and when, and which
        keys each changed: names only, never a value."""
        from botocore.exceptions import ClientError

        history: dict[int, Mapping[str, Any]] = {}
        try:
            pages = self.clients(SSM).get_paginator("get_parameter_history")
            for page in pages.paginate(Name=ssm_source.parameter_name(location), WithDecryption=True):
                history.update({int(item.get("Version", 0)): item for item in page.get("Parameters", [])})
        except ClientError as error:
            return f"version {since + 1} to {until - 1}; ssm:GetParameterHistory said {error_code(error)}"
        described = []
        for number in range(since + 1, until):
            item = history.get(number, {})
            who = item.get("LastModifiedUser") or "an unknown principal"
            when = _text(item.get("LastModifiedDate")) or "an unknown time"
            keys = changed_keys(history.get(number - 1, {}).get("Value"), item.get("Value"))
            described.append(f"version {number} by {who} at {when} changed {keys}")
        return "; ".join(described)


def check_type_request(wanted: str | None, change_type: bool, force: bool) -> None:
    """Refuses settings of a type change that make no sense whatever is stored."""
    if wanted is not None and wanted not in PARAMETER_TYPES:
        raise Unsupported(f"{{parameter_type}} must be {' or '.join(PARAMETER_TYPES)}")
    if (change_type or force) and wanted is None:
        raise Unsupported("{change_type} and {force} need {parameter_type}: the type to change to")
    if force and not change_type:
        raise Unsupported("{force} applies only with {change_type}")
