"""Driving experiments: the Python API that the `chaos-layer` CLI (and an experiment runner)
share. It reads through the library's own reader (chaos_layer.source), so `status` shows
what functions read, and it validates every config with the library's own rules before
writing it. Where a config or kill switch lives (SSM, S3, AppConfig) is a location's form;
chaos_layer.stores reads and writes each source, and this module dispatches to it.

ControlError
 +-- UsageError      a setting or value the caller gave makes no sense (a bad duration, ...)
 +-- InvalidConfig   the config would be invalid; `.problems` lists every problem
 +-- NotFound        the config parameter does not exist
 +-- AwsError        credentials, region, permissions, endpoint or another AWS failure
 +-- Overwritten     a write landed but replaced another that raced it (SSM); says how to restore it

Every message is one line a user can act on, and none echoes a parameter's value. Messages
name the caller's settings as `{fields}`: `str()` shows this API's argument names, the CLI
its flags (`ControlError.message`).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from chaos_layer import settings, stores
from chaos_layer.config import (
    CONTROL_KEYS,
    TOP_LEVEL_KEYS,
    Config,
    is_legacy,
    kill_switch_engaged,
    load_config,
    parse_config,
)
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.source import ParameterReader, Snapshot, Stored, kind, parse
from chaos_layer.source.base import APPCONFIG, DENIED_CODES, SourceError
from chaos_layer.stores import (
    DEFAULT_STRATEGY,
    PARAMETER_TYPES,
    Clients,
    Conflict,
    Denied,
    Deployment,
    Missing,
    Store,
    Unsupported,
    Written,
    check_type_request,
    store_for,
)

# The keys of the config every version knows; `status` shows the others as blast-radius limits.
CORE_KEYS = TOP_LEVEL_KEYS - set(CONTROL_KEYS)
KILL_SWITCH_ON = "on"
KILL_SWITCH_OFF = "off"
# AppConfig serves a deployment's version once it is baking or complete.
SERVED_STATES = frozenset({"BAKING", "COMPLETE"})
CONFIG_CONTENT_TYPE = "application/json"
KILL_SWITCH_CONTENT_TYPE = "text/plain"
__all__ = ["DEFAULT_STRATEGY", "PARAMETER_TYPES", "Clients", "Deployment", "Written"]

# A field of a message, e.g. `{duration}`: a setting the caller gave, named as the caller knows it.
_FIELD = re.compile(r"\{(\w+)\}")
# The settings a message may name, and how str() names them: as this API's own arguments
# (the CLI names its flags instead).
ARGUMENTS: Mapping[str, str] = {
    name: name
    for name in (
        "parameter",
        "kill_switch",
        "region",
        "profile",
        "endpoint_url",
        "duration",
        "until",
        "parameter_type",
        "change_type",
        "force",
        "strategy",
    )
} | {"document": "a new document"}


class ControlError(Exception):
    """A failure the user can fix; `str()` is one line saying what to do."""

    def __init__(self, message: str) -> None:
        self.template = message
        super().__init__(self.message(ARGUMENTS))

    def message(self, names: Mapping[str, str]) -> str:
        """The message with each `{field}` of ARGUMENTS named as `names` says; any other
        text in braces (an AWS message, say) is left as it is."""

        def name(match: re.Match[str]) -> str:
            field = match.group(1)
            return names.get(field, ARGUMENTS[field]) if field in ARGUMENTS else match.group(0)

        return _FIELD.sub(name, self.template)


class UsageError(ControlError):
    """A setting or value makes no sense."""


class InvalidConfig(ControlError):
    """The config would break the library's rules, so it is not written."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(ControlError):
    """The config parameter does not exist."""


class AwsError(ControlError):
    """AWS could not be reached or refused the request."""


class Overwritten(ControlError):
    """The write landed, but replaced a write that raced it; the message says how to restore that."""


def validate(document: object) -> Config:
    """The library's own validation; raises InvalidConfig listing every problem."""
    try:
        return parse_config(document)
    except ConfigError as error:
        raise InvalidConfig("the config is invalid", error.problems) from None


