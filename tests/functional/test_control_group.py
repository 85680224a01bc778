"""Control groups through the decorator, read from the EMF records it writes to stdout (what
CloudWatch turns into metrics): the groups' sizes over many invocations, cohort groups, the
records at each invocation's start and end, and `Errors` and `Duration` as the caller sees
them, on an injectable clock and sleep."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any

import boto3
import pytest
from awslambdaric.lambda_context import LambdaContext
from moto import mock_aws

from chaos_layer import InjectedFault, control_group, inject_fault
from chaos_layer.blast_radius import COHORT_BUCKETS, cohort_bucket
from tests.conftest import REGION, FakeClock, FakeLambdaContext
from tests.sample_events import load as load_event

PARAM = "/chaos-layer/checkout"
HTTP_EVENT = load_event("apigateway-http-v2")
SQS_EVENT = load_event("sqs")
DURABLE_EVENT = load_event("durable-execution")


@pytest.fixture
def put_config() -> Iterator[Callable[..., None]]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)

        def put(faults: list[dict[str, Any]], **keys: Any) -> None:
            document = {"enabled": True, "experiment": "checkout", "control_group": True, **keys, "faults": faults}
            client.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)

        yield put


class Stdout:
    """stdout as Lambda's log stream, where the EMF records land: every line written so far."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.lines: list[str] = []

    def read(self) -> list[str]:
        self.lines += self.capsys.readouterr().out.splitlines()
        return self.lines

    def clear(self) -> None:
        self.read()
        self.lines = []


@pytest.fixture
def stdout(capsys: pytest.CaptureFixture[str]) -> Stdout:
    return Stdout(capsys)


