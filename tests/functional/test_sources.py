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
from dataclasses import dataclass
from random import Random
from typing import Any

import pytest

import chaos_layer.source
from chaos_layer import inject_fault
from chaos_layer.control import Controller, clients
from tests.conftest import AppConfig, FakeClock, MotoServer, S3Bucket
from tests.functional.conftest import HangingEndpoint
from tests.scripted_endpoint import ScriptedEndpoint

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


# --- what every source does alike ----------------------------------------------------------

# AWS's own words in a denial, which name the caller: they stay out of the library's warning.
AWS_DENIAL = "User: arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform: "
APPCONFIG_PATH = "/applications/orders/environments/prod/configurations/chaos"


@dataclass
class Source:
    """A source other than SSM, as the tests below drive it alike: the config at `config`, the
    kill switch at `kill_switch`, `write` puts a text where the library reads it (S3: the
    object; AppConfig: a deployed version), `reads()` counts the library's reads of the config.
    `deny()` makes the source refuse every read, after which the warning names `permissions`;
    `point_at(url)` sends the library's reads to another endpoint, whose silence the warning
    calls `no_answer`."""

    kind: str
    config: str
    kill_switch: str
    write: Callable[[str, str], object]
    reads: Callable[[], int]
    deny: Callable[[], None]
    permissions: tuple[str, ...]
    point_at: Callable[[str], None]
    no_answer: str


def s3_source(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Source:
    s3: S3Bucket = request.getfixturevalue("s3")

    def deny() -> None:
        scripted: ScriptedEndpoint = request.getfixturevalue("scripted_endpoint")
        body = f"<Error><Code>AccessDenied</Code><Message>{AWS_DENIAL}s3:GetObject</Message></Error>"
        scripted.answer(403, body.encode(), {"Content-Type": "application/xml"})
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", scripted.endpoint_url)

    return Source(
        kind="s3",
        config=s3.location("orders.json"),
        kill_switch=s3.location("kill-switch"),
        write=lambda location, text: s3.put(location.removeprefix(f"s3://{s3.name}/"), text),
        reads=lambda: s3.gets("orders.json"),
        deny=deny,
        permissions=("s3:GetObject on arn:aws:s3:::chaos-layer-configs/orders.json",),
        point_at=lambda url: monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url),
        no_answer="timeout",
    )