def validate_text(text: str) -> Config:
    try:
        return load_config(text)
    except ConfigError as error:
        raise InvalidConfig("the config is invalid", error.problems) from None


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


MAX_DURATION = 3650 * 86400


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h` or `1h30m`, in seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None:
        raise UsageError(f"{{duration}} {text!r} is not a duration such as 90s, 15m, 2h or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise UsageError("{duration} must be longer than zero")
    if total > MAX_DURATION:
        raise UsageError("{duration} must be at most 3650 days (use {until} for a later end, or no expiry)")
    return float(total)


def format_instant(value: datetime | float) -> str:
    """UTC with a Z, to the second: what `start` writes into expires_at. An instant that UTC
    cannot hold (9999-12-31T23:59:59-01:00) keeps its own offset."""
    try:
        instant = value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)
        return instant.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        if isinstance(value, datetime):
            return value.replace(microsecond=0).isoformat()
        raise UsageError("the time is out of range") from None


def format_seconds(seconds: float) -> str:
    """A span for people: `45s`, `14m 32s`, `2h 5m`, `3d 4h`."""
    total = max(0, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def check_type_flags(parameter_type: str | None, change_type: bool, force: bool) -> None:
    """Refuses a type change asked for in a way that makes no sense whatever is stored
    (`force` without `change_type`, either without `parameter_type`), before any read."""
    try:
        check_type_request(parameter_type, change_type, force)
    except Unsupported as error:
        raise UsageError(str(error)) from None


def new_config(faults: list[dict[str, Any]]) -> dict[str, Any]:
    """An enabled config document with these faults (not yet validated)."""
    return {"enabled": True, "faults": faults}


def enable(
    document: Mapping[str, Any],
    *,
    experiment: str | None = None,
    rate: float | None = None,
    expires_at: str | None = None,
    dry_run: bool | None = None,
    control_group: bool | None = None,
) -> dict[str, Any]:
    """The document, enabled, with these settings replaced (not yet validated)."""
    updated = dict(document)
    if is_legacy(updated):
        if experiment is not None or expires_at is not None or dry_run is not None or control_group is not None:
            raise UsageError(
                "the config is in chaos-lambda's format, which has no experiment, expiry, dry run or control group"
                "; give {document} to write a chaos-layer config"
            )
        updated["is_enabled"] = True
    else:
        updated["enabled"] = True
        if experiment is not None:
            updated["experiment"] = experiment
        if expires_at is not None:
            updated["expires_at"] = expires_at
        if dry_run is not None:
            updated["dry_run"] = dry_run
        if control_group is not None:
            updated["control_group"] = control_group
    if rate is not None:
        updated["rate"] = rate
    if "faults" in updated:  # the long part last, for people reading the parameter
        updated["faults"] = updated.pop("faults")
    return updated


def disable(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with injection switched off and everything else kept, so `start` can
    resume it. Works on configs this version cannot validate: a newer library may be
    injecting from them."""
    updated = dict(document)
    updated["is_enabled" if is_legacy(updated) else "enabled"] = False
    return updated


def to_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# AWS


def clients(region: str | None = None, profile: str | None = None, endpoint_url: str | None = None) -> Clients:
    """boto3 clients of one session for every source (see stores.Clients); `endpoint_url`
    applies to every service, as a local moto server serves them all."""
    return Clients(region, profile, endpoint_url)


def ssm_client(region: str | None = None, profile: str | None = None, endpoint_url: str | None = None) -> Any:
    """An SSM client from a boto3 session, so AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL(_SSM)
    and the other standard variables and files apply, with the operator's short timeouts."""
    with aws_errors("create an SSM client"):
        return clients(region, profile, endpoint_url)("ssm")


_CREDENTIAL_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"}
)


@contextmanager
def aws_errors(
    action: str, explain: Callable[[Exception], str | None] | None = None, service: str = "AWS"
) -> Iterator[None]:
    """botocore's exceptions, and the stores' and sources' refusals, as one-line ControlErrors.
    `explain` puts a refusal in our words (the action and the resource), before AWS's;
    `service` is what an unreachable endpoint is called."""
    from botocore import exceptions as boto

    try:
        yield
    except Unsupported as error:
        raise UsageError(str(error)) from None
    except Missing as error:
        raise NotFound(str(error)) from None
    except Denied as error:
        raise AwsError(f"access denied: could not {action}: {error}") from None
    except Conflict as error:
        raise AwsError(f"could not {action}: {error}") from None
    except stores.Overwritten as error:
        raise Overwritten(str(error)) from None
    except SourceError as error:
        if error.denied:  # our own words first (action and resource), then AWS's, for the operator
            said = f" (AWS: {' '.join(error.detail.split())[:300]})" if error.detail else ""
            raise AwsError(
                f"access denied: could not {action}: {str(error).removeprefix('access denied: ')}{said}"
            ) from None
        prefix = "" if error.code == "AccessDenied" else f"{error.code}: "
        raise AwsError(f"could not {action}: {prefix}{error}") from None
    except boto.NoRegionError:
        raise AwsError("no AWS region: pass {region} or set AWS_REGION") from None
    except boto.NoCredentialsError:
        raise AwsError(
            "no AWS credentials found: pass {profile}, set AWS_PROFILE or AWS_ACCESS_KEY_ID, or log in (aws sso login)"
        ) from None
    except boto.ProfileNotFound as error:
        raise AwsError(f"{error} (check {{profile}} or AWS_PROFILE)") from None
    except (boto.EndpointConnectionError, boto.ConnectTimeoutError, boto.ReadTimeoutError) as error:
        raise AwsError(f"could not reach {service} to {action}: {error}") from None
    except boto.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", "") or error)
        if code.isdigit():  # not an AWS error: something else answered, e.g. a proxy
            code, message = f"HTTP {code}", "the endpoint's answer was not from AWS (check {endpoint_url} and proxies)"
        message = " ".join(message.split())[:300]
        if code in DENIED_CODES:
            ours = explain(error) if explain is not None else None
            reason = f"{ours} (AWS: {message})" if ours else message
            raise AwsError(f"access denied: could not {action}: {reason}") from None
        if code in _CREDENTIAL_CODES:
            raise AwsError(f"AWS refused the credentials ({code}): {message}") from None
        raise AwsError(f"could not {action}: {code}: {message}") from None
    except boto.BotoCoreError as error:
        raise AwsError(f"could not {action}: {error}") from None


@dataclass(frozen=True)
class Status:
    """Everything `status` shows, computed at one instant."""

    parameter: str
    kill_switch: str
    now: float
    max_age: float
    found: bool = False
    idle_max_age: float | None = None
    parameter_type: str | None = None
    version: int | None = None
    legacy: bool = False
    config: Config | None = None
    document: dict[str, Any] | None = None  # the valid config as stored
    problems: list[Problem] = field(default_factory=list)
    kill_switch_value: str | None = None
    source: str = "ssm"  # ssm, s3 or appconfig: where the config lives
    token: str | None = None  # S3: the object's ETag
    deployment: Deployment | None = None  # AppConfig: the config profile's latest deployment
    kill_switch_source: str = "ssm"
    kill_switch_deployment: Deployment | None = None

    @property
    def killed(self) -> bool:
        return kill_switch_engaged(self.kill_switch_value)

    @property
    def expires_in(self) -> float | None:
        expiry = self.config.expires_at_epoch() if self.config else None
        return None if expiry is None else expiry - self.now

    @property
    def active(self) -> bool:
        """Faults are drawn now (and injected, unless this is a dry run)."""
        return not self.killed and self.config is not None and self.config.is_active(self.now)

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.config, "dry_run", False))

    @property
    def injecting(self) -> bool:
        return self.active and not self.dry_run

    @property
    def blast_radius(self) -> dict[str, Any]:
        """The config's other limits on who is affected (targets, match, cohort, ...), as stored."""
        if self.document is None or self.legacy:
            return {}
        return {key: value for key, value in self.document.items() if key not in CORE_KEYS}

    @property
    def reason(self) -> str:
        """Why injection is (not) happening, in a few words."""
        if not self.found:
            return "the config parameter does not exist"
        if self.problems:
            return "the config is invalid"
        if self.killed:
            return "the kill switch is engaged"
        config = self.config
        assert config is not None
        if not config.enabled:
            return "the config is disabled"
        if not config.faults:
            return "the config has no faults"
        if self.expires_in is not None and self.expires_in <= 0:
            return "the experiment has expired"
        if self.dry_run:
            return "dry run: faults are logged, not injected"
        return "the experiment is running"

    def to_dict(self) -> dict[str, Any]:
        """The JSON `status --json` prints."""
        config = self.config
        return {
            "injecting": self.injecting,
            "reason": self.reason,
            "now": format_instant(self.now),
            "parameter": {
                "name": self.parameter,
                "source": self.source,
                "found": self.found,
                "type": self.parameter_type,
                "version": self.version,
                "etag": self.token if self.source == "s3" else None,
                "deployment": None if self.deployment is None else self.deployment.to_dict(),
                "format": None if not self.found else "chaos-lambda" if self.legacy else "chaos-layer",
                "valid": self.found and not self.problems,
                "problems": [{"location": p.location, "message": p.message} for p in self.problems],
            },
            "config": None
            if config is None
            else {
                "enabled": config.enabled,
                "experiment": config.experiment,
                "rate": config.rate,
                "expires_at": None if config.expires_at is None else format_instant(config.expires_at),
                "seconds_left": None if self.expires_in is None else max(0.0, self.expires_in),
                "dry_run": self.dry_run,
                "control_group": config.control_group,
                "blast_radius": self.blast_radius,
                "faults": [fault.settings() for fault in config.faults],
            },
            "kill_switch": {
                "name": self.kill_switch,
                "source": self.kill_switch_source,
                "engaged": self.killed,
                "value": self.kill_switch_value,
                "deployment": None if self.kill_switch_deployment is None else self.kill_switch_deployment.to_dict(),
            },
            "max_age": self.max_age,
            "idle_max_age": self.max_age if self.idle_max_age is None else self.idle_max_age,
        }


class Controller:
    """The config and kill switch of one deployment, wherever each lives (SSM, S3, AppConfig).

    `client` is a `Clients` (control.clients(...)), or an SSM client, with which the other
    sources' clients come from boto3's default session. `parameter`, `kill_switch`,
    `max_age` and `idle_max_age` resolve as the library resolves them: the argument, then
    CHAOS_LAYER_PARAM (or CHAOS_PARAM), CHAOS_LAYER_KILL_SWITCH, CHAOS_LAYER_MAX_AGE and
    CHAOS_LAYER_IDLE_MAX_AGE, then the defaults.
    """

    def __init__(
        self,
        client: Any,
        parameter: str | None = None,
        kill_switch: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        max_age: float | None = None,
        idle_max_age: float | None = None,
    ) -> None:
        self.client = client
        self.clients = client if isinstance(client, Clients) else Clients(ssm=client)
        self._parameter = settings.resolve_parameter(parameter)
        self.kill_switch = settings.resolve_kill_switch(kill_switch)
        try:  # how long a stop (max_age) and a start (idle_max_age) take to reach every function
            self.max_age, self.idle_max_age = settings.resolve_periods(max_age, idle_max_age)
        except (TypeError, ValueError) as error:
            raise UsageError(str(error)) from None
        self.clock = clock
        self._stores: dict[str, Store] = {}
        self._seen: dict[str, Stored] = {}  # what was last read at each location, for conditional writes

    @property
    def parameter(self) -> str:
        if not self._parameter:
            raise UsageError(f"no config parameter: pass {{parameter}} or set {settings.PARAM_ENV}")
        return self._parameter

    def store(self, location: str) -> Store:
        """The store of the source a location names, checking the location's form."""
        source = kind(location)
        if source not in self._stores:
            self._stores[source] = store_for(location, self.clients)
        store = self._stores[source]
        with aws_errors(f"use {location}"):
            store.check(location)
        return store

    # reading, through the library's own reader

    def _fetch(self, *, config: bool = True, kill_switch: bool = True) -> Snapshot:
        parameter = self.parameter if config else self._parameter or ""
        wanted = [name for name, on in ((parameter, config), (self.kill_switch, kill_switch)) if on]
        providers = {kind(name): self.store(name).provider() for name in wanted}
        reader = ParameterReader(parameter, self.kill_switch, providers=providers)
        with aws_errors(f"read {' and '.join(wanted)}", self._explainer(*wanted)):
            return reader.fetch(config=config, kill_switch=kill_switch)

    def killed(self) -> bool:
        """Whether the kill switch is engaged, by the library's rule."""
        return self._fetch(config=False).killed

    def stored_config(self) -> Stored:
        """The config as stored, whatever it holds."""
        stored = self._fetch(kill_switch=False).config
        if stored is None:
            self._seen.pop(self.parameter, None)
            raise NotFound(f"parameter {self.parameter} not found")
        self._seen[self.parameter] = stored
        return stored

    def read_config(self) -> tuple[Stored, dict[str, Any]]:
        """The config and its JSON object, which may be invalid for this version."""
        stored = self.stored_config()
        parsed = parse(stored.value)
        if parsed.document is None:  # the problems name what is wrong, never the value
            raise InvalidConfig("the config is invalid", parsed.problems or [Problem("", "must be a JSON object")])
        return stored, parsed.document

    def deployment(self, location: str) -> Deployment | None:
        """The latest deployment of an AppConfig location (None for the other sources)."""
        with aws_errors(f"read the deployments of {location}", self._explainer(location)):
            return self.store(location).deployment(location)

    def status(self) -> Status:
        """Config and kill switch read together, as the library reads them."""
        snapshot = self._fetch()
        status = Status(
            parameter=self.parameter,
            kill_switch=self.kill_switch,
            now=self.clock(),
            max_age=self.max_age,
            idle_max_age=self.idle_max_age,
            kill_switch_value=snapshot.kill_switch_value,
            source=kind(self.parameter),
            kill_switch_source=kind(self.kill_switch),
            deployment=self.deployment(self.parameter),
            kill_switch_deployment=self.deployment(self.kill_switch),
        )
        stored = snapshot.config
        if stored is None:
            return status
        parsed = parse(stored.value)
        deployed = status.deployment
        served = deployed is not None and deployed.state in SERVED_STATES and (deployed.version or "").isdigit()
        return replace(
            status,
            found=True,
            parameter_type=stored.type,
            version=int(deployed.version or 0) if served and deployed else stored.version,
            token=stored.token,
            legacy=parsed.legacy,
            config=parsed.config,
            document=None if parsed.config is None else parsed.document,
            problems=parsed.problems,
        )

    # writing

    def write_config(
        self,
        document: Mapping[str, Any],
        parameter_type: str | None = None,
        *,
        strategy: str | None = None,
        change_type: bool = False,
        force: bool = False,
    ) -> Written:
        """Validate, then write, keeping an existing parameter's type (unless `change_type`,
        and `force` from SecureString to String) and KMS key (an object's encryption settings)."""
        validate(document)
        return self._put(
            self.parameter,
            to_json(document),
            parameter_type=parameter_type,
            strategy=strategy,
            change_type=change_type,
            force=force,
        )

    def start(
        self,
        document: Mapping[str, Any] | None = None,
        *,
        experiment: str | None = None,
        rate: float | None = None,
        duration: float | None = None,
        until: datetime | None = None,
        dry_run: bool | None = None,
        parameter_type: str | None = None,
        control_group: bool | None = None,
        before_write: Callable[[dict[str, Any]], None] | None = None,
        strategy: str | None = None,
        change_type: bool = False,
        force: bool = False,
    ) -> tuple[Written, Config]:
        """Write an enabled config: `document` (with these settings applied), or the
        stored one re-enabled when `document` is None. `before_write` sees the checked
        document last and may refuse it by raising (the CLI's guard against widening).
        The write is conditional on the config this controller last read (a `document`
        is taken to derive from it): a change made since is refused, or reported when it
        raced the write. A type that would change is refused before anything else is asked."""
        if duration is not None and until is not None:
            raise UsageError("give {duration} or {until}, not both")
        check_type_flags(parameter_type, change_type, force)
        now = self.clock()
        expires_at = None
        if duration is not None:
            expires_at = format_instant(now + duration)
        elif until is not None:
            if until.timestamp() <= now:
                raise UsageError(f"{{until}} {format_instant(until)} has already passed")
            expires_at = format_instant(until)
        expected = self._seen.get(self.parameter)
        if document is None:
            expected, document = self.read_config()
        updated = enable(
            document,
            experiment=experiment,
            rate=rate,
            expires_at=expires_at,
            dry_run=dry_run,
            control_group=control_group,
        )
        try:
            config = validate(updated)
        except InvalidConfig as error:
            raise InvalidConfig("the config is invalid, nothing was written", error.problems) from None
        if not config.faults:
            raise InvalidConfig(
                "the config has no faults, nothing was written", [Problem("faults", "must list a fault")]
            )
        expiry = config.expires_at_epoch()
        if expiry is not None and expiry <= now:
            raise UsageError(
                f"the config's expires_at ({format_instant(expiry)}) has passed; pass {{duration}} or {{until}}"
            )
        store = self.store(self.parameter)
        with aws_errors(f"write {self.parameter}"):
            store.check_type(self.parameter, parameter_type, change_type=change_type, force=force)
        if before_write is not None:
            before_write(updated)
        written = self._put(
            self.parameter,
            to_json(updated),
            expected=expected,
            parameter_type=parameter_type,
            strategy=strategy,
            change_type=change_type,
            force=force,
        )
        return written, config

    def stop(self, *, strategy: str | None = None) -> Written | None:
        """Disable the config, keeping the rest. None: the value is not a JSON object, so no
        version of the library injects from it, and it is left as it is. An in-progress
        AppConfig deployment of the config or kill switch is stopped to make way."""
        try:
            stored, document = self.read_config()
        except InvalidConfig:
            return None
        return self._put(
            self.parameter, to_json(disable(document)), expected=stored, strategy=strategy, preempt=self._ours()
        )

    def kill(self, *, strategy: str | None = None) -> Written:
        """Engage the kill switch, whatever it held (an in-progress AppConfig deployment of
        the config or kill switch is stopped to make way)."""
        return self._put(
            self.kill_switch,
            KILL_SWITCH_ON,
            content_type=KILL_SWITCH_CONTENT_TYPE,
            conditional=False,
            strategy=strategy,
            preempt=self._ours(),
        )

    def resume(self, *, strategy: str | None = None) -> Written:
        """Release the kill switch; conditional on what it held just before, so a kill that
        races it is refused (S3) or reported (SSM), never silently undone."""
        return self._put(
            self.kill_switch,
            KILL_SWITCH_OFF,
            content_type=KILL_SWITCH_CONTENT_TYPE,
            strategy=strategy,
        )

    def propagation(self, location: str) -> str | None:
        """What adds to CHAOS_LAYER_MAX_AGE before a write at `location` reaches functions."""
        if kind(location) == APPCONFIG:
            return (
                "the deployment strategy's duration and the AppConfig agent's poll interval"
                " (AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS, 45 s unless the function sets it)"
            )
        return None

    def _explainer(self, *locations: str) -> Callable[[Exception], str | None]:
        """What a refusal met while using these locations means, as their stores say it."""

        def explain(error: Exception) -> str | None:
            return next((said for name in locations if (said := self.store(name).denial(error, name))), None)

        return explain

    def _ours(self) -> tuple[str, ...]:
        return tuple(name for name in (self._parameter, self.kill_switch) if name)

    def _put(
        self,
        name: str,
        value: str,
        *,
        content_type: str = CONFIG_CONTENT_TYPE,
        expected: Stored | None = None,
        conditional: bool = True,
        parameter_type: str | None = None,
        strategy: str | None = None,
        preempt: tuple[str, ...] = (),
        change_type: bool = False,
        force: bool = False,
    ) -> Written:
        store = self.store(name)
        self._seen.pop(name, None)  # what was read no longer describes what is stored
        with aws_errors(f"write {name}", self._explainer(name)):
            return store.put(
                name,
                value,
                content_type=content_type,
                expected=expected,
                conditional=conditional,
                parameter_type=parameter_type,
                strategy=strategy,
                preempt=preempt,
                change_type=change_type,
                force=force,
            )
