"""Where the operator API keeps configs and kill switches: one Store per source, so that
chaos_layer.control dispatches on a location's form and holds no per-source branches.
Operators only: the layer leaves this module out, like control.py.

A Store reads through the library's own providers (source/), except AppConfig, which it
reads through AppConfig's data plane, since no agent runs on an operator's machine; both
serve the version deployed to the environment. It writes as its source allows:

- SSM: PutParameter, keeping the parameter's type (changed only on request), tier and KMS
  key. SSM has no conditional write: a change since the read is refused when
  DescribeParameters shows it before writing, and a write that raced ours is found after
  it (our version is not the one replaced plus one) and reported as Overwritten, with what
  GetParameterHistory says of it and how to restore it.
- S3: PutObject, keeping the object's encryption settings (read with HeadObject), and
  conditional on the ETag that was read (`If-Match`; `If-None-Match: *` for a new object),
  so a racing write is refused rather than overwritten.
- AppConfig: a new hosted configuration version, then StartDeployment with a deployment
  strategy (AppConfig.AllAtOnce unless given), conditional on the environment's latest
  deployment number that was read. Only one deployment runs per environment: a stop or
  kill stops an in-progress deployment of chaos-layer's own profiles to make way.

A failure a user can act on is a StoreError, whose message may name the caller's settings
as `{fields}` (control maps it to its own errors); AWS's errors pass as botocore raises them.
"""

from __future__ import annotations

import json
import os
import shlex
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaos_layer.source import Stored, kind
from chaos_layer.source import appconfig as appconfig_source
from chaos_layer.source import s3 as s3_source
from chaos_layer.source import ssm as ssm_source
from chaos_layer.source.base import (
    APPCONFIG,
    DENIED_CODES,
    S3,
    SSM,
    Provider,
    chunks_of,
    client_region,
    error_code,
    partition,
    read_body,
)
from chaos_layer.source.s3 import S3Provider
from chaos_layer.source.ssm import SSMProvider

PARAMETER_TYPES = ("String", "SecureString")
DEFAULT_STRATEGY = "AppConfig.AllAtOnce"
# Deployment states in which AppConfig refuses to start another deployment in the environment.
IN_PROGRESS = frozenset({"VALIDATING", "DEPLOYING", "BAKING", "ROLLING_BACK"})
_DENIED = DENIED_CODES | {"403"}
_CONFLICT = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_ABSENT = object()
# The resources (ARN after the account) an AppConfig call of ours acts on, for a refusal's message.
_APPCONFIG_RESOURCES: Mapping[str, tuple[str, ...]] = {
    "ListApplications": ("application/*",),
    "ListEnvironments": ("application/{app}",),
    "ListConfigurationProfiles": ("application/{app}",),
    "ListDeploymentStrategies": ("deploymentstrategy/*",),
    "ListDeployments": ("application/{app}/environment/{env}",),
    "GetDeployment": ("application/{app}/environment/{env}/deployment/*",),
    "StopDeployment": ("application/{app}/environment/{env}/deployment/*",),
    "CreateHostedConfigurationVersion": ("application/{app}/configurationprofile/{profile}",),
    "StartDeployment": (
        "application/{app}/environment/{env}",
        "application/{app}/configurationprofile/{profile}",
        "deploymentstrategy/*",
    ),
    "StartConfigurationSession": ("application/{app}/environment/{env}/configuration/{profile}",),
    "GetLatestConfiguration": ("application/{app}/environment/{env}/configuration/{profile}",),
}
_KEY_CHARS = 40  # longest key name a message shows


class StoreError(Exception):
    """A failure the user can fix; the message may name settings as `{fields}`."""


class Unsupported(StoreError):
    """A setting or location this source cannot take."""


class Missing(StoreError):
    """What the location names does not exist, and this write cannot create it."""


class Denied(StoreError):
    """AWS refused for want of a permission, which the message names."""


