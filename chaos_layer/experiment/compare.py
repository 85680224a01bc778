"""`compare` entries: the treatment group against the control group, from the records both
groups write (chaos_layer.control_group) since the run started.

A group's failures are `Invocations - Completed + Errors`: an invocation that started and
never completed (Lambda's timeout, a crash, out of memory) is a failure of its group, never a
missing sample. An invocation still running has no `Completed` yet, so `Invocations -
Completed` counts only over minutes that ended at least the function's timeout plus the
metrics' delay ago (`Context.unfinished_after`), and `Errors / Completed` over newer ones: an
invocation in flight never makes a false breach. A group with no `Completed` record at all
(functions on an older layer) is judged on `Errors` alone, and its data says so.

Comparisons judge only with evidence: a pass (`ok`) turns `inconclusive` when the groups'
`Invocations` do not match the even split (two-sided binomial test, p < 0.001: records lost,
or a broken split; with a cohort the groups are drawn by member, whose traffic differs, so the
counts are shown, not tested), or when the control group fails in half its invocations or more
(no steady state to compare with). These gate a pass only, never a breach.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, ClassVar

from chaos_layer import control
from chaos_layer.contract import Fields
from chaos_layer.control.formatting import milliseconds, percent
from chaos_layer.control_group import COMPLETED, CONTROL, DURATION, ERRORS, GROUPS, INVOCATIONS, TREATMENT
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.observations import Context, Judgement, Observation, Phase, utc
from chaos_layer.experiment.stats import Z_ONE_SIDED_95, even_split_p, newcombe, percentile_floor
from chaos_layer.settings import DEFAULT_METRICS_NAMESPACE

# A split this unlikely under an even draw is a sample ratio mismatch.
SPLIT_P = 0.001
# A control group failing in this share of its invocations or more has no steady state.
FAILING_CONTROL = 0.5
MINUTE = 60

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
    cohort: bool = False  # the groups are drawn by member: their split is shown, not tested
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
            "split": self._split(groups),
        }
        final = context.phase is Phase.AFTER
        key = "judged" if self.metric == "errors" else "samples"
        counts = [min(groups[group]["invocations"], groups[group][key]) for group in GROUPS]
        missing = self.metric == "duration" and any(groups[group]["statistic"] is None for group in GROUPS)
        if min(counts) < self.needs or missing:
            status, value = Judgement.INSUFFICIENT, None
        elif self.metric == "errors":
            status, value = self._judge_errors(groups, data)
        else:
            status, value = self._judge_duration(groups, data, context.previous)
        if status is Judgement.OK:
            gate = self._gate(groups, data["split"])
            if gate is not None:
                data["gate"] = gate
                status = Judgement.INCONCLUSIVE
        data["words"] = self.words(status, data, final=final)
        return Observation(self.name, self.kind, status, value, context.now, self._detail(status, data), data)

    def _split(self, groups: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The groups' `Invocations` against the even split they are drawn with."""
        treatment, control = groups[TREATMENT]["invocations"], groups[CONTROL]["invocations"]
        if self.cohort:  # drawn by member, whose traffic differs: shown, not tested
            return {TREATMENT: treatment, CONTROL: control, "tested": False, "p": None, "mismatch": False}
        p = even_split_p(treatment, treatment + control)
        return {TREATMENT: treatment, CONTROL: control, "tested": True, "p": p, "mismatch": p < SPLIT_P}

    def _gate(self, groups: Mapping[str, Mapping[str, Any]], split: Mapping[str, Any]) -> str | None:
        """Why a pass is no evidence, or None."""
        if split["mismatch"]:
            return (
                f"the groups' invocations do not match the even split (treatment {split[TREATMENT]:,}, control"
                f" {split[CONTROL]:,}, p = {split['p']:.2g} < {SPLIT_P:g}): records were lost or the split is broken"
            )
        control = groups[CONTROL]
        if control["rate"] is not None and control["rate"] >= FAILING_CONTROL:
            return (
                f"the control group fails in {percent(control['rate'])} of its invocations, so there is no steady"
                " state to compare with"
            )
        return None

    def _judge_errors(self, groups: dict[str, dict[str, Any]], data: dict[str, Any]) -> tuple[Judgement, float]:
        treatment, control = groups[TREATMENT], groups[CONTROL]
        interval = newcombe(treatment["failures"], treatment["judged"], control["failures"], control["judged"], self.z)
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
        """Both groups' counts minute by minute, and for `duration` the statistic over one
        period that holds the whole run (a percentile cannot be combined from several): the
        run's first minute (CloudWatch aligns to minutes) to the minute after now."""
        assert context.started_at is not None
        start = math.floor(context.started_at / MINUTE) * MINUTE
        end = max(start + MINUTE, math.ceil((context.now + MINUTE) / MINUTE) * MINUTE)
        counts = {"i": INVOCATIONS, "c": COMPLETED, "e": ERRORS}
        whole: dict[str, tuple[str, str]] = {}
        if self.metric == "duration":
            whole = {"n": (DURATION, "SampleCount"), "s": (DURATION, "Sum")}
            if self.statistic != "Average":
                whole["q"] = (DURATION, self.statistic)
        queries = []
        for group in GROUPS:
            dimensions = [{"Name": "experiment", "Value": self.experiment}, {"Name": "group", "Value": group}]
            wanted = [(key, metric, "Sum", MINUTE) for key, metric in counts.items()]
            wanted += [(key, metric, stat, int(end - start)) for key, (metric, stat) in whole.items()]
            for key, metric, stat, period in wanted:
                metric_spec = {"Namespace": self.namespace, "MetricName": metric, "Dimensions": dimensions}
                queries.append(
                    {
                        "Id": f"{self._id}_{group[0]}_{key}",
                        "MetricStat": {"Metric": metric_spec, "Period": period, "Stat": stat},
                        "ReturnData": True,
                    }
                )
        with control.aws_errors(f"read the metrics of {self.name}", service="CloudWatch"):
            response = metric_pages(context.cloudwatch, queries, start, end)
        # Minutes ending this long before now can hold no invocation still running.
        settled = context.now - context.unfinished_after
        found: dict[str, list[tuple[float, float]]] = {}
        for result in response:
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            found.setdefault(str(result.get("Id")), []).extend(
                (_seconds(stamp), float(value)) for stamp, value in points if math.isfinite(value)
            )
        groups: dict[str, dict[str, Any]] = {}
        for group in GROUPS:
            got = {key: found.get(f"{self._id}_{group[0]}_{key}", []) for key in (*counts, *whole)}
            groups[group] = _failures(got, settled)
            if self.metric == "duration":
                samples = round(sum(value for _, value in got["n"]))
                if self.statistic == "Average":
                    statistic = sum(value for _, value in got["s"]) / samples if samples else None
                else:  # one period, so one datapoint
                    statistic = got["q"][0][1] if len(got["q"]) == 1 else None
                groups[group].update(samples=samples, statistic=statistic)
        return groups

    def words(self, status: Judgement, data: Mapping[str, Any], *, final: bool) -> str:
        """The comparison in a sentence, with its verdict at the end: `the error rate rose by
        0.2 points, 95 % upper bound 0.6 points, within the allowed 1 point: held`; then what
        it was judged on, where that is not every group's `Completed` records."""
        said = self._words(status, data, final=final)
        notes = [
            f"{group} judged on Errors alone (no Completed records: functions on an older layer)"
            for group in GROUPS
            if data[group].get("basis") == "errors only"
        ]
        split = data.get("split")
        if split is not None and not split["tested"] and status is not Judgement.INSUFFICIENT:
            notes.append(
                f"invocations treatment {split[TREATMENT]:,}, control {split[CONTROL]:,} (a cohort draws the groups"
                " by member, whose traffic differs: shown, not tested)"
            )
        return "; ".join([said, *notes])

    def _words(self, status: Judgement, data: Mapping[str, Any], *, final: bool) -> str:
        treatment, control = data[TREATMENT], data[CONTROL]
        if data.get("gate"):
            return f"no evidence: {data['gate']}" + (": inconclusive" if final else " (so far)")
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

    def latest(self, observation: Observation) -> str:
        """The difference alone: the panel shows the two groups in columns of their own."""
        if observation.data is None:
            return observation.describe()
        return self.difference(observation.status, observation.data)

    def difference(self, status: Judgement, data: Mapping[str, Any]) -> str:
        """`+1.7 points, 95 % bounds +0.9 to +2.6 (allowed +2)`, `+120 ms (allowed +250)`."""
        if data.get("gate"):
            return f"no evidence: {data['gate']}"
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
            experiment=self.experiment,
            namespace=self.namespace,
            min_samples=self.min_samples,
            needs=self.needs,
            split_tested=not self.cohort,
        )
        return definition


