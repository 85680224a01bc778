"""How many reads an experiment will cause, checked before it is written.

While an experiment is active, every execution environment it reaches reads its config once
per cache period (CHAOS_LAYER_MAX_AGE). Thousands of environments on a 5 s period ask SSM for
hundreds of reads a second, far past its standard throughput, which the application's own
reads share: SSM throttles, and a start takes many minutes to reach every environment. The
estimate takes the environments from CloudWatch (the `ConcurrentExecutions` maximum over the
last hour: per function named in `targets`, the account's without them, or when a name is a
pattern) and says when the reads per second exceed what the source serves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from chaos_layer.source import kind
from chaos_layer.source.base import APPCONFIG, S3, SSM

# Reads per second each source serves to one account and region (S3: to one key's prefix).
# SSM's standard throughput is shared by GetParameter(s) calls of every application.
SERVED: Mapping[str, float] = {SSM: 40.0, S3: 5500.0}
SERVED_BY = {
    SSM: "SSM Parameter Store's standard throughput (40 reads a second, shared with your applications)",
    S3: "S3's 5,500 reads a second per prefix",
}
REMEDIES = (
    "a longer cache period on the functions (CHAOS_LAYER_MAX_AGE)",
    "the config in S3 or AppConfig (s3://BUCKET/KEY, appconfig://APP/ENV/PROFILE)",
    "SSM's higher throughput setting (aws ssm update-service-setting --setting-id"
    " /ssm/parameter-store/high-throughput-enabled --setting-value true; it is charged per read)",
)
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Estimate:
    """What an experiment will ask of its source: `environments` (None: unknown, `unread`
    says why) and the reads per second they imply at the cache period."""

    source: str
    period: float
    environments: int | None = None
    per_function: Mapping[str, int] = field(default_factory=dict)
    unread: str | None = None

    @property
    def reads_per_second(self) -> float | None:
        if self.environments is None:
            return None
        return self.environments / max(self.period, 1.0)  # a period of 0 reads on every invocation

    @property
    def served(self) -> float | None:
        return SERVED.get(self.source)

    def warnings(self, location: str) -> list[str]:
        """What the operator should know before writing: CloudWatch unread, or too many reads."""
        if self.unread is not None:
            return [f"could not estimate the environments this experiment reaches ({self.unread}); going on without"]
        rate, served = self.reads_per_second, self.served
        if rate is None or served is None or rate <= served:
            return []
        reached = ", ".join(f"{name} {count}" for name, count in self.per_function.items()) or "the whole account"
        return [
            f"this experiment reaches about {self.environments} execution environments ({reached}: the"
            f" ConcurrentExecutions maximum of the last hour); reading {location} every"
            f" {self.period:g} s they ask for about {math.ceil(rate)} reads a second, more than"
            f" {SERVED_BY[self.source]}: reads will be throttled and the start and stop will take longer"
            f" to reach every function. Remedies: {'; '.join(REMEDIES)}"
        ]


def estimate(
    cloudwatch: Callable[[], Any], document: Mapping[str, Any], location: str, period: float, now: float
) -> Estimate:
    """The environments `document` (a config, or a run's blast radius) reaches, from CloudWatch
    through the client `cloudwatch()` makes, and the reads they imply on `location` every
    `period` seconds. Never raises for CloudWatch's sake: what it could not read is in `unread`."""
    source = kind(location)
    if source == APPCONFIG:  # the AppConfig agent reads for the function: no read per environment
        return Estimate(source, period, environments=0)
    targets = document.get("targets")
    functions = targets.get("functions") if isinstance(targets, Mapping) else None
    names = [name for name in functions or () if isinstance(name, str)]
    exact = bool(names) and not any(char in name for name in names for char in "*?[")
    try:
        if exact:
            client = cloudwatch()
            counts = {name: _maximum(client, now, name) for name in names}
            return Estimate(source, period, sum(counts.values()), counts)
        return Estimate(source, period, _maximum(cloudwatch(), now, None))
    except Exception as error:  # any failure to read CloudWatch only loses the estimate
        return Estimate(source, period, unread=_reason(error))


def _maximum(cloudwatch: Any, now: float, function: str | None) -> int:
    end = datetime.fromtimestamp(now, timezone.utc)
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="ConcurrentExecutions",
        Dimensions=[] if function is None else [{"Name": "FunctionName", "Value": function}],
        StartTime=end - WINDOW,
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )
    return math.ceil(max((point.get("Maximum", 0.0) for point in answer.get("Datapoints", [])), default=0.0))


def _reason(error: Exception) -> str:
    """One line saying why CloudWatch could not be read: its error code, or botocore's message."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if code:
            return f"CloudWatch answered {code}"
    return f"CloudWatch could not be read: {error}".splitlines()[0]
