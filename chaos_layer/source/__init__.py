"""Reading the config and the kill switch: the one read path.

The library's cache and the operator API (`chaos-layer status`) read through the same
`ConfigReader`, so both match a location the same way (name, ARN, `:label` or
`:version`), apply the same kill-switch rule and parse with the same rules: what an
operator is shown is what functions read.

A location picks its provider by its form: `s3://BUCKET/KEY` an S3 object (source/s3.py),
`appconfig://APP/ENV/PROFILE` a profile through the AppConfig agent (source/appconfig.py),
anything else an SSM parameter (source/ssm.py). Config and kill switch may live in different
sources. Locations that share a provider are fetched together, so a config and a kill switch
both in SSM cost one GetParameters call per period. The S3 and AppConfig modules are
imported only when a location names them, so an SSM-only function never loads them.

Powertools' parameter providers are not used for the read: their cache is process-wide
(shared with the application's own `get_parameter` calls), cannot hold a failure, and
their batch helper reports a missing kill switch and a throttled call alike. We need the
kill switch's absence to be a normal answer and throttling to lengthen our period.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from chaos_layer.constants import kill_switch_engaged
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.source.base import (
    THROTTLING_CODES,
    ClientFactory,
    Provider,
    Stored,
    error_code,
    kind,
    load,
    source_of,
)
from chaos_layer.source.cache import BACKOFF_BASE, BACKOFF_CAP, JITTER, ConfigCache
from chaos_layer.source.reading import Reading
from chaos_layer.source.ssm import default_client

if TYPE_CHECKING:
    from chaos_layer.config import Config

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "JITTER",
    "ClientFactory",
    "ConfigCache",
    "ConfigReader",
    "Parsed",
    "Reading",
    "Snapshot",
    "Stored",
    "default_client",
    "kind",
    "location_problem",
    "parse",
]


class Snapshot:
    """What one read found at the config's and the kill switch's locations, as stored.
    (Plain classes here and below: a new environment's first read pays for each class it
    defines, and a dataclass costs ~0.5 ms of CPU to define.)"""

    __slots__ = ("config", "kill_switch")

    def __init__(self, config: Stored | None, kill_switch: Stored | None) -> None:
        self.config = config
        self.kill_switch = kill_switch

    def __eq__(self, other: object) -> bool:
        if type(other) is not Snapshot:
            return NotImplemented
        return (self.config, self.kill_switch) == (other.config, other.kill_switch)

    def __hash__(self) -> int:
        return hash((self.config, self.kill_switch))

    def __repr__(self) -> str:
        return f"Snapshot(config={self.config!r}, kill_switch={self.kill_switch!r})"

    @property
    def kill_switch_value(self) -> str | None:
        return None if self.kill_switch is None else self.kill_switch.value

    @property
    def killed(self) -> bool:
        return kill_switch_engaged(self.kill_switch_value)


_UNREAD: Any = object()


class Parsed:
    """A stored config, checked with the library's rules."""

    __slots__ = ("_document", "config", "problems", "text")

    def __init__(self, text: str, config: Config | None, problems: list[Problem] | None = None) -> None:
        self.text = text
        self.config = config
        self.problems: list[Problem] = [] if problems is None else problems
        self._document: dict[str, Any] | None = _UNREAD

    @property
    def document(self) -> dict[str, Any] | None:
        """The JSON object as stored, valid or not (None when the text is not one)."""
        if self._document is _UNREAD:
            self._document = _object(self.text)
        return self._document

    @property
    def legacy(self) -> bool:
        """In chaos-lambda's format."""
        from chaos_layer.config import is_legacy

        return is_legacy(self.document)


def _object(text: str) -> dict[str, Any] | None:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def location_problem(location: str) -> str | None:
    """Why `location` names no config or kill switch (a malformed s3:// or appconfig://), or None."""
    try:
        load(source_of(location).provider).check(location)
    except ValueError as error:
        return str(error)
    return None


def parse(text: str) -> Parsed:
    """Check a stored config; the problems never echo its values."""
    from chaos_layer.config import load_config  # with the fault types' declarations: at the first read

    try:
        return Parsed(text, load_config(text))
    except ConfigError as error:
        return Parsed(text, None, error.problems)


