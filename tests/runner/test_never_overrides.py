"""The runner never overrides anyone: someone else's write to the config during a run (an
operator's stop, another start, a write that races one of the runner's) ends the run
`interrupted` with the change named, and the config is left as they wrote it; the kill switch
engaged mid-run ends it `interrupted` at the next poll. Neither is ever `held`. Against the
moto server over HTTP, on the time machine."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chaos_layer import control
from chaos_layer.experiment.journal import Verdict
from tests.runner.conftest import KILL_SWITCH, PARAM, Aws, TimeMachine, experiment_document

pytestmark = pytest.mark.usefixtures("aws")

THEIRS = {"enabled": True, "experiment": "someone-else", "rate": 0.2, "faults": [{"type": "exception"}]}


def steady(aws: Aws, time_machine: TimeMachine) -> None:
    aws.alarm("OK")
    aws.metric(1.0, at=time_machine.now)


def operator(aws: Aws) -> control.Controller:
    return control.Controller(aws.ssm, PARAM, KILL_SWITCH)


def test_an_operators_stop_mid_run_is_never_overwritten(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(4, lambda: operator(aws).stop())  # version 2: disabled
    run = run_experiment(experiment_document())
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    versions = aws.versions()
    assert [v["enabled"] for v in versions] == [True, False]  # the runner wrote nothing after the stop
    assert aws.config()["enabled"] is False
    reason = run.journal["reason"]
    assert "/chaos-layer/checkout was written by someone else during the run at step 1" in reason
    assert "version 2 by " in reason
    assert "changed keys enabled" in reason
    assert "left it as they wrote it" in reason
    assert run.journal["interruption"]["cause"] == "someone else wrote the config"
    assert "version 2 by " in run.journal["interruption"]["change"]
    assert run.journal["writes"][-1]["version"] is None  # the renewal it did not write
    assert "someone else wrote" in run.journal["writes"][-1]["error"]


def test_another_start_mid_run_is_left_running_as_they_wrote_it(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: aws.ssm.put_parameter(Name=PARAM, Value=json.dumps(THEIRS), Overwrite=True))
    run = run_experiment(experiment_document())
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert aws.config() == THEIRS  # not disabled: it is theirs now
    assert run.journal["stop"]["left_as_written_by_someone_else"] is True
    assert "at step 2 (rate 5%)" in run.outcome.reason
    assert "changed keys experiment, rate, faults" in run.outcome.reason  # names keys, never values
    assert "someone-else" not in run.outcome.reason


def test_a_breach_after_someone_elses_write_engages_the_kill_switch(aws, time_machine, run_experiment) -> None:
    """The alarm goes off at the poll after their write: said, and on_breach: kill engages the
    kill switch (another parameter), without touching their config."""
    steady(aws, time_machine)

    def theirs_then_alarm() -> None:
        aws.ssm.put_parameter(Name=PARAM, Value=json.dumps(THEIRS), Overwrite=True)
        aws.alarm("ALARM")

    time_machine.at(4, theirs_then_alarm)
    run = run_experiment(experiment_document(on_breach="kill"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert aws.config() == THEIRS
    assert aws.kill_switch() == "on"
    assert "The steady state was breached after their write: alarm checkout-errors was ALARM" in run.outcome.reason
    assert "The kill switch was engaged." in run.outcome.reason
    assert run.journal["breach"]["check"] == "alarm checkout-errors"


def test_a_write_that_races_the_runners_is_put_back_as_they_wrote_it(aws, time_machine, run_experiment, proxy) -> None:
    """SSM has no conditional write: someone writes between the runner's version check and its
    PutParameter, and the runner's write lands on theirs. It comes back as not the version
    expected + 1: the runner names their version, puts it back (conditional on its own write)
    and writes nothing more."""
    steady(aws, time_machine)
    ssm = proxy()
    armed: list[bool] = []

    def race(target: str, body: bytes) -> None:
        if armed and target == "AmazonSSM.PutParameter":
            armed.clear()
            aws.ssm.put_parameter(Name=PARAM, Value=json.dumps(THEIRS), Overwrite=True)

    ssm.watch(race)
    time_machine.at(4, lambda: armed.append(True))  # the renewal at 5 s races their write
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert aws.config() == THEIRS  # left as they wrote it
    history = aws.versions()
    assert history[1] == THEIRS
    assert history[2]["experiment"] == "checkout-latency"  # the runner's renewal, landed on theirs
    assert history[3] == THEIRS  # put back
    assert len(history) == 4  # and nothing more: no step 2, no stop
    assert [w["action"] for w in run.journal["writes"]] == ["step 1", "renew", "restore"]
    interruption = run.journal["interruption"]
    assert "version 2 by " in interruption["change"]
    assert interruption["overwritten"] == (
        "a write of the runner's (version 3) replaced theirs (version 2); the runner put theirs back as version 4,"
        " conditional on its own write"
    )


def test_a_racing_write_that_cannot_be_put_back_is_named_with_how_to_restore_it(
    aws, time_machine, run_experiment, proxy
) -> None:
    """A third write before the runner puts theirs back: it writes nothing over that either, and
    says how to restore the version its write replaced."""
    steady(aws, time_machine)
    ssm = proxy()
    armed: list[str] = []

    def race(target: str, body: bytes) -> None:
        if armed and target == "AmazonSSM.PutParameter":
            aws.ssm.put_parameter(Name=PARAM, Value=json.dumps({**THEIRS, "rate": 0.3}), Overwrite=True)
        elif armed and target == "AmazonSSM.GetParameters" and b":2" in body:
            armed.clear()
            aws.ssm.put_parameter(Name=PARAM, Value=json.dumps({**THEIRS, "rate": 0.4}), Overwrite=True)

    ssm.watch(race)
    time_machine.at(4, lambda: armed.append("race"))
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert aws.config() == {**THEIRS, "rate": 0.4}  # the latest write, untouched
    overwritten = run.journal["interruption"]["overwritten"]
    restore = re.search(r"To restore what was overwritten: (.*) \(putting version 2 back failed", overwritten)
    assert restore is not None
    assert f"{PARAM}:2" in restore.group(1)
    assert [w["action"] for w in run.journal["writes"]] == ["step 1", "renew", "restore"]
    assert run.journal["writes"][-1]["version"] is None


def test_the_kill_switch_engaged_mid_run_ends_it_at_the_next_poll(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: aws.ssm.put_parameter(Name=KILL_SWITCH, Value="on", Type="String"))
    run = run_experiment(experiment_document())
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert time_machine.now == time_machine.start + 15  # the next poll, not the end of the run
    assert aws.config()["enabled"] is False  # still the runner's: stopped
    assert "the kill switch /chaos-layer/kill-switch was engaged during the run at step 2" in run.outcome.reason
    assert run.journal["interruption"]["cause"] == "the kill switch was engaged"
    assert not [r for r in run.journal["checks"] if r["phase"] == "after"]


def test_an_interrupted_runs_reason_is_in_the_report(aws, time_machine, run_experiment) -> None:
    from chaos_layer.experiment import report

    steady(aws, time_machine)
    time_machine.at(4, lambda: operator(aws).stop())
    run = run_experiment(experiment_document())
    page = report.render(run.journal)
    assert "Interrupted" in page
    assert "was written by someone else during the run" in page
    assert "Interruption" in page  # its own line: the cause and the change


def journal_writes(journal: dict[str, Any]) -> list[str]:
    return [w["action"] for w in journal["writes"]]


def test_a_change_between_the_check_and_the_first_step_writes_nothing(aws, time_machine, run_experiment, proxy) -> None:
    """The first write is conditional on what the check before the start read."""
    steady(aws, time_machine)
    ssm = proxy()
    done: list[bool] = []

    def create_before_step_1(target: str, body: bytes) -> None:
        if not done and target == "AmazonSSM.DescribeParameters":
            done.append(True)
            aws.ssm.put_parameter(Name=PARAM, Value=json.dumps(THEIRS), Type="String")

    ssm.watch(create_before_step_1)
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.INTERRUPTED, 130)
    assert aws.versions() == [THEIRS]
    assert journal_writes(run.journal) == ["step 1"]
    assert run.journal["writes"][0]["version"] is None


def test_a_write_whose_answer_was_lost_is_not_taken_for_someone_elses(aws, time_machine, run_experiment, proxy) -> None:
    """The renewal at 5 s lands but its answer is lost; the SDK sends it again, and SSM stores
    it twice. Both versions hold the runner's own value: the run goes on and holds."""
    steady(aws, time_machine)
    ssm = proxy()
    time_machine.at(4, lambda: ssm.lose(lambda target, body: target == "AmazonSSM.PutParameter"))
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert (run.outcome.verdict, run.outcome.exit_code) == (Verdict.HELD, 0)
    assert run.journal["interruption"] is None
    assert aws.config()["enabled"] is False
    history = aws.versions()
    assert history[1] == history[2]  # the one renewal, stored twice


def test_a_failed_write_that_had_landed_is_still_the_runners_to_stop(aws, time_machine, run_experiment, proxy) -> None:
    """Step 2's write lands twice (the SDK's retry) but both answers are lost: an AWS error ends
    the run, and the stop still finds the runner's own write there and disables it."""
    steady(aws, time_machine)
    ssm = proxy()
    step_2 = lambda target, body: target == "AmazonSSM.PutParameter" and b"0.05" in body  # noqa: E731
    time_machine.at(9, lambda: ssm.lose(step_2, times=2))
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert run.outcome.verdict is Verdict.INTERRUPTED
    assert run.outcome.exit_code == 3  # the AWS error, not someone else's write
    assert run.journal["interruption"]["cause"] == "an error"
    assert aws.config()["enabled"] is False
    assert run.journal["stop"]["ok"] is True
