"""Fixtures for `chaos-layer run`: the moto server of tests/conftest.py serves SSM and
CloudWatch over HTTP; alarms are switched with set_alarm_state and metrics written with
put_metric_data, as the docs' example does (moto's alarms never follow their metrics).

- `aws`: clients and helpers against the moto server (`aws.alarm("x", "OK")`,
  `aws.metric(3.0, at=...)`, `aws.config()`, `aws.kill_switch()`).
- `time_machine`: a clock and a sleep for the runner; sleeping moves the clock and fires the
  actions a test scheduled for that moment (`time_machine.at(12, lambda: ...)`).
- `proxy`: a loopback HTTP proxy in front of moto that a test can take down, or watch.
- `run_experiment(document, ...)`: the runner in-process with all of the above.
"""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from chaos_layer import control
from chaos_layer.cli.app import EXIT_CODES
from chaos_layer.experiment import definition, runner
from chaos_layer.experiment.journal import JournalFile, new_journal
from tests.conftest import REGION, MotoServer

PARAM = "/chaos-layer/checkout"
KILL_SWITCH = "/chaos-layer/kill-switch"
ALARM = "checkout-errors"
METRIC = {"namespace": "AWS/Lambda", "name": "Errors", "statistic": "Sum", "period": 60,
          "dimensions": {"FunctionName": "checkout"}}  # fmt: skip

BASE: dict[str, Any] = {
    "experiment": "checkout-latency",
    "hypothesis": "With 300 ms more latency on 5 % of calls, checkout errors stay under 5 a minute",
    "parameter": PARAM,
    "faults": [{"type": "latency", "delay_ms": 300}],
    "blast_radius": {"targets": {"functions": ["checkout"]}},
    "steady_state": [{"alarm": ALARM}, {"metric": METRIC, "max": 5}],
    "ramp": [{"rate": 0.01, "hold": "10s"}, {"rate": 0.05, "hold": "20s"}],
    "poll": "5s",
    "on_breach": "stop",
}


def experiment_document(**overrides: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    document.update(overrides)
    return {key: value for key, value in document.items() if value is not None}


@dataclass
class Aws:
    server: MotoServer
    ssm: Any
    cloudwatch: Any

    def alarm(self, state: str, name: str = ALARM) -> None:
        """Create the alarm if needed and set its state."""
        if not self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
            self.cloudwatch.put_metric_alarm(
                AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
                EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold",
            )  # fmt: skip
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="set by the test")

    def metric(self, value: float, at: float) -> None:
        self.cloudwatch.put_metric_data(
            Namespace=METRIC["namespace"],
            MetricData=[
                {
                    "MetricName": METRIC["name"],
                    "Dimensions": [{"Name": "FunctionName", "Value": "checkout"}],
                    "Value": value,
                    "Timestamp": datetime.fromtimestamp(at, timezone.utc),
                }
            ],
        )

    def group(
        self,
        group: str,
        invocations: int,
        errors: int = 0,
        at: float = 0.0,
        duration_ms: float = 100.0,
        experiment: str = "checkout-latency",
        namespace: str = "ChaosLayer",
        completed: int | None = None,
        older_layer: bool = False,
    ) -> None:
        """One batch of a control group's records, as CloudWatch aggregates them: `invocations`
        invocations of `group` started, `completed` of them ended (all unless given), `errors`
        of those failed, each taking `duration_ms`. `older_layer`: records of a layer that wrote
        no `Completed`."""
        dimensions = [{"Name": "experiment", "Value": experiment}, {"Name": "group", "Value": group}]
        stamp = datetime.fromtimestamp(at, timezone.utc)

        def datum(
            name: str, total: float, low: float, high: float, unit: str, count: int = invocations
        ) -> dict[str, Any]:
            values = {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high}
            return {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "StatisticValues": values,
                    "Unit": unit}  # fmt: skip

        ended = invocations if completed is None else completed
        data = [datum("Invocations", invocations, 1, 1, "Count")]
        if ended:
            data += [
                datum("Errors", errors, 0 if errors < ended else 1, 1 if errors else 0, "Count", ended),
                datum("Duration", duration_ms * ended, duration_ms, duration_ms, "Milliseconds", ended),
            ]
            if not older_layer:
                data.append(datum("Completed", ended, 1, 1, "Count", ended))
        self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)

    def value(self, name: str) -> str | None:
        try:
            return str(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def config(self) -> dict[str, Any] | None:
        text = self.value(PARAM)
        return None if text is None else dict(json.loads(text))

    def config_version(self) -> int:
        try:
            return int(self.ssm.get_parameter(Name=PARAM)["Parameter"]["Version"])
        except self.ssm.exceptions.ParameterNotFound:
            return 0

    def kill_switch(self) -> str | None:
        return self.value(KILL_SWITCH)

    def versions(self) -> list[dict[str, Any]]:
        """Every value the config parameter has held, oldest first."""
        try:
            history = self.ssm.get_parameter_history(Name=PARAM)["Parameters"]
        except self.ssm.exceptions.ParameterNotFound:
            return []
        return [json.loads(item["Value"]) for item in history]


@pytest.fixture
def aws(moto_server: MotoServer) -> Aws:
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=moto_server.endpoint_url)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_server.endpoint_url)
    return Aws(moto_server, ssm, cloudwatch)


