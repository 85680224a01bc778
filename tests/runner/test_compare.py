"""`compare` entries: the runner against moto's CloudWatch over HTTP, with both groups' metrics
written by the test while the run goes (as the library's EMF records would arrive), and p99
comparisons against botocore's Stubber answering GetMetricData as CloudWatch documents it
(moto serves no percentiles). Every ending leaves the config disabled."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chaos_layer.control import InvalidConfig
from chaos_layer.experiment import definition
from chaos_layer.experiment.checks import CompareCheck
from chaos_layer.experiment.journal import Verdict, instant
from tests.conftest import REGION
from tests.runner.conftest import Aws, TimeMachine, experiment_document

ERRORS = {"compare": "errors", "max_increase": 0.02}
STEPS = [{"rate": 0.05, "hold": "20s"}, {"rate": 0.1, "hold": "40s"}]  # polls at 10, 20, ... 60


def comparing(*entries: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    document = experiment_document(steady_state=[{"alarm": "checkout-errors"}, *entries], ramp=STEPS, poll="10s")
    document.update(overrides)
    return document


def batches(aws: Aws, time_machine: TimeMachine, at: list[float], treatment: tuple[int, int],
            control: tuple[int, int]) -> None:  # fmt: skip
    """Each group's (invocations, errors), written at each of these offsets into the run."""
    for offset in at:
        time_machine.at(offset, lambda: aws.group("treatment", *treatment, at=time_machine.now))
        time_machine.at(offset, lambda: aws.group("control", *control, at=time_machine.now))


def compare_readings(journal: dict[str, Any], phase: str | None = None) -> list[dict[str, Any]]:
    return [r for r in journal["checks"] if r["kind"] == "compare" and (phase is None or r["phase"] == phase)]


def groups_counts(group: dict[str, Any]) -> tuple[Any, ...]:
    """Invocations, Completed, Errors, failures, invocations judged, failure rate."""
    return (group["invocations"], group["completed"], group["errors"], group["failures"], group["judged"],
            group["rate"])  # fmt: skip


def assert_stopped(aws: Aws) -> None:
    config = aws.config()
    assert config is not None
    assert config["enabled"] is False


@pytest.fixture(autouse=True)
def alarm_ok(aws: Aws) -> None:
    aws.alarm("OK")


# held


def test_a_comparison_that_holds(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (150, 2), (150, 2))
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.HELD, 0)
    # every config written asks for a control group, the stop too
    versions = aws.versions()
    assert all(v["control_group"] is True for v in versions)
    assert [v["enabled"] for v in versions].count(False) == 1
    assert_stopped(aws)
    # not before the start; at every poll; once after the end
    assert [r["phase"] for r in compare_readings(run.journal)] == ["during"] * 6 + ["after"]
    final = compare_readings(run.journal, "after")[0]
    assert final["status"] == "ok"
    comparison = final["comparison"]
    for group in ("treatment", "control"):
        assert groups_counts(comparison[group]) == (900, 900, 12, 12, 900, pytest.approx(12 / 900))
    assert (comparison["difference"], comparison["lower"], comparison["upper"]) == (
        0, pytest.approx(-0.0093, abs=1e-4), pytest.approx(0.0093, abs=1e-4),
    )  # fmt: skip
    assert comparison["words"] == (
        "the error rate did not change, 95 % upper bound 0.93 points, within the allowed 2 points: held"
    )
    assert run.journal["reason"].endswith(
        "compare errors: the error rate did not change, 95 % upper bound 0.93 points, within the allowed 2 points:"
        " held."
    )


def test_the_journal_records_both_groups_at_every_poll(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (150, 2), (150, 2))
    run = run_experiment(comparing(ERRORS))
    during = compare_readings(run.journal, "during")
    assert [r["comparison"]["treatment"]["invocations"] for r in during] == [150, 300, 450, 600, 750, 900]
    assert [r["comparison"]["control"]["errors"] for r in during] == [2, 4, 6, 8, 10, 12]
    # at the first poll the interval still straddles the allowed increase: neither a pass nor a stop
    assert [r["status"] for r in during] == ["inconclusive"] + ["ok"] * 5
    first = during[0]["comparison"]
    assert first["upper"] == pytest.approx(0.0276, abs=1e-4)
    assert "treatment 1.333% of 150 | control 1.333% of 150" in during[0]["detail"]


