"""Real-shaped sample events of the common Lambda triggers, in tests/events/.

Each file follows the event format AWS documents for its source. Tests load a fresh copy
every time, so a test that changes its event cannot leak into another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"

# The sources that take an HTTP response, by file name.
HTTP_EVENTS = (
    "apigateway-rest",
    "apigateway-http-v2",
    "function-url",
    "alb",
    "alb-multi-value",
    "vpc-lattice-v1",
    "vpc-lattice-v2",
)
# Every other trigger: its invocation must never be answered with an HTTP response.
NON_HTTP_EVENTS = (
    "sqs",
    "sns",
    "s3",
    "kinesis",
    "dynamodb-stream",
    "eventbridge",
    "scheduled",
    "kafka-msk",
    "apigateway-authorizer-token",
    "apigateway-authorizer-request",
    "apigateway-authorizer-http-v2",
    "appsync-resolver",
    "cognito-pre-signup",
    "cloudwatch-logs",
    "cloudformation-custom-resource",
    "durable-execution",  # the service's envelope around a durable function's input (chaos_layer.durable)
)
# Batch sources whose records can be reported as failed one by one.
BATCH_EVENTS = ("sqs", "kinesis", "dynamodb-stream")


def load(name: str) -> Any:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def all_names() -> list[str]:
    return sorted(path.stem for path in EVENTS_DIR.glob("*.json"))