def records(stdout: Stdout, metric: str = "Invocations", since: int = 0) -> list[dict[str, Any]]:
    """The EMF records with `metric` among the lines from `since` on."""
    lines = [json.loads(line) for line in stdout.read()[since:] if line.startswith("{")]
    return [r for r in lines if any(m["Name"] == metric for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"])]


class Fixed(Random):
    """Every draw gives `value`: below the rate the treatment, above it the control."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


TREATMENT_DRAW, CONTROL_DRAW = Fixed(0.1), Fixed(0.7)  # with rate 0.5


@dataclass
class Lambda:
    """A handler that takes `work_ms` on the clock, with a deadline its context reports."""

    clock: FakeClock = field(default_factory=FakeClock)
    timeout_ms: float = 3000
    work_ms: float = 20
    response: Any = field(default_factory=lambda: {"statusCode": 200, "body": "ok"})
    raises: Exception | None = None
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] = lambda: None
    runs: int = 0

    def handler(self, event: Any, context: Any) -> Any:
        self.runs += 1
        self.clock.advance(self.work_ms / 1000)
        if self.raises is not None:
            raise self.raises
        return self.response

    def sleep(self, seconds: float) -> None:
        self.on_sleep()
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def decorated(self, random: Random) -> Callable[..., Any]:
        return inject_fault(parameter=PARAM, clock=self.clock, sleep=self.sleep, random=random)(self.handler)

    def context(self) -> FakeLambdaContext:
        deadline = self.clock.now + self.timeout_ms / 1000
        clock = self.clock

        class Context(FakeLambdaContext):
            def get_remaining_time_in_millis(self) -> int:
                return max(0, int((deadline - clock.now) * 1000))

        return Context(function_name="checkout")


def within(count: int, trials: int, probability: float, sigmas: float = 5.0) -> bool:
    return abs(count - trials * probability) <= sigmas * math.sqrt(trials * probability * (1 - probability))


# the split, over many invocations


def test_the_groups_have_the_expected_size_and_never_overlap(put_config, stdout) -> None:
    put_config([{"type": "exception"}], rate=0.1)
    function = Lambda(work_ms=0)
    handler = function.decorated(Random(2026))
    outcomes = []
    for _ in range(5000):
        before = len(stdout.read())
        try:
            handler({}, None)
            raised = False
        except InjectedFault:
            raised = True
        written = records(stdout, since=before)
        assert len(written) <= 1  # one record per invocation, in one group at most
        outcomes.append((raised, written[0]["group"] if written else None))
    counts = Counter(outcomes)
    assert set(counts) == {(True, "treatment"), (False, "control"), (False, None)}
    assert within(counts[True, "treatment"], 5000, 0.1)
    assert within(counts[False, "control"], 5000, 0.1)
    assert function.runs == 5000 - counts[True, "treatment"]  # the control's handler always ran


def test_cohort_groups_are_sticky_and_disjoint(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 50}], cohort={"key": "user", "percent": 10, "salt": "gd"})
    function = Lambda(work_ms=0)
    handler = function.decorated(Random(1))
    members = [f"u{index}" for index in range(3000)]
    groups: dict[str, set[str]] = {}
    for _ in range(3):
        for member in members:
            before = len(stdout.read())
            handler({"user": member}, None)
            for record in records(stdout, since=before):
                groups.setdefault(member, set()).add(record["group"])
    assert all(len(seen) == 1 for seen in groups.values())  # sticky: every invocation of a member alike
    treatment = {m for m, seen in groups.items() if seen == {"treatment"}}
    control = {m for m, seen in groups.items() if seen == {"control"}}
    assert within(len(treatment), 3000, 0.1)
    assert within(len(control), 3000, 0.1)
    for member in treatment | control:
        percent = cohort_bucket("gd", member) / COHORT_BUCKETS * 100
        assert (percent < 10) if member in treatment else (50 <= percent < 60)
    assert sum(function.sleeps) == pytest.approx(3 * len(treatment) * 0.05)  # the treatment's latency only


def test_a_cohort_by_tenant_assigns_each_tenant_one_group(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 50}], cohort={"key": "context.tenant_id", "percent": 20, "salt": "t"})
    function = Lambda(work_ms=0)
    handler = function.decorated(Random(1))
    groups: dict[str | None, set[str]] = {}
    for tenant in [f"tenant-{index}" for index in range(300)] + [None]:
        context = LambdaContext("req-1", None, None, 1_900_000_000_000, None, tenant_id=tenant)
        for _ in range(2):
            before = len(stdout.read())
            handler({}, context)
            groups.setdefault(tenant, set()).update(r["group"] for r in records(stdout, since=before))
    assert groups.pop(None) == set()  # no tenant: in neither group
    for tenant, seen in groups.items():
        percent = cohort_bucket("t", str(tenant)) / COHORT_BUCKETS * 100
        expected = {"treatment"} if percent < 20 else {"control"} if 50 <= percent < 70 else set()
        assert seen == expected
    assert within(sum(seen == {"treatment"} for seen in groups.values()), 300, 0.2)


# Errors and Duration, as the caller sees them


def one_record(stdout: Stdout) -> dict[str, Any]:
    """The one invocation's two records, its start's and its end's, read as one."""
    (start,) = records(stdout, "Invocations")
    (end,) = records(stdout, "Completed")
    for record, metrics in (
        (start, [{"Name": "Invocations", "Unit": "Count"}]),
        (
            end,
            [
                {"Name": "Completed", "Unit": "Count"},
                {"Name": "Errors", "Unit": "Count"},
                {"Name": "Duration", "Unit": "Milliseconds"},
            ],
        ),
    ):
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ChaosLayer"
        assert directive["Dimensions"] == [["experiment", "group"]]
        assert directive["Metrics"] == metrics
        assert record["experiment"] == "checkout"
    assert start["group"] == end["group"]
    assert start["_aws"]["Timestamp"] == end["_aws"]["Timestamp"]  # filed in the same period
    assert (start["Invocations"], end["Completed"]) == ([1.0], [1.0])
    return {**start, **end}


@pytest.mark.parametrize(
    ("fault", "event", "draw", "errors", "duration"),
    [
        pytest.param({"type": "exception"}, {}, TREATMENT_DRAW, 1, 0, id="injected exception"),
        pytest.param(
            {"type": "exception", "prevent_execution": False}, {}, TREATMENT_DRAW, 1, 20, id="exception after the work"
        ),
        pytest.param({"type": "status_code", "status_code": 503}, HTTP_EVENT, TREATMENT_DRAW, 1, 0, id="injected 503"),
        pytest.param(
            {"type": "status_code", "status_code": 503, "prevent_execution": False},
            HTTP_EVENT,
            TREATMENT_DRAW,
            1,
            20,
            id="503 replacing the handler's 200",
        ),
        pytest.param({"type": "status_code", "status_code": 404}, HTTP_EVENT, TREATMENT_DRAW, 0, 0, id="injected 404"),
        pytest.param(
            {"type": "status_code", "status_code": 503}, SQS_EVENT, TREATMENT_DRAW, 0, 20, id="503 not for SQS"
        ),
        pytest.param({"type": "latency", "delay_ms": 300}, {}, TREATMENT_DRAW, 0, 320, id="injected latency"),
        pytest.param({"type": "latency", "delay_ms": 300}, {}, CONTROL_DRAW, 0, 20, id="control: normal response"),
        pytest.param({"type": "exception"}, HTTP_EVENT, CONTROL_DRAW, 0, 20, id="control: nothing injected"),
    ],
)
def test_errors_and_duration_as_the_caller_sees_them(
    put_config, stdout, fault: dict[str, Any], event: Any, draw: Random, errors: int, duration: float
) -> None:
    put_config([fault], rate=0.5)
    function = Lambda()
    handler = function.decorated(draw)
    with contextlib.suppress(InjectedFault):
        handler(event, function.context())
    record = one_record(stdout)
    assert record["group"] == ("treatment" if draw is TREATMENT_DRAW else "control")
    assert record["Errors"] == [float(errors)]
    assert record["Duration"] == [pytest.approx(duration)]


@pytest.mark.parametrize(
    ("event", "response", "raises", "errors"),
    [
        pytest.param(HTTP_EVENT, {"statusCode": 503, "body": "busy"}, None, 1, id="its own 503 on HTTP"),
        pytest.param(HTTP_EVENT, {"statusCode": "500"}, None, 1, id="a status as a string"),
        pytest.param(HTTP_EVENT, {"statusCode": 499}, None, 0, id="a 499"),
        pytest.param(HTTP_EVENT, {"statusCode": "\u00b2"}, None, 0, id="a superscript digit"),
        pytest.param(HTTP_EVENT, {"statusCode": "\u0665\u0660\u0663"}, None, 0, id="arabic-indic digits"),
        pytest.param(HTTP_EVENT, {"statusCode": "9" * 5000}, None, 0, id="digits past int's limit"),
        pytest.param(SQS_EVENT, {"statusCode": 503}, None, 0, id="a statusCode that is data, not HTTP"),
        pytest.param({}, None, ValueError("bug"), 1, id="its own exception"),
    ],
)
def test_the_handlers_own_failures_count_in_either_group(
    put_config, stdout, event: Any, response: Any, raises: Exception | None, errors: int
) -> None:
    put_config([{"type": "latency", "delay_ms": 100}], rate=0.5)
    for draw, group, duration in ((TREATMENT_DRAW, "treatment", 120), (CONTROL_DRAW, "control", 20)):
        function = Lambda(response=response, raises=raises)
        handler = function.decorated(draw)
        stdout.clear()
        if raises is not None:
            with pytest.raises(ValueError, match="bug"):  # the handler's own exception reaches its caller, unchanged
                handler(event, function.context())
        else:
            assert handler(event, function.context()) == response
        record = one_record(stdout)
        assert (record["group"], record["Errors"]) == (group, [float(errors)])
        assert record["Duration"] == [pytest.approx(duration)]


# the start's record comes first: an invocation that Lambda ends still counts


class LambdaEnded(BaseException):
    """What the test's handler or sleep raises where Lambda would end the invocation (its
    timeout): nothing after it runs, as nothing runs in a process that Lambda stops."""


def test_both_records_carry_the_invocations_start(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 800}], rate=0.5)
    function = Lambda(work_ms=300)
    started = function.clock.now
    function.decorated(TREATMENT_DRAW)({}, function.context())
    assert function.clock.now == started + 1.1
    record = one_record(stdout)  # the same timestamp on both, as it checks
    assert record["_aws"]["Timestamp"] == int(started * 1000)
    assert record["Duration"] == [pytest.approx(1100)]


