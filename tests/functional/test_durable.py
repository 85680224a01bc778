"""Durable functions, run by the AWS Durable Execution SDK's own local test runner, which
replays them as Lambda does: every invocation runs the handler from the top, a wait or a
step retry ends one invocation and the next replays the checkpoints.

chaos-layer is tested in both places a function can have it: outside (`@inject_fault`
above `@durable_execution`, the event being the service's envelope), also as zero-code mode
serves it, and inside (below it, the handler getting a DurableContext). The SDK's own calls
to the durable execution API are tested with its botocore client against a loopback
endpoint, since the runner's in-memory service makes no botocore call.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

pytest.importorskip(
    "aws_durable_execution_sdk_python_testing",
    reason="the AWS Durable Execution SDK and its test runner need Python 3.11 or newer (make venv installs them)",
)

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, ParallelConfig, StepConfig
from aws_durable_execution_sdk_python.lambda_service import LambdaClient
from aws_durable_execution_sdk_python.retries import (
    RetryPresets,
    RetryStrategyConfig,
    create_retry_strategy,
)
from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner
from aws_durable_execution_sdk_python_testing.executor import Executor

from chaos_layer import inject_fault
from chaos_layer.faults import _dependency
from chaos_layer.source import cache
from tests.conftest import REGION, FakeClock, FakeLambdaContext
from tests.docs import pages
from tests.functional.zero_code import zero_code_app

PARAM = "/chaos-layer/durable"
FLAG = "/app/flag"
NON_DETERMINISTIC = "NonDeterministicExecutionError"
MODES = ["outside", "inside"]
# A step retry strategy that outlasts faults at rate 0.7 (0.7**40 < 1e-6); the runner skips its delays.
PATIENT = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=40, initial_delay=Duration.from_seconds(1), max_delay=Duration.from_seconds(1))
    )
)
NO_RETRY = StepConfig(retry_strategy=RetryPresets.none())


# --- the AWS the workflows call ------------------------------------------------------------

_clients: dict[str, Any] = {}


def ssm() -> Any:
    """The workflows' own SSM client (moto, in process)."""
    return _clients["ssm"]


def flag() -> str:
    return str(ssm().get_parameter(Name=FLAG)["Parameter"]["Value"])


def path() -> str:
    """Orchestration code that branches on an AWS call: a replay that drew another answer
    than the first run would take another path, and the SDK would fail the execution."""
    try:
        flag()
    except ClientError:
        return "throttled"
    return "normal"


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)
        client.put_parameter(Name=FLAG, Value="on", Type="String")
        _clients["ssm"] = client
        yield client
    _clients.clear()


@pytest.fixture
def put(aws: Any) -> Callable[[dict[str, Any]], None]:
    def put(document: dict[str, Any]) -> None:
        aws.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)

    return put


@pytest.fixture(autouse=True)
def _no_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner retries a failed invocation after 5 real seconds; these tests need no wait."""
    monkeypatch.setattr(Executor, "RETRY_BACKOFF_SECONDS", 0)


@pytest.fixture(autouse=True)
def unhurried_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about replays, steps and checkpoints, not the read deadline (tested in
    test_fail_safe.py): a busy machine must not make a first read outrun its 2 s and leave a run
    without its faults."""
    monkeypatch.setattr(cache, "READ_DEADLINE", 30.0)


@dataclass
class Sleeps:
    """The decorator's `sleep=`: records, never sleeps (thread-safe: executions run concurrently)."""

    calls: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.calls.append(seconds)


def build(
    mode: str, body: Callable[..., Any], sleeps: Callable[[float], None] | None = None, **options: Any
) -> Callable[..., Any]:
    """`body` as a durable function with chaos-layer outside or inside."""
    decorate = inject_fault(parameter=PARAM, max_age=0, sleep=sleeps or Sleeps(), **options)
    if mode == "outside":
        return decorate(durable_execution(body))
    return durable_execution(decorate(body))


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The injection records chaos-layer logged."""
    caplog.set_level(logging.WARNING, logger="chaos_layer")

    def injected() -> list[dict[str, Any]]:
        found = []
        for record in caplog.records:
            if record.name == "chaos_layer" and record.getMessage().startswith("{"):
                found.append(json.loads(record.getMessage()))
        return found

    return injected


@pytest.fixture
def problems(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """chaos-layer's warnings other than injection records (an unexpected error, say)."""
    caplog.set_level(logging.WARNING, logger="chaos_layer")
    return lambda: [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("chaos_layer") and not r.getMessage().startswith("{")
    ]