@dataclass
class TimeMachine:
    """Seconds since the epoch that move only when the runner sleeps. Starts at the real time,
    so metrics the test writes "now" fall into the runner's windows."""

    now: float = field(default_factory=lambda: float(int(time.time())))
    sleeps: list[float] = field(default_factory=list)
    _actions: list[tuple[float, Callable[[], None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.now

    def __call__(self) -> float:
        return self.now

    def at(self, offset: float, action: Callable[[], None]) -> None:
        """Run `action` once the clock reaches start + offset (during a sleep)."""
        self._actions.append((self.start + offset, action))
        self._actions.sort(key=lambda item: item[0])

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        while self._actions and self._actions[0][0] <= self.now:
            _, action = self._actions.pop(0)
            action()


@pytest.fixture
def time_machine() -> TimeMachine:
    return TimeMachine()


class Recorder:
    """The runner's observer, keeping every line."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.progress: runner.Progress | None = None

    def say(self, text: str, level: str = "info") -> None:
        self.lines.append((level, text))

    def update(self, progress: runner.Progress) -> None:
        self.progress = progress

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.lines)


@dataclass
class Run:
    outcome: runner.Outcome
    journal: dict[str, Any]
    lines: Recorder
    path: Path


def exit_code(error: control.ControlError) -> int:
    return next(code for kind, code in EXIT_CODES.items() if isinstance(error, kind))


@pytest.fixture
def run_experiment(aws: Aws, time_machine: TimeMachine, tmp_path: Path) -> Callable[..., Run]:
    """`run_experiment(document)`: parse, run in-process on the time machine, read the journal."""

    def run(
        document: dict[str, Any],
        *,
        ssm: Any = None,
        cloudwatch: Any = None,
        max_age: float = 5.0,
        experiment: definition.Experiment | None = None,
        functions: Any = None,
    ) -> Run:
        parsed = experiment or definition.parse_experiment(document)
        controller = control.Controller(
            ssm or aws.ssm, parsed.parameter, parsed.kill_switch or KILL_SWITCH, max_age=max_age, clock=time_machine
        )
        path = tmp_path / "journal.json"
        journal = JournalFile(path, new_journal(parsed, "game-day.yaml", json.dumps(document), controller))
        recorder = Recorder()
        outcome = runner.Runner(
            parsed,
            controller,
            cloudwatch or aws.cloudwatch,
            journal,
            observer=recorder,
            clock=time_machine,
            sleep=time_machine.sleep,
            error_exit_code=exit_code,
            **({} if functions is None else {"functions": functions}),
        ).run()
        return Run(outcome, json.loads(path.read_text()), recorder, path)

    return run


# A proxy that a test can take down or watch


class Proxy:
    """Forwards every request to moto; `down()` makes it refuse connections (an endpoint
    that has gone away), `watch(fn)` calls fn(target, body) before each request is forwarded,
    `lose(fn)` drops the answer to the next request fn picks."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.watchers: list[Callable[[str, bytes], None]] = []
        self.losses: list[Callable[[str, bytes], bool]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not proxy.up:  # a kept-alive connection of a client: gone too
                    self.close_connection = True
                    return
                for watcher in proxy.watchers:
                    watcher(self.headers.get("X-Amz-Target", ""), body)
                connection = http.client.HTTPConnection(proxy.upstream.netloc, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                if proxy.losses and proxy.losses[0](self.headers.get("X-Amz-Target", ""), body):
                    proxy.losses.pop(0)
                    self.close_connection = True  # the request landed; its answer is lost
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                connection.close()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.up = True

    def watch(self, watcher: Callable[[str, bytes], None]) -> None:
        self.watchers.append(watcher)

    def lose(self, request: Callable[[str, bytes], bool], times: int = 1) -> None:
        """Forward the next `times` requests that `request(target, body)` picks, then drop their answers."""
        self.losses += [request] * times

    def down(self) -> None:
        if self.up:
            self.up = False
            self.server.shutdown()
            self.server.server_close()

    def client(self, service: str) -> Any:
        from botocore.config import Config

        # As the CLI builds its clients: two attempts, short timeouts.
        config = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"})
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            config=config,
        )


@pytest.fixture
def proxy(moto_server: MotoServer) -> Iterator[Callable[[], Proxy]]:
    proxies: list[Proxy] = []

    def start() -> Proxy:
        proxies.append(Proxy(moto_server.endpoint_url))
        return proxies[-1]

    yield start
    for item in proxies:
        item.down()