def test_an_invocation_pushed_past_the_timeout_counts_as_started_and_never_completed(put_config, stdout) -> None:
    """Latency that fits the deadline, a handler that then runs past it: Lambda ends the
    invocation, and its group still has it, as a failure (Invocations - Completed)."""
    put_config([{"type": "latency", "delay_ms": 800}], rate=0.5)
    function = Lambda(timeout_ms=1000, work_ms=300)
    context = function.context()
    deadline = function.clock.now + 1.0

    def work(event: Any, context: Any) -> Any:
        function.clock.advance(0.3)
        if function.clock.now > deadline:
            raise LambdaEnded
        return {"statusCode": 200}

    function.handler = work  # type: ignore[method-assign]
    handler = function.decorated(TREATMENT_DRAW)
    with pytest.raises(LambdaEnded):
        handler({}, context)
    (start,) = records(stdout, "Invocations")
    assert (start["group"], start["Invocations"]) == ("treatment", [1.0])
    assert records(stdout, "Completed") == []


def test_an_injected_timeout_is_recorded_as_started_before_its_wait(put_config, stdout) -> None:
    put_config([{"type": "timeout"}], rate=0.5)
    function = Lambda(timeout_ms=3000)
    seen_at_sleep: list[tuple[int, int]] = []
    function.on_sleep = lambda: seen_at_sleep.append(
        (len(records(stdout, "Invocations")), len(records(stdout, "Completed")))
    )
    handler = function.decorated(TREATMENT_DRAW)
    context = function.context()
    function.clock.advance(0.5)  # 500 ms of the invocation gone before the handler is called
    with pytest.raises(TimeoutError):  # the test's sleep comes back; Lambda's would not
        handler({}, context)
    assert seen_at_sleep == [(1, 0)]
    record = one_record(stdout)
    assert (record["group"], record["Errors"]) == ("treatment", [1.0])


