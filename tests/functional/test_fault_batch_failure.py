"""`batch_failure` through `@inject_fault`: partial batch responses for SQS, Kinesis and DynamoDB Streams."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos
from tests.unit.test_events import HTTP_V2
from tests.unit.test_fault_batch_failure import DYNAMODB_EVENT, KINESIS_EVENT, SQS_EVENT


class TestBatchFailure:
    @pytest.mark.parametrize("event", [SQS_EVENT, KINESIS_EVENT, DYNAMODB_EVENT], ids=["sqs", "kinesis", "dynamodb"])
    def test_part_of_the_batch_is_reported_failed(
        self, moto_server: MotoServer, sleeps: RecordingSleep, event: dict[str, Any]
    ) -> None:
        processed: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 0.5})
        def handler(event: Any, context: Any) -> None:
            processed.append(len(event["Records"]))  # the handler still sees and processes every record

        response = handler(event, FakeLambdaContext())

        failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        assert processed == [len(event["Records"])]
        assert len(failed) == round(len(event["Records"]) / 2)
        assert len(set(failed)) == len(failed)

    def test_the_handlers_own_failures_are_kept(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        first = SQS_EVENT["Records"][0]["messageId"]

        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 0.2})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"batchItemFailures": [{"itemIdentifier": first}]}

        failed = [item["itemIdentifier"] for item in handler(SQS_EVENT, None)["batchItemFailures"]]
        assert failed[0] == first
        assert 2 <= len(failed) <= 3  # its own, plus two drawn (one of which may be the same)
        assert len(set(failed)) == len(failed)

    @pytest.mark.parametrize("sequence", [tuple, list, deque], ids=["tuple", "list", "deque"])
    def test_every_item_the_handler_reported_is_kept_whatever_the_sequence(
        self, moto_server: MotoServer, sleeps: RecordingSleep, sequence: Callable[[list[Any]], Any]
    ) -> None:
        ids = [record["messageId"] for record in SQS_EVENT["Records"]]
        own = sequence([{"itemIdentifier": ids[-1]}])  # Lambda sends any of these as a JSON array

        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 0.2})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"batchItemFailures": own}

        failed = [item["itemIdentifier"] for item in handler(SQS_EVENT, None)["batchItemFailures"]]
        assert ids[-1] in failed
        assert len(failed) > 1  # and the injected ones
        assert len(set(failed)) == len(failed)

    @pytest.mark.parametrize("own", ["m1", 7, {"itemIdentifier": "m1"}], ids=["a string", "a number", "an object"])
    def test_a_value_it_cannot_extend_is_left_as_the_handler_gave_it(
        self, moto_server: MotoServer, sleeps: RecordingSleep, own: Any
    ) -> None:
        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 1})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"batchItemFailures": own}

        assert handler(SQS_EVENT, None) == {"batchItemFailures": own}

    def test_a_non_batch_event_is_left_alone(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "batch_failure", "fraction": 1})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": "ok"}

        assert handler(HTTP_V2, None) == {"statusCode": 200, "body": "ok"}
