"""The fault pipeline: the order faults run in, which are drawn, and how they nest."""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any

from chaos_layer.config import parse_config
from chaos_layer.faults import FAULT_TYPES, Fault, draw, order, run
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


class CountingRandom(Random):
    """A seeded random source that counts its draws."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return super().random()


def faults(*declared: dict[str, Any]) -> tuple[Fault, ...]:
    return parse_config({"enabled": True, "faults": list(declared)}).faults


def test_every_fault_type_either_surrounds_the_handler_or_ends_the_invocation() -> None:
    for fault_type in FAULT_TYPES.values():
        assert fault_type.surrounds_handler is not fault_type.ends_invocation
    ending = {kind for kind, fault_type in FAULT_TYPES.items() if fault_type.ends_invocation}
    assert ending == {"exception", "status_code", "timeout"}


def test_order_keeps_config_order_within_each_group() -> None:
    latency, corrupt, status, timeout = faults(
        {"type": "latency", "delay_ms": 1},
        {"type": "corrupt", "truncate": 2},
        {"type": "status_code", "status_code": 503},
        {"type": "timeout"},
    )
    assert order([timeout, latency, status, corrupt]) == (latency, corrupt, timeout, status)


def test_every_surrounding_fault_is_drawn_but_at_most_one_that_ends_the_invocation() -> None:
    ordered = faults(
        {"type": "status_code", "status_code": 503},
        {"type": "latency", "delay_ms": 1},
        {"type": "exception"},
        {"type": "corrupt", "truncate": 2},
    )
    assert [f.type for f in draw(ordered, CountingRandom())] == ["latency", "corrupt", "status_code"]


def test_a_fault_at_rate_1_costs_no_random_draw_and_a_later_ending_fault_none_once_one_is_drawn() -> None:
    random = CountingRandom()
    ordered = faults(
        {"type": "latency", "delay_ms": 1},
        {"type": "corrupt", "truncate": 2, "rate": 0.5},
        {"type": "exception"},
        {"type": "timeout", "rate": 0.5},
    )
    drawn = draw(ordered, random)
    assert random.draws == 1  # only corrupt's rate; exception is drawn at rate 1, so timeout never is
    assert [f.type for f in drawn][-1] == "exception"


def test_an_ending_fault_that_is_not_drawn_leaves_the_next_one_its_chance() -> None:
    ordered = faults({"type": "exception", "rate": 0.5}, {"type": "timeout", "rate": 0.5})
    outcomes = {tuple(f.type for f in draw(ordered, Random(seed))) for seed in range(50)}
    assert outcomes == {(), ("exception",), ("timeout",)}


def test_run_reports_each_fault_as_it_takes_effect_and_runs_the_handler_once() -> None:
    reported: list[str] = []
    call, sleep = invocation(HTTP_V2, report=lambda fault: reported.append(fault.type))
    handler = Handler()
    ordered = faults({"type": "latency", "delay_ms": 10}, {"type": "corrupt", "truncate": 1})

    result = run(ordered, call, handler)

    assert reported == ["latency", "corrupt"]
    assert handler.runs == 1
    assert sleep.calls == [0.01]
    assert result == {"statusCode": 200, "body": "o"}


def test_a_fault_with_nothing_to_do_is_not_reported_and_says_why_instead() -> None:
    reported: list[str] = []
    warned: list[str] = []
    call, _ = invocation(
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m-1"}]},
        report=lambda fault: reported.append(fault.type),
        warn=warned.append,
    )
    handler = Handler(None)
    ordered = faults({"type": "corrupt", "truncate": 1}, {"type": "status_code", "status_code": 503})

    assert run(ordered, call, handler) is None

    assert handler.runs == 1
    assert reported == []
    assert warned == [
        "corrupt skipped for aws:sqs events: it applies only to events from HTTP sources",
        "status_code skipped for aws:sqs events: it applies only to events from HTTP sources",
    ]


def test_a_fault_that_takes_effect_twice_is_reported_once() -> None:
    reported: list[str] = []
    call, _ = invocation(HTTP_V2, report=lambda fault: reported.append(fault.type))
    fault = LatencyFault(min_ms=1, max_ms=1)

    call.took_effect(fault)
    call.took_effect(fault)

    assert reported == ["latency"]
    assert call.effective == [fault]
