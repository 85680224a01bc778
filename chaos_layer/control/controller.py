"""The Controller: reads, starts, stops and kills experiments in one config location."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from chaos_layer import settings
from chaos_layer.config import Config, is_legacy
from chaos_layer.constants import DEFAULT_EXPERIMENT
from chaos_layer.control.documents import check_type_flags, disable, enable, to_json, validate
from chaos_layer.control.errors import InvalidConfig, NotFound, UsageError, aws_errors
from chaos_layer.control.formatting import format_instant
from chaos_layer.control.status import Status
from chaos_layer.control.stores import store_for
from chaos_layer.control.stores.base import (
    Clients,
    Deployment,
    Store,
    Written,
)
from chaos_layer.exceptions import Problem
from chaos_layer.source import ConfigReader, Snapshot, Stored, kind, parse
from chaos_layer.source.base import source_of

# How long an experiment that `start` writes runs when nobody says.
DEFAULT_DURATION = 3600.0
NO_EXPIRY_ALONE = "{no_expiry} writes no expiry: give it without {duration} or {until}"
KILL_SWITCH_ON = "on"
KILL_SWITCH_OFF = "off"
# AppConfig serves a deployment's version once it is baking or complete.
SERVED_STATES = frozenset({"BAKING", "COMPLETE"})
CONFIG_CONTENT_TYPE = "application/json"
KILL_SWITCH_CONTENT_TYPE = "text/plain"

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


def creates(
    stored: Mapping[str, Any] | None, document: Mapping[str, Any], experiment: str | None, *, replace: bool = False
) -> bool:
    """Whether writing `document` (renamed to `experiment` if given) starts a new experiment
    rather than changing or resuming the stored one: nothing is stored, another experiment is,
    or the caller replaces whatever is."""
    if replace or stored is None:
        return True
    if is_legacy(document):  # chaos-lambda's format names no experiment
        return False
    name = experiment if experiment is not None else document.get("experiment", DEFAULT_EXPERIMENT)
    return bool(stored.get("experiment", DEFAULT_EXPERIMENT) != name)


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
        reader = ConfigReader(parameter, self.kill_switch, providers=providers)
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
            raise NotFound(f"config {self.parameter} not found")
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
        expected: Stored | None = None,
        strategy: str | None = None,
        change_type: bool = False,
        force: bool = False,
    ) -> Written:
        """Validate, then write, keeping an existing parameter's type (unless `change_type`,
        and `force` from SecureString to String) and KMS key (an object's encryption settings).
        With `expected` (what was last read or written there, see `written_as_read`; or
        `absent(...)`), the write is conditional on it: a change made since raises Changed
        and writes nothing; a write that raced this one raises Overwritten (SSM)."""
        validate(document)
        return self._put(
            self.parameter,
            to_json(document),
            expected=expected,
            parameter_type=parameter_type,
            strategy=strategy,
            change_type=change_type,
            force=force,
        )

    def config_version(self, version: int) -> Stored:
        """One version of the config as it was stored (SSM keeps every version)."""
        location = f"{self.parameter}:{version}"
        with aws_errors(f"read {location}", self._explainer(self.parameter)):
            stored = self.store(self.parameter).provider().get([location]).get(location)
        if stored is None:
            raise NotFound(f"version {version} of {self.parameter} not found")
        return stored

    def restore(self, version: int, expected: Stored) -> Written:
        """Put version `version` of the config back as it was, to undo a write of ours that
        raced it. Conditional on `expected`, what that write left."""
        return self._put(self.parameter, self.config_version(version).value, expected=expected)

    @staticmethod
    def written_as_read(written: Written, value: str) -> Stored:
        """What a later write conditional on this one expects to find: this write itself."""
        return Stored(written.name, value, written.type, written.version, written.token)

    def start(
        self,
        document: Mapping[str, Any] | None = None,
        *,
        experiment: str | None = None,
        rate: float | None = None,
        duration: float | None = None,
        until: datetime | None = None,
        dry_run: bool | None = None,
        no_expiry: bool = False,
        replace: bool = False,
        parameter_type: str | None = None,
        control_group: bool | None = None,
        before_write: Callable[[dict[str, Any]], None] | None = None,
        strategy: str | None = None,
        change_type: bool = False,
        force: bool = False,
    ) -> tuple[Written, Config]:
        """Write an enabled config: `document` (with these settings applied), or the
        stored one re-enabled when `document` is None. An experiment this creates (nothing
        stored, another experiment stored, or `replace`) needs a `rate`, given or in the
        document; every config this writes expires, `DEFAULT_DURATION` from now unless
        `duration`, `until` or the document says when, or `no_expiry` says never.
        `before_write` sees the checked document last and may refuse it by raising (the CLI's
        guard against widening). The write is conditional on the config this controller last
        read (a `document` is taken to derive from it): a change made since is refused, or
        reported when it raced the write. A type that would change is refused before anything
        else is asked."""
        if duration is not None and until is not None:
            raise UsageError("give {duration} or {until}, not both")
        if no_expiry and (duration is not None or until is not None):
            raise UsageError(NO_EXPIRY_ALONE)
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
        stored = None if expected is None else parse(expected.value).document
        if document is None:
            expected, document = self.read_config()
            stored = document
        needs_rate = rate is None and "rate" not in document and creates(stored, document, experiment, replace=replace)
        if expires_at is None and not no_expiry and not document.get("expires_at") and not is_legacy(document):
            expires_at = format_instant(now + DEFAULT_DURATION)
        updated = enable(
            document,
            experiment=experiment,
            rate=rate,
            expires_at=expires_at,
            dry_run=dry_run,
            control_group=control_group,
        )
        if no_expiry:
            updated.pop("expires_at", None)
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
        if needs_rate:
            raise UsageError(
                "a new experiment needs a rate: pass {rate} (0.05 or 5%; 100% only on purpose); nothing was written"
            )
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
        return source_of(location).propagation

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