def _failures(got: Mapping[str, list[tuple[float, float]]], settled: float) -> dict[str, Any]:
    """A group's failures out of the invocations judged: `Invocations - Completed + Errors` over
    the minutes that ended by `settled`, `Errors` out of `Completed` over newer ones. An older
    layer writes `Errors` with `Invocations` and no `Completed`: such a group is judged on
    `Errors` out of `Invocations`. (A group with `Invocations` alone is this layer's whose
    invocations all failed to complete.)"""

    def total(key: str, old: bool | None = None) -> int:
        return round(sum(v for at, v in got[key] if old is None or (at + MINUTE <= settled) == old))

    invocations, completed, errors = total("i"), total("c"), total("e")
    if not got["c"] and got["e"]:
        failures, judged, unfinished, basis = min(errors, invocations), invocations, 0, "errors only"
    else:
        old_invocations = total("i", old=True)
        unfinished = max(0, old_invocations - total("c", old=True))
        judged = old_invocations + total("c", old=False)
        failures = min(judged, unfinished + errors)
        basis = "completed"
    return {
        "invocations": invocations,
        "completed": completed,
        "errors": errors,
        "unfinished": unfinished,
        "failures": failures,
        "judged": judged,
        "rate": failures / judged if judged else None,
        "basis": basis,
    }


def metric_pages(cloudwatch: Any, queries: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """Every result of GetMetricData, following NextToken (minute datapoints of a long run
    fill more than one page)."""
    results: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": utc(start),
        "EndTime": utc(end),
        "ScanBy": "TimestampAscending",
    }
    while True:
        response = cloudwatch.get_metric_data(**arguments)
        results += response.get("MetricDataResults", [])
        token = response.get("NextToken")
        if not token:
            return results
        arguments["NextToken"] = token


def _seconds(stamp: Any) -> float:
    timestamp = getattr(stamp, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else float(stamp)


def side(data: Mapping[str, Any], group: str) -> str:
    """One group of a comparison's reading: `1.33% of 150`, `812 ms of 1,200`."""
    values = data[group]
    shown = percent(values.get("rate")) if data.get("compare") == "errors" else milliseconds(values.get("statistic"))
    return f"{shown} of {values['invocations']:,}"


def parse_compare(entry: Mapping[str, Any], location: str, problems: list[Problem]) -> CompareCheck | None:
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
