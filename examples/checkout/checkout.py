"""A checkout function that saves each order in DynamoDB, retrying throttled writes with
backoff, and puts the order in an outbox queue (saved later) when DynamoDB still says no.

examples/control_group.py judges that resilience code with a control group: DynamoDB throttling
is injected into the treatment's invocations only, and their error rate and duration are
compared with the untouched control group's.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chaos_layer import inject_fault

TABLE = os.environ.get("ORDERS_TABLE", "orders")
OUTBOX = os.environ.get("ORDERS_OUTBOX", "")  # a queue URL; empty: no outbox, a failed save fails
THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
ATTEMPTS = 3
BACKOFF_S = 0.05  # 50 ms, then 100 ms

sleep: Callable[[float], None] = time.sleep  # the backoff's wait
dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def save(order: dict[str, Any]) -> bool:
    """Write the order, retrying throttled writes; False when every attempt was throttled."""
    item = {"id": {"S": order["id"]}, "body": {"S": json.dumps(order)}}
    for attempt in range(ATTEMPTS):
        try:
            dynamodb.put_item(TableName=TABLE, Item=item)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in THROTTLED:
                raise
            if attempt + 1 < ATTEMPTS:
                sleep(BACKOFF_S * 2**attempt)
    return False


def checkout(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = {"id": str(uuid.uuid4()), **json.loads(event.get("body") or "{}")}
    if save(order):
        return {"statusCode": 201, "body": json.dumps({"id": order["id"]})}
    if not OUTBOX:
        return {"statusCode": 503, "body": json.dumps({"message": "try again"})}
    sqs.send_message(QueueUrl=OUTBOX, MessageBody=json.dumps(order))
    return {"statusCode": 202, "body": json.dumps({"id": order["id"], "saved": "later"})}


handler = inject_fault(checkout)
