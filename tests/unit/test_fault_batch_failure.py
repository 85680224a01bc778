"""The `batch_failure` fault on its own: which records of a batch it reports failed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chaos_layer.faults import run
from chaos_layer.faults.batch_failure import BatchFailureFault, batch_item_ids
from tests.unit.fault_harness import Handler, invocation, problems
from tests.unit.test_events import REST_V1


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "batch_failure"}, ["faults[0].fraction: is required"]),
        ({"type": "batch_failure", "fraction": 1.1}, ["faults[0].fraction: must be a number between 0 and 1"]),
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


SQS_EVENT = {
    "Records": [
        {
            "messageId": f"059f36b4-87a3-44ab-83d2-66197124606{i}",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": json.dumps({"order": i}),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            "awsRegion": "us-east-1",
        }
        for i in range(10)
    ]
}
KINESIS_EVENT = {
    "Records": [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": f"4959033174150520004913958066245537640391478154637926{i:02d}",
                "data": base64.b64encode(b"Hello, this is a test.").decode(),
                "approximateArrivalTimestamp": 1545084650.987,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"shardId-000000000006:4959033174150520004913958066245537640391478154637926{i:02d}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
        }
        for i in range(4)
    ]
}
DYNAMODB_EVENT = {
    "Records": [
        {
            "eventID": f"c4ca4238a0b923820dcc509a6f75849{i}",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"Id": {"N": str(i)}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": str(i)}},
                "SequenceNumber": f"11100000000000000000000{i}",
                "SizeBytes": 26,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2015-06-27T00:48:05.899",
        }
        for i in range(3)
    ]
}


class TestBatchFailure:
    @pytest.mark.parametrize(
        ("event", "first_id"),
        [
            (SQS_EVENT, "059f36b4-87a3-44ab-83d2-661971246060"),
            (KINESIS_EVENT, "495903317415052000491395806624553764039147815463792600"),
            (DYNAMODB_EVENT, "111000000000000000000000"),
        ],
    )
    def test_item_ids_by_event_source(self, event: dict[str, Any], first_id: str) -> None:
        ids = batch_item_ids(event)
        assert len(ids) == len(event["Records"])
        assert ids[0] == first_id

    def test_reports_the_fraction_of_the_batch_as_failed(self) -> None:
        call, _ = invocation(SQS_EVENT)
        handler = Handler()

        result = BatchFailureFault(fraction=0.3).apply(call, handler)

        failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
        assert handler.runs == 1
        assert len(failed) == 3
        assert set(failed) <= set(batch_item_ids(SQS_EVENT))
        assert failed == sorted(failed, key=batch_item_ids(SQS_EVENT).index)  # in batch order

    def test_different_draws_pick_different_records(self) -> None:
        picks = set()
        for seed in range(20):
            call, _ = invocation(KINESIS_EVENT, seed=seed)
            result = BatchFailureFault(fraction=0.5).apply(call, Handler())
            picks.add(tuple(item["itemIdentifier"] for item in result["batchItemFailures"]))
        assert len(picks) > 1

    def test_a_small_fraction_of_a_small_batch_still_fails_one_record(self) -> None:
        call, _ = invocation(DYNAMODB_EVENT)
        result = BatchFailureFault(fraction=0.01).apply(call, Handler())
        assert len(result["batchItemFailures"]) == 1

    def test_merges_with_the_handlers_own_failures_without_duplicates(self) -> None:
        ids = batch_item_ids(SQS_EVENT)
        own = {"batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": ids[1]}], "other": "kept"}
        call, _ = invocation(SQS_EVENT)

        result = BatchFailureFault(fraction=1).apply(call, Handler(own))

        failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
        assert failed[:2] == ids[:2]
        assert sorted(failed) == sorted(ids)  # every record once
        assert result["other"] == "kept"
        assert own["batchItemFailures"] == [{"itemIdentifier": ids[0]}, {"itemIdentifier": ids[1]}]  # not mutated

    @pytest.mark.parametrize("event", [None, {}, {"Records": []}, REST_V1, {"Records": [{"eventSource": "aws:s3"}]}])
    def test_events_that_are_not_batches_are_left_alone(self, event: Any) -> None:
        call, _ = invocation(event)
        handler = Handler({"statusCode": 200})
        assert BatchFailureFault(fraction=1).apply(call, handler) == {"statusCode": 200}
        assert handler.runs == 1


def kinesis_batch(size: int) -> dict[str, Any]:
    """A Kinesis batch of `size` records (10,000 is the largest batch Lambda sends)."""
    template: dict[str, Any] = KINESIS_EVENT["Records"][0]
    return {
        "Records": [
            {**template, "kinesis": {**template["kinesis"], "sequenceNumber": f"49590331741505200049{i:036d}"}}
            for i in range(size)
        ]
    }


class TestWhatIsCounted:
    @pytest.mark.parametrize("event", [None, {}, {"Records": []}, REST_V1, {"Records": [{"eventSource": "aws:s3"}]}])
    def test_an_event_that_is_not_a_batch_is_not_counted_and_says_why(self, event: Any) -> None:
        reported: list[str] = []
        warned: list[str] = []
        call, _ = invocation(event, report=lambda fault: reported.append(fault.type), warn=warned.append)

        run([BatchFailureFault(fraction=1)], call, Handler({"statusCode": 200}))  # the pipeline passes it over

        assert reported == []
        assert len(warned) == 1
        assert warned[0].startswith("batch_failure skipped for ")
        assert warned[0].endswith(" events: it applies only to SQS, Kinesis and DynamoDB Streams batches")

    def test_a_batch_is_counted_once_its_records_are_reported_failed(self) -> None:
        reported: list[str] = []
        call, _ = invocation(SQS_EVENT, report=lambda fault: reported.append(fault.type))
        BatchFailureFault(fraction=0.5).apply(call, Handler(None))
        assert reported == ["batch_failure"]

    def test_nothing_is_counted_when_the_handler_had_already_failed_every_chosen_record(self) -> None:
        ids = batch_item_ids(SQS_EVENT)
        own = {"batchItemFailures": [{"itemIdentifier": item} for item in ids]}
        reported: list[str] = []
        call, _ = invocation(SQS_EVENT, report=lambda fault: reported.append(fault.type))

        assert BatchFailureFault(fraction=1).apply(call, Handler(own)) == own
        assert reported == []

    def test_odd_identifiers_in_the_handlers_own_response_are_kept_never_raised(self) -> None:
        own = {"batchItemFailures": [{"itemIdentifier": {"not": "a string"}}, "junk"]}
        call, _ = invocation(DYNAMODB_EVENT)
        result = BatchFailureFault(fraction=1).apply(call, Handler(own))
        assert result["batchItemFailures"][:2] == own["batchItemFailures"]
        assert len(result["batchItemFailures"]) == 2 + len(DYNAMODB_EVENT["Records"])


def test_a_batch_of_ten_thousand_records() -> None:
    """One pass over the batch (benchmarks/batch_failure.py times it)."""
    event = kinesis_batch(10_000)
    ids = batch_item_ids(event)
    assert len(ids) == len(set(ids)) == 10_000
    call, _ = invocation(event)

    result = BatchFailureFault(fraction=0.25).apply(call, Handler(None))

    failed = [item["itemIdentifier"] for item in result["batchItemFailures"]]
    assert len(failed) == len(set(failed)) == 2_500
    positions = {item: index for index, item in enumerate(ids)}
    assert [positions[item] for item in failed] == sorted(positions[item] for item in failed)  # batch order