def test_latency_that_lambda_ends_leaves_the_start_alone(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 5000}], rate=0.5)
    function = Lambda(timeout_ms=3000)

    def ended() -> None:
        raise LambdaEnded

    function.on_sleep = ended
    with pytest.raises(LambdaEnded):
        function.decorated(TREATMENT_DRAW)({}, function.context())
    assert len(records(stdout, "Invocations")) == 1
    assert records(stdout, "Completed") == []


def test_latency_within_the_deadline_is_recorded_at_both_ends(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 2900}], rate=0.5)
    function = Lambda(timeout_ms=3000, work_ms=50)
    seen_at_sleep: list[tuple[int, int]] = []
    function.on_sleep = lambda: seen_at_sleep.append(
        (len(records(stdout, "Invocations")), len(records(stdout, "Completed")))
    )
    handler = function.decorated(TREATMENT_DRAW)
    handler({}, function.context())
    assert seen_at_sleep == [(1, 0)]
    record = one_record(stdout)
    assert (record["Errors"], record["Duration"]) == ([0.0], [pytest.approx(2950)])


def test_a_control_invocation_that_lambda_ends_counts_too(put_config, stdout) -> None:
    put_config([{"type": "exception"}], rate=0.5)
    function = Lambda()

    def crashed(event: Any, context: Any) -> Any:
        raise LambdaEnded  # out of memory, say: the runtime goes, and with it the end's record

    function.handler = crashed  # type: ignore[method-assign]
    with pytest.raises(LambdaEnded):
        function.decorated(CONTROL_DRAW)({}, function.context())
    (start,) = records(stdout, "Invocations")
    assert start["group"] == "control"
    assert records(stdout, "Completed") == []


def test_without_a_context_a_timeout_is_recorded_when_it_raises(put_config, stdout) -> None:
    put_config([{"type": "timeout", "fallback_ms": 1500}], rate=0.5)
    function = Lambda()
    with pytest.raises(TimeoutError):
        function.decorated(TREATMENT_DRAW)({}, None)
    record = one_record(stdout)
    assert (record["Errors"], record["Duration"]) == ([1.0], [pytest.approx(1500)])


# what else is written


