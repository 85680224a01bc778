"""A kill switch or a stop ends the faults already under way, in invocations that are
running when it is written: a wait is cut short and the handler runs, calls stop failing,
and a fault that acts after the handler looks at the current reading first.

moto's SSM in-process, and a clock that moves only when the library sleeps or the handler
works: the operator's write happens at a set time inside that clock, so seconds of waiting
cost none.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from random import Random
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chaos_layer import _patches, inject_fault
from tests.conftest import HTTP_EVENT, REGION, FakeClock, FakeLambdaContext, MotoServer
from tests.sample_events import load as load_event

PARAM = "/chaos-layer/under-way"
KILL = "/chaos-layer/under-way/kill-switch"
OK = {"statusCode": 200, "body": "ok"}
WRITTEN_AT = 0.3  # seconds into the invocation when the operator writes
STOPS = ["kill switch", "disabled", "expired"]


@dataclass
class Timeline:
    """The library's clock and sleep: time passes only in `sleep` and `work`, and what is
    due at a moment happens at that moment."""

    clock: FakeClock = field(default_factory=FakeClock)
    due: list[tuple[float, Callable[[], None]]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.clock.now

    def at(self, offset: float, action: Callable[[], None]) -> None:
        self.due.append((self.start + offset, action))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.work(seconds)

    def work(self, seconds: float) -> None:
        end = self.clock.now + seconds
        for when, action in sorted(self.due, key=lambda item: item[0]):
            if when <= end:
                self.due.remove((when, action))
                self.clock.now = max(self.clock.now, when)
                action()
        self.clock.now = end

    def elapsed(self) -> float:
        return self.clock.now - self.start


class Operator:
    """The config and the kill switch in moto's SSM, written as an operator would."""

    def __init__(self) -> None:
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.document: dict[str, Any] = {}

    def start(self, faults: list[dict[str, Any]], **keys: Any) -> None:
        self.document = {"enabled": True, "experiment": "under-way", **keys, "faults": faults}
        self._put(PARAM, json.dumps(self.document))

    def stop(self, how: str) -> None:
        if how == "kill switch":
            self._put(KILL, "on")
        elif how == "disabled":
            self._put(PARAM, json.dumps({**self.document, "enabled": False}))
        # "expired": the config's own expires_at, nothing to write

    def _put(self, name: str, value: str) -> None:
        self.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


@pytest.fixture
def operator() -> Iterator[Operator]:
    with mock_aws():
        yield Operator()


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    caplog.set_level(logging.WARNING, logger="chaos_layer")
    return lambda: [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name.startswith("chaos_layer") and r.getMessage().startswith("{")
    ]


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="chaos_layer")
    return lambda: [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("chaos_layer") and not r.getMessage().startswith("{")
    ]


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat().replace("+00:00", "Z")


def begin(
    operator: Operator, timeline: Timeline, how: str, faults: list[dict[str, Any]], max_age: float
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Start the experiment, schedule the stop at WRITTEN_AT, and the decorator to use."""
    keys = {"expires_at": stamp(timeline.start + WRITTEN_AT)} if how == "expired" else {}
    operator.start(faults, **keys)
    timeline.at(WRITTEN_AT, lambda: operator.stop(how))
    return inject_fault(
        parameter=PARAM,
        kill_switch=KILL,
        max_age=max_age,
        clock=timeline.clock,
        sleep=timeline.sleep,
        random=Random(3),
    )


def bound(max_age: float) -> float:
    """When, at the latest, no fault acts any more: `max_age` (at least a second) after the
    write, plus the read's own time (none on this clock)."""
    return WRITTEN_AT + max(max_age, 1.0)


class Remaining(FakeLambdaContext):
    """A Lambda context whose deadline is `seconds` after its creation on the timeline."""

    def __init__(self, timeline: Timeline, seconds: float) -> None:
        self.timeline = timeline
        self.deadline = timeline.clock.now + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.timeline.clock.now) * 1000)


