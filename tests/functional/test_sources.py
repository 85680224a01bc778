"""The library on every source: a config and a kill switch in S3 (moto over HTTP) or in
AppConfig (moto behind the stand-in, read through its agent API), alone or mixed with SSM,
with the guarantees SSM has: one read per period, fail-safe, one warning per problem per
period, values never logged, a missing object or profile is a missing config or a kill
switch that is not engaged.

The library's own clients are used (short timeouts, no retries), pointed at loopback by the
SDK's usual variables (AWS_ENDPOINT_URL_S3, ...) and AWS_APPCONFIG_EXTENSION_HTTP_PORT.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from random import Random
from typing import Any

import pytest

import chaos_layer.source
from chaos_layer import inject_fault
from chaos_layer.control import Controller, clients
from tests.conftest import AppConfig, FakeClock, MotoServer, S3Bucket, ScriptedHttp
from tests.functional.conftest import HangingEndpoint

SSM_PARAM = "/chaos-layer/orders"
SSM_KILL = "/chaos-layer/kill-switch"
SECRET = "chaos-secret-5a7f"  # must never appear in any log output
OK = {"statusCode": 200, "body": "ok"}
HTTP_EVENT = {"httpMethod": "GET", "requestContext": {}}
CONFIG = json.dumps(
    {"enabled": True, "experiment": "sources", "faults": [{"type": "status_code", "status_code": 503, "body": SECRET}]}
)
STOPPED = json.dumps({"enabled": False, "faults": [{"type": "status_code", "status_code": 503, "body": SECRET}]})


class Handler:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return OK


Deploy = Callable[..., tuple[Callable[..., Any], Handler]]


@pytest.fixture
def deploy(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> Deploy:
    """A decorated handler reading `parameter` and `kill_switch` (both periods 5 s, so every
    change is seen within one period; seeded)."""
    caplog.set_level(logging.DEBUG, logger="chaos_layer")

    def deploy(parameter: str, kill_switch: str = SSM_KILL) -> tuple[Callable[..., Any], Handler]:
        handler = Handler()
        function = inject_fault(
            parameter=parameter,
            kill_switch=kill_switch,
            max_age=5,
            idle_max_age=5,
            clock=clock,
            random=Random(4),
            sleep=lambda s: None,
        )(handler)
        return function, handler

    return deploy


@pytest.fixture
def ssm_endpoint(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """SSM on the moto server, warmed up: moto loads its SSM backend on the first request,
    which can take longer than the library's one-second timeouts."""
    moto_server._without_logging(lambda: moto_server.client().get_parameters(Names=[SSM_KILL]))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
    return moto_server


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def run_for_a_period(function: Callable[..., Any], clock: FakeClock, invocations: int = 30) -> list[Any]:
    """Invocations spread over less than one (jittered) 5 s period."""
    answers = []
    for _ in range(invocations):
        answers.append(function(HTTP_EVENT, None))
        clock.advance(3.5 / invocations)
    return answers


def next_period(clock: FakeClock) -> None:
    clock.advance(5)