def test_insufficient_data_does_not_stop_the_run(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (40, 0), (40, 0))
    run = run_experiment(comparing(ERRORS))
    during = compare_readings(run.journal, "during")
    statuses = [r["status"] for r in during]
    assert statuses[:2] == ["insufficient"] * 2  # 100 each from the third poll on
    assert "insufficient" not in statuses[2:]
    assert during[0]["comparison"]["words"] == (
        "too few invocations to compare: treatment 40, control 40, of the 100 each group needs (so far)"
    )
    assert run.outcome.verdict is Verdict.HELD


# rejected


def test_a_rise_in_errors_stops_the_run_within_one_poll(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15], (150, 2), (150, 2))
    batches(aws, time_machine, [25, 35, 45, 55], (150, 30), (150, 2))  # the treatment starts failing at 25 s
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)
    assert time_machine.now == time_machine.start + 30  # the first poll after the evidence
    assert_stopped(aws)
    breach = run.journal["breach"]
    assert (breach["check"], breach["status"], breach["step"]) == ("compare errors", "breach", 2)
    assert groups_counts(breach["comparison"]["treatment"]) == (450, 450, 34, 34, 450, pytest.approx(34 / 450))
    assert breach["comparison"]["lower"] == pytest.approx(0.0404, abs=1e-4)
    assert breach["comparison"]["words"] == (
        "the error rate rose by 6.22 points, 95 % lower bound 4.04 points, above the allowed 2 points: rejected"
        " (a safety stop, 95 % per look)"
    )
    assert run.journal["reason"] == (
        "The hypothesis was rejected: compare errors: the error rate rose by 6.22 points, 95 % lower bound 4.04"
        " points, above the allowed 2 points: rejected (a safety stop, 95 % per look) at step 2 (rate 10%); the"
        " experiment was stopped."
    )
    assert not compare_readings(run.journal, "after")


def test_on_breach_kill_engages_the_kill_switch_on_a_comparison(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15], (150, 60), (150, 0))
    run = run_experiment(comparing(ERRORS, on_breach="kill"))
    assert run.outcome.verdict is Verdict.REJECTED
    assert time_machine.now == time_machine.start + 10
    assert aws.kill_switch() == "on"
    assert_stopped(aws)


def test_a_breach_found_only_in_the_final_judgement_rejects(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (150, 2), (150, 2))
    time_machine.at(61, lambda: aws.group("treatment", 600, 200, at=time_machine.now))  # late records, in settle
    run = run_experiment(comparing(ERRORS, settle="2m"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)
    assert run.journal["breach"]["phase"] == "after"
    assert run.journal["breach"]["comparison"]["words"].endswith("above the allowed 2 points: rejected")
    assert_stopped(aws)


# inconclusive


def test_too_little_data_at_the_end_is_inconclusive(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 35], (30, 0), (30, 0))
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    assert run.journal["verdict"] == "inconclusive"
    assert run.journal["exit_code"] == 7
    final = compare_readings(run.journal, "after")[0]
    assert final["status"] == "insufficient"
    assert run.outcome.reason == (
        "Inconclusive: no breach, but compare errors: too few invocations to compare: treatment 60, control 60, of"
        " the 100 each group needs: inconclusive; the experiment was stopped."
    )
    assert_stopped(aws)


def test_an_interval_that_straddles_the_allowed_increase_is_inconclusive(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (150, 5), (150, 1))  # 900/30 against 900/6
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    final = compare_readings(run.journal, "after")[0]
    assert final["status"] == "inconclusive"
    assert final["comparison"]["words"] == (
        "the error rate rose by 2.67 points, 95 % bounds +1.61 to +3.84 points, straddling the allowed 2 points:"
        " inconclusive"
    )
    assert_stopped(aws)


def test_no_data_at_all_is_never_a_pass(aws, time_machine, run_experiment) -> None:
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    assert_stopped(aws)


def test_a_failing_alarm_outweighs_an_inconclusive_comparison(aws, time_machine, run_experiment) -> None:
    time_machine.at(61, lambda: aws.alarm("ALARM"))
    run = run_experiment(comparing(ERRORS, settle="10s"))
    assert run.outcome.verdict is Verdict.REJECTED
    assert run.journal["breach"]["check"] == "alarm checkout-errors"


# duration, on moto (Average)


def durations(aws: Aws, time_machine: TimeMachine, at: list[float], treatment_ms: float, control_ms: float) -> None:
    for offset in at:
        time_machine.at(offset, lambda: aws.group("treatment", 200, at=time_machine.now, duration_ms=treatment_ms))
        time_machine.at(offset, lambda: aws.group("control", 200, at=time_machine.now, duration_ms=control_ms))