@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize("max_age", [0, 1, 5])
def test_latency_under_way_is_cut_short_and_the_handler_runs(
    operator: Operator,
    timeline: Timeline,
    records: Callable[[], list[dict[str, Any]]],
    warnings: Callable[[], list[str]],
    how: str,
    max_age: float,
) -> None:
    decorate = begin(operator, timeline, how, [{"type": "latency", "delay_ms": 60_000}], max_age)
    runs: list[float] = []

    @decorate
    def handler(event: Any, context: Any) -> Any:
        runs.append(timeline.elapsed())
        return OK

    assert handler(HTTP_EVENT, FakeLambdaContext()) == OK
    assert timeline.elapsed() <= bound(max_age)  # not the 60 s asked for
    assert len(runs) == 1
    assert runs[0] >= WRITTEN_AT
    assert [record["fault"] for record in records()] == ["latency"]  # it took effect: logged once
    assert any("latency cut short" in warning for warning in warnings())


@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize("with_context", [True, False])
def test_timeout_under_way_is_cut_short_and_the_handler_runs_instead(
    operator: Operator, timeline: Timeline, how: str, with_context: bool
) -> None:
    decorate = begin(operator, timeline, how, [{"type": "timeout", "fallback_ms": 900_000}], 1)

    @decorate
    def handler(event: Any, context: Any) -> Any:
        return OK

    context = Remaining(timeline, 900) if with_context else None
    assert handler(HTTP_EVENT, context) == OK  # no TimeoutError: as if the timeout had not been drawn
    assert timeline.elapsed() <= bound(1)


def test_a_wait_nothing_ends_looks_at_the_reading_no_more_than_once_a_second_nor_once_per_period(
    operator: Operator, timeline: Timeline
) -> None:
    reads: list[float] = []
    operator.start([{"type": "latency", "delay_ms": 60_000}])
    client = boto3.client("ssm", region_name=REGION)
    client.meta.events.register("before-call.ssm.GetParameters", lambda **_: reads.append(timeline.elapsed()))
    for max_age in (0, 5):
        reads.clear()
        start = timeline.elapsed()
        handler = inject_fault(
            parameter=PARAM,
            kill_switch=KILL,
            max_age=max_age,
            boto3_client=client,
            clock=timeline.clock,
            sleep=timeline.sleep,
            random=Random(3),
        )(lambda event, context: OK)
        assert handler(HTTP_EVENT, None) == OK
        assert timeline.elapsed() - start == pytest.approx(60)  # waited in full
        gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
        assert len(reads) > 1
        assert min(gaps) >= max(max_age * 0.75, 1.0) - 1e-9


@pytest.mark.parametrize("how", STOPS)
def test_dependency_stops_failing_calls_once_the_experiment_is_over(
    operator: Operator, timeline: Timeline, how: str
) -> None:
    fault = {"type": "dependency", "services": ["ssm"], "operations": ["GetParameter"], "error": "ThrottlingException"}
    decorate = begin(operator, timeline, how, [fault], 1)
    operator.ssm.put_parameter(Name="/app/flag", Value="on", Type="String")
    calls: list[tuple[float, bool]] = []

    @decorate
    def handler(event: Any, context: Any) -> Any:
        for _ in range(20):  # ten seconds of work, a call every half second
            try:
                operator.ssm.get_parameter(Name="/app/flag")
                calls.append((timeline.elapsed(), True))
            except ClientError:
                calls.append((timeline.elapsed(), False))
            timeline.work(0.5)
        return OK

    assert handler(HTTP_EVENT, None) == OK
    failed = [at for at, ok in calls if not ok]
    assert failed
    assert max(failed) < bound(1)
    assert all(ok for at, ok in calls if at >= bound(1))


