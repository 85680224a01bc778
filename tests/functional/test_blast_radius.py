"""Blast-radius controls through `@inject_fault`, with the config in moto's SSM: who gets the
fault, who never does, and what a dry run leaves behind."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from random import Random
from typing import Any, ClassVar

import boto3
import pytest
from awslambdaric.lambda_context import LambdaContext
from moto import mock_aws

from chaos_layer import inject_fault
from chaos_layer.blast_radius import MAX_REGEX_INPUT, cohort_bucket
from tests.conftest import ACCOUNT_ID, HTTP_EVENT, REGION, FakeClock, FakeLambdaContext, MotoServer, RecordingSleep

PARAM = "/chaos-layer/shared"
OK = {"statusCode": 200, "body": "ok"}
BUSY = {"type": "status_code", "status_code": 503}


def experiment(**controls: Any) -> dict[str, Any]:
    return {"enabled": True, "experiment": "blast-radius", "faults": [BUSY], **controls}


class Handler:
    """A Lambda handler that counts its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.__name__ = self.__qualname__ = "handler"

    def __call__(self, event: Any, context: Any) -> Any:
        self.runs += 1
        return dict(OK)


class Function:
    """One decorated handler, reading the shared parameter on every invocation (both periods 0)."""

    def __init__(self, ssm_client: Any, clock: FakeClock, sleeps: RecordingSleep, seed: int) -> None:
        self.handler = Handler()
        self.invoke = inject_fault(
            parameter=PARAM,
            max_age=0,
            idle_max_age=0,
            boto3_client=ssm_client,
            clock=clock,
            sleep=sleeps,
            random=Random(seed),
        )(self.handler)

    def injected(self, event: Any = None, context: Any = None) -> bool:
        """Whether the 503 was injected; the handler runs exactly when it was not."""
        runs = self.handler.runs
        response = self.invoke(HTTP_EVENT if event is None else event, context)
        if response == OK:
            assert self.handler.runs == runs + 1
            return False
        assert response["statusCode"] == 503
        assert self.handler.runs == runs
        return True


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


@pytest.fixture
def put(ssm: Any) -> Callable[[dict[str, Any]], None]:
    def put(document: dict[str, Any]) -> None:
        ssm.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)

    return put


@pytest.fixture
def function(ssm: Any, clock: FakeClock, sleeps: RecordingSleep) -> Callable[..., Function]:
    def function(seed: int = 1) -> Function:
        return Function(ssm, clock, sleeps, seed)

    return function


def context(name: str, qualifier: str | None = None, request_id: str = "req-1") -> FakeLambdaContext:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}" + (f":{qualifier}" if qualifier else "")
    return FakeLambdaContext(function_name=name, invoked_function_arn=arn, aws_request_id=request_id)