def run_all(runner: DurableFunctionTestRunner, inputs: list[dict[str, Any]], **options: Any) -> list[Any]:
    arns = [runner.run_async(input=json.dumps(item), execution_timeout=120, **options) for item in inputs]
    return [runner.wait_for_result(arn, timeout=120) for arn in arns]


def error_type(result: Any) -> str | None:
    return None if result.error is None else str(result.error.type)


# --- the workflow of the determinism tests ---------------------------------------------------


def checkout(event: Any, ctx: DurableContext) -> dict[str, Any]:
    """Branches on AWS calls before and after its steps, and waits for an approval."""
    first = path()
    reserved = ctx.step(lambda sc: (sc.attempt, flag()), name=f"reserve-{first}", config=PATIENT)
    ctx.create_callback(name="approval").result()
    second = path()
    charged = ctx.step(lambda sc: (sc.attempt, flag()), name=f"charge-{second}", config=PATIENT)
    return {"paths": [first, second], "attempts": [reserved[0], charged[0]]}


@pytest.fixture
def zero_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Callable[..., Any]]]:
    """chaos_layer.wrapper.handler serving a durable function that does not import chaos-layer."""
    app = """
        from aws_durable_execution_sdk_python import durable_execution
        from tests.functional.test_durable import checkout

        handler = durable_execution(checkout)
        """
    with zero_code_app(tmp_path, monkeypatch, "durable_app", app, PARAM) as serve:
        yield serve


@pytest.mark.parametrize("mode", [*MODES, "zero-code"])
def test_no_replay_takes_another_path_under_faults_and_a_config_changed_while_executions_wait(
    mode: str,
    put: Callable[[dict[str, Any]], None],
    zero_code: Callable[[], Callable[..., Any]],
    problems: Callable[[], list[str]],
) -> None:
    """Calls in orchestration code and in steps under a dependency fault, with invocation
    faults too, and a config that turns harsher while every execution waits for its
    approval: no execution fails its determinism check or takes the throttled path."""
    sleeps = Sleeps()
    dependency = {"type": "dependency", "services": ["ssm"], "operations": ["GetParameter"]}
    put(
        {
            "enabled": True,
            "experiment": "durable-before",
            "faults": [
                {**dependency, "error": "ThrottlingException", "rate": 0.5},
                {"type": "latency", "delay_ms": 1, "rate": 0.5},
            ],
        }
    )
    handler = zero_code() if mode == "zero-code" else build(mode, checkout, sleeps)
    count = 12
    with DurableFunctionTestRunner(handler=handler, poll_interval=0.01) as runner:
        arns = [runner.run_async(input=json.dumps({"order": n}), execution_timeout=120) for n in range(count)]
        callbacks = [runner.wait_for_callback(arn, name="approval", timeout=60) for arn in arns]
        # Every execution waits: the operator turns the experiment harsher, with faults on
        # the invocation that a replay must never get.
        put(
            {
                "enabled": True,
                "experiment": "durable-after",
                "faults": [
                    {**dependency, "error": "ThrottlingException", "rate": 0.7},
                    {"type": "latency", "delay_ms": 1},
                    {"type": "exception", "exception": "RuntimeError"},
                ],
            }
        )
        for callback in callbacks:
            runner.send_callback_success(callback, result=b'"approved"')
        results = [runner.wait_for_result(arn, timeout=120) for arn in arns]

    assert [(r.status.value, error_type(r)) for r in results] == [("SUCCEEDED", None)] * count
    outputs = [json.loads(r.result) for r in results]
    assert all(output["paths"] == ["normal", "normal"] for output in outputs)  # orchestration never faulted
    attempts = [attempt for output in outputs for attempt in output["attempts"]]
    assert max(attempts) > 1  # the steps met the fault, and their retries outlasted it
    if mode != "zero-code":
        assert len(sleeps.calls) <= count  # latency before the first checkpoint only, at 0.5
    assert problems() == []


def test_zero_code_mode_leaves_a_function_alone_that_already_has_chaos_layer_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One experiment per handler: the layer's wrapper does not draw the same faults again outside."""
    app = """
        from aws_durable_execution_sdk_python import durable_execution
        from chaos_layer import inject_fault
        from tests.functional.test_durable import checkout

        handler = durable_execution(inject_fault(checkout))
        """
    with zero_code_app(tmp_path, monkeypatch, "durable_inside_app", app, PARAM) as serve:
        assert serve() is importlib.import_module("durable_inside_app").handler


