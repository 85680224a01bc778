"""Reading the config and the kill switch: the one read path.

The library's cache and the operator API (`chaos-layer status`) read through the same
`ParameterReader`, so both match a location the same way (name, ARN, `:label` or
`:version`), apply the same kill-switch rule and parse with the same rules: what an
operator is shown is what functions read.

A location picks its provider: SSM for names and ARNs (source/ssm.py). A new source
(`s3://`, `appconfig://`) is one Provider subclass (source/base.py) and one line in
`ParameterReader.provider`. Locations that share a provider are fetched together, so a
config and a kill switch both in SSM cost one GetParameters call per period.

Powertools' parameter providers are not used for the read: their cache is process-wide
(shared with the application's own `get_parameter` calls), cannot hold a failure, and
their batch helper reports a missing kill switch and a throttled call alike. We need the
kill switch's absence to be a normal answer and throttling to lengthen our period.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from chaos_layer.config import Config, is_legacy, kill_switch_engaged, load_config
from chaos_layer.exceptions import ConfigError, Problem
from chaos_layer.source.base import THROTTLING_CODES, ClientFactory, Provider, Stored, error_code
from chaos_layer.source.cache import BACKOFF_BASE, BACKOFF_CAP, JITTER, ConfigCache, Reading
from chaos_layer.source.ssm import SSMProvider, default_client

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "JITTER",
    "ClientFactory",
    "ConfigCache",
    "ParameterReader",
    "Parsed",
    "Reading",
    "Snapshot",
    "Stored",
    "default_client",
    "parse",
]


@dataclass(frozen=True)
class Snapshot:
    """What one read found at the config's and the kill switch's locations, as stored."""

    config: Stored | None
    kill_switch: Stored | None

    @property
    def kill_switch_value(self) -> str | None:
        return None if self.kill_switch is None else self.kill_switch.value

    @property
    def killed(self) -> bool:
        return kill_switch_engaged(self.kill_switch_value)


@dataclass(frozen=True)
class Parsed:
    """A stored config, checked with the library's rules."""

    text: str
    config: Config | None
    problems: list[Problem] = field(default_factory=list)

    @cached_property
    def document(self) -> dict[str, Any] | None:
        """The JSON object as stored, valid or not (None when the text is not one)."""
        try:
            document = json.loads(self.text)
        except (ValueError, RecursionError):
            return None
        return document if isinstance(document, dict) else None

    @property
    def legacy(self) -> bool:
        """In chaos-lambda's format."""
        return is_legacy(self.document)


def parse(text: str) -> Parsed:
    """Check a stored config; the problems never echo its values."""
    try:
        return Parsed(text, load_config(text))
    except ConfigError as error:
        return Parsed(text, None, error.problems)


class ParameterReader:
    """The config and the kill switch of one deployment, read together."""

    def __init__(self, parameter: str, kill_switch: str, client_factory: ClientFactory = default_client) -> None:
        self.parameter = parameter
        self.kill_switch = kill_switch
        self._ssm = SSMProvider(client_factory)

    def provider(self, location: str) -> Provider:
        """The source a location names: SSM for names and ARNs, the only source so far."""
        return self._ssm

    def fetch(self, *, config: bool = True, kill_switch: bool = True) -> Snapshot:
        """What is stored now, one call per provider; raises what the provider raises."""
        wanted = [location for location, on in ((self.parameter, config), (self.kill_switch, kill_switch)) if on]
        batches: dict[Provider, list[str]] = {}
        for location in dict.fromkeys(wanted):
            batches.setdefault(self.provider(location), []).append(location)
        found: dict[str, Stored] = {}
        for provider, locations in batches.items():
            found.update(provider.get(locations))
        return Snapshot(
            found.get(self.parameter) if config else None, found.get(self.kill_switch) if kill_switch else None
        )

    def read(self) -> Reading:
        """The library's read: never raises, whatever goes wrong."""
        try:
            snapshot = self.fetch()
        except Exception as error:  # fail safe: whatever goes wrong, the handler runs
            return _failed_read(self.parameter, error)
        return self.interpret(None if snapshot.config is None else snapshot.config.value, snapshot.kill_switch_value)

    def interpret(self, config: str | None, kill_switch: str | None) -> Reading:
        """What a read that found these stored values means (the processes of one environment
        that share a read check its values each with these rules)."""
        stored = (config, kill_switch)
        if kill_switch_engaged(kill_switch):
            return Reading(killed=True, stored=stored)
        if config is None:
            return Reading(problem=f"parameter {self.parameter} not found", stored=stored)
        try:
            parsed = parse(config)
        except Exception as error:  # a bug of ours must still be cached, not retried per call
            return Reading(problem=f"config in {self.parameter} could not be checked: {type(error).__name__}")
        if parsed.config is None:
            problem = f"config in {self.parameter} is invalid: {ConfigError(parsed.problems)}"
            return Reading(problem=problem, stored=stored)
        return Reading(config=parsed.config, stored=stored)


def _failed_read(parameter: str, error: Exception) -> Reading:
    code = error_code(error)
    if code in THROTTLING_CODES:
        return Reading(problem=f"reading {parameter} is throttled ({code})", throttled=True)
    # botocore's messages name the operation, endpoint and parameter, never a value
    return Reading(problem=f"could not read {parameter}: {code or type(error).__name__}: {error}")
