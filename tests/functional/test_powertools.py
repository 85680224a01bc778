"""chaos-layer next to AWS Lambda Powertools: decorators stacked in either order, an event
handler, and the application's own Parameters calls on the same parameter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters

from chaos_layer import InjectedFault, inject_fault
from tests.conftest import FakeClock, FakeLambdaContext, MotoServer, RecordingSleep

PARAM = "/chaos-layer/orders"
HTTP_EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "GET /orders",
    "rawPath": "/orders",
    "rawQueryString": "",
    "headers": {"accept": "application/json"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {"method": "GET", "path": "/orders", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        "requestId": "id",
        "routeKey": "GET /orders",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}


@pytest.fixture
def ssm(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """moto over HTTP for both the library and Powertools' own provider; Powertools' process-wide
    parameter cache emptied around the test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Orders")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    parameters.clear_caches()
    yield moto_server
    parameters.clear_caches()


def config(*faults: dict[str, Any]) -> str:
    return json.dumps({"enabled": True, "experiment": "pt", "faults": list(faults)})


def chaos(clock: FakeClock, sleeps: RecordingSleep) -> Callable[[Any], Any]:
    return inject_fault(parameter=PARAM, clock=clock, sleep=sleeps)


def powertools_stack(
    handler: Callable[..., Any], chaos_decorator: Callable[[Any], Any], chaos_outermost: bool
) -> tuple[Callable[..., Any], list[str]]:
    """The handler under Logger, Metrics and Tracer decorators, chaos outermost or innermost."""
    logger = Logger()
    metrics = Metrics()
    tracer = Tracer()
    ran: list[str] = []

    def body(event: Any, context: Any) -> Any:
        ran.append("handler")
        metrics.add_metric(name="Orders", unit=MetricUnit.Count, value=1)
        return handler(event, context)

    if chaos_outermost:
        stacked = chaos_decorator(
            logger.inject_lambda_context(metrics.log_metrics(tracer.capture_lambda_handler(body)))
        )
    else:
        stacked = logger.inject_lambda_context(
            metrics.log_metrics(tracer.capture_lambda_handler(chaos_decorator(body)))
        )
    return stacked, ran


def ok_handler(event: Any, context: Any) -> Any:
    return {"statusCode": 200, "body": "ok"}


@pytest.mark.parametrize("chaos_outermost", [True, False], ids=["chaos-outermost", "chaos-innermost"])
# When a fault stops the handler before it adds a metric, log_metrics says so: expected here.
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
class TestStacking:
    def test_status_code_fault(
        self, ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep, chaos_outermost: bool
    ) -> None:
        ssm.put(PARAM, config({"type": "latency", "delay_ms": 20}, {"type": "status_code", "status_code": 503}))
        stacked, ran = powertools_stack(ok_handler, chaos(clock, sleeps), chaos_outermost)

        response = stacked(HTTP_EVENT, FakeLambdaContext())

        assert response["statusCode"] == 503
        assert ran == []
        assert sleeps.calls == [0.02]

    def test_exception_fault(
        self, ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep, chaos_outermost: bool
    ) -> None:
        ssm.put(PARAM, config({"type": "exception", "message": "boom"}))
        stacked, ran = powertools_stack(ok_handler, chaos(clock, sleeps), chaos_outermost)

        with pytest.raises(InjectedFault, match="boom"):
            stacked(HTTP_EVENT, FakeLambdaContext())
        assert ran == []

    def test_replaced_status_and_one_run(
        self, ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep, chaos_outermost: bool
    ) -> None:
        ssm.put(PARAM, config({"type": "status_code", "status_code": 500, "prevent_execution": False}))
        stacked, ran = powertools_stack(ok_handler, chaos(clock, sleeps), chaos_outermost)

        assert stacked(HTTP_EVENT, FakeLambdaContext()) == {"statusCode": 500, "body": "ok"}
        assert ran == ["handler"]

    def test_nothing_injected_passes_through(
        self, ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep, chaos_outermost: bool
    ) -> None:
        ssm.put(PARAM, json.dumps({"enabled": False}))
        stacked, ran = powertools_stack(ok_handler, chaos(clock, sleeps), chaos_outermost)

        assert stacked(HTTP_EVENT, FakeLambdaContext()) == {"statusCode": 200, "body": "ok"}
        assert ran == ["handler"]

    def test_event_handler_resolver(
        self, ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep, chaos_outermost: bool
    ) -> None:
        app = APIGatewayHttpResolver()

        @app.get("/orders")
        def orders() -> dict[str, Any]:
            return {"orders": [1, 2]}

        def resolve(event: Any, context: Any) -> Any:
            return app.resolve(event, context)

        ssm.put(PARAM, config({"type": "status_code", "status_code": 429, "prevent_execution": False}))
        stacked, ran = powertools_stack(resolve, chaos(clock, sleeps), chaos_outermost)

        response = stacked(HTTP_EVENT, FakeLambdaContext())

        assert response["statusCode"] == 429
        assert json.loads(response["body"]) == {"orders": [1, 2]}
        assert ran == ["handler"]


def test_the_applications_parameter_cache_and_ours_do_not_disturb_each_other(
    ssm: MotoServer, clock: FakeClock, sleeps: RecordingSleep
) -> None:
    ssm.put(PARAM, json.dumps({"enabled": False}))

    @inject_fault(parameter=PARAM, clock=clock, sleep=sleeps, max_age=5, idle_max_age=5)
    def handler(event: Any, context: Any) -> Any:
        # The application reads the same parameter with Powertools (cached 300 s, process-wide).
        return {"statusCode": 200, "body": parameters.get_parameter(PARAM)}

    assert json.loads(handler({}, None)["body"]) == {"enabled": False}

    ssm.put(PARAM, config({"type": "latency", "delay_ms": 75}))
    clock.advance(5)
    response = handler({}, None)

    # Ours re-read after its period despite Powertools holding the old value...
    assert sleeps.calls == [0.075]
    # ...and Powertools still serves the application its cached value: we did not refresh it.
    assert json.loads(response["body"]) == {"enabled": False}
    assert ssm.calls("GetParameters") == 2
    assert ssm.calls("GetParameter") == 1
