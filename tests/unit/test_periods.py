"""How long a reading is kept (docs/sources-and-scale.md, "Polling periods"), on injected clocks: the active and idle
periods, downward jitter, backoff after throttling and its gradual recovery, the monotonic
clock, and the overall deadline of a read."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from itertools import pairwise
from random import Random
from typing import Any

import pytest

from chaos_layer.config import parse_config
from chaos_layer.source import BACKOFF_CAP, ConfigCache, ConfigReader, Reading
from chaos_layer.source.cache import RECHECK

CONFIG = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
WALL = 1_790_000_000.0  # 2026-09-21, seconds since the epoch


class ScriptedReader(ConfigReader):
    """A reader whose outcomes a test sets; counts reads."""

    def __init__(self, reading: Reading) -> None:
        super().__init__(CONFIG, KILL, lambda: None)
        self.reading = reading
        self.reads = 0

    def read(self) -> Reading:
        self.reads += 1
        return self.reading


def reading(**document: Any) -> Reading:
    """The reading of a stored config: an active one unless the document says otherwise."""
    return Reading(config=parse_config({"enabled": True, "faults": [{"type": "exception"}], **document}))


STOPPED = Reading(config=parse_config({"enabled": False}))
KILLED = Reading(killed=True)
THROTTLED = Reading(problem="reading /chaos-layer/orders is throttled (ThrottlingException)", throttled=True)


class Environment:
    """One execution environment's cache, driven as the decorator drives it, on a monotonic
    clock and a wall clock that only move when the test says so."""

    def __init__(self, first: Reading, max_age: float = 5, idle_max_age: float = 60, seed: int = 1) -> None:
        self.monotonic = 1_000.0
        self.wall = WALL
        self.reader = ScriptedReader(first)
        self.cache = ConfigCache(
            self.reader,
            max_age,
            idle_max_age,
            clock=lambda: self.monotonic,
            wall_clock=lambda: self.wall,
            random=Random(seed),
            read_deadline=None,
        )

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall += seconds

    def invoke(self) -> Any:
        """One invocation's hot path; the config it would inject from, or None."""
        now = self.cache.clock()
        if now >= self.cache.deadline:
            self.cache.refresh(now)
        return self.cache.active

    def reads_over(self, seconds: float, step: float = 0.1) -> list[float]:
        """Invoke every `step` for `seconds`; the instants at which a read happened."""
        instants, end = [], self.monotonic + seconds
        while self.monotonic < end:
            before = self.reader.reads
            self.invoke()
            if self.reader.reads > before:
                instants.append(self.monotonic)
            self.advance(step)
        return instants

    def seconds_until(self, condition: Any, step: float = 0.01, limit: float = 10_000) -> float:
        """Invoke every `step` until `condition(active)` holds; the seconds that took."""
        start = self.monotonic
        while not condition(self.invoke()):
            self.advance(step)
            assert self.monotonic - start < limit, "never happened"
        return self.monotonic - start


def gaps(instants: list[float]) -> list[float]:
    return [later - earlier for earlier, later in pairwise(instants)]


