"""The S3 and AppConfig rows of the fleet benchmark: SSM reads, reads per second against S3 or
the AppConfig agent, AppConfig's own requests, and cost per month at list prices, for fleets of
1,000 and 10,000 execution environments, idle and with an experiment active.

`source_rows` takes the fleet benchmark's figures as inputs: per row, the number of
environments and the reads per second the library's cache asks for across them (its demand,
before any throttling: S3 and the agent have no account-wide quota, so nothing slows it down).
Run alone (`make bench-sources`), it measures that demand itself: one environment's cache, the
library's own ConfigCache and ConfigReader with the real S3Provider, against an in-memory S3
that answers conditional GETs as S3 does, on a virtual clock; environments are independent, so
a fleet's demand is N times one environment's.

Prices (us-east-1, list prices as docs/sources-and-scale.md cites them):
- S3 Standard GET: $0.0004 per 1,000 requests; a conditional GET answered 304 is a GET.
- AppConfig: $0.0000002 per configuration request (the agent's GetLatestConfiguration calls,
  one per profile per AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS, 45 s by default, in an
  environment that is invoked), and $0.0008 per configuration received (each profile at each
  cold start, and again after each deployment that changes it). Reads from the agent are local
  and free.
- SSM standard throughput: free; higher throughput: $0.05 per 10,000 API interactions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from botocore.exceptions import ClientError

from chaos_layer.source import ConfigCache, ConfigReader
from chaos_layer.source.s3 import S3Provider

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
S3_GET_PRICE = 0.0004 / 1000
APPCONFIG_REQUEST_PRICE = 0.0000002
APPCONFIG_RECEIVED_PRICE = 0.0008
SSM_HIGHER_THROUGHPUT_PRICE = 0.05 / 10_000
AGENT_POLL_INTERVAL = 45.0
ACTIVE_PERIOD = 5.0  # CHAOS_LAYER_MAX_AGE
IDLE_PERIOD = 60.0  # CHAOS_LAYER_IDLE_MAX_AGE
FLEETS = (1_000, 10_000)
S3_GETS_PER_PREFIX = 5_500  # per second, before S3 scales a prefix out


@dataclass(frozen=True)
class FleetFigures:
    """One row of the fleet benchmark: N environments, idle or active, and the library's
    read demand across them (reads of the config and kill switch together, per second)."""

    environments: int
    scenario: str
    reads_per_second: float


@dataclass(frozen=True)
class SourceRow:
    source: str
    environments: int
    scenario: str
    ssm_reads_per_second: float
    source_reads_per_second: float  # GETs against S3, or requests to the local agent
    appconfig_requests_per_second: float  # the agent's calls to AppConfig
    cost_per_month: float
    note: str = ""


def source_rows(
    figures: Iterable[FleetFigures],
    *,
    objects: int = 2,
    profiles: int = 2,
    agent_poll_interval: float = AGENT_POLL_INTERVAL,
    cold_starts_per_environment_per_day: float = 4.0,
    deployments_per_month: int = 20,
) -> list[SourceRow]:
    """S3 and AppConfig rows for the fleet benchmark's figures. `objects` and `profiles`:
    how many of config and kill switch live there (2: both, so SSM sees no read at all)."""
    rows = []
    for figure in figures:
        gets = figure.reads_per_second * objects
        s3_note = ""
        if gets > S3_GETS_PER_PREFIX:
            s3_note = "past 5,500 GET/s on one prefix: give config and kill switch their own prefixes"
        rows.append(
            SourceRow(
                "s3",
                figure.environments,
                figure.scenario,
                0.0,
                gets,
                0.0,
                gets * SECONDS_PER_MONTH * S3_GET_PRICE,
                s3_note,
            )
        )
        polls = figure.environments * profiles / agent_poll_interval
        # Every profile at every cold start, and the changed profile after each deployment.
        cold_starts = figure.environments * cold_starts_per_environment_per_day * HOURS_PER_MONTH / 24
        received = cold_starts * profiles + figure.environments * deployments_per_month
        rows.append(
            SourceRow(
                "appconfig",
                figure.environments,
                figure.scenario,
                0.0,
                figure.reads_per_second * profiles,
                polls,
                polls * SECONDS_PER_MONTH * APPCONFIG_REQUEST_PRICE + received * APPCONFIG_RECEIVED_PRICE,
                f"${polls * SECONDS_PER_MONTH * APPCONFIG_REQUEST_PRICE:,.0f} requests"
                f" + ${received * APPCONFIG_RECEIVED_PRICE:,.0f} received",
            )
        )
    return rows


# --- measuring one environment's demand with the library's own code ---------------------------


class Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        data, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return data

    def close(self) -> None:
        pass


class MemoryS3:
    """get_object as S3 answers it: the object with its ETag, or 304 for If-None-Match on
    the current ETag, or NoSuchKey. Counts requests, 304s and bytes sent."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.requests = self.not_modified = self.bytes_sent = 0

    def get_object(self, Bucket: str, Key: str, IfNoneMatch: str | None = None) -> dict[str, Any]:
        self.requests += 1
        data = self.objects.get(Key)
        if data is None:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no such key"}}, "GetObject")
        etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'  # S3's ETag of a one-part object
        if IfNoneMatch == etag:
            self.not_modified += 1
            raise ClientError({"Error": {"Code": "304", "Message": "Not Modified"}}, "GetObject")
        self.bytes_sent += len(data)
        return {"Body": Body(data), "ETag": etag}