class Conflict(StoreError):
    """Someone else wrote meanwhile, or a deployment is in the way; nothing was overwritten."""


class Overwritten(StoreError):
    """A write landed, but replaced another that raced it (SSM has no conditional write); the
    message says what was lost and how to restore it."""


@dataclass(frozen=True)
class Deployment:
    """An AppConfig deployment, as GetDeployment shows it."""

    number: int
    state: str
    version: str | None = None
    strategy: str | None = None
    percentage_complete: float | None = None
    started_at: str | None = None
    completed_at: str | None = None
    last_event: str | None = None

    @classmethod
    def from_response(cls, item: Mapping[str, Any]) -> Deployment:
        events = item.get("EventLog") or []
        newest = max(events, key=lambda event: str(event.get("OccurredAt", "")), default=None)
        return cls(
            number=int(item.get("DeploymentNumber", 0)),
            state=str(item.get("State", "")),
            version=_text(item.get("ConfigurationVersion")),
            strategy=_text(item.get("DeploymentStrategyId")),
            percentage_complete=item.get("PercentageComplete"),
            started_at=_text(item.get("StartedAt")),
            completed_at=_text(item.get("CompletedAt")),
            last_event=None if newest is None else _text(newest.get("Description")),
        )

    @property
    def in_progress(self) -> bool:
        return self.state in IN_PROGRESS

    def summary(self) -> str:
        done = f" {self.percentage_complete:g}%" if self.in_progress and self.percentage_complete is not None else ""
        strategy = f" with {self.strategy}" if self.strategy else ""
        version = f" of version {self.version}" if self.version else ""
        return f"deployment #{self.number}{version}{strategy}: {self.state}{done}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "version": self.version,
            "strategy": self.strategy,
            "percentage_complete": self.percentage_complete,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "last_event": self.last_event,
        }


@dataclass(frozen=True)
class Written:
    """What a write left where."""

    name: str
    type: str | None
    version: int | None
    source: str = SSM
    token: str | None = None  # S3: the new ETag
    deployment: Deployment | None = None  # AppConfig: the deployment started
    preempted: Deployment | None = None  # AppConfig: an in-progress deployment stopped to make way

    def summary(self) -> str:
        """`String, version 3`, `S3 object, ETag "9b2c..."`, `AppConfig version 4, deployment #7 ...`."""
        if self.source == S3:
            return f"S3 object, ETag {self.token}" if self.token else "S3 object"
        if self.source == APPCONFIG:
            deployed = f", {self.deployment.summary()}" if self.deployment else ""
            return f"AppConfig hosted version {self.version}{deployed}"
        return f"{self.type}, version {self.version}"


@dataclass(frozen=True)
class Write:
    """How Store.put writes (see there): the same settings for every source, each source
    refusing those it cannot take."""

    content_type: str
    expected: Stored | None = None
    conditional: bool = True
    parameter_type: str | None = None
    strategy: str | None = None
    preempt: Collection[str] = ()
    change_type: bool = False
    force: bool = False


class Clients:
    """boto3 clients of one session, one per service, made on first use, so AWS_PROFILE,
    AWS_REGION, AWS_ENDPOINT_URL(_SSM, _S3, _APPCONFIG, ...) and the other standard settings
    apply. `endpoint_url` is for every service (a local moto server serves them all).
    Timeouts are short: an operator at a keyboard wants a clear error, not a minute of retries."""

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        *,
        ssm: Any = None,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self._session: Any = None
        self._made: dict[str, Any] = {} if ssm is None else {SSM: ssm}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._new(service)
        return self._made[service]

    def _new(self, service: str) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        config = BotoConfig(connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})
        if self._session is None:
            # AWS_REGION is the SDKs' standard variable (and wins over AWS_DEFAULT_REGION in
            # AWS CLI v2); botocore itself reads only AWS_DEFAULT_REGION.
            region = self.region or os.environ.get("AWS_REGION") or None
            self._session = boto3.session.Session(profile_name=self.profile, region_name=region)
        try:
            return self._session.client(service, endpoint_url=self.endpoint_url, config=config)
        except ValueError as error:  # botocore's "Invalid endpoint: ..."
            raise Unsupported(f"{{endpoint_url}}: {error}") from None