DURATION = {"compare": "duration", "statistic": "Average", "max_increase_ms": 250}


def test_average_duration_within_the_allowed_increase_holds(aws, time_machine, run_experiment) -> None:
    durations(aws, time_machine, [5, 15, 25, 35, 45, 55], 420, 200)
    run = run_experiment(comparing(DURATION))
    assert run.outcome.verdict is Verdict.HELD
    final = compare_readings(run.journal, "after")[0]
    treatment = final["comparison"]["treatment"]
    assert (treatment["invocations"], treatment["samples"], treatment["statistic"]) == (1200, 1200, 420)
    assert final["comparison"]["words"] == (
        "the average duration rose by 220 ms (treatment 420 ms, control 200 ms), within the allowed 250 ms: held"
    )


def test_one_poll_over_the_allowed_increase_is_not_a_breach(aws, time_machine, run_experiment) -> None:
    durations(aws, time_machine, [5], 600, 200)  # over at the first poll only
    durations(aws, time_machine, [15, 25, 35, 45, 55], 200, 200)
    run = run_experiment(comparing(DURATION, min_samples=100))
    statuses = [r["status"] for r in compare_readings(run.journal, "during")]
    assert statuses[:2] == ["inconclusive", "ok"]
    assert run.outcome.verdict is Verdict.HELD


def test_two_polls_in_a_row_over_the_allowed_increase_breach(aws, time_machine, run_experiment) -> None:
    durations(aws, time_machine, [5, 15, 25, 35, 45, 55], 600, 200)
    run = run_experiment(comparing(DURATION))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)
    assert time_machine.now == time_machine.start + 20
    assert [r["status"] for r in compare_readings(run.journal)] == ["inconclusive", "breach"]
    assert run.journal["breach"]["comparison"]["words"] == (
        "the average duration rose by 400 ms (treatment 600 ms, control 200 ms), above the allowed 250 ms on two"
        " polls in a row: rejected"
    )
    assert_stopped(aws)


# p99: CloudWatch's percentiles, from botocore's Stubber


QUERIES = (("i", "Invocations", "Sum"), ("c", "Completed", "Sum"), ("e", "Errors", "Sum"),
           ("n", "Duration", "SampleCount"), ("s", "Duration", "Sum"), ("q", "Duration", "p99"))  # fmt: skip


def p99_results(check_id: str, treatment: tuple[int, float] | None, control: tuple[int, float] | None,
                period_start: datetime) -> dict[str, Any]:  # fmt: skip
    """A GetMetricData answer as CloudWatch documents it: one result per query, with the
    datapoints of the single period (none for a group without data); every invocation completed
    without an error."""
    results = []
    for group, values in (("t", treatment), ("c", control)):
        for key, metric, label in QUERIES:
            count = None if values is None else values[0]
            value = None if values is None else {"i": count, "c": count, "e": 0, "n": count,
                                                 "s": values[0] * values[1], "q": values[1]}[key]  # fmt: skip
            results.append(
                {
                    "Id": f"{check_id}_{group}_{key}",
                    "Label": f"{metric} {label}",
                    "Timestamps": [] if value is None else [period_start],
                    "Values": [] if value is None else [float(value)],
                    "StatusCode": "Complete",
                }
            )
    return {"MetricDataResults": results, "Messages": []}


P99 = {"compare": "duration", "statistic": "p99", "max_increase_ms": 250}


@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("cloudwatch", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, time_machine: TimeMachine, answers: list[tuple[tuple[int, float] | None, ...]]) -> None:
    start = datetime.fromtimestamp(time_machine.start // 60 * 60, timezone.utc)
    for treatment, control in answers:
        queries = [
            {
                "Id": f"m0_{group}_{key}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "ChaosLayer",
                        "MetricName": metric,
                        "Dimensions": [
                            {"Name": "experiment", "Value": "checkout-latency"},
                            {"Name": "group", "Value": name},
                        ],
                    },
                    "Period": 60 if key in "ice" else ANY,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for group, name in (("t", "treatment"), ("c", "control"))
            for key, metric, stat in QUERIES
        ]
        stubber.add_response(
            "get_metric_data",
            p99_results("m0", treatment, control, start),
            {"MetricDataQueries": queries, "StartTime": start, "EndTime": ANY, "ScanBy": "TimestampAscending"},
        )


def p99_experiment(**overrides: Any) -> dict[str, Any]:
    return experiment_document(steady_state=[P99], ramp=[{"rate": 0.1, "hold": "30s"}], poll="10s", **overrides)


def test_p99_within_the_allowed_increase_holds(stubbed, time_machine, run_experiment, aws) -> None:
    client, stubber = stubbed
    expect(stubber, time_machine, [(None, None), ((800, 900), (700, 700)), ((1500, 910), (1400, 720)),
                                   ((2100, 905), (2000, 710))])  # fmt: skip
    run = run_experiment(p99_experiment(), cloudwatch=client)
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.HELD, 0)
    statuses = [r["status"] for r in compare_readings(run.journal)]
    assert statuses == ["insufficient", "insufficient", "ok", "ok"]  # p99 needs 1,000 per group
    assert compare_readings(run.journal, "after")[0]["comparison"]["words"] == (
        "the p99 duration rose by 195 ms (treatment 905 ms, control 710 ms), within the allowed 250 ms: held"
    )
    assert_stopped(aws)


