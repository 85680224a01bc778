"""The cache file that the request processes of one Lambda Managed Instances environment share
(docs/sources-and-scale.md, "Polling periods"), in one process: several caches, as several processes would hold them,
on one injected clock and one temporary directory."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos_layer.config import parse_config
from chaos_layer.source import ConfigCache, ConfigReader, Reading
from chaos_layer.source.reading import MAX_SLOWDOWN
from chaos_layer.source.shared import Entry, SharedFile

CONFIG = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
ACTIVE = json.dumps({"enabled": True, "experiment": "shared", "faults": [{"type": "exception"}]})
STOPPED = json.dumps({"enabled": False})


class Store:
    """What is stored in SSM, as the test changes it."""

    def __init__(self, config: str | None = ACTIVE, kill_switch: str | None = None) -> None:
        self.config, self.kill_switch = config, kill_switch
        self.reads = 0


class StoreReader(ConfigReader):
    """The library's reader, answering from `Store` (counts every read of every process)."""

    def __init__(self, store: Store) -> None:
        super().__init__(CONFIG, KILL, lambda: None)
        self.store = store

    def read(self) -> Reading:
        self.store.reads += 1
        return self.interpret(self.store.config, self.store.kill_switch)


class Fleet:
    """One environment's processes: a cache each, one shared file, one clock."""

    def __init__(self, directory: Path, processes: int = 8, max_age: float = 5, idle_max_age: float = 60) -> None:
        self.now = 1_000.0
        self.store = Store()
        self.sleeps: list[float] = []
        self.caches = [
            ConfigCache(
                StoreReader(self.store),
                max_age,
                idle_max_age,
                clock=lambda: self.now,
                wall_clock=lambda: 1_790_000_000.0 + self.now,
                random=Random(seed),
                read_deadline=None,
                shared=SharedFile(CONFIG, KILL, str(directory)),
                sleep=self.sleeps.append,
            )
            for seed in range(processes)
        ]

    def invoke(self, index: int) -> bool:
        """One invocation in process `index`: whether it would inject."""
        cache = self.caches[index]
        if self.now >= cache.deadline:
            cache.refresh(self.now)
        return cache.active is not None

    def run(self, seconds: float, step: float = 0.1) -> None:
        """Every process invoked every `step` seconds, in turn."""
        end = self.now + seconds
        while self.now < end:
            for index in range(len(self.caches)):
                self.invoke(index)
            self.now += step


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return Fleet(tmp_path)


def the_file(directory: Path) -> Path:
    [path] = [p for p in directory.iterdir() if p.name.startswith("chaos-layer-")]
    return path


FIELDS = ["format", "boot", "read_at", "valid_until", "next_read", "slowdown"]
FIELDS += ["config", "kill_switch", "problem", "throttled"]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([10**400, -(10**400), 10**4000, 2**1024, 1, 1000, 1_000.5, 1e308])
    | st.floats()
    | st.text(max_size=64),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)


