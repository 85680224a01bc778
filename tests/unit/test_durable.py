"""chaos_layer.durable without the SDK: recognising a durable execution, reading the
service's envelope, the blast radius per execution, which fault goes where, and the `steps`
key's validation. (The SDK's own runner drives the rest: tests/functional/test_durable.py.)"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from random import Random
from typing import Any

import pytest

from chaos_layer import durable
from chaos_layer.config import parse_config
from chaos_layer.faults import draw
from tests import sample_events
from tests.conftest import FakeLambdaContext
from tests.unit.fault_harness import only_fault, problems

ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:payments:$LATEST/durable-execution/order-7/"
    "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
)


def replay() -> dict[str, Any]:
    event: dict[str, Any] = sample_events.load("durable-execution")  # a step and a wait already checkpointed
    return event


def first_invocation(payload: str | None = '{"tenant": "t-9", "order": 7}') -> dict[str, Any]:
    event = replay()
    state = event["InitialExecutionState"]
    state["Operations"] = state["Operations"][:1]
    if payload is None:
        del state["Operations"][0]["ExecutionDetails"]
    else:
        state["Operations"][0]["ExecutionDetails"]["InputPayload"] = payload
    return event


def config(**document: Any) -> Any:
    return parse_config({"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}], **document})


class TestDetect:
    def test_the_services_envelope_is_a_durable_execution(self) -> None:
        assert durable.detect(replay(), FakeLambdaContext())
        assert durable.detect({"DurableExecutionArn": ARN, "CheckpointToken": "t"}, None)

    @pytest.mark.parametrize("name", [*sample_events.HTTP_EVENTS, *sample_events.NON_HTTP_EVENTS[:-1]])
    def test_no_other_trigger_is(self, name: str) -> None:
        assert not durable.detect(sample_events.load(name), FakeLambdaContext())

    @pytest.mark.parametrize("event", [None, [], "text", 7, {"DurableExecutionArn": ARN}])
    def test_nor_any_other_value(self, event: Any) -> None:
        assert not durable.detect(event, None)

    def test_recognising_one_never_loads_the_sdk(self) -> None:
        """The SDK is looked up among loaded modules only: a function without it pays nothing."""
        code = (
            "import json, sys\n"
            "from chaos_layer import durable\n"
            "from tests import sample_events\n"
            "seen = [durable.detect(sample_events.load(n), None) for n in ('sqs', 'durable-execution')]\n"
            "seen.append(durable.outside(sample_events.load('durable-execution'), None).checkpointed)\n"
            "print(json.dumps([seen, sorted(m for m in sys.modules if m.startswith('aws_durable'))]))\n"
        )
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
        assert json.loads(out) == [[False, True, True], []]


class TestEnvelope:
    def test_a_first_invocation_has_checkpointed_nothing(self) -> None:
        context = FakeLambdaContext()
        execution = durable.outside(first_invocation(), context)
        assert execution is not None
        assert (execution.arn, execution.input, execution.checkpointed) == (ARN, {"tenant": "t-9", "order": 7}, False)
        assert execution.lambda_context is context

    def test_a_replay_has(self) -> None:
        execution = durable.outside(replay(), None)
        assert execution is not None
        assert (execution.input, execution.checkpointed) == ({"tenant": "t-9", "order": 7}, True)

    def test_a_further_page_counts_as_checkpointed(self) -> None:
        """The first page may hold the EXECUTION operation alone, the rest behind NextMarker."""
        event = first_invocation()
        event["InitialExecutionState"]["NextMarker"] = "2:1"
        execution = durable.outside(event, None)
        assert execution is not None
        assert execution.checkpointed

    @pytest.mark.parametrize(("payload", "expected"), [("", {}), ("  ", {}), (None, {}), ("[1, 2]", [1, 2])])
    def test_the_input_is_what_the_sdk_hands_the_handler(self, payload: str | None, expected: Any) -> None:
        execution = durable.outside(first_invocation(payload), None)
        assert execution is not None
        assert execution.input == expected

    def test_an_execution_whose_input_is_not_on_the_first_page_is_never_in_the_blast_radius(self) -> None:
        event = first_invocation()
        event["InitialExecutionState"] = {"Operations": [], "NextMarker": "1:0"}
        execution = durable.outside(event, None)
        assert execution is not None
        assert execution.checkpointed
        assert not durable.admits(config(), execution)

    def test_input_that_is_not_json_is_never_in_the_blast_radius(self) -> None:
        execution = durable.outside(first_invocation("{not json"), None)
        assert execution is not None
        assert not durable.admits(config(), execution)


class TestBlastRadius:
    def execution(self, arn: str, user_input: Any = None, function_name: str = "payments") -> durable.Execution:
        return durable.Execution(arn, user_input or {}, False, FakeLambdaContext(function_name=function_name), None)

    def test_the_rate_picks_executions_by_their_arn_the_same_every_time(self) -> None:
        settings = config(rate=0.3)
        arns = [f"{ARN[:-1]}{n}-{m}" for n in range(10) for m in range(30)]
        picked = [arn for arn in arns if durable.admits(settings, self.execution(arn))]
        again = [arn for arn in arns if durable.admits(settings, self.execution(arn))]
        assert picked == again
        assert 0.2 < len(picked) / len(arns) < 0.4

    def test_another_experiment_picks_other_executions(self) -> None:
        arns = [f"{ARN}-{n}" for n in range(200)]
        one = {arn for arn in arns if durable.admits(config(rate=0.5, experiment="one"), self.execution(arn))}
        two = {arn for arn in arns if durable.admits(config(rate=0.5, experiment="two"), self.execution(arn))}
        assert one != two

    def test_match_cohort_and_targets_see_the_input_and_the_lambda_context(self) -> None:
        settings = config(
            targets={"functions": ["pay*"]},
            match=[{"path": "tenant", "equals": "t-9"}],
            cohort={"key": "tenant", "percent": 100},
        )
        assert durable.admits(settings, self.execution(ARN, {"tenant": "t-9"}))
        assert not durable.admits(settings, self.execution(ARN, {"tenant": "t-1"}))
        assert not durable.admits(settings, self.execution(ARN, {"tenant": "t-9"}, function_name="orders"))

    def test_the_envelope_itself_is_never_matched(self) -> None:
        execution = durable.outside(replay(), FakeLambdaContext(function_name="payments"))
        assert execution is not None
        assert not durable.admits(config(match=[{"path": "CheckpointToken", "exists": True}]), execution)
        assert durable.admits(config(match=[{"path": "order", "equals": 7}]), execution)


FAULTS: list[dict[str, Any]] = [
    {"type": "latency", "delay_ms": 5},
    {"type": "latency", "delay_ms": 5, "steps": ["pay"]},
    {"type": "exception"},
    {"type": "exception", "steps": ["pay"]},
    {"type": "timeout"},
    {"type": "diskspace", "mb": 1},
    {"type": "dependency", "services": ["dynamodb"], "error": "ThrottlingException"},
    {"type": "denylist", "hosts": ["*.example.com"], "steps": ["pay"]},
    {"type": "status_code", "status_code": 503},
    {"type": "corrupt", "truncate": 1},
    {"type": "batch_failure", "fraction": 1},
]


class TestWhereFaultsGo:
    def test_invocation_faults_on_the_invocation_call_faults_and_named_ones_in_steps_the_rest_nowhere(self) -> None:
        on_invocation, in_steps = durable.split(parse_config({"enabled": True, "faults": FAULTS}).faults)
        assert [(f.type, f.steps if hasattr(f, "steps") else None) for f in on_invocation] == [
            ("latency", ()),
            ("diskspace", None),
            ("exception", ()),
            ("timeout", None),
        ]
        assert [(f.type, getattr(f, "steps", None)) for f in in_steps] == [
            ("latency", ("pay",)),
            ("dependency", ()),
            ("denylist", ("pay",)),
            ("exception", ("pay",)),
        ]

    @pytest.mark.parametrize(
        ("patterns", "name", "reached"),
        [
            ((), "anything", True),
            ((), None, True),
            (("charge-*",), "charge-card", True),
            (("charge-*",), "Charge-card", False),  # names are case-sensitive, as the SDK's are
            (("charge-?", "refund"), "refund", True),
            (("charge-[ab]",), "charge-c", False),
            (("*",), None, False),  # an unnamed step is no step a pattern names
        ],
    )
    def test_steps_name_steps_with_globs(self, patterns: tuple[str, ...], name: str | None, reached: bool) -> None:
        fault: dict[str, Any] = {"type": "dependency", "services": ["s3"], "error": "SlowDown"}
        if patterns:
            fault["steps"] = list(patterns)
        assert durable.reaches(only_fault(fault), name) is reached

    def test_outside_a_step_a_fault_with_steps_is_never_drawn(self) -> None:
        """A function that is not durable has no steps: such a fault never applies there."""
        faults = parse_config({"enabled": True, "faults": FAULTS[:4]}).faults
        assert [(f.type, bool(getattr(f, "steps", ()))) for f in draw(faults, Random(1))] == [
            ("latency", False),
            ("exception", False),
        ]
        assert len(draw(faults, Random(1), in_step=True)) == 3  # both latencies, then one exception

    def test_the_draws_of_a_step_attempt_are_the_same_whenever_it_runs(self) -> None:
        execution = durable.Execution(ARN, {}, True, None, None)
        no_cache: Any = None  # a step attempt's draws depend on its config alone, not on the cache
        plan = durable.Plan(config(), execution, [], (), lambda s: None, Random(), lambda problem: None, no_cache)
        attempt = _StepContext("1ced8f5b", 2)
        draws = [plan._attempt_random(attempt).random() for _ in range(3)]
        assert draws[0] == draws[1] == draws[2]
        assert plan._attempt_random(_StepContext("1ced8f5b", 3)).random() != draws[0]
        assert plan._attempt_random(_StepContext("4fcce65e", 2)).random() != draws[0]


class _Logger:
    def __init__(self, operation_id: str) -> None:
        self._default_extra = {"operationId": operation_id}


class _StepContext:
    def __init__(self, operation_id: str, attempt: int) -> None:
        self.logger = _Logger(operation_id)
        self.attempt = attempt


class TestStepsKey:
    @pytest.mark.parametrize(
        "fault",
        [
            {"type": "latency", "delay_ms": 5, "steps": ["charge-*"]},
            {"type": "exception", "steps": ["charge"]},
            {"type": "dependency", "services": ["dynamodb"], "error": "ThrottlingException", "steps": ["a", "b"]},
            {"type": "denylist", "hosts": ["api.example.com"], "steps": ["call-*"]},
        ],
    )
    def test_four_fault_types_take_steps_and_log_them(self, fault: dict[str, Any]) -> None:
        parsed = only_fault(fault)
        assert parsed.steps == tuple(fault["steps"])  # type: ignore[attr-defined]
        assert json.loads(json.dumps(parsed.settings()))["steps"] == fault["steps"]

    def test_without_steps_the_settings_are_as_before(self) -> None:
        assert "steps" not in only_fault({"type": "exception"}).settings()

    @pytest.mark.parametrize(
        "fault",
        [
            {"type": "timeout"},
            {"type": "diskspace", "mb": 1},
            {"type": "status_code", "status_code": 503},
            {"type": "corrupt", "truncate": 1},
            {"type": "batch_failure", "fraction": 1},
        ],
    )
    def test_the_other_types_do_not(self, fault: dict[str, Any]) -> None:
        assert problems({**fault, "steps": ["charge"]}) == ["faults[0].steps: unknown key"]

    @pytest.mark.parametrize(
        ("steps", "problem"),
        [
            ([], "must not be empty (leave it out to reach every step, or the invocation)"),
            ("charge", "must be an array, not a string"),
            ([""], "must be a non-empty string"),
            ([7], "must be a non-empty string"),
            (["x" * 257], "must be at most 256 characters"),
        ],
    )
    def test_steps_must_be_a_list_of_names(self, steps: Any, problem: str) -> None:
        found = problems({"type": "exception", "steps": steps})
        assert len(found) == 1
        assert found[0].endswith(problem)

    def test_the_envelope_sample_stays_unchanged_by_reading(self) -> None:
        event = replay()
        before = copy.deepcopy(event)
        durable.outside(event, None)
        assert event == before

    def test_the_clis_fault_flag_takes_steps_from_the_declarations(self) -> None:
        from chaos_layer.cli.faults import parse

        assert parse("exception exception=ConnectionError steps=charge-*,refund") == {
            "type": "exception",
            "exception": "ConnectionError",
            "steps": ["charge-*", "refund"],
        }
