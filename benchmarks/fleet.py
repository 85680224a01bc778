"""A fleet sharing one account's SSM read quota (`make bench-fleet`).

N execution environments, each with one process (classic Lambda) or several (Lambda Managed
Instances), run the library's own code: `inject_fault` around a handler, its config cache,
its SSM reader and, with several processes, its shared cache file in a temporary directory
per environment. Only the world around them is simulated:

- a virtual clock, given to the library through its `clock=` seam (no sleeping: an hour of a
  fleet takes seconds to minutes);
- an SSM stand-in, given through `boto3_client=`, that answers GetParameters from a token
  bucket (the account's quota: 40 TPS, burst 40), shared with the application's own cached
  read (one per process every 300 s, as Powertools' default cache does), and raises botocore's
  ThrottlingException when the bucket is empty, as SSM does (each process's application read
  at a random phase of its 300 s, so that the application alone does not burst);
- cold starts spread over a ramp, and invocations at a fixed rate per process; only the
  invocations at which the library has something to do are run, the others are counted
  (between two of those the library's state cannot change);
- per environment, a random source of its own (seeded, so runs repeat).

The experiment runs at `rate: 0`: active (docs/sources-and-scale.md), so the periods and propagation are those of
a real experiment, while no fault is drawn and nothing is logged per invocation.

Scenarios (times in simulated seconds; the ramp is 0-300):
- idle: the config is disabled; steady state 300-1200; a start at 1200.
- active: the experiment runs from 0; steady state 300-1200; the kill switch is engaged at
  1200 and released at 1260 (a start, seen as from an idle state); a stop at 1560.

Figures per row: library reads/s (attempted, and succeeded), the share of the quota they
take, the share of the application's reads throttled (all in the steady state); how long a
start takes to reach 99 % and 100 % of environments; how long after a stop or a kill the last
injecting invocation ran, anywhere; the share of invocations whose environment had read the
config and kill switch in force at that moment and acted on them; what the library's calls
would cost per month with SSM's higher throughput (standard throughput is free).
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from random import Random
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos_layer import inject_fault  # noqa: E402
from chaos_layer.source.cache import ConfigCache  # noqa: E402

PARAM = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
QUOTA = (
    40.0  # standard throughput: GetParameter, GetParameters and GetParametersByPath together, per account and region
)
HIGHER_QUOTA = 3_000.0  # higher throughput: GetParameter and GetParameters
APP_PERIOD = 300.0  # Powertools' default max_age
RAMP = 300.0
STEADY = (300.0, 1200.0)
PRICE_PER_CALL = 0.05 / 10_000  # higher throughput, list price
SECONDS_PER_MONTH = 30 * 86_400
SIZES = (100, 200, 1_000, 3_000, 10_000)


def config_text(version: int, enabled: bool) -> str:
    document: dict[str, Any] = {"enabled": enabled, "experiment": f"fleet-v{version}", "rate": 0}
    document["faults"] = [{"type": "latency", "delay_ms": 100}]
    return json.dumps(document)


@dataclass(frozen=True)
class Change:
    """A write to the stored config or kill switch, and whether an experiment is active after it."""

    at: float
    config: str
    kill_switch: str | None
    active: bool
    kind: str  # "start", "stop" or "" (the initial state)


def scenario(name: str) -> list[Change]:
    if name == "idle":
        return [
            Change(0, config_text(1, False), None, False, ""),
            Change(1200, config_text(2, True), None, True, "start"),
        ]
    return [
        Change(0, config_text(1, True), None, True, ""),
        Change(1200, config_text(1, True), "on", False, "stop"),  # the kill switch
        Change(1260, config_text(1, True), "off", True, "start"),
        Change(1560, config_text(2, False), "off", False, "stop"),
    ]


class Clock:
    """The virtual clock: monotonic and wall clock at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Quota:
    """The account's token bucket."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, burst, 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Counts:
    library: int = 0
    library_ok: int = 0
    app: int = 0
    app_throttled: int = 0


class SSM:
    """GetParameters as SSM answers it, behind the account's quota."""

    def __init__(self, clock: Clock, quota: Quota, counts: Counts) -> None:
        self.clock, self.quota, self.counts = clock, quota, counts
        self.values: dict[str, str] = {}

    def in_steady_state(self) -> bool:
        return STEADY[0] <= self.clock.now < STEADY[1]

    def get_parameters(self, Names: list[str], WithDecryption: bool = False) -> dict[str, Any]:
        counting = self.in_steady_state()
        self.counts.library += counting
        if not self.quota.take(self.clock.now):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameters")
        self.counts.library_ok += counting
        return {
            "Parameters": [
                {"Name": name, "Type": "String", "Value": self.values[name], "Version": 1}
                for name in Names
                if name in self.values
            ]
        }

    def application_read(self) -> None:
        allowed = self.quota.take(self.clock.now)
        if self.in_steady_state():
            self.counts.app += 1
            self.counts.app_throttled += not allowed