def test_p99_over_the_allowed_increase_twice_in_a_row_breaches(stubbed, time_machine, run_experiment, aws) -> None:
    client, stubber = stubbed
    expect(stubber, time_machine, [((1200, 980), (1100, 700)), ((2400, 1020), (2300, 705))])
    run = run_experiment(p99_experiment(), cloudwatch=client)
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)
    assert time_machine.now == time_machine.start + 20
    assert run.journal["breach"]["value"] == 315
    assert_stopped(aws)


def test_p99_with_too_few_invocations_is_inconclusive(stubbed, time_machine, run_experiment, aws) -> None:
    client, stubber = stubbed
    expect(stubber, time_machine, [((300, 900), (310, 700)), ((600, 900), (610, 700)), ((900, 905), (950, 700)),
                                   ((990, 905), (999, 700))])  # fmt: skip
    run = run_experiment(p99_experiment(), cloudwatch=client)
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    assert "treatment 990, control 999, of the 1,000 each group needs: inconclusive" in run.outcome.reason
    assert_stopped(aws)


# the file


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        definition.parse_experiment(document)
    return [str(problem) for problem in caught.value.problems]


def test_compare_entries_and_their_settings_parse() -> None:
    experiment = definition.parse_experiment(
        comparing(
            ERRORS,
            {"compare": "duration", "statistic": "p99.9", "max_increase_ms": 100},
            min_samples=250,
            settle="90s",
            namespace="Team/Chaos",
        )
    )
    errors, duration = experiment.checks[1:]
    assert isinstance(duration, CompareCheck)
    assert errors == CompareCheck("errors", 0.02, experiment="checkout-latency", namespace="Team/Chaos",
                                  min_samples=250)  # fmt: skip
    assert (duration.statistic, duration.max_increase, duration.needs) == ("p99.9", 100, 10_000)
    assert experiment.settle == 90
    assert experiment.comparing
    assert experiment.config(0.05, "2026-11-27T15:00:00Z")["control_group"] is True


def test_defaults() -> None:
    experiment = definition.parse_experiment(comparing(ERRORS))
    check = experiment.checks[1]
    assert isinstance(check, CompareCheck)
    assert (check.namespace, check.min_samples, check.z, experiment.settle) == ("ChaosLayer", 100, 1.6449, 0)
    without = definition.parse_experiment(experiment_document())
    assert "control_group" not in without.config(0.05, "2026-11-27T15:00:00Z")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"compare": "latency"}, "steady_state[1].compare: must be errors or duration"),
        ({"compare": "errors"}, "steady_state[1].max_increase: is required"),
        ({"compare": "errors", "max_increase": 2}, "steady_state[1].max_increase: must be a number between 0 and 1"),
        ({"compare": "errors", "max_increase": 0.01, "statistic": "p99"}, "steady_state[1].statistic: unknown key"),
        ({"compare": "duration", "max_increase_ms": -1},
         "steady_state[1].max_increase_ms: must be a number at least 0"),
        ({"compare": "duration", "statistic": "p30", "max_increase_ms": 5},
         "steady_state[1].statistic: must be Average, or a percentile from p50 to p99.9"),
        ({"compare": "duration", "statistic": "p99.99", "max_increase_ms": 5},
         "steady_state[1].statistic: must be Average, or a percentile from p50 to p99.9"),
        ({"compare": "duration", "statistic": "Maximum", "max_increase_ms": 5},
         "steady_state[1].statistic: must be Average, or a percentile from p50 to p99.9"),
        ({"compare": "duration"}, "steady_state[1].max_increase_ms: is required"),
    ],
)  # fmt: skip
def test_compare_entries_that_are_refused(entry: dict[str, Any], problem: str) -> None:
    assert problem in problems(comparing(entry))


