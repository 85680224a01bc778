"""How long a reading is kept: at most one read per period per execution environment.

A reading's outcome, good or bad, is kept for its period, so the library makes at most one
read per period whatever the invocation rate, and an outage costs one bounded wait per
period, not one per call. docs/sources-and-scale.md's "Polling periods" sets the rules:

- the period is `max_age` while an experiment is active for this function (so a stop or a
  kill reaches it within `max_age`) and `idle_max_age` while none is (so an idle fleet costs
  the account's SSM quota little);
- an active reading also ends at its config's `expires_at` and is read again then, so an
  expiry that a runner keeps moving forward (a lease) never lapses between two reads;
- periods are measured on a monotonic clock (a wall clock stepped back must not hold a
  reading longer) and jittered only downwards (a fleet spreads its reads, and `max_age`
  stays a bound);
- after a throttled read the time between reads grows multiplicatively and shrinks back a
  little per answered read, so a fleet's demand settles below the quota instead of filling
  it; the life of an active reading never grows: past `max_age` it injects nothing more;
- a read has an overall deadline: past it the invocation goes on without injecting, the
  read finishes in the background and its answer is used when it comes.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from random import Random, SystemRandom
from types import EllipsisType
from typing import TYPE_CHECKING, Protocol

from chaos_layer.once import WarningMemory
from chaos_layer.source.reading import MAX_SLOWDOWN, Reading

if TYPE_CHECKING:
    from chaos_layer.config import Config
    from chaos_layer.source.shared import Entry, Lock, SharedFile

logger = logging.getLogger(__name__)

FUNCTION_NAME_ENV = "AWS_LAMBDA_FUNCTION_NAME"
# Jitter shortens a period by up to this share, never lengthens it.
JITTER = 0.25
# After a throttled read the time between reads is multiplied by BACKOFF_FACTOR (from at
# least BACKOFF_BASE seconds, up to BACKOFF_CAP); each answered read takes back an eighth of a
# doubling. A fleet's throttled reads then settle near 1 in 17 (where slowdowns and recoveries
# balance) rather than the half that a return to full speed after one good read gives, and
# its demand below the quota rather than at it.
BACKOFF_FACTOR = 4.0
RECOVERY = 2.0 ** (1 / 8)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 900.0
# Backoff periods are jittered more widely, so throttled environments do not retry in step.
BACKOFF_JITTER = 0.5
# The longest a read may hold an invocation (a slow-drip endpoint sends a byte per timeout),
# and how often an invocation looks again for a read that outran it.
READ_DEADLINE = 2.0
RECHECK = 1.0
# An invocation already under way looks at the reading again at most this often.
WATCH_GAP = 1.0
# With max_age 0 a persistent problem would otherwise be logged on every invocation.
MIN_WARNING_WINDOW = 5.0
LOCK_HELD = (
    "another process has held the shared cache file's lock longer than a read takes;"
    " this process reads the config on its own"
)


class Reads(Protocol):
    def read(self) -> Reading: ...

    def interpret(self, config: str | None, kill_switch: str | None) -> Reading: ...


class _Read(threading.Thread):
    """One read in a thread of its own, so that the invocation waits for it at most a deadline."""

    def __init__(self, reader: Reads, started: float) -> None:
        super().__init__(name="chaos-layer-read", daemon=True)
        self.reader = reader
        self.started = started
        self.reading = Reading(problem="the read ended without an answer")
        self.done = threading.Event()
        self._context = contextvars.copy_context()  # the SDK's instrumentation sees the invocation's context

    def run(self) -> None:
        try:
            self.reading = self._context.run(self.reader.read)
        finally:
            self.done.set()


class ConfigCache:
    """What to inject now, refreshed from the reader when its period is up.

    The decorator's hot path is `if clock() < cache.quiet_until: call the handler`: one
    monotonic clock read and a comparison while the reading is fresh and can select no
    invocation (nothing active, or an experiment at `rate: 0`). Otherwise it goes on with
    `if now >= cache.deadline: cache.refresh(now)`, then `cache.active`.
    """

    def __init__(
        self,
        reader: Reads,
        max_age: float,
        idle_max_age: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Random | None = None,
        read_deadline: float | EllipsisType | None = ...,
        shared: SharedFile | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reader = reader
        self.max_age = max_age
        self.idle_max_age = max_age if idle_max_age is None else max(idle_max_age, max_age)
        self.clock = clock  # monotonic: periods
        self.wall_clock = wall_clock  # seconds since the epoch: a config's expires_at
        # A random source that a snapshot or a fork cannot copy, unless a test brings its own.
        self._random: Random = SystemRandom() if random is None else random
        # READ_DEADLINE unless given, looked up here so that tests about other things can lengthen it
        self.read_deadline = READ_DEADLINE if read_deadline is ... else read_deadline
        self.shared = shared
        self.function_name = os.environ.get(FUNCTION_NAME_ENV)  # Lambda sets it before the handler loads
        self._sleep = sleep
        self.active: Config | None = None
        self.deadline = float("-inf")  # earliest of the next read, the reading's end, the config's expiry
        # Until when no invocation can be selected: the deadline, or -inf while one can be.
        self.quiet_until = float("-inf")
        self.reading: Reading | None = None
        self._read_at = float("-inf")
        self._valid_until = float("-inf")  # the reading's life
        self._next_read = float("-inf")  # at or after the reading's end; later while backing off
        self._slowdown = 1.0
        # No slower than the cap needs: recovering from further would take reads that change nothing.
        self._max_slowdown = min(MAX_SLOWDOWN, max(1.0, BACKOFF_CAP / max(self.idle_max_age, BACKOFF_BASE)))
        self._pending: _Read | None = None
        self._adopted: tuple[Entry | None, Reading | None] = (None, None)  # the last entry taken, checked
        self._locked_out_since: float | None = None  # since when the shared file's lock has been held by another
        self.warnings = WarningMemory()  # shared with the faults' warnings (chaos_layer.decorator)

    # --- the refresh --------------------------------------------------------------------

    def refresh(self, now: float) -> None:
        if now >= self._next_read:
            self._renew(now)
        self._settle(now)

    def current(self) -> Config | None:
        """The config an invocation already under way may still inject from (a wait, a call
        to fail, a durable step attempt), or None once the experiment is over: the reading
        is refreshed when its period is up, as an invocation's is, and never sooner than a
        second after the last read. Between reads, the last reading decides, whichever
        invocation read it (a reading that lives for one invocation still holds here)."""
        now = self.clock()
        if now >= self.deadline and now >= self._read_at + WATCH_GAP:
            self.refresh(now)
        reading = self.reading
        if now >= max(self._valid_until, self._read_at + WATCH_GAP):  # not refreshed in time (backoff)
            return None
        if reading is None or not self.active_here(reading, self.wall_clock()):
            return None
        return reading.config

    def current_until(self) -> float:
        """Until when `current()` gives the same answer without a look at the reading."""
        return max(self.deadline, self._read_at + WATCH_GAP)

    def after_clone(self) -> None:
        """After a SnapStart restore or a fork: read afresh on the next invocation."""
        self._pending = self._locked_out_since = None
        self._next_read = self._valid_until = self.deadline = self.quiet_until = float("-inf")

    def active_here(self, reading: Reading | None, wall: float) -> bool:
        """Whether a reading's experiment is active for this function (docs/sources-and-scale.md): enabled,
        unexpired, not killed, and its `targets` admit this function's name, whatever its
        rate and also in a dry run. Without a known name, `targets` are left to each
        invocation, and the reading counts as active."""
        config = None if reading is None else reading.config
        if config is None or not config.is_active(wall):
            return False
        targets = config.targets
        return targets is None or not self.function_name or targets.admits_function(self.function_name)

    def _settle(self, now: float) -> None:
        """What the current reading means at `now`, and when to look again."""
        wall = self.wall_clock()
        # With max_age 0 a reading lives only for the invocation that read it.
        fresh = now < self._valid_until or now == self._read_at
        live = fresh and self.active_here(self.reading, wall)
        config = self.reading.config if live and self.reading is not None else None
        self.active = config
        deadline = self._next_read
        if config is not None:
            deadline = min(deadline, self._valid_until, self._expiry_on_clock(config, now, wall))
        self.deadline = deadline
        # `rate: 0` selects nothing, whatever else the config says (durable executions included).
        self.quiet_until = deadline if config is None or config.rate <= 0 else float("-inf")

    def _renew(self, now: float) -> None:
        if self.shared is not None:
            try:
                self._renew_shared(now, self.shared)
                return
            except OSError:  # the file cannot be used: this process reads on its own
                pass
        self._read(now)

    def _read(self, now: float) -> None:
        """Read, or take the answer of a read that outran its deadline once it has come."""
        worker = self._pending
        if worker is None:
            if self.read_deadline is None:
                self._apply(self.reader.read(), now, now)
                return
            worker = _Read(self.reader, now)
            worker.start()
            if not worker.done.wait(self.read_deadline):
                self._pending = worker
        if worker.done.is_set():
            self._pending = None
            self._apply(worker.reading, worker.started, now)
            return
        # Still reading: nothing is injected, and no second read starts meanwhile.
        problem = f"reading the config takes longer than {self.read_deadline:g} s; not injecting until it answers"
        self._set(Reading(problem=problem), now, now, now + RECHECK, now)

    def _apply(self, reading: Reading, read_at: float, now: float) -> None:
        """Keep a fresh reading: its life is the period, jittered once; backoff may put the
        next read later, never the end of its life."""
        if reading.throttled:
            self._slowdown = min(self._slowdown * BACKOFF_FACTOR, self._max_slowdown)
        else:
            self._slowdown = max(1.0, self._slowdown / RECOVERY)
        wall = self.wall_clock()
        active = self.active_here(reading, wall)
        base = self.max_age if active else self.idle_max_age
        valid_until = read_at + base * (1 - JITTER * self._random.random())
        if active and reading.config is not None:
            # Re-read by the config's expiry: a runner that renews its lease at each poll moves
            # it forward, and the reading that ends there finds the new one, leaving no gap.
            valid_until = min(valid_until, self._expiry_on_clock(reading.config, now, wall))
        next_read = valid_until
        if self._slowdown > 1:
            longest = min(max(base, BACKOFF_BASE) * self._slowdown, max(base, BACKOFF_CAP))
            next_read = max(valid_until, read_at + longest * (1 - BACKOFF_JITTER * self._random.random()))
        self._set(reading, read_at, valid_until, next_read, now)

    @staticmethod
    def _expiry_on_clock(config: Config, now: float, wall: float) -> float:
        """A config's expires_at on the monotonic clock (infinite when it has none)."""
        expiry = config.expires_at_epoch()
        return float("inf") if expiry is None else now + (expiry - wall)

    def _set(self, reading: Reading, read_at: float, valid_until: float, next_read: float, now: float) -> None:
        self.reading = reading
        self._read_at = read_at
        self._valid_until = valid_until
        self._next_read = next_read
        if reading.problem:
            self._warn(reading.problem, now)

    # --- one read per period for all the processes of an environment ---------------------

    def _renew_shared(self, now: float, shared: SharedFile) -> None:
        """Lambda Managed Instances: take the environment's reading from the shared file, or
        read under its lock and write it there for the other processes."""
        if self._adopt(shared.load(), now):
            self._locked_out_since = None
            return
        lock = shared.try_lock()
        if lock is None:  # another process is reading, or holds the lock and is stuck
            lock = self._wait_for_reader(shared, now)
            if lock is None:
                return
        self._locked_out_since = None
        with lock:
            if self._adopt(shared.load(), now):
                return
            self._read(now)
            with contextlib.suppress(OSError):  # unwritable: the others read for themselves
                shared.store(self._entry())

    def _wait_for_reader(self, shared: SharedFile, now: float) -> Lock | None:
        """The lock or the other process's reading, while a read can take that process; after
        that, read alone. Returns the lock if it came free, None when the reading is settled."""
        if self._locked_out_since is None:
            self._locked_out_since = now
        left = (self.read_deadline or RECHECK) - (now - self._locked_out_since)
        if left > 0:
            if self.active is None:  # ours injects nothing: keep it, and look again shortly
                self._next_read = now + min(RECHECK, self.idle_max_age, left)
                return None
            lock = self._wait_for(shared, left)  # an injecting reading cannot outlive max_age
            if lock is not None:
                return lock
            now = self.clock()
            if self._adopt(shared.load(), now):
                self._locked_out_since = None
                return None
        # Held longer than any read takes: its holder is stopped or stuck, and waiting for it
        # would leave this process without reads for good. It reads for itself until the lock
        # comes free (and writes nothing: the file is the lock holder's to write).
        self._read(now)
        self._say(LOCK_HELD, now)
        return None

    def _wait_for(self, shared: SharedFile, longest: float) -> Lock | None:
        """The lock, once the process that holds it has read, within `longest` seconds."""
        step, waited = 0.01, 0.0
        while waited < longest:
            self._sleep(step)
            waited += step
            lock = shared.try_lock()
            if lock is not None:
                return lock
        return None

    def _adopt(self, entry: Entry | None, now: float) -> bool:
        """Take another process's fresh reading: its values checked again with our rules, its
        jittered period, and the environment's backoff."""
        longest = max(self.idle_max_age, BACKOFF_CAP)
        if entry is None or not entry.read_at <= now < entry.next_read or entry.next_read - entry.read_at > longest:
            return False
        from chaos_layer.source.shared import reading_of

        taken, checked = self._adopted
        reading = checked if taken == entry and checked is not None else reading_of(entry, self.reader)
        life, next_read = entry.valid_until, entry.next_read
        ours = entry.read_at + self.max_age
        if ours < life and self.active_here(reading, self.wall_clock()):
            # A process with a longer max_age read it: here it ends sooner, and is read afresh then.
            if now >= ours and now != entry.read_at:
                return False
            life = next_read = ours
        self._adopted = (entry, reading)
        self._slowdown = min(entry.slowdown, self._max_slowdown)
        self._set(reading, entry.read_at, life, next_read, now)
        return True

    def _entry(self) -> Entry:
        from chaos_layer.source.shared import Entry

        reading = self.reading or Reading()
        entry = Entry(
            read_at=self._read_at,
            valid_until=self._valid_until,
            next_read=self._next_read,
            slowdown=self._slowdown,
            stored=reading.stored,
            problem=None if reading.stored is not None else reading.problem,
            throttled=reading.throttled,
        )
        self._adopted = (entry, reading)
        return entry

    def _warn(self, problem: str, now: float) -> None:
        if self._due(problem, now):
            logger.warning("chaos-layer is not injecting: %s", problem)

    def _say(self, problem: str, now: float) -> None:
        """A problem that does not keep this process from injecting, once per period."""
        if self._due(problem, now):
            logger.warning("chaos-layer: %s", problem)

    def _due(self, problem: str, now: float) -> bool:
        return self.warnings.due(problem, now, max(self._next_read - now, self.idle_max_age, MIN_WARNING_WINDOW))