@dataclass
class Process:
    environment: int
    cold_start: float
    function: Callable[..., Any]
    cache: ConfigCache
    started_at: dict[float, float] = field(default_factory=dict)  # start instant -> when this process injected
    last_injected: dict[float, float] = field(default_factory=dict)  # stop instant -> last injected invocation


@dataclass
class Row:
    environments: int
    processes: int
    shared: bool
    quota: float
    experiment: str
    reads: float
    reads_ok: float
    quota_share: float
    app_throttled: float
    start_99: float | None
    start_100: float | None
    reached: float
    stop: float | None
    current: float
    cost: float


def handler(event: Any, context: Any) -> Any:
    return None


def simulate(
    environments: int,
    experiment: str,
    processes: int = 1,
    shared: bool = True,
    rate: float = 2.0,
    end: float | None = None,
    seed: int = 1,
    quota_tps: float = QUOTA,
) -> Row:
    """Run one fleet; see the module's docstring."""
    changes = scenario(experiment)
    end = end if end is not None else (3000.0 if experiment == "idle" else 1620.0)
    clock, counts = Clock(), Counts()
    quota = Quota(quota_tps, quota_tps)
    ssm = SSM(clock, quota, counts)
    step = 1 / rate
    chance = Random(seed)
    fleet: list[Process] = []
    workdir = tempfile.TemporaryDirectory(prefix="chaos-layer-fleet-")
    saved_tempdir, saved_concurrency = tempfile.tempdir, os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    try:
        if processes > 1 and shared:
            os.environ["AWS_LAMBDA_MAX_CONCURRENCY"] = str(processes)
        for index in range(environments):
            cold_start = chance.uniform(0, RAMP)
            tempfile.tempdir = os.path.join(workdir.name, str(index))  # each environment's own /tmp
            os.makedirs(tempfile.tempdir)
            for number in range(processes):
                decorated = inject_fault(
                    parameter=PARAM,
                    kill_switch=KILL,
                    boto3_client=ssm,
                    clock=clock,
                    random=Random(chance.getrandbits(64)),
                    sleep=lambda seconds: None,
                )(handler)
                cache = decorated.chaos_experiment.cache  # type: ignore[attr-defined]
                cache.read_deadline = None  # no reader thread: the stand-in answers at once
                fleet.append(Process(index, cold_start + number * 0.001, decorated, cache))
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_concurrency is None:
            os.environ.pop("AWS_LAMBDA_MAX_CONCURRENCY", None)
        else:
            os.environ["AWS_LAMBDA_MAX_CONCURRENCY"] = saved_concurrency

    starts = [change.at for change in changes if change.kind == "start"]
    stops = [change.at for change in changes if change.kind == "stop"]
    invocations = current = 0

    def truth_at(instant: float) -> Change:
        found = changes[0]
        for change in changes:
            if change.at <= instant:
                found = change
        return found

    def grid_at_or_after(process: Process, instant: float) -> float:
        return process.cold_start + math.ceil((instant - process.cold_start) * rate - 1e-9) * step

    def grid_count(process: Process, start: float, stop: float) -> int:
        first = math.ceil((start - process.cold_start) * rate - 1e-9)
        return max(0, math.ceil((stop - process.cold_start) * rate - 1e-9) - first)

    def account(process: Process, start: float, stop: float) -> None:
        """The invocations of [start, stop), during which this process's state is as now."""
        nonlocal invocations, current
        reading = process.cache.reading
        stored = None if reading is None else reading.stored
        injecting = process.cache.active is not None
        bounds = [start] + [c.at for c in changes if start < c.at < stop] + [stop]
        for low, high in pairwise(bounds):
            truth = truth_at(low)
            if low < STEADY[0] or low >= STEADY[1]:
                continue
            count = grid_count(process, low, min(high, STEADY[1]))
            invocations += count
            if stored == (truth.config, truth.kill_switch) and injecting == truth.active:
                current += count
        if injecting:
            for stop_at in stops:
                nxt = min([c.at for c in changes if c.at > stop_at] + [end])
                low, high = max(start, stop_at), min(stop, nxt)
                if grid_count(process, low, high):
                    last = grid_at_or_after(process, high) - step
                    process.last_injected[stop_at] = max(process.last_injected.get(stop_at, stop_at), last)
        for start_at in starts:
            truth = truth_at(start_at)
            seen = injecting and stored == (truth.config, truth.kill_switch)
            if seen and start >= start_at and start_at not in process.started_at:
                process.started_at[start_at] = start

    events: list[tuple[float, int, int]] = []  # (time, kind, index); kind 0: a write, 1: an app read, 2: an invocation
    for number, change in enumerate(changes):
        heapq.heappush(events, (change.at, 0, number))
    for number, process in enumerate(fleet):
        heapq.heappush(events, (process.cold_start + chance.uniform(0, APP_PERIOD), 1, number))
        heapq.heappush(events, (process.cold_start, 2, number))
    ssm.values = {}
    while events:
        at, kind, number = heapq.heappop(events)
        if at >= end:
            break
        clock.now = at
        if kind == 0:
            change = changes[number]
            ssm.values = {PARAM: change.config} | ({} if change.kill_switch is None else {KILL: change.kill_switch})
            continue
        process = fleet[number]
        if kind == 1:
            ssm.application_read()
            heapq.heappush(events, (at + APP_PERIOD, 1, number))
            continue
        process.function({}, None)
        cache = process.cache
        following = grid_at_or_after(process, max(at + step, cache.deadline))
        account(process, at, min(following, end))
        heapq.heappush(events, (following, 2, number))
    workdir.cleanup()

    steady = STEADY[1] - STEADY[0]
    per_environment: dict[int, float] = {}
    for start_at in starts:
        for process in fleet:
            reached = process.started_at.get(start_at, math.inf) - start_at
            per_environment[process.environment] = max(per_environment.get(process.environment, 0.0), reached)
    delays = sorted(per_environment.values())
    finite = [delay for delay in delays if math.isfinite(delay)]
    start_99 = delays[max(0, math.ceil(len(delays) * 0.99) - 1)] if delays else None
    stop_reach = max(
        (process.last_injected.get(stop_at, stop_at) - stop_at for process in fleet for stop_at in stops), default=None
    )
    reads = counts.library / steady
    return Row(
        environments=environments,
        processes=processes,
        shared=shared,
        quota=quota_tps,
        experiment=experiment,
        reads=reads,
        reads_ok=counts.library_ok / steady,
        quota_share=counts.library_ok / steady / quota_tps,
        app_throttled=counts.app_throttled / counts.app if counts.app else 0.0,
        start_99=start_99 if start_99 is not None and math.isfinite(start_99) else None,
        start_100=max(delays) if delays and math.isfinite(max(delays)) else None,
        reached=len(finite) / len(delays) if delays else 1.0,
        stop=stop_reach if stops else None,
        current=current / invocations if invocations else 0.0,
        cost=0.0 if quota_tps <= QUOTA else reads * SECONDS_PER_MONTH * PRICE_PER_CALL,
    )