class TestPeriods:
    def test_at_most_one_read_per_period_whatever_the_invocation_count(self) -> None:
        environment = Environment(reading())
        reads = environment.reads_over(10, step=0.001)  # 10 s at 1000 invocations per second
        assert 2 <= len(reads) <= 3

    @pytest.mark.parametrize(
        ("first", "period"),
        [
            (reading(), 5),
            (reading(rate=0), 5),  # rate 0 is active: a raised rate must not wait the idle period
            (reading(dry_run=True), 5),
            (STOPPED, 60),
            (KILLED, 60),
            (Reading(problem="config /chaos-layer/orders not found"), 60),
            (reading(expires_at="2020-01-01T00:00:00Z"), 60),
        ],
        ids=["active", "rate-0", "dry-run", "disabled", "killed", "missing", "expired"],
    )
    def test_reads_per_period_active_and_idle(self, first: Reading, period: float) -> None:
        environment = Environment(first)
        reads = environment.reads_over(600)
        assert max(gaps(reads)) <= period + 0.1  # jitter only shortens a period
        assert min(gaps(reads)) >= period * 0.75 - 0.1
        assert 600 / period <= len(reads) <= 600 / (period * 0.75) + 1

    def test_jitter_spreads_the_reads_of_a_fleet(self) -> None:
        first_reads = []
        for seed in range(20):
            reads = Environment(STOPPED, seed=seed).reads_over(61)
            first_reads.append(round(reads[1] - reads[0], 1))
        assert max(first_reads) <= 60
        assert len(set(first_reads)) > 10

    def test_max_age_zero_reads_on_every_invocation_while_active(self) -> None:
        environment = Environment(reading(), max_age=0, idle_max_age=0)
        for _ in range(5):
            environment.invoke()
        assert environment.reader.reads == 5

    def test_max_age_zero_alone_keeps_an_idle_reading_for_the_idle_period(self) -> None:
        environment = Environment(reading(), max_age=0, idle_max_age=60)
        environment.invoke()
        environment.reader.reading = STOPPED
        environment.invoke()  # active: read again at once, and stopped
        for _ in range(44):  # inside every jittered idle period (at least 45 s)
            environment.advance(1)
            assert environment.invoke() is None
        assert environment.reader.reads == 2


class TestPropagation:
    @pytest.mark.parametrize("seed", range(10))
    def test_a_start_reaches_an_idle_environment_within_the_idle_period(self, seed: int) -> None:
        environment = Environment(STOPPED, seed=seed)
        environment.reads_over(200, step=0.5)  # idle for a while, at any phase of its period
        environment.reader.reading = reading()
        assert environment.seconds_until(lambda active: active is not None) <= 60

    @pytest.mark.parametrize("stop", [STOPPED, KILLED], ids=["stop", "kill"])
    @pytest.mark.parametrize("seed", range(10))
    def test_a_stop_or_kill_reaches_an_injecting_environment_within_max_age(self, stop: Reading, seed: int) -> None:
        environment = Environment(reading(), seed=seed)
        environment.reads_over(33, step=0.3)
        assert environment.invoke() is not None
        environment.reader.reading = stop
        assert environment.seconds_until(lambda active: active is None) <= 5

    def test_a_target_that_leaves_this_function_out_is_idle(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "payments")
        environment = Environment(reading(targets={"functions": ["orders-*"]}))
        assert environment.invoke() is None
        assert max(gaps(environment.reads_over(300))) > 5 * 2

    @pytest.mark.parametrize(
        "targets",
        [{"functions": ["orders-*"]}, {"qualifiers": ["live"]}, {"functions": ["orders-api"], "qualifiers": ["1"]}],
    )
    def test_targets_that_admit_this_function_by_name_are_active_whatever_the_qualifier(
        self, monkeypatch: pytest.MonkeyPatch, targets: dict[str, Any]
    ) -> None:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-api")
        environment = Environment(reading(targets=targets))
        assert environment.invoke() is not None  # each invocation's qualifier is checked later
        assert max(gaps(environment.reads_over(60))) <= 5

    def test_without_a_function_name_targets_are_left_to_each_invocation(self) -> None:
        environment = Environment(reading(targets={"functions": ["orders-*"]}))
        assert environment.invoke() is not None
        assert max(gaps(environment.reads_over(60))) <= 5

    def test_expires_at_stops_injection_at_that_instant(self) -> None:
        expiry = WALL + 100
        stamp = datetime.fromtimestamp(expiry, timezone.utc).isoformat()
        environment = Environment(reading(expires_at=stamp), max_age=300, idle_max_age=300)
        assert environment.invoke() is not None
        environment.advance(100 - 0.001)
        assert environment.invoke() is not None
        environment.advance(0.001)
        assert environment.invoke() is None
        environment.advance(1)
        assert environment.invoke() is None
        assert environment.reader.reads == 2  # read again at the expiry, which found it still expired, then idle

    @pytest.mark.parametrize("max_age", [5, 60, 300])
    @pytest.mark.parametrize("seed", range(5))
    def test_a_lease_renewed_at_each_poll_never_lapses_whatever_max_age(self, max_age: float, seed: int) -> None:
        """A runner polls every 30 s and moves expires_at to 2 polls + 60 s ahead each time:
        every invocation injects, however long this environment may keep a reading."""
        poll, lease = 30.0, 2 * 30.0 + 60

        def leased(wall: float) -> Reading:
            return reading(expires_at=datetime.fromtimestamp(wall + lease, timezone.utc).isoformat())

        environment = Environment(leased(WALL), max_age=max_age, idle_max_age=600, seed=seed)
        renewed = WALL
        for _ in range(20 * 60 * 10):  # 20 minutes, an invocation every 0.1 s
            if environment.wall - renewed >= poll:
                renewed = environment.wall
                environment.reader.reading = leased(renewed)
            assert environment.invoke() is not None
            environment.advance(0.1)

    @pytest.mark.parametrize("seed", range(20))
    def test_an_active_reading_is_read_again_no_later_than_its_expiry(self, seed: int) -> None:
        """Jitter only shortens a period: a period that would end past expires_at ends there."""
        expiry = WALL + 100
        stamp = datetime.fromtimestamp(expiry, timezone.utc).isoformat()
        environment = Environment(reading(expires_at=stamp), max_age=300, idle_max_age=300, seed=seed)
        [first, second, *_] = environment.reads_over(101, step=0.01)
        assert second - first == pytest.approx(100, abs=0.011)

    def test_expiry_within_the_jittered_period_leaves_the_period_alone(self) -> None:
        stamp = datetime.fromtimestamp(WALL + 3600, timezone.utc).isoformat()
        environment = Environment(reading(expires_at=stamp))
        reads = environment.reads_over(600)
        assert max(gaps(reads)) <= 5 + 0.1
        assert 600 / 5 <= len(reads) <= 600 / (5 * 0.75) + 1