class ConfigReader:
    """The config and the kill switch of one deployment, read together.

    `client_factory` makes the SSM client (the decorator's `boto3_client=` seam); `providers`
    replaces the provider of a source (`ssm`, `s3`, `appconfig`): the operator API reads
    AppConfig through its data plane, since no agent runs on an operator's machine.
    """

    def __init__(
        self,
        config_location: str,
        kill_switch: str,
        client_factory: ClientFactory = default_client,
        *,
        providers: Mapping[str, Provider] | None = None,
    ) -> None:
        self.config_location = config_location
        self.kill_switch = kill_switch
        self._client_factory = client_factory
        self._providers: dict[str, Provider] = dict(providers or {})
        self._last: Parsed | None = None  # the last config parsed, reused while its text is unchanged

    def provider(self, location: str) -> Provider:
        """The source a location names, created on first use."""
        source = source_of(location)
        provider = self._providers.get(source.name)
        if provider is None:
            made = load(source.provider)
            provider = self._providers[source.name] = made(self._client_factory) if source.takes_client else made()
        return provider

    def fetch(self, *, config: bool = True, kill_switch: bool = True) -> Snapshot:
        """What is stored now, one call per provider; raises what the provider raises."""
        wanted = [location for location, on in ((self.config_location, config), (self.kill_switch, kill_switch)) if on]
        found: dict[str, Stored] = {}
        for provider, locations in self._batches(wanted).items():
            with _exempt():  # the library's own read: no injected fault touches it
                found.update(provider.get(locations))
        return Snapshot(
            found.get(self.config_location) if config else None, found.get(self.kill_switch) if kill_switch else None
        )

    def _batches(self, locations: list[str]) -> dict[Provider, list[str]]:
        batches: dict[Provider, list[str]] = {}
        for location in dict.fromkeys(locations):
            batches.setdefault(self.provider(location), []).append(location)
        return batches

    def read(self) -> Reading:
        """The library's read: never raises, whatever goes wrong. An engaged kill switch
        wins over a config that could not be read; any other failure means no injection."""
        found: dict[str, Stored] = {}
        failure: Reading | None = None
        try:
            batches = self._batches([self.config_location, self.kill_switch])
        except Exception as error:  # fail safe: whatever goes wrong, the handler runs
            return _failed_read(self.config_location, error)
        for provider, locations in batches.items():
            try:
                with _exempt():  # the library's own read: no injected fault touches it
                    found.update(provider.get(locations))
            except Exception as error:
                failure = failure or _failed_read(" and ".join(locations), error)
        snapshot = Snapshot(found.get(self.config_location), found.get(self.kill_switch))
        if failure is not None and not snapshot.killed:
            return failure
        return self.interpret(None if snapshot.config is None else snapshot.config.value, snapshot.kill_switch_value)

    def interpret(self, config: str | None, kill_switch: str | None) -> Reading:
        """What a read that found these stored values means (the processes of one environment
        that share a read check its values each with these rules)."""
        stored = (config, kill_switch)
        if kill_switch_engaged(kill_switch):
            return Reading(killed=True, stored=stored)
        if config is None:
            return Reading(problem=f"config {self.config_location} not found", stored=stored)
        if _disabled(config):  # injects nothing, whatever else it says: no parser loaded for it
            return Reading(stored=stored)
        try:
            parsed = self._parse(config)
        except Exception as error:  # a bug of ours must still be cached, not retried per call
            return Reading(problem=f"config in {self.config_location} could not be checked: {type(error).__name__}")
        if parsed.config is None:
            problem = f"config in {self.config_location} is invalid: {ConfigError(parsed.problems)}"
            return Reading(problem=problem, stored=stored)
        return Reading(config=parsed.config, stored=stored)

    def _parse(self, text: str) -> Parsed:
        """An unchanged config (an S3 304, an SSM value read again) is not parsed again."""
        last = self._last
        if last is None or last.text != text:
            last = self._last = parse(text)
        return last


def _disabled(text: str) -> bool:
    """Whether a stored config says `"enabled": false` (a JSON object with that member):
    such a config selects nothing whatever else it holds, so a new environment whose
    experiment is stopped neither loads the parser nor checks the rest."""
    if '"enabled"' not in text:
        return False
    document = _object(text)
    return document is not None and document.get("enabled") is False


def _exempt() -> AbstractContextManager[object]:
    """The library's own read goes past every patch. Patches exist only once chaos_layer._patches
    is loaded, which a fault that patches does before any draw: until then there is nothing to
    go past, and a function whose experiment is off never loads it."""
    patches = sys.modules.get("chaos_layer._patches")
    return contextlib.nullcontext() if patches is None else patches.exempt()


def _failed_read(names: str, error: Exception) -> Reading:
    code = error_code(error)
    if code in THROTTLING_CODES:
        return Reading(problem=f"reading {names} is throttled ({code})", throttled=True)
    # botocore's and our sources' messages name the operation, endpoint and location, never a value
    return Reading(problem=f"could not read {names}: {code or type(error).__name__}: {error}")
