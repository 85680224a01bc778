"""The worked example of a control group (docs/control-groups.md), on the demo's embedded services.

examples/checkout/checkout.py is a checkout function that retries throttled DynamoDB writes and
falls back to an outbox queue. examples/checkout-compare.yaml asks `chaos-layer run` whether,
with DynamoDB throttling injected into the treatment group, checkout's error rate stays within
1 point of the control group's and its average duration within 250 ms.

Everything runs on this machine: a moto server on 127.0.0.1 serves SSM (the config),
DynamoDB, SQS and CloudWatch; the function is invoked 10 times a simulated second, its stdout
read as Lambda's log stream, and its EMF records turned into PutMetricData calls as CloudWatch
Logs would; `chaos-layer run` itself runs unchanged, on a simulated clock that moves when it
waits, so three and a half minutes of traffic take a few seconds.

    python examples/control_group.py               # the outbox on: the hypothesis holds
    python examples/control_group.py --no-outbox   # a failed save fails: rejected
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos_layer import inject_fault  # noqa: E402
from chaos_layer.cli import app as app_module  # noqa: E402
from chaos_layer.cli import run as run_module  # noqa: E402
from tests.e2e.lambda_sim import embedded_ssm  # noqa: E402 (the demo's embedded services)

EXPERIMENT_FILE = ROOT / "examples" / "checkout-compare.yaml"
PARAMETER = "/chaos-layer/checkout"
FUNCTION_NAME = "checkout"
INVOCATIONS_PER_SECOND = 10
WORK_S = 0.03  # what an invocation takes besides its waits, on the simulated clock
TIMEOUT_MS = 3000
EMF_BATCH = 500  # datums per PutMetricData call


class Context:
    """What the function's context tells chaos-layer: its name and the time left."""

    def __init__(self, clock: Invocations) -> None:
        self.function_name = FUNCTION_NAME
        self.aws_request_id = f"req-{clock.count}"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
        self._clock = clock
        self._deadline = clock() + TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


class LogStream(io.TextIOBase):
    """stdout as Lambda's log stream: EMF records are kept for CloudWatch, the rest printed."""

    def __init__(self, terminal: Any) -> None:
        self.terminal = terminal
        self.records: list[dict[str, Any]] = []
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.startswith('{"_aws"'):
                self.records.append(json.loads(line))
            else:
                self.terminal.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()

    def isatty(self) -> bool:
        return False


class Invocations:
    """The simulated clock, and the traffic that flows while `chaos-layer run` waits on it."""

    def __init__(self, handler_module: ModuleType, stream: LogStream, cloudwatch: Any) -> None:
        self.now = float(int(time.time()))
        self.stream = stream
        self.cloudwatch = cloudwatch
        self.count = 0
        self.forwarded = 0
        self._elapsed = 0.0  # within an invocation: the time it has taken so far
        handler_module.sleep = self.wait  # type: ignore[attr-defined]  # the function's backoff

        def checkout(event: Any, context: Any) -> Any:
            self.wait(WORK_S)
            return handler_module.checkout(event, context)

        self.handler = inject_fault(parameter=PARAMETER, clock=self, sleep=self.wait, random=Random(2026))(checkout)

    def __call__(self) -> float:
        """Seconds since the epoch; inside an invocation, plus the time it has taken."""
        return self.now + self._elapsed

    def wait(self, seconds: float) -> None:
        self._elapsed += seconds

    def sleep(self, seconds: float) -> None:
        """The runner waits: the function serves its traffic meanwhile, and its records reach
        CloudWatch."""
        end = self.now + seconds
        while self.now + 1 / INVOCATIONS_PER_SECOND <= end:
            self.now += 1 / INVOCATIONS_PER_SECOND
            self.invoke()
        self.now = end
        self.forward()

    def invoke(self) -> None:
        self.count += 1
        event = {
            "version": "2.0",
            "routeKey": "POST /orders",
            "rawPath": "/orders",
            "requestContext": {"http": {"method": "POST", "path": "/orders"}, "stage": "$default"},
            "body": json.dumps({"sku": f"sku-{self.count % 17}", "quantity": 1}),
            "isBase64Encoded": False,
        }
        self._elapsed = 0.0
        try:
            self.handler(event, Context(self))
        except Exception:
            pass  # Lambda reports the error to the caller; the record is already in the log stream
        finally:
            self._elapsed = 0.0

    def forward(self) -> None:
        """What CloudWatch Logs does with EMF records: one metric datum per metric value."""
        data = []
        for record in self.stream.records:
            directive = record["_aws"]["CloudWatchMetrics"][0]
            dimensions = [{"Name": name, "Value": str(record[name])} for name in directive["Dimensions"][0]]
            stamp = datetime.fromtimestamp(record["_aws"]["Timestamp"] / 1000, timezone.utc)
            for metric in directive["Metrics"]:
                for value in record[metric["Name"]]:
                    data.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dimensions,
                            "Timestamp": stamp,
                            "Value": float(value),
                            "Unit": metric["Unit"],
                        }
                    )
            namespace = directive["Namespace"]
        self.stream.records.clear()
        for start in range(0, len(data), EMF_BATCH):
            self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + EMF_BATCH])
        self.forwarded += len(data)


