"""Guardrails (docs/blast-radius.md, "Guardrails"): a function's owner bounds what any config may do there,
with CHAOS_LAYER_MAX_RATE / max_rate= and CHAOS_LAYER_FAULTS / faults=, in the decorator and
in zero-code mode. A config past them is refused as a config error is; an unreadable
guardrail refuses every config."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from chaos_layer import InjectedFault, inject_fault
from tests.conftest import REGION, FakeClock, FakeLambdaContext, RecordingSleep
from tests.functional.test_control_group import durable_first_invocation
from tests.functional.zero_code import zero_code_app
from tests.sample_events import load as load_event

PARAM = "/chaos-layer/guarded"
OK = {"statusCode": 200, "body": "ok"}
HTTP_EVENT = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}
BUSY = {"type": "status_code", "status_code": 503}
EXCEPTION = {"type": "exception"}
LATENCY = {"type": "latency", "delay_ms": 10}
SQS_EVENT = load_event("sqs")


def config(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"enabled": True, "experiment": "secret-name-xyz", "faults": [BUSY]}
    document.update(overrides)
    return document


@pytest.fixture
def put() -> Iterator[Callable[[dict[str, Any]], None]]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)

        def put(document: dict[str, Any]) -> None:
            client.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)

        yield put


Deploy = Callable[..., Callable[..., Any]]


@pytest.fixture
def deploy(put: Any, clock: FakeClock, sleeps: RecordingSleep) -> Deploy:
    def deploy(**options: Any) -> Callable[..., Any]:
        decorate = inject_fault(parameter=PARAM, max_age=0, clock=clock, sleep=sleeps, random=Random(1), **options)
        return decorate(lambda event, context: OK)

    return deploy


def injected(handler: Callable[..., Any], times: int = 20) -> int:
    context = FakeLambdaContext(function_name="orders")
    return sum(handler(HTTP_EVENT, context)["statusCode"] == 503 for _ in range(times))


class TestRate:
    def test_a_rate_above_the_variable_is_refused_with_a_warning_naming_it(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0.1")
        put(config(rate=0.5))
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy()) == 0
        warnings = [r.getMessage() for r in caplog.records if "guardrail" in r.getMessage()]
        assert len(warnings) == 1  # one per period (the warning window), not one per invocation
        assert "CHAOS_LAYER_MAX_RATE" in warnings[0]
        assert "secret-name-xyz" not in warnings[0]
        assert "0.5" not in warnings[0]

    def test_a_rate_within_the_bound_injects(self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0.1")
        put(config(rate=0.1))
        assert 0 < injected(deploy(), 200) < 60

    def test_the_default_rate_of_one_is_refused_under_a_bound(self, put: Any, deploy: Deploy) -> None:
        put(config())
        assert injected(deploy(max_rate=0.5)) == 0

    def test_the_stricter_of_variable_and_option_applies(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(config(rate=0.3))
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0.2")
        assert injected(deploy(max_rate=0.9)) == 0
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0.9")
        assert injected(deploy(max_rate=0.2)) == 0
        assert injected(deploy(max_rate=0.3), 200) > 0

    def test_a_dry_run_reports_the_refusal_instead_of_its_draws(
        self, put: Any, deploy: Deploy, caplog: pytest.LogCaptureFixture
    ) -> None:
        put(config(dry_run=True))
        with caplog.at_level(logging.INFO, logger="chaos_layer"):
            injected(deploy(max_rate=0.5), 5)
        messages = [r.getMessage() for r in caplog.records]
        assert any("guardrail max_rate=" in m for m in messages)
        assert not any("dry_run" in m for m in messages)

    def test_a_config_whose_targets_leave_this_function_out_is_not_refused_here(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders")
        put(config(targets={"functions": ["checkout-*"]}))
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy(max_rate=0.1)) == 0
        assert not any("guardrail" in r.getMessage() for r in caplog.records)


def raised(handler: Callable[..., Any], event: Any, times: int, context: Any = None) -> int:
    """How many of `times` invocations the injected exception reached."""
    count = 0
    for _ in range(times):
        try:
            handler(event, context)
        except InjectedFault:
            count += 1
    return count


class TestWhatCounts:
    """The share that counts is the config's rate: a cohort decides who, never how much."""

    # A constant key (every SQS record says aws:sqs) whose bucket this salt puts at 0, inside
    # a cohort of one ten-millionth of the members: every invocation is in it.
    CONSTANT_KEY_COHORT: ClassVar[dict[str, Any]] = {
        "key": "Records.0.eventSource",
        "percent": 1e-07,
        "salt": "s564735",
    }

    def test_a_cohort_never_gets_past_a_max_rate_of_zero(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(config(rate=1, cohort=self.CONSTANT_KEY_COHORT, faults=[EXCEPTION]))
        assert raised(deploy(), SQS_EVENT, 100) == 100  # the cohort holds every invocation
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0")
        assert raised(deploy(), SQS_EVENT, 1000) == 0

    def test_a_cohort_of_one_percent_at_rate_one_asks_for_every_invocation(
        self, put: Any, deploy: Deploy, caplog: pytest.LogCaptureFixture
    ) -> None:
        put(config(rate=1, cohort={"key": "requestContext.http.method", "percent": 1, "salt": "x9"}))
        assert injected(deploy()) == 20  # GET falls in the 1 %: all of the traffic
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy(max_rate=0.01), 100) == 0
        assert any("guardrail max_rate=" in r.getMessage() for r in caplog.records)

    def test_a_sticky_cohort_runs_under_a_tight_guardrail_at_a_rate_within_it(self, put: Any, deploy: Deploy) -> None:
        put(config(rate=0.05, cohort={"key": "requestContext.http.method", "percent": 100}))
        assert 0 < injected(deploy(max_rate=0.05), 400) < 60

    def test_a_faults_own_rate_does_not_lower_the_share(self, put: Any, deploy: Deploy) -> None:
        put(config(rate=0.5, faults=[{**BUSY, "rate": 0.01}]))
        assert injected(deploy(max_rate=0.1), 200) == 0

    def test_a_control_group_split_by_a_cohort_is_bounded_by_its_rate(self, put: Any, deploy: Deploy) -> None:
        cohort = {"key": "requestContext.http.method", "percent": 1, "salt": "x9"}  # GET: the treatment band
        put(config(rate=1, control_group=True, cohort=cohort))
        assert injected(deploy()) == 20
        assert injected(deploy(max_rate=0.01), 100) == 0

    def test_a_durable_execution_in_a_cohort_is_bounded_by_the_rate(
        self, put: Any, deploy: Deploy, sleeps: RecordingSleep
    ) -> None:
        """Every execution of one tenant, in a 1 % cohort (its bucket is in it)."""
        put(config(rate=1, cohort={"key": "tenant", "percent": 1, "salt": "x31"}, faults=[LATENCY]))
        context = FakeLambdaContext(function_name="payments")
        handler = deploy()
        for index in range(20):
            handler(durable_first_invocation(index), context)
        assert len(sleeps.calls) == 20
        handler = deploy(max_rate=0.01)
        for index in range(20, 120):
            handler(durable_first_invocation(index), context)
        assert len(sleeps.calls) == 20

    def test_a_max_rate_of_zero_leaves_only_a_rate_of_zero(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, sleeps: RecordingSleep
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0")
        for document in (
            config(rate=1e-9),
            config(rate=0.5, control_group=True),
            config(rate=1, dry_run=True),
            config(rate=1, faults=[LATENCY, BUSY]),
        ):
            put(document)
            assert injected(deploy(), 100) == 0
        assert sleeps.calls == []


class TestTargets:
    """Guardrails bound every invocation a config would inject into, however targets admit it."""

    def test_targets_admitting_by_the_contexts_name_are_bounded_without_lambdas_variable(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)  # a local run, a container
        put(config(targets={"functions": ["orders"]}))
        assert injected(deploy()) == 20  # the context's name is targeted
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0")
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy(), 100) == 0
        assert any("guardrail CHAOS_LAYER_MAX_RATE" in r.getMessage() for r in caplog.records)


