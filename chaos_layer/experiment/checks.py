"""Steady-state checks: what `chaos-layer run` reads to decide whether the system is still in
its steady state.

An experiment file's `steady_state` lists entries; each is one kind of check, named by its
one kind key (`alarm`, `metric`, `compare`). A check is read at
three moments (`Phase`): before the start, at every poll, and once after the end. Each read
gives a `Observation` whose `Judgement` says what it means; only `ok` is a pass. Missing data
(`no_data`) is never read as a pass: a runner that cannot see the steady state cannot say
that it holds.

CloudWatch errors become `control.AwsError`, so the CLI maps them to exit code 3 like every
other AWS failure.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from chaos_layer import control
from chaos_layer.contract import Fields, describe, join
from chaos_layer.control.formatting import span
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.compare import DEFAULT_MIN_SAMPLES, CompareCheck, parse_compare, side
from chaos_layer.experiment.observations import Check, Context, Judgement, Observation, Phase, utc

__all__ = [
    "DEFAULT_MIN_SAMPLES",
    "AlarmCheck",
    "Check",
    "CompareCheck",
    "Context",
    "Judgement",
    "MetricCheck",
    "Observation",
    "Phase",
    "cloudwatch_client",
    "parse_checks",
    "side",
]

# CloudWatch metrics arrive late (Lambda's a minute or two after the fact), so a reading takes
# the newest datapoint of a window this many periods long, and at least this many seconds.
LOOKBACK_PERIODS = 5
LOOKBACK_MIN_SECONDS = 300.0
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,3})?)$")
# GetMetricData takes 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds.
_SHORT_PERIODS = (1, 5, 10, 30)


# ---------------------------------------------------------------------------------------
# alarm: a CloudWatch alarm that must be OK


@dataclass(frozen=True)
class AlarmCheck:
    kind: ClassVar[str] = "alarm"
    alarm: str

    @property
    def name(self) -> str:
        return f"alarm {self.alarm}"

    def read(self, context: Context) -> Observation:
        with control.aws_errors(f"describe the alarm {self.alarm}", service="CloudWatch"):
            response = context.cloudwatch.describe_alarms(
                AlarmNames=[self.alarm], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
        found = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
        state = next((str(a.get("StateValue")) for a in found if a.get("AlarmName") == self.alarm), None)
        if state is None:
            return self._reading(Judgement.NO_DATA, None, context, "the alarm does not exist")
        if state == "OK":
            return self._reading(Judgement.OK, state, context)
        if state == "ALARM":
            return self._reading(Judgement.BREACH, state, context)
        return self._reading(Judgement.NO_DATA, state, context, f"the alarm is {state}")

    def _reading(self, status: Judgement, value: str | None, context: Context, detail: str = "") -> Observation:
        return Observation(self.name, self.kind, status, value, context.now, detail)

    def latest(self, observation: Observation) -> str:
        return observation.describe()

    def definition(self) -> dict[str, Any]:
        return {"check": self.name, "kind": self.kind, "alarm": self.alarm}


def _parse_alarm(entry: Mapping[str, Any], location: str, problems: list[Problem]) -> AlarmCheck | None:
    fields = Fields(entry, location, problems)
    alarm = fields.string("alarm", non_empty=True)
    fields.finish()
    return AlarmCheck(alarm) if alarm.strip() else None


# ---------------------------------------------------------------------------------------
# metric: a CloudWatch metric that must stay within min/max


@dataclass(frozen=True)
class MetricCheck:
    kind: ClassVar[str] = "metric"
    namespace: str
    metric_name: str
    statistic: str = "Average"
    period: int = 60
    dimensions: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    _id: str = field(default="m0", compare=False)

    @property
    def name(self) -> str:
        dims = ",".join(f"{key}={value}" for key, value in self.dimensions)
        return f"{self.namespace} {self.metric_name} {self.statistic}" + (f" ({dims})" if dims else "")

    @property
    def bounds(self) -> str:
        """`max 5`, `min 1, max 5`."""
        parts = [] if self.minimum is None else [f"min {self.minimum:g}"]
        return ", ".join(parts + ([] if self.maximum is None else [f"max {self.maximum:g}"]))

    def judge(self, value: float) -> Judgement:
        if self.minimum is not None and value < self.minimum:
            return Judgement.BREACH
        if self.maximum is not None and value > self.maximum:
            return Judgement.BREACH
        return Judgement.OK

    def read(self, context: Context) -> Observation:
        lookback = max(LOOKBACK_PERIODS * self.period, LOOKBACK_MIN_SECONDS)
        metric: dict[str, Any] = {"Namespace": self.namespace, "MetricName": self.metric_name}
        if self.dimensions:
            metric["Dimensions"] = [{"Name": key, "Value": value} for key, value in self.dimensions]
        query = {"Id": self._id, "MetricStat": {"Metric": metric, "Period": self.period, "Stat": self.statistic}}
        with control.aws_errors(f"read the metric {self.name}", service="CloudWatch"):
            response = context.cloudwatch.get_metric_data(
                MetricDataQueries=[query],
                StartTime=utc(context.now - lookback),
                EndTime=utc(context.now + self.period),  # the current period, whole
                ScanBy="TimestampDescending",
            )
        values: list[float] = []
        stamps: list[datetime] = []
        for result in response.get("MetricDataResults", []):
            values += result.get("Values", [])
            stamps += result.get("Timestamps", [])
        points = sorted(zip(stamps, values, strict=False), key=lambda point: point[0], reverse=True)
        if not points or not math.isfinite(points[0][1]):
            detail = f"no datapoint in the last {span(lookback)}"
            return Observation(self.name, self.kind, Judgement.NO_DATA, None, context.now, detail)
        value = float(points[0][1])
        return Observation(self.name, self.kind, self.judge(value), value, context.now, self.bounds)

    def latest(self, observation: Observation) -> str:
        return observation.describe()

    def definition(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.metric_name,
            "statistic": self.statistic,
            "period": self.period,
            "dimensions": dict(self.dimensions),
            "min": self.minimum,
            "max": self.maximum,
        }


def _parse_metric(entry: Mapping[str, Any], location: str, problems: list[Problem]) -> MetricCheck | None:
    fields = Fields(entry, location, problems)
    before = len(problems)
    spec = Fields(fields.raw("metric"), join(location, "metric"), problems)
    namespace = spec.string("namespace", non_empty=True)
    metric_name = spec.string("name", non_empty=True)
    statistic = spec.string("statistic", "Average")
    if isinstance(spec.raw("statistic"), str) and not _valid_statistic(statistic):
        spec.problem("statistic", f"must be one of {', '.join(STATISTICS)}, or a percentile such as p99")
    period = spec.number("period", 60, minimum=1, integer=True)
    if period not in _SHORT_PERIODS and period % 60:
        spec.problem("period", "must be 1, 5, 10, 30 or a multiple of 60 seconds")
    dimensions = spec.string_map("dimensions")
    spec.finish()
    minimum = fields.number("min", math.nan) if fields.has("min") else None
    maximum = fields.number("max", math.nan) if fields.has("max") else None
    if minimum is None and maximum is None:
        fields.problem("", "needs min, max or both: the bounds the metric must stay within")
    elif minimum is not None and maximum is not None and minimum > maximum:
        fields.problem("min", "must not be above max")
    fields.finish()
    if len(problems) > before:
        return None
    return MetricCheck(
        namespace, metric_name, statistic, int(period), tuple(sorted(dimensions.items())), minimum, maximum
    )


def _valid_statistic(text: str) -> bool:
    match = _PERCENTILE.fullmatch(text)
    return text in STATISTICS or (match is not None and 0 < float(match.group(1)) < 100)


# ---------------------------------------------------------------------------------------
# the steady_state list


# One parser per kind key.
PARSERS: dict[str, Callable[[Mapping[str, Any], str, list[Problem]], Check | None]] = {
    "alarm": _parse_alarm,
    "metric": _parse_metric,
    "compare": parse_compare,
}
# Kind keys that later versions understand: named in the problem so the user knows why.
NOT_YET: dict[str, str] = {}


def parse_checks(raw: object, location: str, problems: list[Problem]) -> tuple[Check, ...]:
    """The `steady_state` list; every problem is added with its location."""
    if not isinstance(raw, list) or not raw:
        what = "an empty array" if isinstance(raw, list) else describe(raw)
        problems.append(
            Problem(location, f"must list at least one check (an alarm, a metric or a comparison), not {what}")
        )
        return ()
    checks: list[Check] = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(raw):
        where = join(location, index)
        if not isinstance(entry, Mapping):
            problems.append(Problem(where, f"must be an object, not {describe(entry)}"))
            continue
        kinds = [key for key in entry if key in PARSERS or key in NOT_YET]
        if len(kinds) != 1:
            found = "none" if not kinds else " and ".join(kinds)
            problems.append(Problem(where, f"must have exactly one of {', '.join(PARSERS)} (found {found})"))
            continue
        if kinds[0] in NOT_YET:
            problems.append(Problem(join(where, kinds[0]), NOT_YET[kinds[0]]))
            continue
        check = PARSERS[kinds[0]](entry, where, problems)
        if check is None:
            continue
        if check.name in seen:
            problems.append(Problem(where, f"checks the same as {seen[check.name]}; put both bounds in one entry"))
            continue
        seen[check.name] = where
        if isinstance(check, (MetricCheck, CompareCheck)):  # GetMetricData wants a distinct id per query
            check = replace(check, _id=f"m{index}")
        checks.append(check)
    return tuple(checks)


# ---------------------------------------------------------------------------------------
# AWS


def cloudwatch_client(region: str | None = None, profile: str | None = None, endpoint_url: str | None = None) -> Any:
    """A CloudWatch client built like `control.ssm_client`: the standard variables and files
    apply (AWS_ENDPOINT_URL_CLOUDWATCH included), timeouts are short, region from AWS_REGION."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"})
    with control.aws_errors("create a CloudWatch client", service="CloudWatch"):
        region = region or os.environ.get("AWS_REGION") or None
        session = boto3.session.Session(profile_name=profile, region_name=region)
        try:
            return session.client("cloudwatch", endpoint_url=endpoint_url, config=config)
        except ValueError as error:  # botocore's "Invalid endpoint: ..."
            raise control.UsageError(f"--endpoint-url: {error}") from None
