"""The decorator end to end against moto's SSM in-process: forms, switches, caching, rates."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from random import Random
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chaos_layer import InjectedFault, inject_fault
from tests.conftest import HTTP_EVENT, REGION, FakeClock, FakeLambdaContext, RecordingSleep

PARAM = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
OK = {"statusCode": 200, "body": "ok"}
BUSY = {"enabled": True, "experiment": "busy", "faults": [{"type": "status_code", "status_code": 503}]}


class SSM:
    """moto's SSM in-process: `put` for the test, `client` for the library, whose
    GetParameters calls are counted with botocore's event hooks."""

    def __init__(self) -> None:
        self.admin = boto3.client("ssm", region_name=REGION)
        self.client = boto3.client("ssm", region_name=REGION)
        self.calls = 0
        self.client.meta.events.register("before-call.ssm.GetParameters", self._count)

    def _count(self, **kwargs: Any) -> None:
        self.calls += 1

    def put(self, name: str, value: str | dict[str, Any], type: str = "String") -> None:
        text = value if isinstance(value, str) else json.dumps(value)
        self.admin.put_parameter(Name=name, Value=text, Type=type, Overwrite=True)  # type: ignore[arg-type]


@pytest.fixture
def ssm() -> Iterator[SSM]:
    with mock_aws():
        yield SSM()


class Handler:
    """A Lambda handler that counts its runs."""

    def __init__(self, response: Any = OK) -> None:
        self.response = response
        self.runs = 0
        self.__name__ = self.__qualname__ = "handler"

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return self.response


Deploy = Callable[..., tuple[Callable[..., Any], Handler]]


@pytest.fixture
def deploy(ssm: SSM, clock: FakeClock, sleeps: RecordingSleep) -> Deploy:
    """Decorate a fresh counting handler with the library's test seams wired in."""

    def deploy(response: Any = OK, seed: int = 1, **options: Any) -> tuple[Callable[..., Any], Handler]:
        handler = Handler(response)
        options.setdefault("parameter", PARAM)
        decorated = inject_fault(boto3_client=ssm.client, clock=clock, sleep=sleeps, random=Random(seed), **options)
        return decorated(handler), handler

    return deploy