def assert_nothing_leaked(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = capsys.readouterr()
    assert SECRET not in caplog.text + out + err
    for record in caplog.records:
        assert SECRET not in record.getMessage()


def status(parameter: str, kill_switch: str) -> Any:
    return Controller(clients(), parameter, kill_switch).status()


# --- S3 ------------------------------------------------------------------------------------


class TestS3:
    def test_the_config_injects_and_an_unchanged_object_is_neither_downloaded_nor_parsed_again(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        parsed: list[str] = []
        parse = chaos_layer.source.parse

        def counted(text: str) -> Any:
            parsed.append(text)
            return parse(text)

        monkeypatch.setattr(chaos_layer.source, "parse", counted)
        s3.put("orders.json", CONFIG)
        function, handler = deploy(s3.location("orders.json"))

        for _ in range(3):
            assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
            next_period(clock)

        assert handler.runs == 0
        assert s3.gets("orders.json") == 3  # one read per period
        assert s3.gets("orders.json", conditional=True) == 2  # If-None-Match on the ETag: 304, no body
        assert len(parsed) == 1

        s3.put("orders.json", STOPPED)
        assert run_for_a_period(function, clock) == [OK] * 30
        assert len(parsed) == 1  # a stopped config selects nothing: it is not parsed at all

    def test_the_kill_switch_in_s3_stops_and_releases_every_experiment(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        s3.put("orders.json", CONFIG)
        function, handler = deploy(s3.location("orders.json"), s3.location("kill-switch"))
        assert function(HTTP_EVENT, None)["statusCode"] == 503  # no kill-switch object: not engaged

        s3.put("kill-switch", "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK

        s3.put("kill-switch", " OFF\n")
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        s3.put("kill-switch", "on")
        s3.delete("orders.json")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert handler.runs == 2

    def test_a_missing_object_is_a_missing_config(
        self,
        s3: S3Bucket,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        function, handler = deploy(s3.location("absent.json"))
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert s3.gets("absent.json") == 1
        assert warnings(caplog) == [f"chaos-layer is not injecting: parameter {s3.location('absent.json')} not found"]

    def test_invalid_json_runs_the_handler_and_warns_once_without_the_value(
        self,
        s3: S3Bucket,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        s3.put("orders.json", f'{{"enabled": true, "faults": [{{"type": "{SECRET}"')
        function, handler = deploy(s3.location("orders.json"))
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert f"config in {s3.location('orders.json')} is invalid" in warning
        assert_nothing_leaked(caplog, capsys)

    def test_access_denied_names_the_missing_permission(
        self,
        scripted_http: ScriptedHttp,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        scripted_http.answer = (403, {"Content-Type": "application/xml"}, body)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", scripted_http.endpoint_url)
        function, handler = deploy("s3://chaos-layer-configs/orders.json")

        run_for_a_period(function, clock)

        assert handler.runs == 30
        assert len(scripted_http.requests) == 1
        [warning] = warnings(caplog)
        assert "s3:GetObject on arn:aws:s3:::chaos-layer-configs/orders.json" in warning

    def test_a_hanging_endpoint_costs_one_connection_per_period(
        self,
        hanging_endpoint: HangingEndpoint,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", hanging_endpoint.endpoint_url)
        function, handler = deploy("s3://chaos-layer-configs/orders.json")

        run_for_a_period(function, clock, invocations=5)

        assert handler.runs == 5
        assert len(hanging_endpoint.connections) == 1  # no retries, and the failure was cached
        [warning] = warnings(caplog)
        assert "timeout" in warning.lower()

    def test_a_malformed_location_from_the_environment_is_a_problem_not_an_error(
        self,
        ssm_endpoint: MotoServer,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # (given as parameter=, it fails at decoration: tests/functional/test_decorator_options.py)
        caplog.set_level(logging.DEBUG, logger="chaos_layer")
        monkeypatch.setenv("CHAOS_LAYER_PARAM", "s3://only-a-bucket")
        handler = Handler()
        function = inject_fault(kill_switch=SSM_KILL, max_age=5, idle_max_age=5, clock=clock)(handler)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert "expected s3://BUCKET/KEY" in warning


# --- AppConfig -----------------------------------------------------------------------------


class TestAppConfig:
    def test_the_deployed_config_injects_with_one_agent_request_per_period(
        self, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, CONFIG)
        function, handler = deploy(location)

        for _ in range(3):
            assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
            next_period(clock)

        assert handler.runs == 0
        assert appconfig.standin.agent_requests == ["/applications/orders/environments/prod/configurations/chaos"] * 3

    def test_a_stop_written_but_not_deployed_is_not_effective_and_a_deployed_one_is(
        self, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, CONFIG)
        function, _ = deploy(location)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        appconfig.create_version(location, STOPPED)  # the latest hosted version, not deployed
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        assert status(location, SSM_KILL).injecting

        appconfig.deploy(location, STOPPED)
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert not status(location, SSM_KILL).injecting

    def test_a_rolled_back_deployment_gives_way_to_the_one_before(
        self, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, STOPPED)
        number = appconfig.deploy(location, CONFIG, strategy="AppConfig.Linear50PercentEvery30Seconds", finish=False)
        function, _ = deploy(location)
        assert function(HTTP_EVENT, None) == OK  # still deploying: not yet everywhere

        ids = appconfig.ids(location)
        appconfig.standin.finish(ids["ApplicationId"], ids["EnvironmentId"], number)
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        number = appconfig.deploy(location, STOPPED, strategy="AppConfig.Linear50PercentEvery30Seconds", finish=False)
        appconfig.standin.roll_back(ids["ApplicationId"], ids["EnvironmentId"], number, "alarm errors went off")
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    def test_the_kill_switch_in_appconfig(
        self, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        location = appconfig.profile()
        kill_switch = appconfig.profile(profile="kill-switch")
        appconfig.deploy(location, CONFIG)
        function, _ = deploy(location, kill_switch)
        assert function(HTTP_EVENT, None)["statusCode"] == 503  # nothing deployed: not engaged

        appconfig.deploy(kill_switch, "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK

        appconfig.deploy(kill_switch, "off")
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

    @pytest.mark.parametrize("what", ["application", "profile", "deployment"])
    def test_a_missing_profile_is_a_missing_config(
        self,
        appconfig: AppConfig,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        what: str,
    ) -> None:
        location = "appconfig://orders/prod/chaos"
        if what != "application":
            appconfig.profile(profile="chaos" if what == "deployment" else "other")
        function, handler = deploy(location)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert len(appconfig.standin.agent_requests) == 1
        assert warnings(caplog) == [f"chaos-layer is not injecting: parameter {location} not found"]

    def test_invalid_json_runs_the_handler_and_warns_once_without_the_value(
        self,
        appconfig: AppConfig,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, f"not json {SECRET}")
        function, handler = deploy(location)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert f"config in {location} is invalid" in warning
        assert_nothing_leaked(caplog, capsys)

    def test_access_denied_names_the_missing_permissions(
        self,
        appconfig: AppConfig,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        appconfig.standin.agent_answer = (
            502,
            "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform:"
            " appconfig:StartConfigurationSession",
        )
        function, handler = deploy("appconfig://orders/prod/chaos")
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert "appconfig:StartConfigurationSession and appconfig:GetLatestConfiguration" in warning
        assert "environment prod and profile chaos" in warning
        assert "assumed-role" not in warning  # the agent's (AWS's) own words stay out of the log

    def test_a_hanging_agent_costs_one_connection_per_period(
        self,
        hanging_endpoint: HangingEndpoint,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", hanging_endpoint.endpoint_url.rsplit(":", 1)[1])
        function, handler = deploy("appconfig://orders/prod/chaos")

        run_for_a_period(function, clock, invocations=5)

        assert handler.runs == 5
        assert len(hanging_endpoint.connections) == 1
        [warning] = warnings(caplog)
        assert "did not answer" in warning

    def test_no_agent_says_so(
        self,
        closed_port: str,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", closed_port.rsplit(":", 1)[1])
        function, handler = deploy("appconfig://orders/prod/chaos")
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert "is its Lambda layer attached?" in warning


# --- mixed sources ---------------------------------------------------------------------------


class TestMixedSources:
    def test_config_in_s3_and_kill_switch_in_ssm_one_read_of_each_per_period(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        s3.put("orders.json", CONFIG)
        function, _ = deploy(s3.location("orders.json"), SSM_KILL)
        assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
        assert (s3.gets("orders.json"), ssm_endpoint.calls()) == (1, 1)

        ssm_endpoint.put(SSM_KILL, "on")
        next_period(clock)
        assert run_for_a_period(function, clock) == [OK] * 30
        assert (s3.gets("orders.json"), ssm_endpoint.calls()) == (2, 2)

    def test_config_in_appconfig_and_kill_switch_in_ssm(
        self, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, CONFIG)
        function, _ = deploy(location, SSM_KILL)
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        ssm_endpoint.put(SSM_KILL, "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert status(location, SSM_KILL).killed

    def test_config_in_ssm_and_kill_switch_in_s3(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        ssm_endpoint.put(SSM_PARAM, CONFIG)
        function, _ = deploy(SSM_PARAM, s3.location("kill-switch"))
        assert function(HTTP_EVENT, None)["statusCode"] == 503
        s3.put("kill-switch", "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert ssm_endpoint.requests == ["AmazonSSM.GetParameters"] * 2  # the config alone, by name

    def test_config_and_kill_switch_both_in_ssm_stay_one_call(
        self, s3: S3Bucket, appconfig: AppConfig, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        ssm_endpoint.put(SSM_PARAM, CONFIG)
        function, _ = deploy(SSM_PARAM, SSM_KILL)
        for _ in range(3):
            run_for_a_period(function, clock)
            next_period(clock)
        assert ssm_endpoint.requests == ["AmazonSSM.GetParameters"] * 3
        assert appconfig.standin.agent_requests == []
        assert s3.server._log.rest == []

    def test_an_engaged_kill_switch_wins_over_a_config_that_cannot_be_read(
        self,
        hanging_endpoint: HangingEndpoint,
        ssm_endpoint: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", hanging_endpoint.endpoint_url)
        ssm_endpoint.put(SSM_KILL, "on")
        function, handler = deploy("s3://chaos-layer-configs/orders.json", SSM_KILL)
        run_for_a_period(function, clock, invocations=3)
        assert handler.runs == 3
        assert warnings(caplog) == []  # killed is a normal answer, whatever the config's read did

    def test_a_failed_kill_switch_read_means_no_injection_and_names_the_kill_switch(
        self,
        s3: S3Bucket,
        closed_port: str,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", closed_port)
        s3.put("orders.json", CONFIG)
        function, handler = deploy(s3.location("orders.json"), SSM_KILL)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert f"could not read {SSM_KILL}" in warning
