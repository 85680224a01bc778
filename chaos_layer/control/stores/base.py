"""Where the operator API keeps configs and kill switches: one Store per source, so that
chaos_layer.control dispatches on a location's form and holds no per-source branches.
Operators only: the layer leaves this module out, like control.py.

A Store reads through the library's own providers (source/), except AppConfig, which it
reads through AppConfig's data plane, since no agent runs on an operator's machine; both
serve the version deployed to the environment. It writes as its source allows:

- SSM: PutParameter, keeping the parameter's type (changed only on request), tier and KMS
  key. SSM has no conditional write: a change since the read is refused when
  DescribeParameters shows it before writing, and a write that raced ours is found after
  it (our version is not the one replaced plus one) and raised as RacedWrite (the operator
  API's Overwritten), with what GetParameterHistory says of it and how to restore it.
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
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from chaos_layer.source import Stored
from chaos_layer.source.base import (
    DENIED_CODES,
    SSM,
    Provider,
    load,
    named,
)

PARAMETER_TYPES = ("String", "SecureString")
DEFAULT_STRATEGY = "AppConfig.AllAtOnce"
# Deployment states in which AppConfig refuses to start another deployment in the environment.
IN_PROGRESS = frozenset({"VALIDATING", "DEPLOYING", "BAKING", "ROLLING_BACK"})
DENIED = DENIED_CODES | {"403"}
CONFLICT = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_ABSENT = object()
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
    """Someone else wrote meanwhile, or a deployment is in the way; nothing was overwritten.
    `change` describes someone else's write (who, when and which keys, where the source
    tells), None when a deployment is in the way."""

    def __init__(self, message: str, change: str | None = None) -> None:
        super().__init__(message)
        self.change = change


class RacedWrite(StoreError):
    """A write landed, but replaced another that raced it (SSM has no conditional write); the
    message says what was lost and how to restore it. `version` is the write that landed,
    `lost` the version it replaced, `change` who wrote that and when."""

    def __init__(self, message: str, *, version: int, lost: int, change: str) -> None:
        super().__init__(message)
        self.version = version
        self.lost = lost
        self.change = change


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
        """`String, version 3`, `S3 object, ETag "9b2c..."`, `AppConfig version 4, deployment #7 ...`:
        as the store of its source says it."""
        store: type[Store] = load(named(self.source).store)
        return store.written(self)


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
    typed: ClassVar[bool] = False  # a value has a type of the source's (SSM: String, SecureString)
    strategies: ClassVar[bool] = False  # a write is deployed by a deployment strategy (AppConfig)

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    @staticmethod
    def written(written: Written) -> str:
        """What a write left, for people: `String, version 3`."""
        return f"{written.type}, version {written.version}"

    @staticmethod
    def stored(type: str | None, version: int | None, token: str | None) -> str:
        """What `status` read, for people: `String, version 3`."""
        return f"{type}, version {version}"

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

        `expected` is what was read (or last written) and the value derives from; one with
        no value, no version and no token stands for a location that was absent. A source
        with conditional writes refuses to write when the location changed since; SSM, which has none,
        refuses when it sees the change before writing and raises RacedWrite when a write
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
        if write.parameter_type is not None and not self.typed:
            raise Unsupported("{parameter_type} applies to SSM parameters only")
        if (write.change_type or write.force) and not self.typed:
            raise Unsupported("{change_type} applies to SSM parameters only")
        if write.strategy is not None and not self.strategies:
            raise Unsupported("{strategy} applies to appconfig:// locations only")


def absent(location: str) -> Stored:
    """What a write expects when it must create `location`: nothing there (Store.put)."""
    return Stored(location, "", version=0)


def was_absent(expected: Stored | None) -> bool:
    return expected is not None and expected.version == 0 and expected.token is None and not expected.value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


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