def appconfig_source(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Source:
    appconfig: AppConfig = request.getfixturevalue("appconfig")

    def deny() -> None:
        denial = f"AccessDeniedException: {AWS_DENIAL}appconfig:StartConfigurationSession"
        appconfig.standin.agent_answer = (502, denial)

    return Source(
        kind="appconfig",
        config=appconfig.profile(),
        kill_switch=appconfig.profile(profile="kill-switch"),
        write=appconfig.deploy,
        reads=lambda: appconfig.standin.agent_requests.count(APPCONFIG_PATH),
        deny=deny,
        permissions=(
            "appconfig:StartConfigurationSession and appconfig:GetLatestConfiguration",
            "environment prod and profile chaos",
        ),
        point_at=lambda url: monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", url.rsplit(":", 1)[1]),
        no_answer="did not answer",
    )


@pytest.fixture(params=["s3", "appconfig"])
def source(request: pytest.FixtureRequest, ssm_endpoint: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Source:
    """S3 (moto) or AppConfig (the stand-in and its agent); SSM holds nothing but is there."""
    return s3_source(request, monkeypatch) if request.param == "s3" else appconfig_source(request, monkeypatch)


class TestEverySource:
    def test_the_config_injects_with_one_read_per_period(
        self, source: Source, deploy: Deploy, clock: FakeClock
    ) -> None:
        source.write(source.config, CONFIG)
        function, handler = deploy(source.config)

        for _ in range(3):
            assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
            next_period(clock)

        assert handler.runs == 0
        assert source.reads() == 3

    def test_the_kill_switch_stops_and_releases_the_experiment(
        self, source: Source, deploy: Deploy, clock: FakeClock
    ) -> None:
        source.write(source.config, CONFIG)
        function, handler = deploy(source.config, source.kill_switch)
        assert function(HTTP_EVENT, None)["statusCode"] == 503  # nothing at the kill switch: not engaged

        source.write(source.kill_switch, "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK

        source.write(source.kill_switch, " OFF\n")
        next_period(clock)
        assert function(HTTP_EVENT, None)["statusCode"] == 503

        source.write(source.kill_switch, "on")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert handler.runs == 2

    def test_nothing_at_the_location_is_a_missing_config(
        self, source: Source, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        function, handler = deploy(source.config)  # nothing written there
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert source.reads() == 1
        assert warnings(caplog) == [f"chaos-layer is not injecting: config {source.config} not found"]

    def test_invalid_json_runs_the_handler_and_warns_once_without_the_value(
        self,
        source: Source,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        source.write(source.config, f'{{"enabled": true, "faults": [{{"type": "{SECRET}"')
        function, handler = deploy(source.config)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert f"config in {source.config} is invalid" in warning
        assert_nothing_leaked(caplog, capsys)

    def test_access_denied_names_the_missing_permissions_in_its_own_words(
        self, source: Source, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        source.deny()
        function, handler = deploy(source.config)

        run_for_a_period(function, clock)

        assert handler.runs == 30
        [warning] = warnings(caplog)
        for words in source.permissions:
            assert words in warning
        assert "assumed-role" not in warning  # AWS's own words (the caller) stay out of the log

    def test_a_hanging_endpoint_costs_one_connection_per_period(
        self,
        source: Source,
        hanging_endpoint: HangingEndpoint,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        source.point_at(hanging_endpoint.endpoint_url)
        function, handler = deploy(source.config)

        run_for_a_period(function, clock, invocations=5)

        assert handler.runs == 5
        assert len(hanging_endpoint.connections) == 1  # no retries, and the failure was cached
        [warning] = warnings(caplog)
        assert source.no_answer in warning.lower()


# --- S3 ------------------------------------------------------------------------------------


class TestS3:
    def test_an_unchanged_object_is_neither_downloaded_nor_parsed_again(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        parsed: list[str] = []
        parse = chaos_layer.source.parse

        def counted(text: str) -> Any:
            parsed.append(text)
            return parse(text)

        monkeypatch.setattr(chaos_layer.source, "parse", counted)
        s3.put("orders.json", CONFIG)
        function, _ = deploy(s3.location("orders.json"))

        for _ in range(3):
            assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
            next_period(clock)

        assert s3.gets("orders.json", conditional=True) == 2  # If-None-Match on the ETag: 304, no body
        assert len(parsed) == 1

        s3.put("orders.json", STOPPED)
        assert run_for_a_period(function, clock) == [OK] * 30
        assert len(parsed) == 1  # a stopped config selects nothing: it is not parsed at all

    def test_an_engaged_kill_switch_with_the_config_deleted_lets_the_handler_run(
        self, s3: S3Bucket, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        s3.put("orders.json", CONFIG)
        s3.put("kill-switch", "on")
        function, handler = deploy(s3.location("orders.json"), s3.location("kill-switch"))
        assert function(HTTP_EVENT, None) == OK

        s3.delete("orders.json")
        next_period(clock)
        assert function(HTTP_EVENT, None) == OK
        assert handler.runs == 2

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

    @pytest.mark.parametrize("what", ["profile", "deployment"])
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
        appconfig.profile(profile="chaos" if what == "deployment" else "other")
        function, handler = deploy(location)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert len(appconfig.standin.agent_requests) == 1
        assert warnings(caplog) == [f"chaos-layer is not injecting: config {location} not found"]

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
    def test_config_in_the_source_and_kill_switch_in_ssm_one_read_of_each_per_period(
        self, source: Source, ssm_endpoint: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        source.write(source.config, CONFIG)
        function, _ = deploy(source.config, SSM_KILL)
        assert {answer["statusCode"] for answer in run_for_a_period(function, clock)} == {503}
        assert (source.reads(), ssm_endpoint.calls()) == (1, 1)

        ssm_endpoint.put(SSM_KILL, "on")
        next_period(clock)
        assert run_for_a_period(function, clock) == [OK] * 30
        assert (source.reads(), ssm_endpoint.calls()) == (2, 2)
        assert status(source.config, SSM_KILL).killed

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
