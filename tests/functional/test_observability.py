"""What an injected fault leaves behind: one log record and one EMF metric per fault,
and nothing at all when nothing is injected."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from random import Random
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chaos_layer import InjectedFault, inject_fault
from tests.conftest import HTTP_EVENT, REGION, FakeLambdaContext

PARAM = "/chaos-layer/orders"


@pytest.fixture
def put_config() -> Iterator[Callable[[dict[str, Any]], None]]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)

        def put(document: dict[str, Any]) -> None:
            client.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True)

        yield put


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    caplog.set_level(logging.DEBUG, logger="chaos_layer")
    return lambda: [r for r in caplog.records if r.name.startswith("chaos_layer")]


def decorated(seed: int = 1) -> Callable[..., Any]:
    @inject_fault(parameter=PARAM, sleep=lambda seconds: None, random=Random(seed))
    def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": "ok"}

    return handler


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


CONTEXT = FakeLambdaContext(function_name="orders-api", aws_request_id="req-7f3a")


def test_one_record_and_one_metric_per_injected_fault(
    put_config: Callable[[dict[str, Any]], None],
    records: Callable[[], list[logging.LogRecord]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_config(
        {
            "enabled": True,
            "experiment": "checkout-latency",
            "faults": [
                {"type": "latency", "delay_ms": 300},
                {"type": "status_code", "status_code": 503, "body": "SECRET-BODY", "headers": {"X-Token": "SECRET"}},
            ],
        }
    )
    handler = decorated()
    capsys.readouterr()

    handler(HTTP_EVENT, CONTEXT)

    logged = records()
    assert [r.levelno for r in logged] == [logging.WARNING, logging.WARNING]
    assert {r.name for r in logged} <= {"chaos_layer"} | {f"chaos_layer.{m}" for m in ("observability", "decorator")}
    latency, status = (json.loads(r.getMessage()) for r in logged)
    assert latency["experiment"] == "checkout-latency"
    assert latency["fault"] == "latency"
    assert latency["settings"] == {"type": "latency", "rate": 1.0, "delay_ms": 300}
    assert latency["function_name"] == "orders-api"
    assert latency["request_id"] == "req-7f3a"
    assert status["fault"] == "status_code"
    # free text is left out: a SecureString config must not leak into logs
    assert status["settings"] == {"type": "status_code", "rate": 1.0, "status_code": 503, "prevent_execution": True}
    assert not any("SECRET" in r.getMessage() for r in logged)

    metrics = emf_lines(capsys.readouterr().out)
    assert len(metrics) == 2
    for metric, fault in zip(metrics, ["latency", "status_code"], strict=True):
        [directive] = metric["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ChaosLayer"
        assert directive["Dimensions"] == [["experiment", "fault"]]
        assert directive["Metrics"] == [{"Name": "InjectedFaults", "Unit": "Count"}]
        assert metric["InjectedFaults"] == [1.0]
        assert metric["experiment"] == "checkout-latency"
        assert metric["fault"] == fault


def test_records_are_on_the_chaos_layer_logger_hierarchy(
    put_config: Callable[[dict[str, Any]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Lambda's runtime shows WARNING on the root handler: the record must propagate there."""
    put_config({"enabled": True, "faults": [{"type": "exception"}]})
    handler = decorated()
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root = logging.getLogger()
    collector = Collect(level=logging.WARNING)
    root.addHandler(collector)
    try:
        with pytest.raises(InjectedFault):
            handler(HTTP_EVENT, None)
    finally:
        root.removeHandler(collector)
    [record] = [r for r in seen if r.name.split(".")[0] == "chaos_layer"]
    assert json.loads(record.getMessage())["request_id"] is None  # context None is fine


def test_namespace_from_the_environment_and_no_service_dimension(
    put_config: Callable[[dict[str, Any]], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOS_LAYER_METRICS_NAMESPACE", "Team/Chaos")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "orders")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Orders")
    put_config({"enabled": True, "experiment": "ns", "faults": [{"type": "exception"}]})
    handler = decorated()
    capsys.readouterr()

    with pytest.raises(InjectedFault):
        handler(HTTP_EVENT, CONTEXT)

    [metric] = emf_lines(capsys.readouterr().out)
    [directive] = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Team/Chaos"
    assert directive["Dimensions"] == [["experiment", "fault"]]
    assert "service" not in metric


@pytest.mark.parametrize(
    "document",
    [
        {"enabled": False},
        {"enabled": True, "rate": 0, "faults": [{"type": "exception"}]},
        {"enabled": True, "faults": [{"type": "exception", "rate": 0}]},
        {"enabled": True, "expires_at": "2020-01-01T00:00:00Z", "faults": [{"type": "exception"}]},
    ],
)
def test_nothing_is_written_when_nothing_is_injected(
    put_config: Callable[[dict[str, Any]], None],
    records: Callable[[], list[logging.LogRecord]],
    capsys: pytest.CaptureFixture[str],
    document: dict[str, Any],
) -> None:
    put_config(document)
    handler = decorated()
    capsys.readouterr()
    for _ in range(20):
        assert handler(HTTP_EVENT, CONTEXT)["statusCode"] == 200
    assert records() == []
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ""


def test_only_the_faults_drawn_are_reported(
    put_config: Callable[[dict[str, Any]], None],
    records: Callable[[], list[logging.LogRecord]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_config(
        {
            "enabled": True,
            "faults": [{"type": "latency", "delay_ms": 5, "rate": 0.5}, {"type": "latency", "delay_ms": 9, "rate": 0}],
        }
    )
    handler = decorated(seed=8)
    capsys.readouterr()
    for _ in range(200):
        handler(HTTP_EVENT, CONTEXT)
    logged = [json.loads(r.getMessage()) for r in records()]
    assert 60 < len(logged) < 140
    assert {entry["settings"]["delay_ms"] for entry in logged} == {5}
    assert len(emf_lines(capsys.readouterr().out)) == len(logged)