# --- steps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_step_succeeds_on_a_later_attempt_after_an_injected_one(
    mode: str, put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """An exception injected into the step before its body: the step's retry strategy meets
    it, and the body runs once, on the attempt that was not injected."""
    put(
        {
            "enabled": True,
            "experiment": "payment-retries",
            "faults": [{"type": "exception", "exception": "ConnectionError", "steps": ["charge-*"], "rate": 0.5}],
        }
    )
    bodies: list[int] = []

    def charge(sc: StepContext) -> str:
        bodies.append(sc.attempt)
        return "charged"

    def payment(event: Any, ctx: DurableContext) -> Any:
        reserved = ctx.step(lambda sc: sc.attempt, name="reserve")
        return [reserved, ctx.step(charge, name="charge-card", config=PATIENT)]

    with DurableFunctionTestRunner(handler=build(mode, payment), poll_interval=0.01) as runner:
        results = run_all(runner, [{"order": n} for n in range(16)])

    assert [json.loads(r.result) for r in results] == [[1, "charged"]] * 16  # reserve: never faulted
    charges = [r.get_step("charge-card") for r in results]
    assert sorted(bodies) == sorted(step.attempt for step in charges)  # one body per execution, the last attempt
    assert any(step.attempt > 1 for step in charges)
    logged = records()
    assert len(logged) == sum(step.attempt - 1 for step in charges)  # one record per injected attempt
    assert {record["fault"] for record in logged} == {"exception"}
    assert all(record["settings"]["steps"] == ["charge-*"] for record in logged)


