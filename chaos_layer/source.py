"""Reading the config and the kill switch from SSM, cached per execution environment.

One batched GetParameters call fetches both. Its outcome, good or bad, is kept for the
cache period, so the library makes at most one SSM call per period whatever the
invocation rate, and an SSM outage costs one bounded wait per period, not one per call.

Powertools' parameter providers are not used for the read: their cache is process-wide
(shared with the application's own `get_parameter` calls), cannot hold a failure, and
their batch helper reports a missing kill switch and a throttled call alike. We need the
kill switch's absence to be a normal answer and throttling to lengthen our period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from chaos_layer._patches import exempt
from chaos_layer.config import Config, kill_switch_engaged, load_config
from chaos_layer.exceptions import ConfigError

logger = logging.getLogger(__name__)

# Jitter only ever shortens a normal period, so a kill switch still reaches every
# environment within max_age while a fleet's refreshes spread out.
JITTER = 0.25
# When SSM throttles, the period doubles per throttled read (from at least this), up to the cap.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# With max_age 0 a persistent problem would otherwise be logged on every invocation.
MIN_WARNING_WINDOW = 5.0

THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"})

ClientFactory = Callable[[], Any]


def default_client() -> Any:
    """An SSM client of our own session, with short timeouts and no retries: a hanging
    endpoint holds one invocation about a second, then the failure is cached."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client("ssm", config=config)


@dataclass(frozen=True)
class Reading:
    """The outcome of one read: an active config, or why nothing is injected."""

    config: Config | None = None
    killed: bool = False
    problem: str | None = None
    throttled: bool = False


class ParameterReader:
    def __init__(self, parameter: str, kill_switch: str, client_factory: ClientFactory = default_client) -> None:
        self.parameter = parameter
        self.kill_switch = kill_switch
        self._client_factory = client_factory
        self._client: Any = None

    def read(self) -> Reading:
        try:
            if self._client is None:
                self._client = self._client_factory()
            with exempt():  # the library's own read: no injected fault touches it
                response = self._client.get_parameters(Names=[self.parameter, self.kill_switch], WithDecryption=True)
        except Exception as error:  # fail safe: whatever goes wrong, the handler runs
            return _failed_read(self.parameter, error)
        if kill_switch_engaged(_value(response, self.kill_switch)):
            return Reading(killed=True)
        text = _value(response, self.parameter)
        if text is None:
            return Reading(problem=f"parameter {self.parameter} not found")
        try:
            return Reading(config=load_config(text))
        except ConfigError as error:
            return Reading(problem=f"config in {self.parameter} is invalid: {error}")
        except Exception as error:  # a bug of ours must still be cached, not retried per call
            return Reading(problem=f"config in {self.parameter} could not be checked: {type(error).__name__}")


def _value(response: dict[str, Any], name: str) -> str | None:
    for parameter in response.get("Parameters", []):
        if name in (
            parameter.get("Name"),
            parameter.get("ARN"),
            parameter.get("Name", "") + parameter.get("Selector", ""),
        ):
            value = parameter.get("Value")
            return value if isinstance(value, str) else None
    return None


def _failed_read(parameter: str, error: Exception) -> Reading:
    response = getattr(error, "response", None)  # botocore's ClientError carries the error code
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in THROTTLING_CODES:
        return Reading(problem=f"reading {parameter} is throttled ({code})", throttled=True)
    # botocore's messages name the operation, endpoint and parameter, never a value
    return Reading(problem=f"could not read {parameter}: {code or type(error).__name__}: {error}")


class ConfigCache:
    """What to inject now, refreshed from the reader when its period is up.

    The decorator's hot path is `if clock() >= cache.deadline: cache.refresh(now)` then
    `cache.active`: one clock read and two attribute reads while the cache is fresh.
    """

    def __init__(
        self,
        reader: ParameterReader,
        max_age: float,
        clock: Callable[[], float],
        random: Random,
    ) -> None:
        self.reader = reader
        self.max_age = max_age
        self.clock = clock
        self._random = random
        self.active: Config | None = None
        self.deadline = float("-inf")  # earliest of the next read and the config's expiry
        self._next_read = float("-inf")
        self._throttled_reads = 0
        self._warned_until: dict[str, float] = {}

    def refresh(self, now: float) -> None:
        if now < self._next_read:  # only the experiment's expires_at was reached
            self.active = None
            self.deadline = self._next_read
            return
        reading = self.reader.read()
        self._next_read = now + self._period(reading.throttled)
        self.active = reading.config if reading.config and reading.config.is_active(now) else None
        expiry = self.active.expires_at_epoch() if self.active else None
        self.deadline = self._next_read if expiry is None else min(self._next_read, expiry)
        if reading.problem:
            self._warn(reading.problem, now)

    def _period(self, throttled: bool) -> float:
        if not throttled:
            self._throttled_reads = 0
            return self.max_age * (1 - JITTER * self._random.random())
        self._throttled_reads += 1
        longest = min(BACKOFF_CAP, max(self.max_age, BACKOFF_BASE) * 2.0 ** min(self._throttled_reads, 16))
        return longest * (0.5 + 0.5 * self._random.random())

    def _warn(self, problem: str, now: float) -> None:
        if now < self._warned_until.get(problem, float("-inf")):
            return
        self._warned_until[problem] = now + max(self._next_read - now, self.max_age, MIN_WARNING_WINDOW)
        logger.warning("chaos-layer is not injecting: %s", problem)