class TestDecoratedTwice:
    """A handler decorated twice keeps the stricter guardrails of both and runs once."""

    def twice(self, clock: FakeClock, inner: dict[str, Any], outer: dict[str, Any], runs: list[int]) -> Any:
        def handler(event: Any, context: Any) -> Any:
            runs.append(1)
            return OK

        once = inject_fault(parameter=PARAM, max_age=0, idle_max_age=0, clock=clock, random=Random(1), **inner)(handler)
        return inject_fault(**outer)(once)

    def test_the_outer_guardrails_hold(self, put: Any, clock: FakeClock) -> None:
        put(config(faults=[EXCEPTION]))
        runs: list[int] = []
        handler = self.twice(clock, {}, {"max_rate": 0.01, "faults": ["latency"]}, runs)
        assert raised(handler, HTTP_EVENT, 100) == 0
        assert len(runs) == 100

    def test_the_inner_guardrails_hold(self, put: Any, clock: FakeClock) -> None:
        put(config(rate=0.5, faults=[EXCEPTION]))
        runs: list[int] = []
        handler = self.twice(clock, {"max_rate": 0.1}, {"max_rate": 0.9}, runs)
        assert raised(handler, HTTP_EVENT, 100) == 0
        assert len(runs) == 100

    def test_only_the_fault_types_both_allow_are_allowed(self, put: Any, clock: FakeClock) -> None:
        runs: list[int] = []
        handler = self.twice(
            clock, {"faults": ["status_code", "exception"]}, {"faults": ["exception", "latency"]}, runs
        )
        put(config(faults=[BUSY]))
        assert injected(handler) == 0
        put(config(faults=[EXCEPTION]))
        assert raised(handler, HTTP_EVENT, 10) == 10
        assert len(runs) == 20  # each invocation not injected ran the handler once

    def test_a_reading_taken_before_the_second_decoration_is_checked_again(self, put: Any, clock: FakeClock) -> None:
        put(config(faults=[EXCEPTION]))

        def handler(event: Any, context: Any) -> Any:
            return OK

        once = inject_fault(parameter=PARAM, max_age=300, clock=clock, random=Random(1))(handler)
        assert raised(once, HTTP_EVENT, 1) == 1  # read, and cached for five minutes
        twice = inject_fault(max_rate=0)(once)
        assert raised(twice, HTTP_EVENT, 10) == 0