@pytest.mark.parametrize("mode", MODES)
def test_a_step_without_retries_fails_with_the_injected_exception_and_its_body_never_runs(
    mode: str, put: Callable[[dict[str, Any]], None]
) -> None:
    put({"enabled": True, "faults": [{"type": "exception", "exception": "ConnectionError", "steps": ["charge"]}]})
    bodies: list[str] = []

    def payment(event: Any, ctx: DurableContext) -> Any:
        return ctx.step(lambda sc: bodies.append("charge"), name="charge", config=NO_RETRY)

    with DurableFunctionTestRunner(handler=build(mode, payment), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "FAILED"
    assert error_type(result) == "aws_durable_execution_sdk_python.exceptions.StepError"
    assert result.get_step("charge").error.type == "ConnectionError"
    assert bodies == []


@pytest.mark.parametrize("how", ["kill switch", "disabled"])
@pytest.mark.parametrize("mode", MODES)
def test_step_attempts_are_drawn_against_the_current_reading_so_a_stop_reaches_an_invocation_under_way(
    mode: str, how: str, aws: Any, put: Callable[[dict[str, Any]], None]
) -> None:
    """The operator stops the experiment while the first step runs: the later steps of the
    same invocation run their bodies, none gets the injected exception."""
    document = {
        "enabled": True,
        "experiment": "late-steps",
        "faults": [{"type": "exception", "exception": "ConnectionError", "steps": ["late-*"]}],
    }
    put(document)
    clock, kill = FakeClock(), "/chaos-layer/durable/kill-switch"

    def early(sc: StepContext) -> str:
        if how == "kill switch":
            aws.put_parameter(Name=kill, Value="on", Type="String", Overwrite=True)
        else:
            put({**document, "enabled": False})
        clock.advance(2)  # the step's work: past the next look at the reading
        return "early"

    def workflow(event: Any, ctx: DurableContext) -> list[str]:
        done = [ctx.step(early, name="early")]
        for number in range(2, 10):
            done.append(ctx.step(lambda sc: "ran", name=f"late-{number}", config=NO_RETRY))
        return done

    with DurableFunctionTestRunner(handler=build(mode, workflow, kill_switch=kill, clock=clock)) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "SUCCEEDED", error_type(result)
    assert json.loads(result.result) == ["early"] + ["ran"] * 8


@pytest.mark.parametrize("mode", MODES)
def test_steps_limit_faults_to_the_named_steps_also_in_child_contexts_and_maps(
    mode: str, put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    put(
        {
            "enabled": True,
            "faults": [
                {"type": "dependency", "services": ["ssm"], "error": "ThrottlingException", "steps": ["charge-?"]},
                {"type": "latency", "delay_ms": 40, "steps": ["ship*"]},
            ],
        }
    )
    events: list[str] = []

    def reader(label: str) -> Callable[[StepContext], str]:
        def read(sc: StepContext) -> str:
            events.append(label)
            try:
                return flag()
            except ClientError as error:
                return str(error.response["Error"]["Code"])

        return read

    def order(event: Any, ctx: DurableContext) -> Any:
        charge: Any = ctx.map(["a", "b"], lambda c, item, i, items: c.step(reader(item), name=f"charge-{item}"))
        shipped = ctx.run_in_child_context(lambda c: c.step(reader("ship"), name="ship"), name="shipping")
        return {"charged": charge.get_results(), "shipped": shipped, "unnamed": ctx.step(reader("unnamed"))}

    with DurableFunctionTestRunner(
        handler=build(mode, order, lambda seconds: events.append(f"sleep {seconds}")), poll_interval=0.01
    ) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert json.loads(result.result) == {
        "charged": ["ThrottlingException", "ThrottlingException"],
        "shipped": "on",
        "unnamed": "on",  # an unnamed step is no step a pattern names
    }
    assert sorted(events[:2]) == ["a", "b"]
    assert events[2:] == ["sleep 0.04", "ship", "unnamed"]  # the latency in the step, before its body
    assert sorted(record["fault"] for record in records()) == ["dependency", "dependency", "latency"]


@pytest.mark.parametrize("mode", MODES)
def test_a_fault_in_one_step_attempt_never_reaches_a_parallel_branch(
    mode: str, put: Callable[[dict[str, Any]], None]
) -> None:
    """Both branches call SSM at the same moment; only the named step's calls fail."""
    fault = {"type": "dependency", "services": ["ssm"], "error": "Throttling", "steps": ["charge"]}
    put({"enabled": True, "faults": [fault]})
    together = threading.Barrier(2, timeout=10)

    def read(sc: StepContext) -> str:
        together.wait()
        try:
            return flag()
        except ClientError as error:
            return str(error.response["Error"]["Code"])

    def branches(event: Any, ctx: DurableContext) -> Any:
        batch = ctx.parallel(
            [lambda c: c.step(read, name="charge", config=NO_RETRY), lambda c: c.step(read, name="audit")],
            config=ParallelConfig(max_concurrency=2),
        )
        return batch.get_results()

    with DurableFunctionTestRunner(handler=build(mode, branches), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert json.loads(result.result) == ["Throttling", "on"]


# --- faults on the invocation ---------------------------------------------------------------


def three_invocations(calls: list[str]) -> Callable[..., Any]:
    """A step, a wait, a step: the handler runs twice at least (once more per step retry)."""

    def workflow(event: Any, ctx: DurableContext) -> Any:
        calls.append("handler")
        first = ctx.step(lambda sc: "a", name="a")
        ctx.wait(Duration.from_seconds(30), name="pause")
        return [first, ctx.step(lambda sc: "b", name="b")]

    return workflow


@pytest.mark.parametrize("mode", MODES)
def test_latency_on_the_invocation_is_paid_once_per_execution_not_on_replays(
    mode: str, put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    put({"enabled": True, "experiment": "slow-start", "faults": [{"type": "latency", "delay_ms": 250}]})
    sleeps, calls = Sleeps(), list[str]()
    handler = build(mode, three_invocations(calls), sleeps)
    with DurableFunctionTestRunner(handler=handler, poll_interval=0.01) as runner:
        results = run_all(runner, [{"n": n} for n in range(5)])

    assert [r.status.value for r in results] == ["SUCCEEDED"] * 5
    assert len(calls) == 10  # each execution's handler ran twice
    assert sleeps.calls == [0.25] * 5
    logged = records()
    assert [record["fault"] for record in logged] == ["latency"] * 5
    assert {record["request_id"] for record in logged} == {"test-invoke-12345"}  # the runner's Lambda context
    assert {record["function_name"] for record in logged} == {"test-function"}


def test_outside_a_paged_envelope_counts_as_checkpointed(
    put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """The service may send only the first page of the checkpoints (the EXECUTION operation)
    and a NextMarker: such an invocation is a replay all the same."""
    put({"enabled": True, "faults": [{"type": "latency", "delay_ms": 250}]})
    sleeps, pages = Sleeps(), list[tuple[list[str], bool]]()

    def workflow(event: Any, ctx: DurableContext) -> Any:
        ctx.step(lambda sc: "x" * 300, name="large")  # more than a page of 50 bytes
        ctx.wait(Duration.from_seconds(5))
        return "done"

    handler = build("outside", workflow, sleeps)

    def service(event: Any, context: Any) -> Any:
        state = event.initial_execution_state
        pages.append(([op.operation_type.value for op in state.operations], bool(state.next_marker)))
        return handler(event, context)

    with DurableFunctionTestRunner(handler=service, poll_interval=0.01, max_invocation_page_bytes=50) as runner:
        result = runner.run(input=json.dumps({"n": 1}), execution_timeout=60)

    assert result.status.value == "SUCCEEDED"
    assert pages == [(["EXECUTION"], False), (["EXECUTION"], True)]  # the replay looks like a first run but its marker
    assert sleeps.calls == [0.25]


def test_outside_an_injected_exception_is_drawn_afresh_on_each_attempt_until_the_first_checkpoint(
    put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """The service retries an invocation that failed (the runner, 5 times); until something
    is checkpointed each such attempt is drawn again, and no replay is drawn at all."""
    put({"enabled": True, "faults": [{"type": "exception", "exception": "RuntimeError", "rate": 0.5}]})
    calls: list[str] = []
    injected = []
    with DurableFunctionTestRunner(
        handler=build("outside", three_invocations(calls), random=Random(7)), poll_interval=0.01
    ) as runner:
        for n in range(8):
            before = len(records())
            result = runner.run(input=json.dumps({"n": n}), execution_timeout=60)
            assert result.status.value == "SUCCEEDED"
            injected.append(len(records()) - before)

    assert len(calls) == 16  # each execution's handler ran twice: once on the attempt that was not injected
    assert max(injected) >= 1  # an execution whose first attempts failed went on to succeed


def test_outside_an_exception_on_every_attempt_fails_the_execution_as_the_service_decides(
    put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    put({"enabled": True, "faults": [{"type": "exception", "exception": "RuntimeError"}]})
    calls: list[str] = []
    with DurableFunctionTestRunner(handler=build("outside", three_invocations(calls)), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "FAILED"
    assert len(records()) == Executor.MAX_CONSECUTIVE_FAILED_ATTEMPTS  # one draw per attempt
    assert calls == []


def test_inside_an_injected_exception_fails_the_execution_before_anything_is_checkpointed(
    put: Callable[[dict[str, Any]], None],
) -> None:
    """Inside, an exception the handler raises fails the execution, as the SDK decides: on
    the first attempt only, before any step could have committed a side effect."""
    put({"enabled": True, "faults": [{"type": "exception", "exception": "RuntimeError", "message": "injected"}]})
    calls: list[str] = []
    with DurableFunctionTestRunner(handler=build("inside", three_invocations(calls)), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "FAILED"
    assert result.error.type == "RuntimeError"
    assert calls == []


class ShortLambdaContext:
    """The runner's Lambda context, with little time left."""

    def __init__(self, context: Any, remaining_ms: int) -> None:
        self._context = context
        self._remaining_ms = remaining_ms

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@pytest.mark.parametrize("mode", MODES)
def test_timeout_waits_out_the_remaining_time_of_the_lambda_context(
    mode: str, put: Callable[[dict[str, Any]], None]
) -> None:
    """Inside, the DurableContext has no remaining time of its own: the Lambda context's is used."""
    put({"enabled": True, "faults": [{"type": "timeout", "fallback_ms": 5}]})
    sleeps, calls = Sleeps(), list[str]()
    handler = build(mode, three_invocations(calls), sleeps)
    with DurableFunctionTestRunner(
        handler=lambda event, context: handler(event, ShortLambdaContext(context, 1500)), poll_interval=0.01
    ) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "FAILED"
    # Each attempt waits 1.5 s left, and a second more for Lambda's own timeout (possibly in steps).
    attempts = round(sum(sleeps.calls) / 2.5)
    assert attempts >= 1
    assert sum(sleeps.calls) == pytest.approx(2.5 * attempts)
    assert calls == []


@pytest.mark.parametrize("mode", MODES)
def test_a_disk_fill_ends_when_the_first_operation_starts(
    mode: str, put: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    """Orchestration code after an operation must see the disk a replay will see."""
    put({"enabled": True, "faults": [{"type": "diskspace", "mb": 1, "path": str(tmp_path), "min_free_mb": 0}]})
    seen: list[tuple[str, bool]] = []

    def filled() -> bool:
        """Whether this process holds a fill in tmp_path: a file without a name, open."""
        return any(
            os.readlink(f"/proc/self/fd/{fd}").startswith(f"{tmp_path}/")
            for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")
        )

    def workflow(event: Any, ctx: DurableContext) -> Any:
        seen.append(("start", filled()))
        ctx.step(lambda sc: seen.append(("step", filled())), name="a")
        seen.append(("after step", filled()))
        ctx.wait(Duration.from_seconds(5))
        return "done"

    with DurableFunctionTestRunner(handler=build(mode, workflow), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "SUCCEEDED"
    assert seen == [
        ("start", True),
        ("step", False),
        ("after step", False),
        ("start", False),  # the replay after the wait
        ("after step", False),
    ]
    assert not filled()


# --- the blast radius ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_match_cohort_and_targets_see_the_execution_input_and_the_lambda_context(
    mode: str, put: Callable[[dict[str, Any]], None]
) -> None:
    put(
        {
            "enabled": True,
            "targets": {"functions": ["payments"]},
            "match": [{"path": "tenant", "prefix": "t-"}],
            "cohort": {"key": "tenant", "percent": 100},
            "faults": [{"type": "latency", "delay_ms": 100}],
        }
    )
    sleeps, calls = Sleeps(), list[str]()
    handler = build(mode, three_invocations(calls), sleeps)
    with DurableFunctionTestRunner(handler=handler, poll_interval=0.01) as runner:
        hit = runner.run(input=json.dumps({"tenant": "t-1"}), function_name="payments", execution_timeout=60)
        assert sleeps.calls == [0.1]
        runner.run(input=json.dumps({"tenant": "x-1"}), function_name="payments", execution_timeout=60)
        runner.run(input=json.dumps({"tenant": "t-1"}), function_name="orders", execution_timeout=60)

    assert hit.status.value == "SUCCEEDED"
    assert sleeps.calls == [0.1]


@pytest.mark.parametrize("mode", MODES)
def test_the_top_level_rate_picks_whole_executions(mode: str, put: Callable[[dict[str, Any]], None]) -> None:
    """A step fault at rate 1 in an experiment at rate 0.5: an execution gets it in both its
    steps, across invocations, or in neither."""
    put({"enabled": True, "rate": 0.5, "faults": [{"type": "latency", "delay_ms": 10, "steps": ["*"]}]})
    sleeps, calls = Sleeps(), list[str]()
    per_execution = []
    with DurableFunctionTestRunner(handler=build(mode, three_invocations(calls), sleeps), poll_interval=0.01) as runner:
        for n in range(16):
            before = len(sleeps.calls)
            runner.run(input=json.dumps({"n": n}), execution_timeout=60)
            per_execution.append(len(sleeps.calls) - before)

    assert set(per_execution) == {0, 2}


@pytest.mark.parametrize("mode", MODES)
def test_status_code_corrupt_and_batch_failure_are_never_applied(
    mode: str, put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    """The service would reject such an output (outside) or take it for the workflow's result (inside)."""
    put(
        {
            "enabled": True,
            "faults": [
                {"type": "corrupt", "truncate": 1},
                {"type": "batch_failure", "fraction": 1},
                {"type": "status_code", "status_code": 503},
            ],
        }
    )
    calls: list[str] = []
    with DurableFunctionTestRunner(handler=build(mode, three_invocations(calls)), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert (result.status.value, json.loads(result.result)) == ("SUCCEEDED", ["a", "b"])
    assert records() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_dry_run_reports_the_faults_a_step_attempt_would_get_and_injects_nothing(
    mode: str, put: Callable[[dict[str, Any]], None], records: Callable[[], list[dict[str, Any]]]
) -> None:
    put(
        {
            "enabled": True,
            "dry_run": True,
            "faults": [
                {"type": "exception", "steps": ["a"]},
                {"type": "latency", "delay_ms": 100},
            ],
        }
    )
    sleeps, calls = Sleeps(), list[str]()
    with DurableFunctionTestRunner(handler=build(mode, three_invocations(calls), sleeps), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert (result.status.value, result.get_step("a").attempt) == ("SUCCEEDED", 1)
    assert sleeps.calls == []
    logged = records()
    assert sorted(record["fault"] for record in logged) == ["exception", "latency"]
    assert all(record["dry_run"] for record in logged)


def test_inside_the_sdks_suspension_passes_through_and_is_never_counted(
    put: Callable[[dict[str, Any]], None],
    records: Callable[[], list[dict[str, Any]]],
    problems: Callable[[], list[str]],
) -> None:
    """A wait and step retries suspend the handler with a BaseException that passes through
    chaos-layer's wrapper: the execution goes on, and nothing is logged for it."""
    put({"enabled": True, "faults": [{"type": "exception", "steps": ["b"], "rate": 1}]})
    calls: list[str] = []
    three = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=3)))

    def workflow(event: Any, ctx: DurableContext) -> Any:
        calls.append("handler")
        ctx.wait(Duration.from_seconds(1), name="pause")
        return ctx.step(lambda sc: "b", name="b", config=three)

    with DurableFunctionTestRunner(handler=build("inside", workflow), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert result.status.value == "FAILED"  # three injected attempts: the step gave up
    assert len(calls) == 4  # the first run, and one replay after the wait and after each retry
    assert [record["fault"] for record in records()] == ["exception"] * 3
    assert problems() == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("broken", ["admits", "wrap_step"])
def test_a_bug_of_chaos_layers_never_costs_the_execution(
    mode: str,
    broken: str,
    put: Callable[[dict[str, Any]], None],
    problems: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether deciding the blast radius or wrapping a step fails: the workflow runs untouched."""
    from chaos_layer import durable

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug of chaos-layer's")

    monkeypatch.setattr(durable if broken == "admits" else durable.Plan, broken, bug)
    put({"enabled": True, "faults": [{"type": "exception", "steps": ["a", "b"]}]})
    calls: list[str] = []
    with DurableFunctionTestRunner(handler=build(mode, three_invocations(calls)), poll_interval=0.01) as runner:
        result = runner.run(input="{}", execution_timeout=60)

    assert (result.status.value, json.loads(result.result)) == ("SUCCEEDED", ["a", "b"])
    assert problems()
    assert all("unexpected error" in problem for problem in problems())


# --- the SDK's own calls -------------------------------------------------------------------

EXECUTION_ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:payments:$LATEST/durable-execution/order-7/"
    "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
)


class DurableApi(http.server.ThreadingHTTPServer):
    """The durable execution API and Lambda's GetFunction on a loopback port. A checkpoint
    request is recorded; the first one also wakes a step waiting for it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, Any]] = []
        self.checkpointed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: DurableApi

    def do_GET(self) -> None:
        if "/durable-executions/" in self.path:
            self.server.requests.append(("GetDurableExecutionState", None))
            self._send({"Operations": []})
        else:
            self.server.requests.append(("GetFunction", None))
            self._send({"Configuration": {"FunctionName": "inventory"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        updates = [f"{u['Action']} {u['Type']} {u.get('Name')}" for u in body.get("Updates", [])]
        self.server.requests.append(("CheckpointDurableExecution", updates))
        self.server.checkpointed.set()
        self._send({"CheckpointToken": f"token-{len(self.server.requests)}", "NewExecutionState": {"Operations": []}})

    def _send(self, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def durable_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableApi]:
    """The SDK's own boto3 client, as it builds it from the environment, sent to loopback."""
    server = DurableApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    monkeypatch.setattr(LambdaClient, "_cached_boto_client", None)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def envelope(next_marker: str = "") -> dict[str, Any]:
    """The service's first invocation of an execution, as Lambda delivers it."""
    return {
        "DurableExecutionArn": EXECUTION_ARN,
        "CheckpointToken": "token-0",
        "InitialExecutionState": {
            "Operations": [
                {
                    "Id": EXECUTION_ARN.split("/")[-1],
                    "Type": "EXECUTION",
                    "Status": "STARTED",
                    "StartTimestamp": 1_790_000_000_000,
                    "ExecutionDetails": {"InputPayload": json.dumps({"order": 7})},
                }
            ],
            "NextMarker": next_marker,
        },
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "fault",
    [
        {"type": "dependency", "services": ["lambda"], "error": "TooManyRequestsException"},
        {"type": "denylist", "hosts": ["127.0.0.1"]},
    ],
    ids=["dependency", "denylist"],
)
@pytest.mark.parametrize("next_marker", ["", "page-2"], ids=["one-page", "paged"])
def test_the_sdks_own_calls_are_never_touched(
    mode: str, fault: dict[str, Any], next_marker: str, put: Callable[[dict[str, Any]], None], durable_api: DurableApi
) -> None:
    """A fault on Lambda (or on the endpoint's address) is in force in a step attempt while
    the SDK checkpoints beside it: the step's own call fails, the checkpoints go through."""
    put({"enabled": True, "faults": [fault]})
    user_lambda = boto3.client("lambda", region_name=REGION, endpoint_url=durable_api.url)

    def reserve(sc: StepContext) -> str:
        assert durable_api.checkpointed.wait(10)  # the SDK's START checkpoint, sent while this attempt runs
        return str(user_lambda.get_function(FunctionName="inventory")["Configuration"]["FunctionName"])

    def workflow(event: Any, ctx: DurableContext) -> Any:
        return ctx.step(reserve, name="reserve")

    output = build(mode, workflow)(envelope(next_marker), FakeLambdaContext(function_name="payments"))

    assert output == {"Status": "PENDING"}  # the attempt failed and the SDK checkpointed its retry
    calls = [name for name, _ in durable_api.requests]
    assert "GetFunction" not in calls
    assert calls[0] == ("GetDurableExecutionState" if next_marker else "CheckpointDurableExecution")
    checkpoints = [batch for name, batch in durable_api.requests if name == "CheckpointDurableExecution"]
    updates = [update for batch in checkpoints for update in batch]
    assert updates == ["START STEP reserve", "RETRY STEP reserve"]


def test_a_dependency_fault_never_touches_the_durable_execution_api_even_unscoped(durable_api: DurableApi) -> None:
    """The dependency fault's own guard, for a rule in force for the whole process."""
    client = boto3.client("lambda", region_name=REGION, endpoint_url=durable_api.url)
    rule = _RuleLike(services=("lambda",))
    with _dependency.injected(rule, lambda seconds: None, Random(0)):
        client.checkpoint_durable_execution(DurableExecutionArn=EXECUTION_ARN, CheckpointToken="t", Updates=[])
        client.get_durable_execution_state(DurableExecutionArn=EXECUTION_ARN, CheckpointToken="t", Marker="m")
        with pytest.raises(ClientError):
            client.get_function(FunctionName="inventory")
    assert [name for name, _ in durable_api.requests] == ["CheckpointDurableExecution", "GetDurableExecutionState"]


@dataclass(frozen=True)
class _RuleLike:
    services: tuple[str, ...]
    error: str | None = "TooManyRequestsException"
    delay_ms: float | None = None

    def matches(self, service_name: str, endpoint_prefix: str, operation: str) -> bool:
        return service_name in self.services


# --- the example on docs/durable-functions.md ---------------------------------------------

PAGE = "durable-functions.md"


def test_the_docs_payment_example_meets_its_retry_strategy_and_compensates(
    aws: Any, monkeypatch: pytest.MonkeyPatch, records: Callable[[], list[dict[str, Any]]]
) -> None:
    """The page's workflow and config, as written (the config without its expiry date):
    every order ends paid, or unpaid with its stock released, and is never charged twice."""
    document = json.loads(pages.block(PAGE, "payment config"))
    del document["expires_at"]
    aws.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String")
    monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
    charged, released = list[int](), list[int]()

    def charge_card(order: dict[str, int]) -> str:
        charged.append(order["order"])
        return f"receipt-{order['order']}"

    payments: Any = type(sys)("payments")
    payments.reserve_stock = lambda order: {"hold": order["order"]}
    payments.charge_card = charge_card
    payments.release_stock = lambda hold: released.append(hold["hold"])
    monkeypatch.setitem(sys.modules, "payments", payments)
    namespace: dict[str, Any] = {}
    exec(compile(pages.block(PAGE, "payment workflow"), PAGE, "exec"), namespace)

    with DurableFunctionTestRunner(handler=namespace["handler"], poll_interval=0.01) as runner:
        results = run_all(runner, [{"order": n} for n in range(60)])

    outcomes = {n: json.loads(result.result)["status"] for n, result in enumerate(results)}
    assert set(outcomes.values()) <= {"paid", "payment-failed"}
    assert sorted(charged) == [n for n, status in outcomes.items() if status == "paid"]  # never twice
    assert sorted(released) == [n for n, status in outcomes.items() if status == "payment-failed"]
    attempts = [result.get_step("charge-card").attempt for result in results]
    assert max(attempts) > 1  # a retry met an injected failure
    assert len(records()) == sum(a - 1 for a in attempts) + sum(s == "payment-failed" for s in outcomes.values())

    printed = io.StringIO()  # and the page's local try-out, as written, on the same handler
    with contextlib.redirect_stdout(printed):
        exec(compile(pages.block(PAGE, "local test runner"), PAGE, "exec"), namespace)
    shown = printed.getvalue()
    assert "SUCCEEDED" in shown, shown
    assert '"status": "paid"' in shown or '"status": "payment-failed"' in shown, shown