class TestOneReadPerPeriod:
    @pytest.mark.parametrize(("config", "period"), [(ACTIVE, 5), (STOPPED, 60)], ids=["active", "idle"])
    def test_the_processes_of_an_environment_read_once_per_period_in_all(
        self, tmp_path: Path, config: str, period: float
    ) -> None:
        fleet = Fleet(tmp_path, processes=8)
        fleet.store.config = config
        fleet.run(600)
        assert 600 / period <= fleet.store.reads <= 600 / (period * 0.75) + 1  # not eight times that

    def test_a_missing_file_sends_one_process_to_ssm_not_all(self, fleet: Fleet) -> None:
        for index in range(8):
            fleet.invoke(index)
        assert fleet.store.reads == 1

    def test_every_process_sees_a_kill_within_max_age(self, fleet: Fleet) -> None:
        fleet.run(33)
        assert all(fleet.invoke(index) for index in range(8))
        fleet.store.kill_switch = "on"
        start = fleet.now
        while any(fleet.invoke(index) for index in range(8)):
            fleet.now += 0.05
        assert fleet.now - start <= 5

    def test_every_process_sees_a_start_within_the_idle_period(self, fleet: Fleet) -> None:
        fleet.store.config = STOPPED
        fleet.run(200)
        fleet.store.config = ACTIVE
        start = fleet.now
        while not all(fleet.invoke(index) for index in range(8)):
            fleet.now += 0.05
        assert fleet.now - start <= 60

    def test_a_lease_renewed_at_each_poll_never_lapses_in_any_process(self, tmp_path: Path) -> None:
        """A runner moves expires_at 2 minutes ahead every 30 s; the processes keep readings up to
        300 s: each re-reads (or takes the file's reading) by the expiry it saw, so none ever
        finds its experiment expired."""
        fleet = Fleet(tmp_path, processes=4, max_age=300, idle_max_age=600)

        def lease(now: float) -> str:
            stamp = datetime.fromtimestamp(1_790_000_000.0 + now + 120, timezone.utc).isoformat()
            return json.dumps({"enabled": True, "expires_at": stamp, "faults": [{"type": "exception"}]})

        renewed = fleet.now
        fleet.store.config = lease(renewed)
        end = fleet.now + 20 * 60
        while fleet.now < end:
            if fleet.now - renewed >= 30:
                renewed = fleet.now
                fleet.store.config = lease(renewed)
            assert all(fleet.invoke(index) for index in range(4))
            fleet.now += 0.1
        assert fleet.store.reads <= 20 * 60 / 90 + 1  # one read per lease in all, at its expiry

    def test_a_process_keeps_its_own_shorter_max_age(self, tmp_path: Path) -> None:
        longer = Fleet(tmp_path, processes=1, max_age=60)
        shorter = Fleet(tmp_path, processes=1, max_age=2)
        shorter.store = longer.store
        shorter.caches[0].reader.store = longer.store  # type: ignore[attr-defined]
        longer.invoke(0)  # reads, and shares a reading that lives up to 60 s
        shorter.now = longer.now
        assert shorter.invoke(0)  # taken from the file: no read of its own
        assert longer.store.reads == 1
        shorter.now += 2
        assert shorter.invoke(0)
        assert longer.store.reads == 2  # past its own max_age it read afresh, not from the 60 s reading