def test_the_same_comparison_twice_is_refused() -> None:
    assert "steady_state[2]: checks the same as steady_state[1]; put both bounds in one entry" in problems(
        comparing(ERRORS, {**ERRORS, "max_increase": 0.05})
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"min_samples": 1}, "min_samples: must be a whole number at least 30"),
        ({"settle": "soon"},
         "settle: must be a duration such as 15s, 2m or 1h30m (or a number of seconds), zero or longer"),
        ({"namespace": ""}, "namespace: must not be empty"),
        ({"blast_radius": {"dry_run": True}},
         "blast_radius.dry_run: must not be true with a compare entry in steady_state: a dry run injects nothing to"
         " compare"),
        ({"blast_radius": {"control_group": False}},
         "blast_radius.control_group: must not be false with a compare entry in steady_state"),
        ({"ramp": [{"rate": 0.6, "hold": "1m"}]},
         "ramp[0].rate: must be at most 0.5 with control_group: the control group takes as many invocations as the"
         " faults"),
        ({"blast_radius": {"cohort": {"key": "user", "percent": 60}}},
         "blast_radius.cohort.percent: must be at most 50 with control_group: the control group's members are the"
         " next band of the same size"),
    ],
)  # fmt: skip
def test_file_settings_that_are_refused(overrides: dict[str, Any], problem: str) -> None:
    assert problem in problems(comparing(ERRORS, **overrides))


def test_a_dry_run_without_comparisons_is_still_fine() -> None:
    assert definition.parse_experiment(experiment_document(blast_radius={"dry_run": True}))


def test_settle_zero_is_accepted() -> None:
    assert definition.parse_experiment(comparing(ERRORS, settle="0s")).settle == 0


@pytest.mark.parametrize(
    ("faults", "warned"),
    [
        ([{"type": "exception"}], "faults[0] (exception) fails every treatment invocation (fault rate 1)"),
        ([{"type": "timeout"}], "faults[0] (timeout) fails every treatment invocation"),
        ([{"type": "status_code", "status_code": 503}], "faults[0] (status_code) fails every treatment invocation"),
        ([{"type": "latency", "delay_ms": 5}, {"type": "corrupt", "truncate": 10}],
         "faults[1] (corrupt) fails nothing that Errors counts"),
        ([{"type": "batch_failure", "fraction": 0.5}], "faults[0] (batch_failure) fails nothing that Errors counts"),
    ],
)  # fmt: skip
def test_comparisons_that_cannot_tell_anything_are_warned_about(faults: list[dict[str, Any]], warned: str) -> None:
    experiment = definition.parse_experiment(comparing(ERRORS, faults=faults))
    assert any(warned in warning for warning in experiment.warnings)


@pytest.mark.parametrize(
    "faults",
    [
        [{"type": "exception", "rate": 0.5}],
        [{"type": "status_code", "status_code": 404}],
        [{"type": "dependency", "services": ["dynamodb"], "error": "ThrottlingException"}],
    ],
)
def test_comparisons_that_can_tell_are_not_warned_about(faults: list[dict[str, Any]]) -> None:
    assert definition.parse_experiment(comparing(ERRORS, faults=faults)).warnings == ()
    assert definition.parse_experiment(comparing(DURATION, faults=[{"type": "exception"}])).warnings == ()


def test_warnings_are_said_before_the_run_and_kept(aws, time_machine, run_experiment) -> None:
    run = run_experiment(comparing(ERRORS, faults=[{"type": "exception"}]))
    assert run.lines.lines[0][0] == "warn"
    assert run.lines.lines[0][1].startswith("Warning: compare errors: faults[0] (exception) fails every treatment")
    assert len(run.journal["warnings"]) == 1


def test_settle_waits_with_the_config_disabled_before_the_final_judgement(aws, time_machine, run_experiment) -> None:
    batches(aws, time_machine, [5, 15, 25, 35, 45, 55], (150, 2), (150, 2))
    states: list[bool] = []
    time_machine.at(100, lambda: states.append(bool((aws.config() or {}).get("enabled"))))
    run = run_experiment(comparing(ERRORS, settle="2m"))
    assert states == [False]
    assert time_machine.sleeps[-1] == 120
    final = compare_readings(run.journal, "after")[0]
    assert instant(time_machine.start + 180) == final["at"]
    assert "Waiting 2m (settle)" in run.lines.text