class Store(ABC):
    """One kind of source, as the operator API reads and writes it."""

    source: str

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    @abstractmethod
    def provider(self) -> Provider:
        """What reads this source for the operator: the library's own provider where it can."""

    def check(self, location: str) -> None:  # noqa: B027 (SSM takes any name; SSM itself judges it)
        """Raises Unsupported when the location is malformed for this source."""

    def put(
        self,
        location: str,
        value: str,
        *,
        content_type: str,
        expected: Stored | None = None,
        conditional: bool = True,
        parameter_type: str | None = None,
        strategy: str | None = None,
        preempt: Collection[str] = (),
        change_type: bool = False,
        force: bool = False,
    ) -> Written:
        """Write `value` at `location`.

        `expected` is what was read and the value derives from: a source with conditional
        writes refuses to write when the location changed since; SSM, which has none,
        refuses when it sees the change before writing and raises Overwritten when a write
        raced its own. `conditional=False` writes whatever is there (an engaged kill switch
        must land). `preempt` lists locations whose in-progress deployments may be stopped to
        make way. An SSM parameter keeps its type unless `change_type` (and `force`, from
        SecureString to String) says otherwise."""
        write = Write(content_type, expected, conditional, parameter_type, strategy, tuple(preempt), change_type, force)
        self._refuse(write)
        return self._write(location, value, write)

    @abstractmethod
    def _write(self, location: str, value: str, write: Write) -> Written:
        """put's work for this source, its settings checked for the source."""

    def check_type(
        self, location: str, parameter_type: str | None, *, change_type: bool = False, force: bool = False
    ) -> None:
        """Refuses, before anything is written, a type the write would refuse."""
        self._refuse(Write("", parameter_type=parameter_type, change_type=change_type, force=force))

    def deployment(self, location: str) -> Deployment | None:
        """The latest deployment of what `location` names, for sources that deploy."""
        return None

    def denial(self, error: Exception, location: str) -> str | None:
        """A refusal of one of this store's calls for `location` in our words (the action and
        the resource), or None when the error is not one (or the source already said it)."""
        return None

    def _refuse(self, write: Write) -> None:
        if write.parameter_type is not None and self.source != SSM:
            raise Unsupported("{parameter_type} applies to SSM parameters only")
        if (write.change_type or write.force) and self.source != SSM:
            raise Unsupported("{change_type} applies to SSM parameters only")
        if write.strategy is not None and self.source != APPCONFIG:
            raise Unsupported("{strategy} applies to appconfig:// locations only")


def store_for(location: str, clients: Clients) -> Store:
    stores: dict[str, type[SSMStore | S3Store | AppConfigStore]] = {
        SSM: SSMStore,
        S3: S3Store,
        APPCONFIG: AppConfigStore,
    }
    return stores[kind(location)](clients)


# ---------------------------------------------------------------------------------------
# SSM