def seconds(value: float | None, reached: float = 1.0) -> str:
    if value is None:
        return f"not all ({reached:.0%} by the end)" if reached < 1 else "-"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def render(rows: list[Row]) -> str:
    lines = [
        "| environments | processes per environment | SSM throughput | experiment | library reads/s (succeeded) "
        "| share of the quota | application reads throttled | start reaches 99 % / 100 % "
        "| stop or kill reaches every injecting environment | invocations that saw the current config "
        "| library's cost per month |",
        "|---:|---:|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        processes = f"{row.processes}" + ("" if row.processes == 1 or row.shared else ", no shared file")
        throughput = f"standard ({row.quota:,.0f} TPS)" if row.quota <= QUOTA else f"higher ({row.quota:,.0f} TPS)"
        start = f"{seconds(row.start_99)} / {seconds(row.start_100, row.reached)}"
        cost = "free" if row.quota <= QUOTA else f"${row.cost:,.0f}"
        lines.append(
            f"| {row.environments:,} | {processes} | {throughput} | {row.experiment} "
            f"| {row.reads:.1f} ({row.reads_ok:.1f}) | {row.quota_share:.0%} | {row.app_throttled:.1%} | {start} "
            f"| {seconds(row.stop)} | {row.current:.1%} | {cost} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="environments per row")
    parser.add_argument("--rate", type=float, default=2.0, help="invocations per second per process")
    parser.add_argument("--processes", type=int, default=32, help="processes per Managed Instances environment")
    parser.add_argument("--managed", type=int, nargs="*", default=[100], help="environments of Managed Instances rows")
    parser.add_argument(
        "--higher", type=int, nargs="*", default=[1_000, 3_000], help="environments of rows at higher throughput"
    )
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 environments only")
    args = parser.parse_args(argv)
    logging.getLogger("chaos_layer").setLevel(logging.CRITICAL)  # one warning per period per process is noise here
    sizes = [100, 1_000] if args.quick else args.sizes
    managed = [] if args.quick else args.managed
    higher = [] if args.quick else args.higher
    began = time.monotonic()
    rows: list[Row] = []
    plan = [(size, 1, True, QUOTA) for size in sizes]
    plan += [(size, args.processes, share, QUOTA) for size in managed for share in (True, False)]
    plan += [(size, 1, True, HIGHER_QUOTA) for size in higher]
    for size, processes, share, quota in plan:
        for experiment in ("idle", "active"):
            print(
                f"- {size:,} environments x {processes} process(es), {quota:,.0f} TPS, {experiment} ...",
                file=sys.stderr,
                flush=True,
            )
            row_began = time.monotonic()
            rows.append(simulate(size, experiment, processes, share, rate=args.rate, quota_tps=quota))
            print(f"  ({time.monotonic() - row_began:.0f} s)", file=sys.stderr, flush=True)
    print(render(rows))
    print(
        f"\nSimulated: cold starts over {RAMP:.0f} s, {args.rate:g} invocations/s per process, the application's "
        f"own read every {APP_PERIOD:.0f} s per process, a token bucket of the quota (burst: one second's); "
        f"steady state "
        f"{STEADY[0]:.0f}-{STEADY[1]:.0f} s; default periods ({os.environ.get('CHAOS_LAYER_MAX_AGE', '5')} s active, "
        f"{os.environ.get('CHAOS_LAYER_IDLE_MAX_AGE', '60')} s idle). Took {time.monotonic() - began:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