class TestClocks:
    def test_a_wall_clock_stepped_back_does_not_delay_the_kill_switch(self) -> None:
        environment = Environment(reading())
        environment.invoke()
        environment.wall -= 3600  # NTP, or an operator, steps the clock back an hour
        environment.reader.reading = KILLED
        assert environment.seconds_until(lambda active: active is None) <= 5

    def test_a_wall_clock_stepped_forward_does_not_skip_reads(self) -> None:
        environment = Environment(reading())
        environment.invoke()
        environment.wall += 3600
        reads = environment.reads_over(60)
        assert 60 / 5 <= len(reads) <= 60 / 3.75 + 1

    def test_expires_at_is_an_instant_of_the_wall_clock(self) -> None:
        stamp = datetime.fromtimestamp(WALL + 30, timezone.utc).isoformat()
        environment = Environment(reading(expires_at=stamp), max_age=300, idle_max_age=300)
        assert environment.invoke() is not None
        environment.wall += 30  # only the wall clock reaches the instant
        environment.advance(300)  # the next read finds it expired
        assert environment.invoke() is None


class TestThrottling:
    def test_backoff_grows_multiplicatively_up_to_a_cap_with_jitter(self) -> None:
        environment = Environment(THROTTLED, seed=5)
        reads = environment.reads_over(20_000, step=0.5)
        spacing = gaps(reads)
        assert spacing[0] >= 60 * 4 * 0.5  # the idle period, slowed down fourfold, jittered downwards
        assert spacing[0] <= 60 * 4 + 0.5
        assert max(spacing[:3]) < max(spacing[5:])  # it lengthens
        assert max(spacing) <= BACKOFF_CAP + 0.5
        assert max(spacing) > BACKOFF_CAP / 2  # until it reaches the cap
        assert len({round(gap) for gap in spacing[-5:]}) > 1  # jittered even at the cap

    def test_recovery_is_gradual_not_full_speed_after_one_good_read(self) -> None:
        environment = Environment(THROTTLED, seed=7)
        environment.reads_over(3_000, step=0.5)
        environment.reader.reading = STOPPED
        recovering = gaps(environment.reads_over(20_000, step=0.5))
        assert recovering[1] > 60  # one good read is not enough to return to the period
        assert recovering[-1] <= 60 + 0.5  # but it does return
        early, late = recovering[1:4], recovering[-4:]
        assert sum(early) / len(early) > 2 * sum(late) / len(late)

    def test_backoff_never_lengthens_the_life_of_an_active_reading(self) -> None:
        environment = Environment(THROTTLED, seed=3)
        environment.reads_over(2_000, step=0.5)  # well into backoff
        environment.reader.reading = reading()
        environment.seconds_until(lambda active: active is not None, step=0.5)
        reads = environment.reader.reads
        lived = environment.seconds_until(lambda active: active is None, step=0.05)
        assert lived <= 5  # max_age, not the backoff period
        environment.reads_over(5, step=0.05)
        assert environment.reader.reads == reads  # and the next read still waits for the backoff

    def test_nothing_is_injected_while_throttled(self) -> None:
        environment = Environment(reading())
        environment.invoke()
        environment.reader.reading = THROTTLED
        environment.seconds_until(lambda active: active is None)
        for _ in range(100):
            environment.advance(1)
            assert environment.invoke() is None


