"""Steady-state checks: what `chaos-layer run` reads to decide whether the system is still in
its steady state.

An experiment file's `steady_state` lists entries; each is one kind of check, named by its
one kind key (`alarm`, `metric`, `compare`). A check is read at
three moments (`Phase`): before the start, at every poll, and once after the end. Each read
gives an `Observation` whose `Judgement` says what it means; only `ok` is a pass. Missing data
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
from datetime import datetime, timezone
from enum import Enum
from statistics import NormalDist
from typing import Any, ClassVar, Protocol

from chaos_layer import control
from chaos_layer.contract import Fields, describe, join
from chaos_layer.control.formatting import milliseconds, number, percent, span
from chaos_layer.control_group import CONTROL, GROUPS, TREATMENT
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.stats import Z_ONE_SIDED_95, newcombe, percentile_floor
from chaos_layer.settings import DEFAULT_METRICS_NAMESPACE

# CloudWatch metrics arrive late (Lambda's a minute or two after the fact), so a reading takes
# the newest datapoint of a window this many periods long, and at least this many seconds.
LOOKBACK_PERIODS = 5
LOOKBACK_MIN_SECONDS = 300.0
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,3})?)$")
# GetMetricData takes 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds.
_SHORT_PERIODS = (1, 5, 10, 30)


class Phase(str, Enum):
    BEFORE = "before"  # before anything is written: the steady state must hold to start
    DURING = "during"  # at every poll while the experiment runs
    AFTER = "after"  # once more after the end, with the config disabled


class Judgement(str, Enum):
    """What a reading means. A comparison of the two groups may also be `insufficient` (too few
    invocations in a group to compare yet) or `inconclusive` (enough data, but no pass: an
    interval that straddles the allowed increase, or a duration over it once): neither is a
    pass, and neither stops a run."""

    OK = "ok"
    BREACH = "breach"
    NO_DATA = "no_data"
    INSUFFICIENT = "insufficient"
    INCONCLUSIVE = "inconclusive"

    @property
    def passed(self) -> bool:
        return self is Judgement.OK

    @property
    def stops(self) -> bool:
        """Whether the run must stop: a breach, or a steady state it cannot see."""
        return self in (Judgement.BREACH, Judgement.NO_DATA)


@dataclass(frozen=True)
class Observation:
    """One check's result at one instant, as the journal keeps it."""

    check: str
    kind: str
    status: Judgement
    value: float | str | None
    at: float
    detail: str = ""
    data: Mapping[str, Any] | None = None  # a comparison's groups, statistics and bounds

    def describe(self) -> str:
        """`OK`, `7 (max 5)`, `no data: the alarm does not exist`; a comparison says it all in
        its detail (both groups side by side, the difference and its bounds)."""
        if self.kind == CompareCheck.kind:
            return self.detail
        if self.status is Judgement.NO_DATA:
            return f"no data: {self.detail}" if self.detail else "no data"
        shown = number(self.value)
        return f"{shown} ({self.detail})" if self.detail else shown


@dataclass(frozen=True)
class Context:
    """What a check may need to read: the CloudWatch client, the instant, the phase, and
    when the experiment started (a comparison reads the groups' metrics since then)."""

    cloudwatch: Any
    now: float
    phase: Phase
    started_at: float | None = None
    previous: Observation | None = None  # the check's reading at the poll before


class Check(Protocol):
    kind: ClassVar[str]

    @property
    def name(self) -> str:
        """Unique within a file; labels the check in the terminal, the journal and the report."""
        ...

    def read(self, context: Context) -> Observation: ...

    def definition(self) -> dict[str, Any]:
        """The check as the journal and the report show it (with its bounds)."""
        ...


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
                StartTime=_utc(context.now - lookback),
                EndTime=_utc(context.now + self.period),  # the current period, whole
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
# compare: the treatment group against the control group (docs/control-groups.md)


COMPARISONS = ("errors", "duration")
DEFAULT_MIN_SAMPLES = 100
DURATION_STATISTICS = "Average, or a percentile from p50 to p99.9"
_DURATION_PERCENTILE = re.compile(r"^p(\d{2}(\.\d)?)$")