class TestTheFile:
    def test_named_by_a_hash_of_both_locations_in_the_temporary_directory(self, tmp_path: Path) -> None:
        one = SharedFile(CONFIG, KILL, str(tmp_path)).path
        assert os.path.dirname(one) == str(tmp_path)
        assert CONFIG.strip("/") not in one
        assert SharedFile(CONFIG, "/other/kill", str(tmp_path)).path != one
        assert SharedFile("/other/config", KILL, str(tmp_path)).path != one
        assert SharedFile(CONFIG, KILL, str(tmp_path)).path == one

    def test_the_temporary_directory_by_default(self) -> None:
        import tempfile

        assert os.path.dirname(SharedFile(CONFIG, KILL).path) == tempfile.gettempdir()

    def test_written_atomically_for_this_user_alone_with_what_the_read_found(
        self, fleet: Fleet, tmp_path: Path
    ) -> None:
        os.umask(0o022)
        fleet.store.kill_switch = "off"
        fleet.invoke(0)
        path = the_file(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the temporary file was renamed
        document = json.loads(path.read_text())
        assert (document["config"], document["kill_switch"]) == (ACTIVE, "off")
        assert document["read_at"] <= document["valid_until"] <= document["next_read"]
        assert document["valid_until"] <= document["read_at"] + 5

    def test_a_failed_read_is_shared_as_its_reason(self, tmp_path: Path) -> None:
        shared = SharedFile(CONFIG, KILL, str(tmp_path))
        shared.store(Entry(1.0, 2.0, 3.0, 4.0, None, "reading /chaos-layer/orders is throttled", True))
        entry = shared.load()
        assert entry is not None
        assert (entry.stored, entry.problem, entry.throttled, entry.slowdown) == (
            None,
            "reading /chaos-layer/orders is throttled",
            True,
            4.0,
        )

    @pytest.mark.parametrize(
        "damage",
        [
            lambda text: "",
            lambda text: text[: len(text) // 2],  # truncated
            lambda text: "not json",
            lambda text: "[]",
            lambda text: text.replace('"format": 1', '"format": 2'),
            lambda text: text.replace('"boot": "', '"boot": "another-boot-'),
            lambda text: text.replace('"slowdown": 1.0', '"slowdown": 1e999'),
            lambda text: text.replace('"slowdown": 1.0', '"slowdown": "1"'),
            lambda text: text.replace('"kill_switch": null', '"kill_switch": 1'),
            lambda text: text.replace('"read_at": ', '"read_at": 1e9 + '),
        ],
        ids=[
            "empty",
            "truncated",
            "not-json",
            "not-an-object",
            "format",
            "boot",
            "infinite",
            "string",
            "kill",
            "order",
        ],
    )
    def test_a_damaged_file_counts_as_missing_and_costs_a_normal_read(
        self, fleet: Fleet, tmp_path: Path, damage: Any
    ) -> None:
        fleet.invoke(0)
        path = the_file(tmp_path)
        path.write_text(damage(path.read_text()))
        assert SharedFile(CONFIG, KILL, str(tmp_path)).load() is None
        fleet.invoke(1)
        assert fleet.store.reads == 2
        assert SharedFile(CONFIG, KILL, str(tmp_path)).load() is not None  # and it is written anew

    @pytest.mark.parametrize("key", ["read_at", "valid_until", "next_read", "slowdown"])
    def test_a_time_too_large_for_a_float_counts_as_missing(self, fleet: Fleet, tmp_path: Path, key: str) -> None:
        fleet.invoke(0)
        path = the_file(tmp_path)
        document = json.loads(path.read_text())
        document[key] = 10**400
        path.write_text(json.dumps(document))
        assert SharedFile(CONFIG, KILL, str(tmp_path)).load() is None
        assert fleet.invoke(1)  # a normal read, not an error
        assert fleet.store.reads == 2

    def test_a_future_dated_file_counts_as_missing(self, fleet: Fleet, tmp_path: Path) -> None:
        fleet.invoke(0)
        path = the_file(tmp_path)
        document = json.loads(path.read_text())
        for key in ("read_at", "valid_until", "next_read"):
            document[key] += 3600  # written "later" than now: not a file this boot's clock wrote
        path.write_text(json.dumps(document))
        fleet.invoke(1)
        assert fleet.store.reads == 2

    def test_a_reading_longer_than_any_period_counts_as_missing(self, fleet: Fleet, tmp_path: Path) -> None:
        fleet.invoke(0)
        path = the_file(tmp_path)
        document = json.loads(path.read_text())
        document["next_read"] = document["valid_until"] = document["read_at"] + 86_400
        path.write_text(json.dumps(document))
        fleet.invoke(1)
        assert fleet.store.reads == 2

    @pytest.mark.parametrize("mode", [0o644, 0o660, 0o606])
    def test_a_file_others_may_read_or_write_is_not_trusted(self, fleet: Fleet, tmp_path: Path, mode: int) -> None:
        fleet.invoke(0)
        the_file(tmp_path).chmod(mode)
        fleet.invoke(1)
        assert fleet.store.reads == 2
        assert stat.S_IMODE(the_file(tmp_path).stat().st_mode) == 0o600

    def test_a_symlink_is_not_followed(self, fleet: Fleet, tmp_path: Path) -> None:
        target = tmp_path / "elsewhere"
        target.write_text("do not touch")
        link = Path(SharedFile(CONFIG, KILL, str(tmp_path)).path)
        link.symlink_to(target)
        assert fleet.invoke(0)  # it reads on its own...
        assert fleet.store.reads == 1
        assert target.read_text() == "do not touch"  # ...and never writes through the link

    def test_a_file_that_cannot_be_written_costs_no_second_read(self, fleet: Fleet, tmp_path: Path) -> None:
        Path(SharedFile(CONFIG, KILL, str(tmp_path)).path + ".tmp").mkdir()  # the rename cannot happen
        assert fleet.invoke(0)
        assert fleet.store.reads == 1

    def test_values_in_the_file_are_checked_again_by_each_process(self, fleet: Fleet, tmp_path: Path) -> None:
        fleet.invoke(0)
        path = the_file(tmp_path)
        document = json.loads(path.read_text())
        document["config"] = json.dumps({"enabled": True, "faults": [{"type": "exception", "exception": "os.system"}]})
        path.write_text(json.dumps(document))
        assert not fleet.invoke(1)  # an invalid config injects nothing, wherever it was read
        assert fleet.store.reads == 1


class TestWhileAnotherProcessReads:
    def test_an_idle_process_keeps_its_reading_and_does_not_wait(self, fleet: Fleet, tmp_path: Path) -> None:
        fleet.store.config = STOPPED
        fleet.invoke(0)
        fleet.invoke(1)
        fleet.now += 61  # both periods are over
        lock = SharedFile(CONFIG, KILL, str(tmp_path)).try_lock()  # another process is reading
        assert lock is not None
        with lock:
            assert not fleet.invoke(1)
        assert fleet.store.reads == 1
        assert fleet.sleeps == []

    def test_an_injecting_process_waits_at_most_a_read_deadline_then_reads_alone(
        self, fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        fleet.invoke(0)
        fleet.invoke(1)
        fleet.now += 5  # the active reading's life is over
        lock = SharedFile(CONFIG, KILL, str(tmp_path)).try_lock()
        assert lock is not None
        with lock:
            fleet.caches[1].read_deadline = 2.0
            fleet.store.kill_switch = "on"
            assert not fleet.invoke(1)  # its own read found the kill
            assert 1.9 <= sum(fleet.sleeps) <= 2.1
            assert fleet.store.reads == 2
            fleet.store.kill_switch = None
            fleet.now += 60
            assert fleet.invoke(1)  # the next period: on its own at once, without waiting again
        assert 1.9 <= sum(fleet.sleeps) <= 2.1
        assert fleet.store.reads == 3
        assert lock_warnings(caplog) == 2  # once per period

    def test_the_lock_goes_with_a_process_killed_while_holding_it(self, fleet: Fleet, tmp_path: Path) -> None:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time\n"
                "from chaos_layer.source.shared import SharedFile\n"
                f"lock = SharedFile({CONFIG!r}, {KILL!r}, {str(tmp_path)!r}).try_lock()\n"
                "print('locked' if lock else 'busy', flush=True)\n"
                "time.sleep(60)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            assert SharedFile(CONFIG, KILL, str(tmp_path)).try_lock() is None
        finally:
            holder.kill()  # SIGKILL, as Lambda ends a process at a timeout
            holder.wait(10)
        assert fleet.invoke(0)
        assert fleet.store.reads == 1


class TestALockHeldForever:
    """Another process took the file's lock and never lets it go: it was stopped (SIGSTOP) or
    hangs. Each process reads alone, says so once per period, and shares again once it is gone."""

    PROCESSES = 3

    @pytest.fixture
    def stopped_holder(self, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys\n"
                "from chaos_layer.source.shared import SharedFile\n"
                f"lock = SharedFile({CONFIG!r}, {KILL!r}, {str(tmp_path)!r}).try_lock()\n"
                "print('locked' if lock else 'busy', flush=True)\n"
                "sys.stdin.read()\n",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            os.kill(holder.pid, signal.SIGSTOP)
            yield holder
        finally:
            holder.kill()  # a stopped process dies of SIGKILL too
            holder.wait(10)

    def deadlined_fleet(self, tmp_path: Path) -> Fleet:
        fleet = Fleet(tmp_path, processes=self.PROCESSES)
        for cache in fleet.caches:
            cache.read_deadline = 2.0
        return fleet

    def test_a_start_still_arrives_within_the_idle_period(
        self, tmp_path: Path, stopped_holder: subprocess.Popen[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        fleet = self.deadlined_fleet(tmp_path)
        fleet.store.config = STOPPED
        fleet.run(130)
        assert fleet.sleeps == []  # an idle process never waits for the lock
        assert self.PROCESSES * 2 <= fleet.store.reads <= self.PROCESSES * (130 / 45 + 1)
        fleet.store.config = ACTIVE
        start = fleet.now
        while not all(fleet.invoke(index) for index in range(self.PROCESSES)):
            fleet.now += 0.05
            assert fleet.now - start <= 60
        # Said once per period by each process, never once per invocation.
        assert self.PROCESSES * 2 <= lock_warnings(caplog) <= self.PROCESSES * (130 / 60 + 1)

    def test_a_kill_still_reaches_each_process_within_max_age(
        self, tmp_path: Path, stopped_holder: subprocess.Popen[str]
    ) -> None:
        fleet = self.deadlined_fleet(tmp_path)
        fleet.run(30)
        assert all(fleet.invoke(index) for index in range(self.PROCESSES))
        fleet.store.kill_switch = "on"
        start = fleet.now
        while any(fleet.invoke(index) for index in range(self.PROCESSES)):
            fleet.now += 0.05
        assert fleet.now - start <= 5
        assert sum(fleet.sleeps) == 0  # no invocation waited for a lock that never comes free

    def test_the_processes_share_one_read_again_once_the_holder_is_gone(
        self, tmp_path: Path, stopped_holder: subprocess.Popen[str]
    ) -> None:
        fleet = self.deadlined_fleet(tmp_path)
        fleet.run(30)
        stopped_holder.kill()
        stopped_holder.wait(10)
        fleet.run(10)
        reads = fleet.store.reads
        fleet.run(600)
        assert 600 / 5 <= fleet.store.reads - reads <= 600 / 3.75 + 1  # one read per period in all


def lock_warnings(caplog: pytest.LogCaptureFixture) -> int:
    return sum("lock" in record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING)


class TestAdversarialContent:
    """Whatever the file holds, loading it gives an entry that keeps the rules, or nothing: it
    never raises (an error there would recur at every invocation)."""

    @given(data=st.binary(max_size=2048))
    @settings(max_examples=300, deadline=None)
    def test_any_bytes(self, tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
        directory = tmp_path_factory.mktemp("bytes")
        Path(SharedFile(CONFIG, KILL, str(directory)).path).write_bytes(data)
        self.check(directory)

    @given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, min_size=1, max_size=4))
    @settings(max_examples=500, deadline=None)
    def test_any_values_in_a_well_formed_file(
        self, tmp_path_factory: pytest.TempPathFactory, changes: dict[str, Any]
    ) -> None:
        directory = tmp_path_factory.mktemp("values")
        fleet = Fleet(directory, processes=1)
        fleet.invoke(0)
        path = the_file(directory)
        document = json.loads(path.read_text())
        document.update(changes)
        path.write_text(json.dumps(document))
        self.check(directory)

    @staticmethod
    def check(directory: Path) -> None:
        entry = SharedFile(CONFIG, KILL, str(directory)).load()
        if entry is not None:
            assert all(math.isfinite(value) for value in (entry.read_at, entry.valid_until, entry.next_read))
            assert entry.read_at <= entry.valid_until <= entry.next_read
            assert 1 <= entry.slowdown <= MAX_SLOWDOWN
            assert entry.stored is None or all(value is None or isinstance(value, str) for value in entry.stored)
        fleet = Fleet(directory, processes=1)
        fleet.now = 1_000.5
        fleet.invoke(0)  # takes the entry or reads: never raises


def test_a_reading_of_another_config_is_never_taken(tmp_path: Path) -> None:
    one, other = Fleet(tmp_path, processes=1), Fleet(tmp_path, processes=1)
    other.caches[0].reader.config_location = "/chaos-layer/other"  # type: ignore[attr-defined]
    other.caches[0].shared = SharedFile("/chaos-layer/other", KILL, str(tmp_path))
    other.store = Store(config=STOPPED)
    other.caches[0].reader.store = other.store  # type: ignore[attr-defined]
    one.invoke(0)
    other.now = one.now
    assert not other.invoke(0)
    assert (one.store.reads, other.store.reads) == (1, 1)


def test_a_config_parsed_from_the_file_is_the_config_that_was_read(fleet: Fleet) -> None:
    fleet.invoke(0)
    fleet.invoke(1)
    assert fleet.caches[1].active == parse_config(json.loads(ACTIVE))