class TestWarnings:
    def test_a_failure_is_kept_for_the_period(self) -> None:
        environment = Environment(Reading(problem="could not read"))
        for _ in range(100):
            assert environment.invoke() is None
            environment.advance(0.5)
        assert environment.reader.reads == 1

    def test_one_warning_per_distinct_problem_per_period(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.WARNING, logger="chaos_layer")
        environment = Environment(Reading(problem="parameter missing"), max_age=0, idle_max_age=0)
        for _ in range(50):  # a read per invocation, but not a warning per invocation
            environment.invoke()
            environment.advance(0.01)
        assert environment.reader.reads == 50
        assert [r.getMessage() for r in caplog.records] == ["chaos-layer is not injecting: parameter missing"]

        environment.reader.reading = Reading(problem="config invalid")
        environment.invoke()
        assert len(caplog.records) == 2

        environment.advance(60)  # a later period: the same problem is worth one more warning
        environment.reader.reading = Reading(problem="parameter missing")
        environment.invoke()
        environment.invoke()
        assert len(caplog.records) == 3


class BlockingReader(ScriptedReader):
    """A read that answers only when the test lets it (a slow-drip endpoint, in effect)."""

    def __init__(self, reading: Reading) -> None:
        super().__init__(reading)
        self.release = threading.Event()

    def read(self) -> Reading:
        self.reads += 1
        self.release.wait(30)
        return self.reading


def injecting(cache: ConfigCache) -> bool:
    return cache.active is not None


class TestReadDeadline:
    def test_a_read_that_outruns_its_deadline_is_used_when_it_answers(self) -> None:
        reader = BlockingReader(reading())
        now = 1_000.0
        cache = ConfigCache(reader, 5, 60, clock=lambda: now, wall_clock=lambda: WALL, read_deadline=0.05)
        try:
            cache.refresh(now)  # returns after the deadline, with nothing to inject
            assert not injecting(cache)
            now += RECHECK
            cache.refresh(now)  # still reading: no second read starts
            assert reader.reads == 1
            assert not injecting(cache)
            readers = [thread for thread in threading.enumerate() if thread.name == "chaos-layer-read"]
        finally:
            reader.release.set()
        for thread in readers:  # the read ends in its own thread, when its endpoint answers
            thread.join(10)
        now += RECHECK
        assert now >= cache.deadline  # invocations look again this often
        cache.refresh(now)
        assert injecting(cache)  # its answer is taken, its life counted from when it started
        assert reader.reads == 1
        assert cache.deadline <= 1_000.0 + 5


class TestClones:
    def test_a_restored_copy_reads_afresh(self) -> None:
        environment = Environment(reading())
        environment.invoke()
        environment.advance(1)
        environment.invoke()
        assert environment.reader.reads == 1
        environment.cache.after_clone()
        environment.invoke()
        assert environment.reader.reads == 2
