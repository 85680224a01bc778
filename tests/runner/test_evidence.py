"""A comparison judges only with evidence: an invocation that never completed is a failure of its
group once it can no longer be running, a group split that does not match the draw, or a
control group that fails as much as it succeeds, is no evidence, and too small a sample is a
file error. Against moto's CloudWatch and Lambda over HTTP, with both groups' records written by
the test as the library's EMF records would arrive."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import boto3
import pytest

from chaos_layer.control import InvalidConfig
from chaos_layer.experiment import definition
from chaos_layer.experiment.journal import Verdict
from tests.conftest import REGION
from tests.runner.conftest import Aws, TimeMachine, experiment_document

ERRORS = {"compare": "errors", "max_increase": 0.02}
LONG = [{"rate": 0.1, "hold": "6m"}]  # polls every minute: early records age past the timeout


def comparing(*entries: dict[str, Any], ramp: list[dict[str, Any]] | None = None, poll: str = "10s",
              **overrides: Any) -> dict[str, Any]:  # fmt: skip
    document = experiment_document(steady_state=[{"alarm": "checkout-errors"}, *entries],
                                   ramp=ramp or [{"rate": 0.1, "hold": "60s"}], poll=poll)  # fmt: skip
    document.update(overrides)
    return document


def every(aws: Aws, time_machine: TimeMachine, offsets: list[int], group: str, invocations: int,
          **records: Any) -> None:  # fmt: skip
    for offset in offsets:
        time_machine.at(offset, lambda: aws.group(group, invocations, at=time_machine.now, **records))


def compare_reading(journal: dict[str, Any], phase: str) -> Any:
    return [r for r in journal["checks"] if r["kind"] == "compare" and r["phase"] == phase][-1]


@pytest.fixture(autouse=True)
def alarm_ok(aws: Aws) -> None:
    aws.alarm("OK")


@pytest.fixture
def functions(aws: Aws) -> Any:
    """Lambda on the moto server, with the function `checkout` (timeout 1 s)."""
    endpoint = aws.server.endpoint_url
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
    role = iam.create_role(RoleName="checkout", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    client = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint)
    client.create_function(FunctionName="checkout", Runtime="python3.12", Role=role, Handler="handler.handler",
                           Code={"ZipFile": archive.getvalue()}, Timeout=1)  # fmt: skip
    return client


# invocations that never complete


def test_treatment_invocations_that_never_complete_are_its_failures(
    aws, time_machine, run_experiment, functions
) -> None:
    """A third of the treatment's invocations time out and leave no Completed record: a breach,
    once their minute has ended the function's timeout (read from Lambda) plus the metrics' delay ago."""
    offsets = [5, 65, 125, 185, 245, 305]
    every(aws, time_machine, offsets, "treatment", 150, completed=100)
    every(aws, time_machine, offsets, "control", 150)
    run = run_experiment(comparing(ERRORS, ramp=LONG, poll="1m"), functions=functions)
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)
    assert run.journal["function_timeout"] == {"seconds": 1.0, "found": "the longest of checkout 1 s"}
    treatment = run.journal["breach"]["comparison"]["treatment"]
    assert treatment["unfinished"] >= 50
    assert treatment["failures"] == treatment["unfinished"]  # no Errors: only the missing Completed
    # not before their minute could hold no running invocation
    during = [r for r in run.journal["checks"] if r["kind"] == "compare"]
    assert during[0]["comparison"]["treatment"]["unfinished"] == 0


def test_invocations_still_in_flight_never_make_a_breach(aws, time_machine, run_experiment) -> None:
    """Without a timeout that can be read, Lambda's maximum (900 s) stands in: invocations
    without a Completed record yet are not counted as failures within it."""
    offsets = [5, 65, 125, 185, 245, 305]
    every(aws, time_machine, offsets, "treatment", 150, completed=100)
    every(aws, time_machine, offsets, "control", 150)
    run = run_experiment(comparing(ERRORS, ramp=LONG, poll="1m"))
    assert run.outcome.verdict is Verdict.HELD
    assert run.journal["function_timeout"]["seconds"] == 900
    assert "Lambda's maximum, 900 s" in run.journal["function_timeout"]["found"]
    assert compare_reading(run.journal, "after")["comparison"]["treatment"]["unfinished"] == 0


def test_a_group_without_completed_records_is_judged_on_errors_and_the_journal_says_so(
    aws, time_machine, run_experiment
) -> None:
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "treatment", 150, errors=2, older_layer=True)
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "control", 150, errors=2, older_layer=True)
    run = run_experiment(comparing(ERRORS))
    final = compare_reading(run.journal, "after")
    assert final["comparison"]["treatment"]["basis"] == "errors only"
    assert (
        "treatment judged on Errors alone (no Completed records: functions on an older layer)"
        in (final["comparison"]["words"])
    )
    assert "control judged on Errors alone" in run.outcome.reason


# no evidence, no held


def test_both_groups_failing_everything_is_inconclusive_not_held(aws, time_machine, run_experiment) -> None:
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "treatment", 150, errors=150)
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "control", 150, errors=150)
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    assert "the control group fails in 100% of its invocations, so there is no steady state" in run.outcome.reason


def test_a_sample_ratio_mismatch_is_inconclusive_naming_the_counts(aws, time_machine, run_experiment) -> None:
    """700 treatment against 1,000 control invocations, none failing: records were lost."""
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "treatment", 117)
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "control", 167)
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INCONCLUSIVE, 7)
    assert "do not match the even split (treatment 702, control 1,002, p = " in run.outcome.reason
    split = compare_reading(run.journal, "after")["comparison"]["split"]
    assert (split["treatment"], split["control"], split["tested"], split["mismatch"]) == (702, 1002, True, True)


def test_a_sample_ratio_mismatch_never_stops_a_breach(aws, time_machine, run_experiment) -> None:
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "treatment", 117, errors=40)
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "control", 167)
    run = run_experiment(comparing(ERRORS))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.REJECTED, 5)


def test_with_a_cohort_the_split_is_shown_not_tested(aws, time_machine, run_experiment) -> None:
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "treatment", 117)
    every(aws, time_machine, [5, 15, 25, 35, 45, 55], "control", 167)
    cohort = {"targets": {"functions": ["checkout"]}, "cohort": {"key": "user", "percent": 10}}
    run = run_experiment(comparing(ERRORS, blast_radius=cohort))
    assert run.outcome.verdict is Verdict.HELD
    assert "invocations treatment 702, control 1,002 (a cohort draws the groups by member" in run.outcome.reason
    assert compare_reading(run.journal, "after")["comparison"]["split"]["tested"] is False


def test_a_duration_comparison_on_one_invocation_is_a_file_error() -> None:
    document = comparing({"compare": "duration", "statistic": "Average", "max_increase_ms": 250}, min_samples=1)
    with pytest.raises(InvalidConfig) as raised:
        definition.parse_experiment(document)
    assert [f"{p.location}: {p.message}" for p in raised.value.problems] == [
        "min_samples: must be a whole number at least 30"
    ]