@dataclass(frozen=True)
class CompareCheck:
    """The treatment's `Errors` rate or `Duration` statistic against the control's, from the
    records both groups write (chaos_layer.control_group), since the run started.

    `errors` breaches at any poll when the lower bound of Newcombe's interval for (treatment
    rate - control rate) exceeds `max_increase`: a safety stop, each look at one-sided 95 %.
    It passes only at the end, on all the data, when the upper bound is at most `max_increase`.
    `duration` breaches when the treatment's statistic exceeds the control's by more than
    `max_increase` milliseconds on two polls in a row, and passes at the end when it does not.
    Until both groups have `needs` invocations a comparison has insufficient data."""

    kind: ClassVar[str] = "compare"
    metric: str
    max_increase: float  # errors: a difference of proportions (0.01 is one point); duration: ms
    statistic: str = "Average"  # duration only
    experiment: str = ""
    namespace: str = DEFAULT_METRICS_NAMESPACE
    min_samples: int = DEFAULT_MIN_SAMPLES
    z: float = Z_ONE_SIDED_95
    _id: str = field(default="m0", compare=False)

    @property
    def name(self) -> str:
        return f"compare {self.metric}" + (f" {self.statistic}" if self.metric == "duration" else "")

    @property
    def needs(self) -> int:
        """Invocations each group needs before the comparison can judge."""
        match = _DURATION_PERCENTILE.fullmatch(self.statistic) if self.metric == "duration" else None
        return self.min_samples if match is None else percentile_floor(float(match.group(1)) / 100, self.min_samples)

    @property
    def level(self) -> str:
        """The confidence of each bound, in words: `95 %` for z = 1.6449."""
        return f"{NormalDist().cdf(self.z) * 100:.3g} %"

    def read(self, context: Context) -> Observation:
        if context.started_at is None:
            raise ValueError("a comparison reads the groups' metrics since the run started")
        groups = self._fetch(context)
        data: dict[str, Any] = {
            "compare": self.metric,
            TREATMENT: groups[TREATMENT],
            CONTROL: groups[CONTROL],
            "needs": self.needs,
            "allowed": self.max_increase,
        }
        final = context.phase is Phase.AFTER
        counts = [groups[group]["invocations"] for group in GROUPS]
        missing = self.metric == "duration" and any(groups[group]["statistic"] is None for group in GROUPS)
        if min(counts) < self.needs or missing:
            status, value = Judgement.INSUFFICIENT, None
        elif self.metric == "errors":
            status, value = self._judge_errors(groups, data)
        else:
            status, value = self._judge_duration(groups, data, context.previous)
        data["words"] = self.words(status, data, final=final)
        return Observation(self.name, self.kind, status, value, context.now, self._detail(status, data), data)

    def _judge_errors(self, groups: dict[str, dict[str, Any]], data: dict[str, Any]) -> tuple[Judgement, float]:
        treatment, control = groups[TREATMENT], groups[CONTROL]
        interval = newcombe(
            treatment["errors"], treatment["invocations"], control["errors"], control["invocations"], self.z
        )
        data.update(difference=interval.estimate, lower=interval.lower, upper=interval.upper, z=self.z)
        if interval.lower > self.max_increase:
            return Judgement.BREACH, interval.estimate
        return (Judgement.OK if interval.upper <= self.max_increase else Judgement.INCONCLUSIVE), interval.estimate

    def _judge_duration(
        self, groups: dict[str, dict[str, Any]], data: dict[str, Any], previous: Observation | None
    ) -> tuple[Judgement, float]:
        difference = float(groups[TREATMENT]["statistic"]) - float(groups[CONTROL]["statistic"])
        exceeded = difference > self.max_increase
        before = bool(previous is not None and previous.data and previous.data.get("exceeded"))
        data.update(difference=difference, exceeded=exceeded, exceeded_before=before)
        if not exceeded:
            return Judgement.OK, difference
        return (Judgement.BREACH if before else Judgement.INCONCLUSIVE), difference

    def _fetch(self, context: Context) -> dict[str, dict[str, Any]]:
        """Both groups' sums (and the statistic) over one period that holds the whole run: the
        run's first minute (CloudWatch aligns to minutes) to the minute after now."""
        assert context.started_at is not None
        start = math.floor(context.started_at / 60) * 60
        end = max(start + 60, math.ceil((context.now + 60) / 60) * 60)
        stats = {"n": ("Invocations", "Sum"), "x": ("Errors", "Sum")}
        if self.metric == "duration":
            stats = {"n": ("Duration", "SampleCount"), "s": ("Duration", "Sum")}
            if self.statistic != "Average":
                stats["q"] = ("Duration", self.statistic)
        queries = []
        for group in GROUPS:
            dimensions = [{"Name": "experiment", "Value": self.experiment}, {"Name": "group", "Value": group}]
            for key, (metric, stat) in stats.items():
                metric_spec = {"Namespace": self.namespace, "MetricName": metric, "Dimensions": dimensions}
                queries.append(
                    {
                        "Id": f"{self._id}_{group[0]}_{key}",
                        "MetricStat": {"Metric": metric_spec, "Period": int(end - start), "Stat": stat},
                        "ReturnData": True,
                    }
                )
        with control.aws_errors(f"read the metrics of {self.name}", service="CloudWatch"):
            response = context.cloudwatch.get_metric_data(
                MetricDataQueries=queries, StartTime=_utc(start), EndTime=_utc(end), ScanBy="TimestampAscending"
            )
        found: dict[str, list[float]] = {}
        for result in response.get("MetricDataResults", []):
            values = [float(v) for v in result.get("Values", []) if math.isfinite(v)]
            found.setdefault(str(result.get("Id")), []).extend(values)
        groups: dict[str, dict[str, Any]] = {}
        for group in GROUPS:
            got = {key: found.get(f"{self._id}_{group[0]}_{key}", []) for key in stats}
            count = round(sum(got["n"]))
            if self.metric == "errors":
                errors = min(count, round(sum(got["x"])))
                groups[group] = {"invocations": count, "errors": errors, "rate": errors / count if count else None}
            else:
                if self.statistic == "Average":
                    statistic = sum(got["s"]) / count if count else None
                else:  # one period, so one datapoint; a percentile cannot be combined from several
                    statistic = got["q"][0] if len(got["q"]) == 1 else None
                groups[group] = {"invocations": count, "statistic": statistic}
        return groups

    def words(self, status: Judgement, data: Mapping[str, Any], *, final: bool) -> str:
        """The comparison in a sentence, with its verdict at the end: `the error rate rose by
        0.2 points, 95 % upper bound 0.6 points, within the allowed 1 point: held`."""
        treatment, control = data[TREATMENT], data[CONTROL]
        if status is Judgement.INSUFFICIENT:
            return (
                f"too few invocations to compare: treatment {treatment['invocations']:,}, control"
                f" {control['invocations']:,}, of the {data['needs']:,} each group needs"
                + (": inconclusive" if final else " (so far)")
            )
        if self.metric == "errors":
            change = _change("the error rate", data["difference"] * 100, "points")
            allowed = _amount(self.max_increase * 100, "points")
            if status is Judgement.BREACH:
                bound = f"{self.level} lower bound {_amount(data['lower'] * 100, 'points')}"
                verdict = ": rejected" if final else ": rejected (a safety stop, " + self.level + " per look)"
                return f"{change}, {bound}, above the allowed {allowed}{verdict}"
            if status is Judgement.OK:
                bound = f"{self.level} upper bound {_amount(data['upper'] * 100, 'points')}"
                return f"{change}, {bound}, within the allowed {allowed}" + (": held" if final else " so far")
            bounds = f"{self.level} bounds {_signed(data['lower'] * 100)} to {_signed(data['upper'] * 100)} points"
            return f"{change}, {bounds}, straddling the allowed {allowed}" + (": inconclusive" if final else "")
        statistic = "average" if self.statistic == "Average" else self.statistic
        change = _change(f"the {statistic} duration", data["difference"], "ms")
        values = f"(treatment {milliseconds(treatment['statistic'])}, control {milliseconds(control['statistic'])})"
        allowed = _amount(self.max_increase, "ms")
        if status is Judgement.BREACH:
            return f"{change} {values}, above the allowed {allowed} on two polls in a row: rejected"
        if status is Judgement.OK:
            return f"{change} {values}, within the allowed {allowed}" + (": held" if final else " so far")
        if final:
            return f"{change} {values}, above the allowed {allowed} at the final judgement: inconclusive"
        return f"{change} {values}, above the allowed {allowed} at this poll (a breach if again at the next)"

    def _detail(self, status: Judgement, data: Mapping[str, Any]) -> str:
        """Both groups side by side, then the difference: what the terminal shows at each poll."""
        sides = " | ".join(f"{group} {side(data, group)}" for group in GROUPS)
        return f"{sides}: {self.difference(status, data)}"

    def difference(self, status: Judgement, data: Mapping[str, Any]) -> str:
        """`+1.7 points, 95 % bounds +0.9 to +2.6 (allowed +2)`, `+120 ms (allowed +250)`."""
        if status is Judgement.INSUFFICIENT:
            return f"insufficient data (each group needs {data['needs']:,})"
        if self.metric == "errors":
            return (
                f"{_signed(data['difference'] * 100)} points, {self.level} bounds {_signed(data['lower'] * 100)} to"
                f" {_signed(data['upper'] * 100)} (allowed {_signed(self.max_increase * 100)})"
            )
        return f"{_signed(data['difference'])} ms (allowed {_signed(self.max_increase)})"

    def definition(self) -> dict[str, Any]:
        definition: dict[str, Any] = {"check": self.name, "kind": self.kind, "compare": self.metric}
        if self.metric == "errors":
            definition.update(max_increase=self.max_increase, z=self.z, level=self.level)
        else:
            definition.update(statistic=self.statistic, max_increase_ms=self.max_increase)
        definition.update(
            experiment=self.experiment, namespace=self.namespace, min_samples=self.min_samples, needs=self.needs
        )
        return definition