class SSMStore(Store):
    source = SSM

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
        arguments: dict[str, Any] = {"Name": location, "Value": value, "Overwrite": True, "Type": parameter_type}
        if existing and existing.get("Tier") == "Advanced":
            arguments["Tier"] = "Advanced"  # SSM refuses to downgrade a tier
        if parameter_type == "SecureString" and existing and existing.get("KeyId"):
            arguments["KeyId"] = existing["KeyId"]
        client = self.clients(SSM)
        try:
            response = client.put_parameter(**arguments)
        except ClientError as error:
            refusal = ssm_source.denial(error, "ssm:PutParameter", [location], client_region(client), "kms:Encrypt")
            if refusal is None:
                raise
            said = f" (AWS: {refusal.detail[:300]})" if refusal.detail else ""
            raise Denied(f"{refusal}{said}") from None
        version = response.get("Version")
        if write.conditional and base is not None and isinstance(version, int) and version != base + 1:
            raise Overwritten(self._overwritten(location, base, version, arguments))
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
            if error_code(error) not in _DENIED:
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
            raise Conflict(f"{location} was deleted since it was read; nothing was written: run the command again")
        changes = self._changes(location, expected.version, current + 1)
        raise Conflict(f"{location} changed since it was read ({changes}); nothing was written: run the command again")

    def _overwritten(self, location: str, base: int, version: int, arguments: Mapping[str, Any]) -> str:
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
            f" (version {version}) replaced it: {self._changes(location, base, version)}."
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


def changed_keys(before: Any, after: Any) -> str:
    """`keys rate, faults` of two stored JSON objects, or what else differs, without a value."""
    old, new = _object(before), _object(after)
    if old is None or new is None:
        return "the value" if before != after else "nothing"
    keys = changed(old, new)
    shown = ", ".join(key if len(key) <= _KEY_CHARS else key[: _KEY_CHARS - 3] + "..." for key in keys)
    return f"keys {shown}" if keys else "nothing"


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The top-level keys whose values differ (added and removed ones too), in `after`'s order,
    then those only `before` has."""
    return [key for key in {**after, **before} if before.get(key, _ABSENT) != after.get(key, _ABSENT)]


def _object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


# ---------------------------------------------------------------------------------------
# S3


class S3Store(Store):
    source = S3

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
            if code in _CONFLICT:
                raise Conflict(f"{location} changed while it was being written; nothing was overwritten") from None
            if code in _DENIED:
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
            if code in _DENIED:
                raise Denied(
                    f"s3:GetObject on {arn} is needed to read the object's encryption settings before writing it"
                    " (and s3:ListBucket on the bucket, for a missing object to read as missing)"
                ) from None
            raise

    @staticmethod
    def _condition(location: str, head: Mapping[str, Any] | None, expected: Stored | None) -> dict[str, str]:
        """If-Match on the ETag read (or just seen), If-None-Match: * for a new object."""
        changed = Conflict(
            f"{location} changed since it was read (someone else wrote it); nothing was written: run the command again"
        )
        if head is None:
            if expected is not None:  # it was there when read, and is gone
                raise changed
            return {"IfNoneMatch": "*"}
        token = expected.token if expected is not None and expected.token else head.get("ETag")
        if expected is None and not token:
            return {}
        if head.get("ETag") and token != head["ETag"]:
            raise changed
        return {"IfMatch": str(token)}


# ---------------------------------------------------------------------------------------
# AppConfig


@dataclass(frozen=True)
class Profile:
    """The IDs behind an `appconfig://` location's names."""

    location: str
    application_id: str
    environment_id: str
    environment: str
    profile_id: str
    profile: str
    location_uri: str | None