def test_a_dependency_delay_in_progress_is_cut_short(operator: Operator, timeline: Timeline) -> None:
    fault = {"type": "dependency", "services": ["ssm"], "operations": ["GetParameter"], "delay_ms": 60_000}
    decorate = begin(operator, timeline, "kill switch", [fault], 1)
    operator.ssm.put_parameter(Name="/app/flag", Value="on", Type="String")

    @decorate
    def handler(event: Any, context: Any) -> Any:
        return operator.ssm.get_parameter(Name="/app/flag")["Parameter"]["Value"]

    assert handler(HTTP_EVENT, None) == "on"  # the call went through, after the cut-short delay
    assert timeline.elapsed() <= bound(1)


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("how", STOPS)
def test_denylist_stops_refusing_connections_once_the_experiment_is_over(
    operator: Operator, timeline: Timeline, listener: int, how: str
) -> None:
    decorate = begin(operator, timeline, how, [{"type": "denylist", "hosts": ["127.0.0.1"], "ports": [listener]}], 1)
    connects: list[tuple[float, bool]] = []

    @decorate
    def handler(event: Any, context: Any) -> Any:
        for _ in range(20):
            try:
                socket.create_connection(("127.0.0.1", listener), timeout=2).close()
                connects.append((timeline.elapsed(), True))
            except ConnectionRefusedError:
                connects.append((timeline.elapsed(), False))
            timeline.work(0.5)
        return OK

    assert handler(HTTP_EVENT, None) == OK
    refused = [at for at, ok in connects if not ok]
    assert refused
    assert max(refused) < bound(1)
    assert all(ok for at, ok in connects if at >= bound(1))


def test_a_denylist_over_the_configs_own_endpoint_neither_ends_itself_nor_hides_the_kill_switch(
    moto_server: MotoServer, timeline: Timeline, listener: int
) -> None:
    """The library's own reads, made while the denylist is in force, are never refused: the
    fault holds for as long as the experiment does, and ends with the kill switch."""
    kill = "/chaos-layer/under-way/kill-switch-on-the-server"
    document = {"enabled": True, "experiment": "under-way", "faults": [{"type": "denylist", "hosts": ["127.0.0.1"]}]}
    moto_server.put(PARAM, json.dumps(document))
    kill_at = 5.0

    def engage() -> None:
        with _patches.exempt():  # the operator writes from another machine, outside the denylist
            moto_server.put(kill, "on")

    timeline.at(kill_at, engage)
    connects: list[tuple[float, bool]] = []

    @inject_fault(
        parameter=PARAM,
        kill_switch=kill,
        max_age=1,
        boto3_client=moto_server.client(),
        clock=timeline.clock,
        sleep=timeline.sleep,
        random=Random(3),
    )
    def handler(event: Any, context: Any) -> Any:
        for _ in range(20):
            try:
                socket.create_connection(("127.0.0.1", listener), timeout=2).close()
                connects.append((timeline.elapsed(), True))
            except ConnectionRefusedError:
                connects.append((timeline.elapsed(), False))
            timeline.work(0.5)
        return OK

    assert handler(HTTP_EVENT, None) == OK
    assert all(not ok for at, ok in connects if at < kill_at)  # in force until the kill, reads and all
    assert all(ok for at, ok in connects if at >= kill_at + 1)
    assert moto_server.calls() > 1  # read again while in force, and answered


SQS_EVENT = load_event("sqs")
AFTER_THE_HANDLER = [
    pytest.param({"type": "exception", "prevent_execution": False}, HTTP_EVENT, OK, id="exception"),
    pytest.param({"type": "status_code", "status_code": 503, "prevent_execution": False}, HTTP_EVENT, OK, id="status"),
    pytest.param({"type": "corrupt", "body": "garbled"}, HTTP_EVENT, OK, id="corrupt"),
    pytest.param({"type": "batch_failure", "fraction": 1}, SQS_EVENT, {"batchItemFailures": []}, id="batch_failure"),
]


@pytest.mark.parametrize("how", STOPS)
@pytest.mark.parametrize(("fault", "event", "response"), AFTER_THE_HANDLER)
def test_a_fault_after_the_handler_looks_at_the_current_reading_first(
    operator: Operator,
    timeline: Timeline,
    records: Callable[[], list[dict[str, Any]]],
    how: str,
    fault: dict[str, Any],
    event: Any,
    response: Any,
) -> None:
    decorate = begin(operator, timeline, how, [fault], 1)

    @decorate
    def handler(event: Any, context: Any) -> Any:
        timeline.work(bound(1))  # the write lands while the handler works
        return response

    assert handler(event, None) == response  # untouched: the experiment ended before the fault could act
    assert records() == []  # and nothing is logged or counted as injected