class TestFaultTypes:
    def test_a_fault_type_outside_the_list_refuses_the_whole_config(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_FAULTS", "latency, exception")
        put(config(faults=[{"type": "latency", "delay_ms": 10}, BUSY]))
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy()) == 0
        assert any("guardrail CHAOS_LAYER_FAULTS" in r.getMessage() for r in caplog.records)

    def test_allowed_types_inject(self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_FAULTS", "status_code,latency")
        put(config())
        assert injected(deploy()) == 20

    def test_variable_and_option_allow_only_their_common_types(
        self, put: Any, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_FAULTS", "status_code,latency")
        put(config())
        assert injected(deploy(faults=["latency", "exception"])) == 0
        assert injected(deploy(faults="status_code")) == 20


class TestFailsClosed:
    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("CHAOS_LAYER_MAX_RATE", "10%"),
            ("CHAOS_LAYER_MAX_RATE", "2"),
            ("CHAOS_LAYER_MAX_RATE", "nan"),
            ("CHAOS_LAYER_MAX_RATE", ""),
            ("CHAOS_LAYER_FAULTS", ""),
            ("CHAOS_LAYER_FAULTS", " , "),
            ("CHAOS_LAYER_FAULTS", "latency,lag"),
        ],
    )
    def test_an_unreadable_guardrail_refuses_every_config(
        self,
        put: Any,
        deploy: Deploy,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        variable: str,
        value: str,
    ) -> None:
        monkeypatch.setenv(variable, value)
        put(config(rate=0.01, faults=[{"type": "latency", "delay_ms": 1}, BUSY]))
        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert injected(deploy(), 300) == 0
        assert any(variable in r.getMessage() and "fails closed" in r.getMessage() for r in caplog.records)


class TestOptions:
    @pytest.mark.parametrize("value", ["0.5", True, [0.5]])
    def test_max_rate_of_a_wrong_type_is_a_type_error(self, value: Any) -> None:
        with pytest.raises(TypeError, match="max_rate"):
            inject_fault(max_rate=value)

    @pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
    def test_max_rate_out_of_range_is_a_value_error(self, value: float) -> None:
        with pytest.raises(ValueError, match="max_rate"):
            inject_fault(max_rate=value)

    @pytest.mark.parametrize(
        ("value", "error"), [(5, TypeError), ([1], TypeError), ([], ValueError), ("lag", ValueError)]
    )
    def test_bad_faults_fail_at_decoration(self, value: Any, error: type[Exception]) -> None:
        with pytest.raises(error, match="faults"):
            inject_fault(faults=value)


@pytest.fixture
def zero_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Callable[..., Any]]]:
    app = """
        def handler(event, context):
            return {"statusCode": 200, "body": "ok"}
        """
    with zero_code_app(tmp_path, monkeypatch, "guarded_app", app, PARAM) as serve:
        yield serve


class TestZeroCode:
    def test_the_variables_bound_a_function_served_by_the_layer(
        self, put: Any, zero_code: Callable[[], Callable[..., Any]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(config(rate=1))
        assert injected(zero_code()) == 20
        monkeypatch.setenv("CHAOS_LAYER_MAX_RATE", "0.5")
        assert injected(zero_code()) == 0
        monkeypatch.delenv("CHAOS_LAYER_MAX_RATE")
        monkeypatch.setenv("CHAOS_LAYER_FAULTS", "latency")
        assert injected(zero_code()) == 0
        monkeypatch.setenv("CHAOS_LAYER_FAULTS", "10%")
        assert injected(zero_code()) == 0
