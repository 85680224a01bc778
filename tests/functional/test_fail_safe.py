"""Whatever goes wrong with SSM or the config, the handler runs and returns as if the library
were absent; each problem is logged once per period and never with the parameter's value.

The library uses its own default client (short timeouts, no retries), pointed at loopback
endpoints through AWS_ENDPOINT_URL_SSM, so the real botocore stack sees real responses.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from random import Random
from typing import Any

import pytest

from chaos_layer import inject_fault
from chaos_layer.source.cache import READ_DEADLINE
from chaos_layer.source.shared import SharedFile
from tests.conftest import HTTP_EVENT, FakeClock, MotoServer
from tests.functional.conftest import DrippingEndpoint, HangingEndpoint
from tests.scripted_endpoint import ScriptedEndpoint

PARAM = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
SECRET = "chaos-secret-7d1e"  # must never appear in any log output
OK = {"statusCode": 200, "body": "ok"}


class Handler:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return OK


Deploy = Callable[[str], tuple[Callable[..., Any], Handler]]


@pytest.fixture
def deploy(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> Deploy:
    """A decorated handler whose library reads SSM at `endpoint_url` (both periods 5 s, seeded:
    a failed read is idle, and these tests look at several periods)."""
    # Everything the library logs, at any level; other loggers at their usual WARNING.
    caplog.set_level(logging.DEBUG, logger="chaos_layer")

    def deploy(endpoint_url: str) -> tuple[Callable[..., Any], Handler]:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", endpoint_url)
        handler = Handler()
        function = inject_fault(
            parameter=PARAM, max_age=5, idle_max_age=5, clock=clock, random=Random(4), sleep=lambda s: None
        )(handler)
        return function, handler

    return deploy


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def run_for_a_period(function: Callable[..., Any], clock: FakeClock, invocations: int = 30) -> None:
    """Invocations spread over less than one (jittered) 5 s period; each returns normally."""
    for _ in range(invocations):
        assert function({"httpMethod": "GET", "requestContext": {}}, None) == OK
        clock.advance(3.5 / invocations)


def assert_nothing_leaked(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = capsys.readouterr()
    assert SECRET not in caplog.text
    assert SECRET not in out + err
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


class TestConfigProblems:
    @pytest.mark.parametrize(
        "value",
        [
            f"not json {SECRET}",
            f'{{"enabled": true, "faults": [{{"type": "exception", "message": "{SECRET}"}}]',  # truncated
            f'["{SECRET}"]',
            f'{{"enabled": "{SECRET}", "faults": []}}',
            f'{{"enabled": true, "faults": [{{"type": "{SECRET}"}}]}}',
            f'{{"enabled": true, "faults": [{{"type": "exception", "exception": "{SECRET}"}}]}}',
            f'{{"enabled": true, "faults": [{{"type": "exception", "message": "{SECRET}", "x": 1}}]}}',
            f'{{"enabled": true, "faults": [{{"type": "status_code", "status_code": 700, "body": "{SECRET}"}}]}}',
            '{"enabled": true, "faults": [{"type": "exception", "exception": "SystemExit"}]}',
            '{"enabled": true, "faults": [{"type": "exception", "exception": "os.system"}]}',
            '{"enabled": true, "rate": 1' + "0" * 400 + "}",
        ],
    )
    def test_invalid_config_runs_the_handler_and_warns_once_per_period(
        self,
        moto_server: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
        value: str,
    ) -> None:
        moto_server.put(PARAM, value)
        function, handler = deploy(moto_server.endpoint_url)

        run_for_a_period(function, clock)

        assert handler.runs == 30
        assert moto_server.calls() == 1
        assert len(warnings(caplog)) == 1
        assert f"config in {PARAM} is invalid" in warnings(caplog)[0]
        assert_nothing_leaked(caplog, capsys)

    def test_missing_parameter(
        self,
        moto_server: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        function, handler = deploy(moto_server.endpoint_url)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert moto_server.calls() == 1
        assert warnings(caplog) == [f"chaos-layer is not injecting: config {PARAM} not found"]

    def test_one_warning_per_distinct_problem_per_period(
        self, moto_server: MotoServer, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        function, _ = deploy(moto_server.endpoint_url)
        run_for_a_period(function, clock)  # missing
        clock.advance(2)
        moto_server.put(PARAM, "{")
        run_for_a_period(function, clock)  # a different problem: one more warning
        clock.advance(2)
        run_for_a_period(function, clock)  # the same problem in a new period: one more
        assert len(warnings(caplog)) == 3
        assert moto_server.calls() == 3

    def test_a_fixed_config_takes_effect_in_the_next_period(
        self, moto_server: MotoServer, deploy: Deploy, clock: FakeClock
    ) -> None:
        moto_server.put(PARAM, "{")
        function, _ = deploy(moto_server.endpoint_url)
        run_for_a_period(function, clock)
        moto_server.put(PARAM, json.dumps({"enabled": True, "faults": [{"type": "status_code", "status_code": 503}]}))
        clock.advance(1.5)
        assert function(HTTP_EVENT, None)["statusCode"] == 503


class TestEndpointProblems:
    def test_access_denied(
        self,
        scripted_endpoint: ScriptedEndpoint,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        scripted_endpoint.answer_error(
            "AccessDeniedException",
            f"User: arn:aws:sts::123456789012:assumed-role/fn is not authorized to perform: ssm:GetParameters "
            f"on resource: arn:aws:ssm:us-east-1:123456789012:parameter{PARAM}",
        )
        function, handler = deploy(scripted_endpoint.endpoint_url)

        run_for_a_period(function, clock)

        assert handler.runs == 30
        assert scripted_endpoint.calls() == 1
        [warning] = warnings(caplog)
        assert "AccessDeniedException" in warning
        assert PARAM in warning
        # the missing permission in our words; AWS's own message (the principal) stays out
        assert f"the caller needs ssm:GetParameters on arn:aws:ssm:us-east-1:*:parameter{PARAM}" in warning
        assert "assumed-role" not in warning
        assert_nothing_leaked(caplog, capsys)

    def test_server_error(self, scripted_endpoint: ScriptedEndpoint, deploy: Deploy, clock: FakeClock) -> None:
        scripted_endpoint.answer_error("InternalServerError", "boom", status=500)
        function, handler = deploy(scripted_endpoint.endpoint_url)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert scripted_endpoint.calls() == 1  # no retries: one request per period

    def test_connection_refused(
        self, closed_port: str, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        function, handler = deploy(closed_port)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        [warning] = warnings(caplog)
        assert "EndpointConnectionError" in warning

    def test_hanging_endpoint_costs_one_connection_per_period(
        self, hanging_endpoint: HangingEndpoint, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        function, handler = deploy(hanging_endpoint.endpoint_url)

        run_for_a_period(function, clock, invocations=5)

        assert handler.runs == 5
        assert len(hanging_endpoint.connections) == 1  # no retries, and the failure was cached
        [warning] = warnings(caplog)
        assert "timeout" in warning.lower()

    def test_a_slow_drip_endpoint_holds_an_invocation_no_longer_than_the_read_deadline(
        self, dripping_endpoint: DrippingEndpoint, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """One byte every 0.3 s never trips the client's 1 s read timeout (it applies per
        receive): without an overall deadline, one invocation was held for the whole response."""
        function, handler = deploy(dripping_endpoint.endpoint_url)
        started = time.monotonic()
        assert function({}, None) == OK
        held = time.monotonic() - started
        assert held < READ_DEADLINE + 3  # a minute of dripping, cut at the deadline
        run_for_a_period(function, clock)  # later invocations are not held at all...
        assert time.monotonic() - started < READ_DEADLINE + 6
        assert handler.runs == 31
        assert dripping_endpoint.connections == 1  # ...and start no second read meanwhile
        [warning] = warnings(caplog)
        assert f"longer than {READ_DEADLINE:g} s" in warning

    def test_throttling_slows_reads_down_multiplicatively_and_they_recover_gradually(
        self, scripted_endpoint: ScriptedEndpoint, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        scripted_endpoint.answer_error("ThrottlingException", "Rate exceeded")
        function, handler = deploy(scripted_endpoint.endpoint_url)

        def read_times(duration: float) -> list[float]:
            times, end = [], clock.now + duration
            while clock.now < end:
                before = scripted_endpoint.calls()
                assert function(HTTP_EVENT, None) == OK
                if scripted_endpoint.calls() > before:
                    times.append(clock.now)
                clock.advance(0.25)
            return times

        throttled = read_times(1200)
        gaps = [later - earlier for earlier, later in pairwise(throttled)]
        assert gaps[0] >= 5 * 4 / 2  # fourfold the period at once, jittered downwards by at most half
        assert max(gaps[:2]) < max(gaps[3:])  # it lengthens
        assert max(gaps) <= 5 * 64 + 0.25  # up to a cap
        assert len({round(gap) for gap in gaps[-4:]}) > 1  # jittered, so a fleet does not retry in step
        assert len(throttled) < 1200 / 5 / 20  # far fewer reads than one per period
        assert all("throttled" in w for w in warnings(caplog))
        assert len(warnings(caplog)) == len(throttled)  # one per (lengthened) period

        scripted_endpoint.answer_values({PARAM: json.dumps({"enabled": False})})
        resumed = read_times(6000)
        calm = [later - earlier for earlier, later in pairwise(resumed)]
        assert calm[0] > 5 * 16  # one good read does not bring back full speed...
        assert sum(calm[:5]) > 3 * sum(calm[20:25])  # each answered read takes back a little
        assert max(calm[-5:]) <= 5 + 0.25  # ...but answered reads do, step by step
        assert len(calm) > 40
        assert handler.runs > 0


class TestKillSwitchProblems:
    def test_engaged_kill_switch_with_a_broken_config_is_quiet(
        self, moto_server: MotoServer, deploy: Deploy, clock: FakeClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        moto_server.put(PARAM, "{")
        moto_server.put(KILL, "on")
        function, handler = deploy(moto_server.endpoint_url)
        run_for_a_period(function, clock)
        assert handler.runs == 30
        assert warnings(caplog) == []


class TestErrorsOfTheLibrarysOwn:
    def test_a_shared_file_with_a_time_too_large_for_a_float_costs_one_normal_read(
        self,
        moto_server: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """Lambda Managed Instances: a planted cache file is missing, not an error at every invocation."""
        monkeypatch.setenv("AWS_LAMBDA_MAX_CONCURRENCY", "4")
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        shared = SharedFile(PARAM, KILL)
        document = {"format": 1, "boot": shared.boot, "read_at": 10**400, "valid_until": 10**400}
        planted = Path(shared.path)
        planted.write_text(json.dumps({**document, "next_read": 10**400, "slowdown": 1, "config": None}))
        planted.chmod(0o600)  # as the library writes it, so that it is trusted as far as its content
        moto_server.put(PARAM, json.dumps({"enabled": False}))
        function, handler = deploy(moto_server.endpoint_url)

        run_for_a_period(function, clock, invocations=200)

        assert handler.runs == 200
        assert moto_server.calls() == 1
        assert warnings(caplog) == []
        assert shared.load() is not None  # written anew by that read
        assert all(record.exc_info is None for record in caplog.records)

    @pytest.mark.parametrize("broken", ["reading", "selecting"])
    def test_an_unexpected_error_is_one_warning_per_period_without_its_values(
        self,
        moto_server: MotoServer,
        deploy: Deploy,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        broken: str,
    ) -> None:
        from chaos_layer import blast_radius
        from chaos_layer.source import ConfigCache

        def bug(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"a bug of chaos-layer's, with a value of the config in it: {SECRET}")

        moto_server.put(PARAM, json.dumps({"enabled": True, "faults": [{"type": "status_code", "status_code": 503}]}))
        if broken == "reading":
            monkeypatch.setattr(ConfigCache, "refresh", bug)
        else:
            monkeypatch.setattr(blast_radius, "in_blast_radius", bug)
        function, handler = deploy(moto_server.endpoint_url)

        run_for_a_period(function, clock, invocations=200)
        [warning] = warnings(caplog)
        assert warning.startswith("chaos-layer: not injecting: unexpected error RuntimeError (test_fail_safe.py:")
        clock.advance(5)
        run_for_a_period(function, clock, invocations=200)

        assert handler.runs == 400
        assert len(warnings(caplog)) == 2  # one per period, not one per invocation
        assert all(record.exc_info is None for record in caplog.records)  # a traceback shows the values
        assert_nothing_leaked(caplog, capsys)