class TestForms:
    def test_bare_form_reads_the_parameter_named_in_the_environment(
        self, ssm: SSM, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        ssm.put(PARAM, BUSY)

        @inject_fault
        def handler(event: Any, context: Any) -> Any:
            return OK

        assert handler(HTTP_EVENT, None)["statusCode"] == 503
        assert handler.__name__ == "handler"

    def test_called_form_without_arguments(self, ssm: SSM, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        ssm.put(PARAM, BUSY)

        @inject_fault()
        def handler(event: Any, context: Any) -> Any:
            return OK

        assert handler(HTTP_EVENT, None)["statusCode"] == 503

    def test_called_form_with_options(self, ssm: SSM) -> None:
        ssm.put("/other", BUSY)

        @inject_fault(parameter="/other", max_age=5)
        def handler(event: Any, context: Any) -> Any:
            return OK

        assert handler(HTTP_EVENT, None)["statusCode"] == 503

    def test_options_are_keyword_only(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        with pytest.raises(TypeError):
            inject_fault(PARAM)  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            inject_fault(Handler(), PARAM)  # type: ignore[call-overload]

    @pytest.mark.parametrize(
        ("options", "error", "message"),
        [
            ({"max_age": float("nan")}, ValueError, "max_age must be a number of seconds from 0 to 300"),
            ({"max_age": 1e308}, ValueError, "max_age must be a number of seconds from 0 to 300"),
            ({"max_age": -1}, ValueError, "max_age"),
            ({"max_age": "5"}, TypeError, "max_age must be a number of seconds, not str"),
            ({"idle_max_age": 3601}, ValueError, "idle_max_age must be a number of seconds from 0 to 3600"),
            ({"idle_max_age": float("inf")}, ValueError, "idle_max_age"),
            ({"idle_max_age": True}, TypeError, "idle_max_age must be a number of seconds, not bool"),
            ({"max_age": 30, "idle_max_age": 10}, ValueError, "must not be below max_age"),
        ],
    )
    def test_a_bad_period_option_fails_at_decoration(
        self, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        with pytest.raises(error, match=message):
            inject_fault(**options)(Handler())
        monkeypatch.setenv("CHAOS_LAYER_DISABLED", "true")
        with pytest.raises(error, match=message):  # also when the library is switched off here
            inject_fault(**options)(Handler())

    def test_context_may_be_none_or_omitted(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(PARAM, BUSY)
        function, handler = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        assert function(HTTP_EVENT)["statusCode"] == 503
        ssm.put(PARAM, {"enabled": False})
        function, handler = deploy(max_age=0)
        assert function(HTTP_EVENT) == OK
        assert handler.runs == 1


class TestRunsOnce:
    @pytest.mark.parametrize(
        "faults",
        [
            [],
            [{"type": "latency", "delay_ms": 10}],
            [{"type": "status_code", "status_code": 500, "prevent_execution": False}],
            [
                {"type": "latency", "delay_ms": 10},
                {"type": "status_code", "status_code": 500, "prevent_execution": False},
            ],
        ],
    )
    def test_the_handler_runs_exactly_once(self, ssm: SSM, deploy: Deploy, faults: list[dict[str, Any]]) -> None:
        ssm.put(PARAM, {"enabled": True, "faults": faults})
        function, handler = deploy()
        function({"httpMethod": "GET", "requestContext": {}}, None)
        assert handler.runs == 1

    @pytest.mark.parametrize(
        "faults",
        [
            [{"type": "exception"}],
            [{"type": "status_code", "status_code": 503}],
            [{"type": "latency", "delay_ms": 10}, {"type": "exception"}],
        ],
    )
    def test_the_handler_does_not_run_when_a_fault_prevents_it(
        self, ssm: SSM, deploy: Deploy, faults: list[dict[str, Any]]
    ) -> None:
        ssm.put(PARAM, {"enabled": True, "faults": faults})
        function, handler = deploy()
        with contextlib.suppress(InjectedFault):
            function(HTTP_EVENT, None)
        assert handler.runs == 0

    def test_the_handlers_own_exception_propagates_once(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(PARAM, {"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}]})
        runs = []

        @inject_fault(parameter=PARAM, boto3_client=ssm.client, sleep=lambda s: None)
        def handler(event: Any, context: Any) -> Any:
            runs.append(1)
            raise KeyError("order 42")

        with pytest.raises(KeyError, match="order 42"):
            handler(HTTP_EVENT, None)
        assert runs == [1]

    def test_arguments_reach_the_handler_untouched(self, ssm: SSM) -> None:
        ssm.put(PARAM, {"enabled": False})
        seen = []
        event = {"id": 1}
        context = FakeLambdaContext()

        @inject_fault(parameter=PARAM, boto3_client=ssm.client)
        def handler(event: Any, context: Any) -> Any:
            seen.append((event, context))
            return "result"

        assert handler(event, context) == "result"
        assert seen[0][0] is event
        assert seen[0][1] is context


class TestFaultsEndToEnd:
    def test_latency_sleeps_the_configured_delay(self, ssm: SSM, deploy: Deploy, sleeps: RecordingSleep) -> None:
        ssm.put(PARAM, {"enabled": True, "faults": [{"type": "latency", "delay_ms": 300}]})
        function, _handler = deploy()
        assert function(HTTP_EVENT, None) == OK
        assert sleeps.calls == [0.3]

    def test_exception_is_the_configured_type_and_message(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(
            PARAM, {"enabled": True, "faults": [{"type": "exception", "exception": "TimeoutError", "message": "m"}]}
        )
        function, _ = deploy()
        with pytest.raises(TimeoutError) as caught:
            function(HTTP_EVENT, None)
        assert type(caught.value) is TimeoutError
        assert str(caught.value) == "m"

    def test_latency_applies_before_an_ending_fault_listed_first(
        self, ssm: SSM, deploy: Deploy, sleeps: RecordingSleep
    ) -> None:
        ssm.put(
            PARAM,
            {
                "enabled": True,
                "faults": [{"type": "status_code", "status_code": 503}, {"type": "latency", "delay_ms": 250}],
            },
        )
        function, handler = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        assert sleeps.calls == [0.25]
        assert handler.runs == 0

    def test_latency_applies_before_an_exception_listed_first(
        self, ssm: SSM, deploy: Deploy, sleeps: RecordingSleep
    ) -> None:
        ssm.put(PARAM, {"enabled": True, "faults": [{"type": "exception"}, {"type": "latency", "delay_ms": 40}]})
        function, _ = deploy()
        with pytest.raises(InjectedFault):
            function(HTTP_EVENT, None)
        assert sleeps.calls == [0.04]

    def test_status_without_prevent_execution_replaces_the_handlers_status(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(
            PARAM,
            {"enabled": True, "faults": [{"type": "status_code", "status_code": 502, "prevent_execution": False}]},
        )
        function, handler = deploy(response={"statusCode": 201, "body": "created"})
        assert function({"httpMethod": "POST", "requestContext": {}}, None) == {"statusCode": 502, "body": "created"}
        assert handler.runs == 1

    def test_one_fault_ends_an_invocation_never_a_blend_of_two(
        self, ssm: SSM, deploy: Deploy, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="chaos_layer")
        ssm.put(
            PARAM,
            {
                "enabled": True,
                "faults": [
                    {"type": "status_code", "status_code": 500, "prevent_execution": False},
                    {"type": "status_code", "status_code": 503, "body": "busy"},
                    {"type": "exception"},
                ],
            },
        )
        function, handler = deploy()
        assert function({"httpMethod": "GET", "requestContext": {}}, None) == {"statusCode": 500, "body": "ok"}
        assert handler.runs == 1
        [record] = [r for r in caplog.records if r.name.startswith("chaos_layer")]
        assert json.loads(record.getMessage())["settings"]["status_code"] == 500

    def test_chaos_lambda_document_means_what_it_meant(self, ssm: SSM, deploy: Deploy) -> None:
        legacy = {"delay": 400, "is_enabled": True, "error_code": 404, "exception_msg": "chaos", "rate": 1}
        ssm.put(PARAM, {**legacy, "fault_type": "status_code"})
        function, handler = deploy(response={"statusCode": 200, "body": "Hello from Lambda!"})
        assert function(HTTP_EVENT, "bar") == {"statusCode": 404, "body": "Hello from Lambda!"}
        assert handler.runs == 1
        # like every status_code, only for events from HTTP sources
        assert function("foo", "bar") == {"statusCode": 200, "body": "Hello from Lambda!"}
        assert handler.runs == 2

        ssm.put(PARAM, {**legacy, "fault_type": "exception"})
        function, handler = deploy()
        with pytest.raises(Exception, match=r"^chaos$") as caught:
            function("foo", "bar")
        assert type(caught.value) is Exception
        assert handler.runs == 0


class TestSwitches:
    @pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", " Yes "])
    def test_disabled_means_no_ssm_call_ever(
        self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_DISABLED", value)
        ssm.put(PARAM, BUSY)
        function, handler = deploy(max_age=0)
        for _ in range(20):
            assert function(HTTP_EVENT, None) == OK
        assert handler.runs == 20
        assert ssm.calls == 0

    @pytest.mark.parametrize("value", ["false", "0", "no", ""])
    def test_other_values_do_not_disable(
        self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_DISABLED", value)
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        assert ssm.calls == 1

    def test_no_parameter_configured_passes_through_with_exactly_one_warning(
        self, ssm: SSM, deploy: Deploy, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        function, handler = deploy(parameter=None)
        for _ in range(10):
            assert function(HTTP_EVENT, None) == OK
        assert handler.runs == 10
        assert ssm.calls == 0
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1
        assert "CHAOS_LAYER_PARAM" in warnings[0].getMessage()

    def test_chaos_param_is_honoured_when_chaos_layer_param_is_unset(
        self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_PARAM", "chaoslambda.config")
        ssm.put("chaoslambda.config", BUSY)
        function, _ = deploy(parameter=None)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    def test_chaos_layer_param_wins_over_chaos_param(
        self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_PARAM", "chaoslambda.config")
        monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        ssm.put("chaoslambda.config", {"enabled": False})
        ssm.put(PARAM, BUSY)
        function, _ = deploy(parameter=None)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    def test_kill_switch_engaged_then_released(self, ssm: SSM, deploy: Deploy, clock: FakeClock) -> None:
        ssm.put(PARAM, BUSY)
        function, _ = deploy(max_age=5)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        ssm.put(KILL, "on")
        clock.advance(5)  # a kill reaches an injecting environment within max_age
        assert function(HTTP_EVENT, None) == OK

        ssm.put(KILL, " OFF ")
        clock.advance(60)  # a killed environment is idle: the release reaches it within the idle period
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    def test_custom_kill_switch_name(self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHAOS_LAYER_KILL_SWITCH", "/team/stop")
        ssm.put(PARAM, BUSY)
        ssm.put(KILL, "on")  # not this function's switch
        function, _ = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        ssm.put("/team/stop", "on")
        function, _ = deploy()
        assert function(HTTP_EVENT, None) == OK

    def test_secure_string_config(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(PARAM, BUSY, type="SecureString")
        function, _ = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    def test_secure_string_kill_switch(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(PARAM, BUSY)
        ssm.put(KILL, "on", type="SecureString")
        function, _ = deploy()
        assert function(HTTP_EVENT, None) == OK


class TestCaching:
    def test_at_most_one_ssm_call_per_cache_period_whatever_the_invocation_count(
        self, ssm: SSM, deploy: Deploy, clock: FakeClock
    ) -> None:
        ssm.put(PARAM, BUSY)
        function, _ = deploy(max_age=5)
        for _ in range(5000):  # 5 s at 1000 invocations per second
            function(HTTP_EVENT, None)
            clock.advance(0.001)
        assert ssm.calls <= 2  # the first read, and at most one when the (jittered) period ends

        for _ in range(5000):
            function(HTTP_EVENT, None)
            clock.advance(0.01)  # 50 s more
        assert ssm.calls <= 2 + 50 / (5 * 0.75) + 1

    def test_a_change_is_seen_only_after_the_period(self, ssm: SSM, deploy: Deploy, clock: FakeClock) -> None:
        ssm.put(PARAM, BUSY)
        function, _ = deploy(max_age=30)
        function(HTTP_EVENT, None)
        ssm.put(PARAM, {"enabled": False})
        clock.advance(15)  # jitter shortens the period by at most a quarter
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.advance(15)
        assert function(HTTP_EVENT, None) == OK
        assert ssm.calls == 2

    @pytest.mark.parametrize(("env", "seen_after"), [("30", 30), ("2.5", 2.5)])
    def test_max_age_from_the_environment(
        self,
        ssm: SSM,
        deploy: Deploy,
        clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch,
        env: str,
        seen_after: float,
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", env)
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        function(HTTP_EVENT, None)
        ssm.put(PARAM, {"enabled": False})
        clock.advance(seen_after * 0.5)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.advance(seen_after * 0.5)
        assert function(HTTP_EVENT, None) == OK

    @pytest.mark.parametrize("env", ["five", "-1", "nan", "inf", "1e308", "301"])
    def test_unusable_max_age_falls_back_to_the_default_with_a_warning(
        self,
        ssm: SSM,
        deploy: Deploy,
        clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        env: str,
    ) -> None:
        caplog.set_level(logging.WARNING, logger="chaos_layer")
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", env)
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        for _ in range(3):
            assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.advance(5)
        function(HTTP_EVENT, None)
        assert ssm.calls == 2
        assert [r.getMessage() for r in caplog.records if "MAX_AGE" in r.getMessage()] == [
            "CHAOS_LAYER_MAX_AGE must be a number of seconds from 0 to 300; using 5"
        ]

    def test_max_age_argument_wins_over_the_environment(
        self, ssm: SSM, deploy: Deploy, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "300")
        ssm.put(PARAM, BUSY)
        function, _ = deploy(max_age=1)
        function(HTTP_EVENT, None)
        clock.advance(1)
        function(HTTP_EVENT, None)
        assert ssm.calls == 2

    def test_default_max_age_is_five_seconds(self, ssm: SSM, deploy: Deploy, clock: FakeClock) -> None:
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        function(HTTP_EVENT, None)
        clock.advance(3.7)  # inside every jittered period (at least 3.75 s)
        function(HTTP_EVENT, None)
        assert ssm.calls == 1
        clock.advance(1.3)
        function(HTTP_EVENT, None)
        assert ssm.calls == 2

    def test_max_age_zero_reads_on_every_invocation(
        self, ssm: SSM, deploy: Deploy, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
        monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "0")
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        ssm.put(KILL, "on")
        assert function(HTTP_EVENT, None) == OK  # no clock advance needed
        ssm.put(KILL, "off")
        assert function(HTTP_EVENT, None)["statusCode"] == 503  # nor for a release, with both periods 0
        for _ in range(3):
            function(HTTP_EVENT, None)
        assert ssm.calls == 6

    def test_max_age_zero_alone_sees_a_stop_at_once_but_a_start_within_the_idle_period(
        self, ssm: SSM, deploy: Deploy, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CHAOS_LAYER_MAX_AGE", "0")
        ssm.put(PARAM, BUSY)
        function, _ = deploy()
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        ssm.put(PARAM, {"enabled": False})
        assert function(HTTP_EVENT, None) == OK  # injecting: read on every invocation
        ssm.put(PARAM, BUSY)
        clock.advance(44)  # idle: the 60 s idle period, shortened by at most a quarter
        assert function(HTTP_EVENT, None) == OK
        clock.advance(16)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        assert ssm.calls == 3

    @pytest.mark.parametrize("seed", range(20))
    def test_the_kill_switch_reaches_every_environment_within_max_age(
        self, ssm: SSM, deploy: Deploy, clock: FakeClock, seed: int
    ) -> None:
        """Each seed is one execution environment; whatever its jitter, max_age is the bound."""
        ssm.put(PARAM, BUSY)
        function, _ = deploy(max_age=5, seed=seed)
        for _ in range(7):
            function(HTTP_EVENT, None)
            clock.advance(0.7)
        ssm.put(KILL, "on")
        clock.advance(5)
        assert function(HTTP_EVENT, None) == OK

    def test_periods_are_measured_on_the_monotonic_clock_not_the_wall_clock(self, ssm: SSM, clock: FakeClock) -> None:
        ssm.put(PARAM, BUSY)
        monotonic = FakeClock(now=500.0)
        function = inject_fault(parameter=PARAM, boto3_client=ssm.client, clock=clock, monotonic=monotonic)(Handler())
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        ssm.put(KILL, "on")
        clock.advance(-3600)  # the wall clock is stepped back an hour...
        monotonic.advance(5)  # ...while time goes on
        assert function(HTTP_EVENT, None) == OK  # the kill switch is read within max_age all the same

    def test_idle_max_age_from_the_argument_and_the_environment(
        self, ssm: SSM, deploy: Deploy, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ssm.put(PARAM, {"enabled": False})
        monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "600")
        for options, seen_after in (({}, 600), ({"idle_max_age": 20}, 20)):
            function, _ = deploy(**options)
            assert function(HTTP_EVENT, None) == OK
            ssm.put(PARAM, BUSY)
            clock.advance(seen_after * 0.74)  # inside every jittered idle period
            assert function(HTTP_EVENT, None) == OK
            clock.advance(seen_after * 0.26)
            assert function(HTTP_EVENT, None)["statusCode"] == 503
            ssm.put(PARAM, {"enabled": False})

    def test_refreshes_of_a_fleet_are_spread_out(self, ssm: SSM, clock: FakeClock) -> None:
        ssm.put(PARAM, BUSY)
        first_refresh = []
        for seed in range(20):
            start = clock.now
            calls_before = ssm.calls
            function = inject_fault(parameter=PARAM, boto3_client=ssm.client, clock=clock, random=Random(seed))(
                Handler()
            )
            function(HTTP_EVENT, None)
            while ssm.calls == calls_before + 1:
                clock.advance(0.05)
                function(HTTP_EVENT, None)
            first_refresh.append(round(clock.now - start, 2))
        assert max(first_refresh) <= 5.0
        assert len(set(first_refresh)) > 5

    def test_expires_at_stops_injection_at_that_instant(self, ssm: SSM, deploy: Deploy, clock: FakeClock) -> None:
        expiry = clock.now + 100.5
        stamp = datetime.fromtimestamp(expiry, timezone.utc).isoformat().replace("+00:00", "Z")
        ssm.put(PARAM, {**BUSY, "expires_at": stamp})
        function, _ = deploy(max_age=300)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.now = expiry - 0.01
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.now = expiry
        assert function(HTTP_EVENT, None) == OK
        assert ssm.calls == 2  # read again at the expiry, in case it was moved forward: it was not

    def test_expires_at_with_an_offset(self, ssm: SSM, deploy: Deploy, clock: FakeClock) -> None:
        expiry = clock.now + 60
        stamp = datetime.fromtimestamp(expiry, timezone.utc).astimezone(datetime.now().astimezone().tzinfo).isoformat()
        ssm.put(PARAM, {**BUSY, "expires_at": stamp})
        function, _ = deploy(max_age=300)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        clock.now = expiry
        assert function(HTTP_EVENT, None) == OK


class TestRates:
    RUNS = 4000

    def test_top_level_rate_is_the_fraction_of_invocations(self, ssm: SSM, deploy: Deploy) -> None:
        ssm.put(PARAM, {**BUSY, "rate": 0.3})
        function, handler = deploy(seed=11)
        hits = sum(function(HTTP_EVENT, None)["statusCode"] == 503 for _ in range(self.RUNS))
        assert 0.25 * self.RUNS < hits < 0.35 * self.RUNS
        assert handler.runs == self.RUNS - hits

    @pytest.mark.parametrize("rate", [0, 1])
    def test_rate_bounds_are_all_or_nothing(self, ssm: SSM, deploy: Deploy, rate: float) -> None:
        ssm.put(PARAM, {**BUSY, "rate": rate})
        function, _ = deploy(seed=5)
        hits = sum(function(HTTP_EVENT, None)["statusCode"] == 503 for _ in range(500))
        assert hits == 500 * rate

    def test_fault_rate_is_the_fraction_of_in_radius_invocations(
        self, ssm: SSM, deploy: Deploy, sleeps: RecordingSleep
    ) -> None:
        ssm.put(
            PARAM,
            {
                "enabled": True,
                "rate": 0.5,
                "faults": [
                    {"type": "latency", "delay_ms": 100, "rate": 0.4},
                    {"type": "status_code", "status_code": 503, "rate": 0.2},
                ],
            },
        )
        function, _ = deploy(seed=12)
        statuses = 0
        for _ in range(self.RUNS):
            statuses += function(HTTP_EVENT, None)["statusCode"] == 503
        # 0.5 x 0.4 = 20 % delayed, 0.5 x 0.2 = 10 % failed, drawn independently
        assert 0.16 * self.RUNS < len(sleeps.calls) < 0.24 * self.RUNS
        assert 0.07 * self.RUNS < statuses < 0.13 * self.RUNS
