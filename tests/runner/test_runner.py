"""The run loop against moto over HTTP, on a clock that moves only when the runner sleeps:
every verdict, what is written when, and that the config is disabled in every ending."""

from __future__ import annotations

import os
import signal
from datetime import datetime
from typing import Any, ClassVar

import pytest

from chaos_layer.experiment import definition
from chaos_layer.experiment.checks import Context, Observation
from chaos_layer.experiment.journal import Verdict, instant
from tests.runner.conftest import ALARM, KILL_SWITCH, Aws, TimeMachine, experiment_document

pytestmark = pytest.mark.usefixtures("aws")


def steady(aws: Aws, time_machine: TimeMachine, value: float = 1.0) -> None:
    aws.alarm("OK")
    aws.metric(value, at=time_machine.now)


def readings(journal: dict[str, Any], phase: str | None = None) -> list[dict[str, Any]]:
    return [r for r in journal["checks"] if phase is None or r["phase"] == phase]


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# held


def test_a_run_that_holds_writes_each_step_then_disables(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.HELD
    assert run.outcome.exit_code == 0
    versions = aws.versions()
    # each step, the lease renewed at every poll within a step, then the stop
    assert [(v["enabled"], v["rate"]) for v in versions] == [
        (True, 0.01), (True, 0.01), (True, 0.05), (True, 0.05), (True, 0.05), (True, 0.05), (False, 0.05),
    ]  # fmt: skip
    # the library's config, with the file's blast radius and faults
    assert versions[0]["targets"] == {"functions": ["checkout"]}
    assert versions[0]["faults"] == [{"type": "latency", "delay_ms": 300}]
    assert run.journal["verdict"] == "held"
    assert run.journal["exit_code"] == 0
    assert "held through 2 steps (up to rate 5%)" in run.journal["reason"]


def test_every_write_expires_one_lease_ahead_and_each_poll_renews_it(aws, time_machine, run_experiment) -> None:
    """A lease of 2 x poll + 60 s, moved on at every poll: a runner that dies leaves an
    experiment that ends by itself within it, never at the end of the whole planned run."""
    steady(aws, time_machine)
    document = experiment_document(ramp=[{"rate": 0.05, "hold": "2m"}], poll="5s", steady_state=[{"alarm": ALARM}])
    run = run_experiment(document)
    assert run.outcome.verdict is Verdict.HELD
    lease = 2 * 5 + 60
    enabled = [w for w in run.journal["writes"] if w["config"]["enabled"]]
    assert len(enabled) == 2 * 60 // 5  # the step, then a renewal at every poll but the last
    for write in enabled:
        assert epoch(write["config"]["expires_at"]) == epoch(write["at"]) + lease
    assert run.journal["lease"] == lease


def test_checks_are_read_every_poll_and_once_after_the_end(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    run = run_experiment(experiment_document())
    # 10 s + 20 s of holds polled every 5 s: 2 + 4 polls, two checks each
    assert time_machine.sleeps == [5.0] * 6
    during = readings(run.journal, "during")
    assert [r["step"] for r in during[::2]] == [1, 1, 2, 2, 2, 2]
    assert {r["check"] for r in during} == {"alarm checkout-errors", "AWS/Lambda Errors Sum (FunctionName=checkout)"}
    assert len(readings(run.journal, "before")) == 2
    assert len(readings(run.journal, "after")) == 2
    metric = readings(run.journal, "before")[1]
    assert (metric["value"], metric["status"], metric["detail"]) == (1.0, "ok", "max 5")
    assert epoch(readings(run.journal, "after")[0]["at"]) >= epoch(run.journal["stop"]["at"])


def test_a_hold_shorter_than_the_poll_is_checked_at_its_end(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    run = run_experiment(experiment_document(ramp=[{"rate": 0.1, "hold": "3s"}], poll="1m"))
    assert run.outcome.verdict is Verdict.HELD
    assert time_machine.sleeps == [3.0]


def test_the_journal_keeps_the_file_the_writes_and_the_steps(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    document = experiment_document()
    run = run_experiment(document)
    journal = run.journal
    assert journal["experiment"] == "checkout-latency"
    assert journal["hypothesis"] == document["hypothesis"]
    assert journal["file"]["document"] == document
    assert [w["action"] for w in journal["writes"]] == ["step 1", "renew", "step 2", "renew", "renew", "renew", "stop"]
    assert [w["version"] for w in journal["writes"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [s["rate"] for s in journal["steps"]] == [0.01, 0.05]
    assert all(s["completed"] for s in journal["steps"])
    assert epoch(journal["started_at"]) == time_machine.start
    assert epoch(journal["ended_at"]) == time_machine.start + 30
    assert journal["stop"]["reaches_all_by"] == instant(time_machine.start + 30 + 5)


# rejected


def test_an_alarm_breach_stops_at_once(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(14, lambda: aws.alarm("ALARM"))
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.REJECTED
    assert run.outcome.exit_code == 5
    # the breach was seen at the poll of 15 s; nothing waited for the step to end
    assert time_machine.now == time_machine.start + 15
    breach = run.journal["breach"]
    assert (breach["check"], breach["value"], breach["status"], breach["step"]) == (
        "alarm checkout-errors", "ALARM", "breach", 2,
    )  # fmt: skip
    assert epoch(breach["at"]) == time_machine.start + 15
    assert epoch(run.journal["stop"]["at"]) == time_machine.start + 15
    assert aws.config()["enabled"] is False
    assert aws.kill_switch() is None  # on_breach: stop leaves the kill switch alone
    assert not readings(run.journal, "after")  # a rejected run is not judged again
    assert "alarm checkout-errors was ALARM at step 2 (rate 5%)" in run.outcome.reason
    assert "stops injecting by" in run.lines.text


def test_a_metric_above_max_breaches_with_its_value(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(5, lambda: aws.metric(7, at=time_machine.now))
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.REJECTED
    breach = run.journal["breach"]
    assert (breach["check"], breach["value"], breach["detail"], breach["step"]) == (
        "AWS/Lambda Errors Sum (FunctionName=checkout)", 7.0, "max 5", 1,
    )  # fmt: skip
    assert aws.config()["enabled"] is False
    assert "was 7 (max 5) at step 1 (rate 1%)" in run.outcome.reason


def test_a_metric_below_min_breaches(aws, time_machine, run_experiment) -> None:
    aws.alarm("OK")
    aws.metric(100, at=time_machine.now)
    document = experiment_document(steady_state=[{"metric": {**experiment_document()["steady_state"][1]["metric"],
                                                             "statistic": "Average"}, "min": 50}])  # fmt: skip
    time_machine.at(20, lambda: aws.metric(10, at=time_machine.now))
    run = run_experiment(document)
    assert run.outcome.verdict is Verdict.REJECTED
    assert run.journal["breach"]["value"] == 10.0
    assert run.journal["breach"]["detail"] == "min 50"


def test_on_breach_kill_also_engages_the_kill_switch(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(5, lambda: aws.alarm("ALARM"))
    run = run_experiment(experiment_document(on_breach="kill"))
    assert run.outcome.exit_code == 5
    assert aws.config()["enabled"] is False
    assert aws.kill_switch() == "on"
    assert [w["action"] for w in run.journal["writes"]] == ["step 1", "stop", "kill"]
    assert run.journal["stop"]["kill_switch_engaged"] is True
    assert "It stays engaged" in run.lines.text


def test_missing_data_during_the_run_is_not_a_pass(aws, time_machine, run_experiment) -> None:
    """The only datapoint ages out of the window: the runner cannot see the steady state."""
    steady(aws, time_machine)
    document = experiment_document(ramp=[{"rate": 0.05, "hold": "10m"}], poll="1m")
    run = run_experiment(document)
    assert run.outcome.verdict is Verdict.REJECTED
    breach = run.journal["breach"]
    assert (breach["status"], breach["value"]) == ("no_data", None)
    assert breach["detail"] == "no datapoint in the last 5m"
    # the datapoint was read for 5 minutes, and missed at the first poll after that
    assert time_machine.now == time_machine.start + 6 * 60
    assert aws.config()["enabled"] is False
    assert "had no data (no datapoint in the last 5m)" in run.outcome.reason


def test_an_alarm_without_data_during_the_run_stops_it(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(5, lambda: aws.alarm("INSUFFICIENT_DATA"))
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.REJECTED
    assert run.journal["breach"]["status"] == "no_data"
    assert run.journal["breach"]["detail"] == "the alarm is INSUFFICIENT_DATA"


def test_a_breach_after_the_end_rejects(aws, time_machine, run_experiment, proxy) -> None:
    steady(aws, time_machine)
    ssm = proxy()

    def alarm_when_stopped(target: str, body: bytes) -> None:
        if target == "AmazonSSM.PutParameter" and b'\\"enabled\\": false' in body:
            aws.alarm("ALARM")

    ssm.watch(alarm_when_stopped)
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert run.outcome.verdict is Verdict.REJECTED
    assert run.journal["breach"]["phase"] == "after"
    assert "after the end" in run.outcome.reason
    assert all(step["completed"] for step in run.journal["steps"])
    assert aws.config()["enabled"] is False


# aborted


@pytest.mark.parametrize(
    ("state", "value", "status"),
    [("ALARM", "ALARM", "breach"), ("INSUFFICIENT_DATA", "INSUFFICIENT_DATA", "no_data")],
)
def test_no_start_unless_the_steady_state_holds(aws, time_machine, run_experiment, state, value, status) -> None:
    aws.alarm(state)
    aws.metric(1, at=time_machine.now)
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.ABORTED
    assert run.outcome.exit_code == 6
    assert aws.versions() == []  # nothing written
    assert run.journal["writes"] == []
    assert run.journal["steps"] == []
    before = readings(run.journal, "before")
    assert [(r["value"], r["status"]) for r in before] == [(value, status), (1.0, "ok")]  # every check read
    assert "nothing was written" in run.outcome.reason


def test_a_missing_alarm_or_metric_aborts(aws, time_machine, run_experiment) -> None:
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.ABORTED
    assert [(r["status"], r["detail"]) for r in readings(run.journal, "before")] == [
        ("no_data", "the alarm does not exist"),
        ("no_data", "no datapoint in the last 5m"),
    ]
    assert aws.versions() == []


def test_an_engaged_kill_switch_is_refused_before_anything_is_written(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    aws.ssm.put_parameter(Name=KILL_SWITCH, Value="on", Type="String")
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.ABORTED
    assert run.outcome.exit_code == 2
    assert "kill switch /chaos-layer/kill-switch is engaged" in run.journal["error"]
    assert aws.versions() == []


def test_a_running_experiment_is_not_overwritten(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    other = {"enabled": True, "experiment": "someone-else", "faults": [{"type": "exception"}]}
    aws.ssm.put_parameter(Name="/chaos-layer/checkout", Value=__import__("json").dumps(other), Type="String")
    run = run_experiment(experiment_document())
    assert run.outcome.exit_code == 2
    assert "an experiment ('someone-else') is already running" in run.outcome.reason
    assert aws.config() == other


# errors and interrupts: the config is disabled whatever happens


def test_an_aws_error_mid_run_stops_the_experiment(aws, time_machine, run_experiment, proxy) -> None:
    steady(aws, time_machine)
    cloudwatch = proxy()
    time_machine.at(12, cloudwatch.down)
    run = run_experiment(experiment_document(), cloudwatch=cloudwatch.client("cloudwatch"))
    assert run.outcome.verdict is Verdict.INTERRUPTED
    assert run.outcome.exit_code == 3
    assert "could not reach CloudWatch" in str(run.outcome.error)
    assert aws.config()["enabled"] is False
    assert run.journal["stop"]["ok"] is True
    assert run.journal["verdict"] == "interrupted"  # the verdicts of docs/experiments.md; `error` says which error
    assert "could not reach CloudWatch" in run.journal["error"]


def test_a_stop_that_cannot_be_written_is_retried_and_reported(aws, time_machine, run_experiment, proxy) -> None:
    steady(aws, time_machine)
    ssm = proxy()
    time_machine.at(7, ssm.down)  # the poll at 10 s cannot read the kill switch, and every stop fails
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert run.outcome.exit_code == 3
    assert [w["action"] for w in run.journal["writes"]] == ["step 1", "renew", "stop", "stop", "stop"]
    assert all("could not reach AWS" in w["error"] for w in run.journal["writes"][2:])
    assert run.journal["stop"]["ok"] is False
    # the config expires by itself within the lease of the last write, and the runner says how to stop it now
    assert aws.config()["enabled"] is True
    assert epoch(aws.config()["expires_at"]) == time_machine.start + 5 + 2 * 5 + definition.LEASE_MARGIN
    assert "chaos-layer stop --param /chaos-layer/checkout" in run.lines.text


def test_sigterm_stops_the_experiment(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(12, lambda: os.kill(os.getpid(), signal.SIGTERM))
    run = run_experiment(experiment_document())
    assert run.outcome.verdict is Verdict.INTERRUPTED
    assert run.outcome.exit_code == 130
    assert aws.config()["enabled"] is False
    assert "Interrupted by SIGTERM at step 2 (rate 5%)" in run.outcome.reason
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back


def test_ctrl_c_stops_the_experiment(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    time_machine.at(3, lambda: os.kill(os.getpid(), signal.SIGINT))
    run = run_experiment(experiment_document())
    assert run.outcome.exit_code == 130
    assert "Interrupted by SIGINT at step 1" in run.outcome.reason
    assert aws.config()["enabled"] is False


def test_a_second_ctrl_c_cannot_break_off_the_stop(aws, time_machine, run_experiment, proxy) -> None:
    """The second Ctrl-C arrives while the stop is being written, and is ignored."""
    steady(aws, time_machine)
    ssm = proxy()

    def interrupt_the_stop(target: str, body: bytes) -> None:
        if target == "AmazonSSM.PutParameter" and b'\\"enabled\\": false' in body:
            os.kill(os.getpid(), signal.SIGINT)

    ssm.watch(interrupt_the_stop)
    time_machine.at(3, lambda: os.kill(os.getpid(), signal.SIGINT))
    run = run_experiment(experiment_document(), ssm=ssm.client("ssm"))
    assert run.outcome.exit_code == 130
    assert aws.config()["enabled"] is False
    assert run.journal["stop"]["ok"] is True


class Broken:
    kind: ClassVar[str] = "broken"
    name = "broken check"

    def __init__(self) -> None:
        self.reads = 0

    def read(self, context: Context) -> Observation:
        self.reads += 1
        if self.reads > 1:
            raise RuntimeError("bug in a check")
        from chaos_layer.experiment.checks import Judgement

        return Observation(self.name, self.kind, Judgement.OK, 1.0, context.now)

    def definition(self) -> dict[str, Any]:
        return {"check": self.name, "kind": self.kind}


def test_a_crash_in_a_check_stops_the_experiment(aws, time_machine, run_experiment) -> None:
    steady(aws, time_machine)
    parsed = definition.parse_experiment(experiment_document())
    experiment = definition.Experiment(**{**parsed.__dict__, "checks": (Broken(),)})
    run = run_experiment(experiment_document(), experiment=experiment)
    assert isinstance(run.outcome.crash, RuntimeError)
    assert run.outcome.exit_code == 1
    assert aws.config()["enabled"] is False
    assert run.journal["error"] == "RuntimeError: bug in a check"
    assert run.journal["verdict"] == "interrupted"


def test_the_journal_is_written_as_the_run_goes(aws, time_machine, run_experiment, tmp_path) -> None:
    """What a crash would leave: the journal on disk at the moment of the second poll."""
    steady(aws, time_machine)
    seen: dict[str, Any] = {}
    path = tmp_path / "journal.json"
    time_machine.at(10, lambda: seen.update(__import__("json").loads(path.read_text())))
    run_experiment(experiment_document())
    assert seen["verdict"] is None
    assert [w["action"] for w in seen["writes"]] == ["step 1", "renew"]
    assert len(seen["checks"]) == 2 + 2  # before the start, and the first poll