def side(data: Mapping[str, Any], group: str) -> str:
    """One group of a comparison's reading: `1.33% of 150`, `812 ms of 1,200`."""
    values = data[group]
    shown = percent(values.get("rate")) if data.get("compare") == "errors" else milliseconds(values.get("statistic"))
    return f"{shown} of {values['invocations']:,}"


def _parse_compare(entry: Mapping[str, Any], location: str, problems: list[Problem]) -> CompareCheck | None:
    fields = Fields(entry, location, problems)
    before = len(problems)
    metric = fields.string("compare", non_empty=True)
    check: CompareCheck | None = None
    if metric == "errors":
        increase = fields.number("max_increase", minimum=0, maximum=1)
        check = CompareCheck("errors", increase)
    elif metric == "duration":
        statistic = fields.string("statistic", "Average")
        if isinstance(fields.raw("statistic"), str) and not _duration_statistic(statistic):
            fields.problem("statistic", f"must be {DURATION_STATISTICS}")
        check = CompareCheck("duration", fields.number("max_increase_ms", minimum=0), statistic)
    else:
        if isinstance(fields.raw("compare"), str) and metric:
            fields.problem("compare", "must be errors or duration")
        for key in ("max_increase", "max_increase_ms", "statistic"):
            fields.raw(key)  # the kind is wrong: say only that
    fields.finish()
    return check if len(problems) == before else None


def _duration_statistic(text: str) -> bool:
    match = _DURATION_PERCENTILE.fullmatch(text)
    return text == "Average" or (match is not None and 50 <= float(match.group(1)) <= 99.9)


def _amount(value: float, unit: str) -> str:
    """`1 point`, `0.25 points`, `120 ms`."""
    shown = f"{abs(value):.2f}".rstrip("0").rstrip(".") if unit == "points" else f"{abs(value):.0f}"
    if unit == "points" and shown == "1":
        return "1 point"
    return f"{shown} {unit}"


def _signed(value: float) -> str:
    shown = f"{value:+.2f}".rstrip("0").rstrip(".")
    return "0" if shown in ("+0", "-0") else shown


def _change(what: str, value: float, unit: str) -> str:
    if abs(value) < (0.005 if unit == "points" else 0.5):
        return f"{what} did not change"
    return f"{what} {'rose' if value > 0 else 'fell'} by {_amount(value, unit)}"


# ---------------------------------------------------------------------------------------
# the steady_state list


# One parser per kind key.
PARSERS: dict[str, Callable[[Mapping[str, Any], str, list[Problem]], Check | None]] = {
    "alarm": _parse_alarm,
    "metric": _parse_metric,
    "compare": _parse_compare,
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


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