def http_event(method: str = "GET", path: str = "/", user: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event, optionally with a JWT subject."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "headers": {"host": "api.example.com"},
        "requestContext": {"http": {"method": method, "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }
    if user is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": user}}}
    return event


class TestTargets:
    def test_one_parameter_drives_two_functions_differently(self, put: Any, function: Any) -> None:
        put(experiment(targets={"functions": ["orders-*"]}))
        orders, payments = function(), function()

        assert all(orders.injected(context=context("orders-api")) for _ in range(5))
        assert not any(payments.injected(context=context("payments-api")) for _ in range(5))

    def test_only_the_named_alias_injects(self, put: Any, function: Any) -> None:
        put(experiment(targets={"functions": ["orders-api"], "qualifiers": ["canary"]}))
        orders = function()

        assert orders.injected(context=context("orders-api", "canary"))
        assert not orders.injected(context=context("orders-api", "live"))
        assert not orders.injected(context=context("orders-api", "7"))
        assert not orders.injected(context=context("orders-api"))  # unqualified: $LATEST

    def test_an_unqualified_invocation_is_targeted_as_latest(self, put: Any, function: Any) -> None:
        put(experiment(targets={"qualifiers": ["$LATEST"]}))
        orders = function()

        assert orders.injected(context=context("orders-api"))
        assert not orders.injected(context=context("orders-api", "live"))

    def test_retargeting_the_parameter_moves_the_experiment(self, put: Any, function: Any) -> None:
        orders, payments = function(), function()
        put(experiment(targets={"functions": ["orders-*"]}))
        assert (orders.injected(context=context("orders-api")), payments.injected(context=context("payments"))) == (
            True,
            False,
        )

        put(experiment(targets={"functions": ["payments"]}))
        assert (orders.injected(context=context("orders-api")), payments.injected(context=context("payments"))) == (
            False,
            True,
        )

    def test_without_a_context_the_function_name_comes_from_lambdas_environment(
        self, put: Any, function: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        put(experiment(targets={"functions": ["orders-*"]}))
        orders = function()
        assert not orders.injected()  # nothing to match against: fail closed

        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-api")
        assert orders.injected()

    def test_a_qualifier_target_without_a_context_never_injects(self, put: Any, function: Any) -> None:
        put(experiment(targets={"qualifiers": ["$LATEST"]}))
        assert not function().injected()


class TestMatch:
    def test_only_matching_requests_are_in_the_radius(self, put: Any, function: Any) -> None:
        put(
            experiment(
                match=[
                    {"path": "requestContext.http.method", "equals": "POST"},
                    {"path": "rawPath", "regex": "^/orders(/[0-9]+)?$"},
                    {"path": "headers.x-chaos-opt-out", "exists": False},
                ]
            )
        )
        api = function()

        assert api.injected(http_event("POST", "/orders"))
        assert api.injected(http_event("POST", "/orders/42"))
        assert not api.injected(http_event("GET", "/orders"))
        assert not api.injected(http_event("POST", "/orders/42/items"))
        assert not api.injected(http_event("POST", "/payments"))
        opted_out = http_event("POST", "/orders")
        opted_out["headers"]["x-chaos-opt-out"] = "1"
        assert not api.injected(opted_out)

    def test_conditions_reach_into_lists_of_records(self, put: Any, function: Any) -> None:
        put(experiment(faults=[{"type": "exception", "exception": "TimeoutError"}], match=[
            {"path": "Records.0.eventSource", "equals": "aws:sqs"},
            {"path": "Records.0.messageAttributes.tenant.stringValue", "prefix": "test-"},
        ]))  # fmt: skip
        worker = function()

        def sqs(tenant: str) -> dict[str, Any]:
            return {
                "Records": [
                    {
                        "eventSource": "aws:sqs",
                        "body": "{}",
                        "messageAttributes": {"tenant": {"stringValue": tenant, "dataType": "String"}},
                    }
                ]
            }

        with pytest.raises(TimeoutError):
            worker.invoke(sqs("test-acme"), None)
        assert worker.invoke(sqs("acme"), None) == OK
        assert worker.invoke({"Records": []}, None) == OK
        assert worker.invoke({"Records": [{"eventSource": "aws:kinesis"}]}, None) == OK
        assert worker.handler.runs == 3

    def test_an_invalid_regex_injects_nothing_and_is_never_logged(
        self, put: Any, function: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        put(experiment(match=[{"path": "rawPath", "regex": "^/(SECRET-TOKEN-42"}]))
        api = function()
        caplog.set_level(logging.WARNING)

        assert not any(api.injected(http_event("POST", path)) for path in ["/", "/(SECRET-TOKEN-42", "/x"])
        assert "match[0].regex: must be a regular expression in RE2 syntax" in caplog.text
        assert "SECRET-TOKEN-42" not in caplog.text

    def test_a_regex_that_backtracks_exponentially_elsewhere_is_matched_at_once(self, put: Any, function: Any) -> None:
        put(experiment(match=[{"path": "body", "regex": "^(a+)+$"}]))
        api = function()

        # 40 a's and a b take this pattern hours to reject with a backtracking engine
        assert not api.injected({**HTTP_EVENT, "body": "a" * 40 + "b"})
        assert api.injected({**HTTP_EVENT, "body": "a" * 40})

    def test_a_value_past_the_regex_limit_never_matches_so_dollar_keeps_its_meaning(
        self, put: Any, function: Any
    ) -> None:
        put(experiment(match=[{"path": "body", "regex": "^(a+)+$"}]))
        api = function()

        assert not api.injected({**HTTP_EVENT, "body": "a" * 100_000 + "!"})  # not all a's: no match, however long
        assert api.injected({**HTTP_EVENT, "body": "a" * MAX_REGEX_INPUT})
        assert not api.injected({**HTTP_EVENT, "body": "a" * (MAX_REGEX_INPUT + 1)})  # past the documented limit


class TestCohort:
    PERCENT = 20

    def members(self, users: list[str]) -> set[str]:
        return {user for user in users if cohort_bucket("", user) < self.PERCENT * 10_000}

    def test_the_same_users_see_the_experiment_every_time_and_nobody_else_ever_does(
        self, put: Any, function: Any
    ) -> None:
        put(experiment(cohort={"key": "requestContext.authorizer.jwt.claims.sub", "percent": self.PERCENT}))
        users = [f"user-{i}" for i in range(60)]
        seen_by_fresh_functions = []
        for seed in range(3):  # fresh decorators: new execution environments
            api = function(seed)
            seen = {user for user in users if api.injected(http_event("POST", "/", user))}
            assert seen == {user for user in users if api.injected(http_event("GET", "/", user))}  # sticky
            seen_by_fresh_functions.append(seen)

        assert seen_by_fresh_functions[0] == seen_by_fresh_functions[1] == seen_by_fresh_functions[2]
        assert 0 < len(seen_by_fresh_functions[0]) < len(users)
        assert not function().injected(http_event("POST", "/"))  # anonymous: never in the cohort

    def test_a_new_salt_picks_a_new_group(self, put: Any, function: Any) -> None:
        users = [f"user-{i}" for i in range(200)]
        api = function()
        key = "requestContext.authorizer.jwt.claims.sub"

        put(experiment(cohort={"key": key, "percent": 30, "salt": "first"}))
        first = {user for user in users if api.injected(http_event(user=user))}
        put(experiment(cohort={"key": key, "percent": 30, "salt": "second"}))
        second = {user for user in users if api.injected(http_event(user=user))}

        assert first
        assert second
        assert first != second
        assert len(first & second) < min(len(first), len(second)) * 0.6  # about 30 % of each

    def test_the_rate_still_applies_inside_the_cohort(self, put: Any, function: Any) -> None:
        users = [f"user-{i}" for i in range(400)]
        members = sorted(self.members(users))
        put(experiment(rate=0.5, cohort={"key": "user", "percent": self.PERCENT}))
        worker = function(seed=3)

        hits = sum(worker.injected({**HTTP_EVENT, "user": user}) for user in members for _ in range(5))
        assert 0.4 <= hits / (len(members) * 5) <= 0.6
        assert not any(worker.injected({**HTTP_EVENT, "user": user}) for user in set(users) - set(members))

    def test_the_cohort_is_the_same_in_other_processes(self, moto_server: MotoServer, tmp_path: Any) -> None:
        """Fresh interpreters with different hash seeds, through the decorator and the layer's
        SSM client against a moto server, pick exactly the users this process picks."""
        users = [f"tenant-{i}" for i in range(300)]
        moto_server.put(PARAM, json.dumps(experiment(cohort={"key": "tenant", "percent": self.PERCENT})))
        script = tmp_path / "invoke.py"
        script.write_text(
            textwrap.dedent(
                """
                import json, sys
                from chaos_layer import inject_fault

                @inject_fault
                def handler(event, context):
                    return {"statusCode": 200}

                def event(user):
                    return {"version": "2.0", "requestContext": {"http": {}}, "tenant": user}

                users = json.load(sys.stdin)
                print(json.dumps([u for u in users if handler(event(u), None)["statusCode"] == 503]))
                """
            )
        )
        expected = self.members(users)
        assert 0 < len(expected) < len(users)

        for hash_seed in ("1", "2"):
            env = {
                **os.environ,
                "PYTHONHASHSEED": hash_seed,
                "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url,
                "CHAOS_LAYER_PARAM": PARAM,
            }
            result = subprocess.run(
                [sys.executable, str(script)],
                input=json.dumps(users),
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=True,
            )
            picked = json.loads(result.stdout.strip().splitlines()[-1])
            assert set(picked) == expected


def emf_records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


def injection_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "chaos_layer"]


def tenant_context(tenant: str | None) -> LambdaContext:
    """The context Lambda's runtime builds in tenant isolation mode (awslambdaric's own class)."""
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-api"
    return LambdaContext("req-1", None, None, 1_900_000_000_000, arn, tenant_id=tenant)


class TestTenants:
    TENANTS: ClassVar[list[str]] = [f"tenant-{index}" for index in range(120)]

    def test_a_cohort_by_tenant_keeps_the_same_tenants_every_time(self, put: Any, function: Any) -> None:
        put(experiment(cohort={"key": "context.tenant_id", "percent": 30, "salt": "t"}))
        expected = {tenant for tenant in self.TENANTS if cohort_bucket("t", tenant) < 300_000}
        for seed in range(3):  # fresh decorators: new execution environments
            api = function(seed)
            for _ in range(2):
                assert {t for t in self.TENANTS if api.injected(HTTP_EVENT, tenant_context(t))} == expected
        assert 10 < len(expected) < 60

    def test_without_a_tenant_id_an_invocation_is_outside_the_cohort(self, put: Any, function: Any) -> None:
        put(experiment(cohort={"key": "context.tenant_id", "percent": 100}))
        api = function()
        assert api.injected(HTTP_EVENT, tenant_context("tenant-1"))
        assert not api.injected(HTTP_EVENT, tenant_context(None))
        assert not api.injected(HTTP_EVENT, None)
        assert not api.injected(HTTP_EVENT, context("orders-api"))  # a context without the attribute

    def test_the_tenant_comes_from_lambda_never_from_the_event(self, put: Any, function: Any) -> None:
        put(experiment(match=[{"path": "context.tenant_id", "equals": "tenant-7"}]))
        api = function()
        forged = {**HTTP_EVENT, "context": {"tenant_id": "tenant-7"}}
        assert not api.injected(forged, tenant_context(None))
        assert not api.injected(forged, tenant_context("tenant-8"))
        assert api.injected(HTTP_EVENT, tenant_context("tenant-7"))

    def test_match_conditions_on_the_tenant(self, put: Any, function: Any) -> None:
        api = function()
        put(experiment(match=[{"path": "context.tenant_id", "prefix": "beta-"}]))
        assert api.injected(HTTP_EVENT, tenant_context("beta-3"))
        assert not api.injected(HTTP_EVENT, tenant_context("prod-3"))
        assert not api.injected(HTTP_EVENT, tenant_context(None))
        put(experiment(match=[{"path": "context.tenant_id", "regex": "^t-[0-9]+$"}]))
        assert api.injected(HTTP_EVENT, tenant_context("t-42"))
        assert not api.injected(HTTP_EVENT, tenant_context("t-42x"))
        put(experiment(match=[{"path": "context.tenant_id", "exists": True}]))
        assert api.injected(HTTP_EVENT, tenant_context("t-1"))
        assert not api.injected(HTTP_EVENT, tenant_context(None))

    def test_without_a_tenant_id_no_condition_on_it_holds_not_even_exists_false(self, put: Any, function: Any) -> None:
        """An invocation outside tenant isolation mode is never selected by a tenant condition."""
        api = function()
        put(experiment(match=[{"path": "context.tenant_id", "exists": False}]))
        assert not api.injected(HTTP_EVENT, tenant_context(None))
        assert not api.injected(HTTP_EVENT, None)
        assert not api.injected(HTTP_EVENT, tenant_context("t-1"))


class TestDryRun:
    def test_nothing_is_injected_but_everything_is_reported(
        self,
        put: Any,
        function: Any,
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
        sleeps: RecordingSleep,
    ) -> None:
        put(experiment(dry_run=True, faults=[{"type": "latency", "delay_ms": 300}, {"type": "exception"}]))
        api = function()
        caplog.set_level(logging.WARNING, logger="chaos_layer")

        assert not api.injected(http_event("POST"), context("orders-api", request_id="req-7"))

        assert sleeps.calls == []
        logs = injection_logs(caplog)
        assert [(log["fault"], log["dry_run"]) for log in logs] == [("latency", True), ("exception", True)]
        assert all(log["message"] == "chaos-layer dry run: would inject a fault" for log in logs)
        assert {(log["experiment"], log["function_name"], log["request_id"]) for log in logs} == {
            ("blast-radius", "orders-api", "req-7")
        }
        metrics = emf_records(capsys.readouterr().out)
        assert [(m["fault"], m["dry_run"], m["InjectedFaults"]) for m in metrics] == [
            ("latency", True, [1.0]),
            ("exception", True, [1.0]),
        ]
        assert all(m["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["experiment", "fault"]] for m in metrics)

    def test_the_response_is_the_handlers_own(self, put: Any, function: Any) -> None:
        put(experiment(dry_run=True, faults=[{"type": "status_code", "status_code": 503, "prevent_execution": False}]))
        api = function()

        response = api.invoke(http_event("POST"), None)
        assert response == OK
        assert api.handler.runs == 1

    def test_a_dry_run_reports_exactly_who_would_be_hit(
        self, put: Any, function: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        put(experiment(dry_run=True, targets={"functions": ["orders-*"]}, match=[{"path": "n", "prefix": "hit"}]))
        orders, payments = function(), function()
        caplog.set_level(logging.WARNING, logger="chaos_layer")

        for n in ["hit-1", "miss-2", "hit-3"]:
            assert not orders.injected({**HTTP_EVENT, "n": n}, context("orders-api", request_id=n))
            assert not payments.injected({**HTTP_EVENT, "n": n}, context("payments", request_id=n))

        assert [log["request_id"] for log in injection_logs(caplog)] == ["hit-1", "hit-3"]
        assert len(emf_records(capsys.readouterr().out)) == 2

    def test_turning_the_dry_run_off_injects_for_the_same_invocations(self, put: Any, function: Any) -> None:
        controls = {"cohort": {"key": "user", "percent": 50}}
        users = [f"user-{i}" for i in range(40)]
        api = function()
        put(experiment(dry_run=True, **controls))
        assert not any(api.injected({**HTTP_EVENT, "user": user}) for user in users)

        put(experiment(dry_run=False, **controls))
        hit = [user for user in users if api.injected({**HTTP_EVENT, "user": user})]
        assert 0 < len(hit) < len(users)

    def test_an_injection_without_dry_run_is_not_marked(
        self, put: Any, function: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        put(experiment())
        caplog.set_level(logging.WARNING, logger="chaos_layer")

        assert function().injected()
        assert "dry_run" not in injection_logs(caplog)[0]
        assert "dry_run" not in emf_records(capsys.readouterr().out)[0]