def test_a_control_invocation_writes_its_record_and_nothing_else(
    put_config, stdout, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chaos_layer")
    put_config([{"type": "exception"}], rate=0.5)
    function = Lambda()
    function.decorated(CONTROL_DRAW)({}, function.context())
    assert [r for r in caplog.records if r.name.startswith("chaos_layer")] == []
    assert len(stdout.read()) == 2  # its start's record and its end's
    assert one_record(stdout)["group"] == "control"


def test_a_treatment_invocation_also_reports_its_fault(put_config, stdout, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="chaos_layer")
    put_config([{"type": "exception"}], rate=0.5)
    function = Lambda()
    with pytest.raises(InjectedFault):
        function.decorated(TREATMENT_DRAW)({}, function.context())
    assert [json.loads(r.getMessage())["fault"] for r in caplog.records] == ["exception"]
    assert len(records(stdout, "InjectedFaults")) == 1
    assert one_record(stdout)["group"] == "treatment"


def test_a_dry_run_records_both_groups_and_injects_nothing(
    put_config, stdout, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="chaos_layer")
    put_config([{"type": "exception"}], rate=0.5, dry_run=True)
    for draw, group in ((TREATMENT_DRAW, "treatment"), (CONTROL_DRAW, "control")):
        function = Lambda()
        stdout.clear()
        assert function.decorated(draw)({}, function.context()) == {"statusCode": 200, "body": "ok"}
        assert function.runs == 1
        record = one_record(stdout)
        assert (record["group"], record["Errors"], record["dry_run"]) == (group, [0.0], True)
        assert [r.get("dry_run") for r in records(stdout, "Invocations")] == [True]
    (would,) = [json.loads(r.getMessage()) for r in caplog.records]
    assert (would["fault"], would["dry_run"]) == ("exception", True)  # the treatment's draw, reported


def test_the_namespace_comes_from_the_environment(put_config, stdout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOS_LAYER_METRICS_NAMESPACE", "Team/Chaos")
    put_config([{"type": "latency", "delay_ms": 1}], rate=0.5)
    Lambda().decorated(CONTROL_DRAW)({}, None)
    (record,) = records(stdout)
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Team/Chaos"


def test_without_a_control_group_nothing_is_recorded(put_config, stdout) -> None:
    put_config([{"type": "latency", "delay_ms": 1}], rate=0.5, control_group=False)
    handler = Lambda().decorated(Random(4))
    for _ in range(200):
        handler({}, None)
    assert records(stdout) == []
    assert len(records(stdout, "InjectedFaults")) > 50


def durable_first_invocation(index: int) -> dict[str, Any]:
    """The service's envelope for a new execution: nothing checkpointed but its input."""
    event: dict[str, Any] = copy.deepcopy(DURABLE_EVENT)
    event["DurableExecutionArn"] = f"{event['DurableExecutionArn']}-{index}"
    state = event["InitialExecutionState"]
    state["Operations"] = state["Operations"][:1]
    return event


def test_durable_executions_take_no_part(put_config, stdout) -> None:
    """Their invocations replay one execution: selected as without a control group (the
    treatment's share, faults and all) and never recorded in either group."""
    put_config([{"type": "latency", "delay_ms": 10}], rate=0.25)
    function = Lambda(work_ms=0)
    handler = function.decorated(Random(8))
    for index in range(2000):
        handler(durable_first_invocation(index), FakeLambdaContext(function_name="payments"))
    assert records(stdout) == []
    assert within(len(function.sleeps), 2000, 0.25)
    assert len(records(stdout, "InjectedFaults")) == len(function.sleeps)


def test_a_record_that_cannot_be_written_costs_the_invocation_nothing(
    put_config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("stdout closed")

    monkeypatch.setattr(sys, "stdout", Broken())
    monkeypatch.setattr(control_group, "_warned", False)
    put_config([{"type": "latency", "delay_ms": 1}], rate=0.5)
    function = Lambda()
    handler = function.decorated(CONTROL_DRAW)
    for _ in range(3):
        assert handler({}, None) == {"statusCode": 200, "body": "ok"}
    warnings = [r for r in caplog.records if "control-group record" in r.getMessage()]
    assert len(warnings) == 1