class AppConfigStore(Store):
    source = APPCONFIG

    def __init__(self, clients: Clients) -> None:
        super().__init__(clients)
        self._profiles: dict[str, Profile] = {}

    def provider(self) -> Provider:
        return DataPlaneProvider(self)

    def check(self, location: str) -> None:
        try:
            appconfig_source.split(location)
        except ValueError as error:
            raise Unsupported(str(error)) from None

    def resolve(self, location: str) -> Profile:
        """The IDs of the location's application, environment and profile (names or IDs)."""
        if location in self._profiles:
            return self._profiles[location]
        self.check(location)
        application, environment, profile = appconfig_source.split(location)
        client = self.clients(APPCONFIG)
        app = _find("application", application, _items(client, "list_applications"))
        where = f" in application {application}"
        env = _find("environment", environment, _items(client, "list_environments", ApplicationId=app["Id"]), where)
        prof = _find(
            "configuration profile",
            profile,
            _items(client, "list_configuration_profiles", ApplicationId=app["Id"]),
            where,
        )
        found = Profile(location, app["Id"], env["Id"], env["Name"], prof["Id"], prof["Name"], prof.get("LocationUri"))
        self._profiles[location] = found
        return found

    def latest(self, profile: Profile) -> Deployment | None:
        """The environment's latest deployment, of whichever profile."""
        client = self.clients(APPCONFIG)
        for item in _items(
            client, "list_deployments", ApplicationId=profile.application_id, EnvironmentId=profile.environment_id
        ):
            return Deployment.from_response(item)
        return None

    def deployment(self, location: str) -> Deployment | None:
        try:
            profile = self.resolve(location)
        except Missing:
            return None
        client = self.clients(APPCONFIG)
        ids = {"ApplicationId": profile.application_id, "EnvironmentId": profile.environment_id}
        for item in _items(client, "list_deployments", **ids):
            if item.get("ConfigurationName") == profile.profile:
                return Deployment.from_response(
                    client.get_deployment(**ids, DeploymentNumber=int(item["DeploymentNumber"]))
                )
        return None

    def _write(self, location: str, value: str, write: Write) -> Written:
        from botocore.exceptions import ClientError

        profile = self.resolve(location)
        if profile.location_uri not in (None, "hosted"):
            raise Unsupported(
                f"{location} is not hosted in AppConfig (its content lives at {profile.location_uri});"
                " chaos-layer writes hosted configurations only"
            )
        client = self.clients(APPCONFIG)
        strategy_id = self._strategy(write.strategy or DEFAULT_STRATEGY)
        expected = write.expected
        latest = self.latest(profile)
        moved = latest is None or str(latest.number) != (expected.token if expected else None)
        if write.conditional and expected is not None and expected.token is not None and moved:
            raise Conflict(
                f"a deployment was started in environment {profile.environment} since {location} was read;"
                " nothing was written: run the command again"
            )
        preempted = None
        if latest is not None and latest.in_progress:
            preempted = self._make_way(profile, latest, write.preempt)
        ids = {"ApplicationId": profile.application_id, "ConfigurationProfileId": profile.profile_id}
        description = "chaos-layer"
        version = client.create_hosted_configuration_version(
            **ids, Content=value.encode(), ContentType=write.content_type, Description=description
        )["VersionNumber"]
        arguments: dict[str, Any] = {
            **ids,
            "EnvironmentId": profile.environment_id,
            "DeploymentStrategyId": strategy_id,
            "ConfigurationVersion": str(version),
            "Description": description,
        }
        if latest is not None:
            arguments["LatestDeploymentNumber"] = latest.number
        try:
            started = client.start_deployment(**arguments)
        except ClientError as error:
            if error_code(error) != "ConflictException":
                raise
            raise Conflict(
                f"another deployment started in environment {profile.environment} meanwhile; version {version}"
                f" of {location} was created but not deployed: run the command again"
            ) from None
        return Written(
            location,
            "AppConfig",
            int(version),
            source=APPCONFIG,
            deployment=Deployment.from_response(started),
            preempted=preempted,
        )

    def denial(self, error: Exception, location: str) -> str | None:
        operation = str(getattr(error, "operation_name", ""))
        resources = _APPCONFIG_RESOURCES.get(operation)
        if resources is None or error_code(error) not in _DENIED:
            return None
        profile = self._profiles.get(location)  # IDs once resolved; before, any
        ids = {"app": "*", "env": "*", "profile": "*"}
        if profile is not None:
            ids = {"app": profile.application_id, "env": profile.environment_id, "profile": profile.profile_id}
        region = client_region(self.clients(APPCONFIG))
        arn = f"arn:{partition(region)}:appconfig:{region or '*'}:*:"
        named = " and ".join(arn + resource.format(**ids) for resource in resources)
        return f"the caller needs appconfig:{operation} on {named}"

    def _make_way(self, profile: Profile, latest: Deployment, preempt: Collection[str]) -> Deployment:
        """Stop an in-progress deployment of one of chaos-layer's own profiles (AllowRevert:
        AppConfig rolls it back); any other deployment in the way is a Conflict."""
        client = self.clients(APPCONFIG)
        ids = {"ApplicationId": profile.application_id, "EnvironmentId": profile.environment_id}
        current = client.get_deployment(**ids, DeploymentNumber=latest.number)
        ours = set()
        for location in preempt:
            if kind(location) == APPCONFIG:
                try:
                    other = self.resolve(location)
                except Missing:
                    continue
                if (other.application_id, other.environment_id) == (profile.application_id, profile.environment_id):
                    ours.add(other.profile_id)
        name = current.get("ConfigurationName") or current.get("ConfigurationProfileId")
        if current.get("ConfigurationProfileId") not in ours:
            raise Conflict(
                f"deployment #{latest.number} of {name} is in progress in environment {profile.environment}"
                f" ({latest.state}) and AppConfig runs one at a time; wait for it to finish, or stop it"
                " (aws appconfig stop-deployment), then run the command again"
            )
        client.stop_deployment(**ids, DeploymentNumber=latest.number, AllowRevert=True)
        return Deployment.from_response(current)

    def _strategy(self, strategy: str) -> str:
        """A deployment strategy's ID from its name or ID; AWS's predefined ones (AppConfig.*)
        are their own IDs."""
        if strategy.startswith("AppConfig."):
            return strategy
        items = _items(self.clients(APPCONFIG), "list_deployment_strategies")
        try:
            return str(_find("deployment strategy", strategy, items)["Id"])
        except Missing:
            raise Unsupported(f"{{strategy}} {strategy}: no such deployment strategy") from None