@dataclass(frozen=True)
class Demand:
    reads_per_second: float  # reads of config and kill switch together
    requests_per_second: float  # GETs
    not_modified_share: float
    bytes_per_read: float


def measure(period: float, seconds: float, invocations_per_second: float = 10.0, seed: int = 1) -> Demand:
    """One environment over `seconds` of virtual time: its cache (period `period`) and the
    real S3Provider, config and kill switch in S3, an unchanged active config."""
    config = {"enabled": True, "experiment": "bench", "rate": 0.01, "faults": [{"type": "latency", "delay_ms": 300}]}
    s3 = MemoryS3({"config.json": json.dumps(config).encode(), "kill-switch": b"off"})
    now = [0.0]

    def clock() -> float:
        return now[0]

    provider = S3Provider(lambda: s3, clock=clock)
    reader = ConfigReader("s3://bench/config.json", "s3://bench/kill-switch", providers={"s3": provider})
    cache = ConfigCache(reader, period, period, clock=clock, wall_clock=clock, random=Random(seed), read_deadline=None)
    reads = 0
    step = 1.0 / invocations_per_second
    while now[0] < seconds:
        if now[0] >= cache.deadline:
            before = s3.requests
            cache.refresh(now[0])
            reads += s3.requests > before
        now[0] += step
    return Demand(reads / seconds, s3.requests / seconds, s3.not_modified / max(s3.requests, 1), s3.bytes_sent / reads)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6.0, help="virtual hours per measurement")
    arguments = parser.parse_args(argv)
    seconds = arguments.hours * 3600
    idle, active = measure(IDLE_PERIOD, seconds), measure(ACTIVE_PERIOD, seconds)
    print(
        f"One environment, config and kill switch in S3 (library code, virtual {arguments.hours:g} h):\n"
        f"  idle ({IDLE_PERIOD:g} s period): {idle.reads_per_second * 60:.2f} reads/min,"
        f" {idle.not_modified_share:.1%} of GETs answered 304\n"
        f"  active ({ACTIVE_PERIOD:g} s period): {active.reads_per_second * 60:.2f} reads/min,"
        f" {active.not_modified_share:.1%} of GETs answered 304\n"
    )
    figures = [
        FleetFigures(n, scenario, demand.reads_per_second * n)
        for n in FLEETS
        for scenario, demand in (("idle", idle), ("active", active))
    ]
    print(table(source_rows(figures)))
    print(
        "\nS3: config and kill switch objects. AppConfig: config and kill switch profiles, the agent's"
        " poll interval 45 s,\n4 cold starts per environment per day, 20 deployments a month."
        " Active: as if an experiment ran all month."
    )
    return 0


def table(rows: Sequence[SourceRow]) -> str:
    header = (
        "| source | environments | experiment | SSM reads/s | reads/s (S3 GETs or agent) |"
        " AppConfig requests/s | cost per month | |\n|---|---:|---|---:|---:|---:|---:|---|"
    )
    lines = [
        f"| {row.source} | {row.environments:,} | {row.scenario} | {row.ssm_reads_per_second:g} |"
        f" {row.source_reads_per_second:,.0f} | {row.appconfig_requests_per_second:,.0f} |"
        f" ${row.cost_per_month:,.0f} | {row.note} |"
        for row in rows
    ]
    return "\n".join([header, *lines])


if __name__ == "__main__":
    raise SystemExit(main())
