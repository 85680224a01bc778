"""How long a reading is kept: at most one read per period per execution environment.

A reading's outcome, good or bad, is kept for the period, so the library makes at most one
read per period whatever the invocation rate, and an outage costs one bounded wait per
period, not one per call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Protocol

from chaos_layer.config import Config
from chaos_layer.once import WarningMemory

logger = logging.getLogger(__name__)

# Jitter only ever shortens a normal period, so a kill switch still reaches every
# environment within max_age while a fleet's refreshes spread out.
JITTER = 0.25
# When the source throttles, the period doubles per throttled read (from at least this), up to the cap.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# With max_age 0 a persistent problem would otherwise be logged on every invocation.
MIN_WARNING_WINDOW = 5.0


@dataclass(frozen=True)
class Reading:
    """The outcome of one read: an active config, or why nothing is injected."""

    config: Config | None = None
    killed: bool = False
    problem: str | None = None
    throttled: bool = False


class Reads(Protocol):
    def read(self) -> Reading: ...


class ConfigCache:
    """What to inject now, refreshed from the reader when its period is up.

    The decorator's hot path is `if clock() >= cache.deadline: cache.refresh(now)` then
    `cache.active`: one clock read and two attribute reads while the cache is fresh.
    """

    def __init__(
        self,
        reader: Reads,
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
        self.warnings = WarningMemory()  # shared with the faults' warnings (chaos_layer.decorator)

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
        if self.warnings.due(problem, now, max(self._next_read - now, self.max_age, MIN_WARNING_WINDOW)):
            logger.warning("chaos-layer is not injecting: %s", problem)
