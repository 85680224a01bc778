"""The fault pipeline: the order faults run in, which are drawn, and how they nest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos_layer.config import parse_config
from chaos_layer.faults.latency import LatencyFault
from chaos_layer.faults.status_code import StatusCodeFault
from tests.unit.fault_harness import Handler, invocation
from tests.unit.test_events import HTTP_V2


def test_faults_compose_like_middleware() -> None:
    """Latency wraps the next fault: the sleep happens, then the status response ends it."""
    call, sleep = invocation(HTTP_V2)
    handler = Handler()
    latency = LatencyFault(min_ms=50, max_ms=50)
    status = StatusCodeFault(status_code=429)
    proceed: Callable[[], Any] = lambda: status.apply(call, handler)  # noqa: E731

    result = latency.apply(call, proceed)

    assert sleep.calls == [0.05]
    assert result["statusCode"] == 429
    assert handler.runs == 0


def test_faults_that_surround_the_handler_run_outside_faults_that_end_it() -> None:
    config = parse_config(
        {
            "enabled": True,
            "faults": [
                {"type": "status_code", "status_code": 503, "body": "busy"},
                {"type": "corrupt", "truncate": 2},
                {"type": "timeout"},
                {"type": "batch_failure", "fraction": 1},
            ],
        }
    )
    assert [f.type for f in config.faults] == ["corrupt", "batch_failure", "status_code", "timeout"]