class DataPlaneProvider(Provider):
    """What is deployed to an environment, through AppConfig's data plane (the calls the
    agent makes), with the environment's latest deployment number as the token that a
    conditional write compares."""

    def __init__(self, store: AppConfigStore) -> None:
        self._store = store

    def get(self, locations: Sequence[str]) -> dict[str, Stored]:
        from botocore.exceptions import ClientError

        found = {}
        for location in locations:
            try:
                profile = self._store.resolve(location)
            except Missing:
                continue
            latest = self._store.latest(profile)
            data = self._store.clients("appconfigdata")
            try:
                token = data.start_configuration_session(
                    ApplicationIdentifier=profile.application_id,
                    EnvironmentIdentifier=profile.environment_id,
                    ConfigurationProfileIdentifier=profile.profile_id,
                )["InitialConfigurationToken"]
                response = data.get_latest_configuration(ConfigurationToken=token)
            except ClientError as error:
                if error_code(error) in ("ResourceNotFoundException", "BadRequestException"):
                    continue
                raise
            body = response.get("Configuration")
            text = "" if body is None else read_body(chunks_of(body.read), float("inf"))
            if not text:  # nothing deployed yet
                continue
            found[location] = Stored(location, text, "AppConfig", token=None if latest is None else str(latest.number))
        return found


def _items(client: Any, operation: str, **arguments: Any) -> Iterator[dict[str, Any]]:
    """Every item of a List call, across pages."""
    for page in client.get_paginator(operation).paginate(**arguments):
        yield from page.get("Items", [])


def _find(what: str, name: str, items: Iterator[dict[str, Any]], where: str = "") -> dict[str, Any]:
    """The item with this ID, else the one with this name."""
    listed = list(items)
    for item in listed:
        if item.get("Id") == name:
            return item
    named = [item for item in listed if item.get("Name") == name]
    if len(named) > 1:
        raise Unsupported(f"several AppConfig {what}s{where} are named {name}: name it by its ID")
    if not named:
        raise Missing(f"no AppConfig {what} named {name}{where} (create it first, see template.yaml)")
    return named[0]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)