@contextmanager
def services() -> Iterator[str]:
    """The demo's embedded moto server, and this process's AWS settings pointed at it."""
    with embedded_ssm() as endpoint:
        # moto keeps its state per process: start from nothing, like a new account
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        saved = {key: os.environ.get(key) for key in ENVIRONMENT}
        os.environ.update({**ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})
        try:
            yield endpoint
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
    "CHAOS_LAYER_PARAM": PARAMETER,
    "AWS_ENDPOINT_URL": "",
    "ORDERS_OUTBOX": "",  # the function's outbox queue, set by run()
}


def load_function() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checkout", ROOT / "examples" / "checkout" / "checkout.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(outbox: bool = True, journal: Path | None = None, experiment_file: Path = EXPERIMENT_FILE) -> int:
    """Set up the services, serve the traffic, run the experiment file; the run's exit code."""
    import boto3

    with services() as endpoint:
        boto3.client("dynamodb").create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue = boto3.client("sqs").create_queue(QueueName="orders-outbox")["QueueUrl"]
        os.environ["ORDERS_OUTBOX"] = queue if outbox else ""
        function = load_function()
        terminal = sys.stdout
        stream = LogStream(terminal)
        traffic = Invocations(function, stream, boto3.client("cloudwatch"))
        injected = Counter()
        logging.getLogger("chaos_layer").addHandler(injected)
        print("Services: moto on 127.0.0.1 (SSM, DynamoDB, SQS, CloudWatch)")
        state = "on" if outbox else "off"
        print(f"Function: checkout, {INVOCATIONS_PER_SECOND} invocations a simulated second, outbox {state}")
        saved_clock, saved_sleep = run_module.clock, run_module.sleep
        run_module.clock, run_module.sleep = traffic, traffic.sleep
        sys.stdout = stream
        try:
            arguments = ["run", str(experiment_file), "--endpoint-url", endpoint, "--max-age", "5"]
            if journal is not None:
                arguments += ["--journal", str(journal)]
            code = app_module.app(arguments, standalone_mode=False)
        finally:
            sys.stdout = terminal
            run_module.clock, run_module.sleep = saved_clock, saved_sleep
            logging.getLogger("chaos_layer").removeHandler(injected)
        print(
            f"Traffic: {traffic.count:,} invocations, {injected.count:,} injected faults logged,"
            f" {traffic.forwarded:,} metric values sent to CloudWatch"
        )
        return int(code)


class Counter(logging.Handler):
    """Counts the function's injected-fault log records (in Lambda: CloudWatch Logs)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    found.add_argument("--no-outbox", action="store_true", help="a failed save fails the request (503)")
    found.add_argument("--journal", type=Path, help="where the run's journal goes")
    return found


def main() -> None:
    arguments = parser().parse_args()
    logging.getLogger("chaos_layer").propagate = False  # the records are counted, not printed
    sys.exit(run(outbox=not arguments.no_outbox, journal=arguments.journal))


if __name__ == "__main__":
    main()
