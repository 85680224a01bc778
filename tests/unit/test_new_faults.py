"""The fault types of issue 5 on their own: parsing, validation, and what `apply` does to
the invocation (the ones that patch the SDK, sockets or the disk are in
tests/functional/test_new_faults.py, against real clients)."""

from __future__ import annotations

import base64
import json
from random import Random
from typing import Any

import boto3
import pytest

from chaos_layer.config import parse_config
from chaos_layer.exceptions import ConfigError
from chaos_layer.faults import (
    FAULT_TYPES,
    TIMEOUT_MESSAGE,
    BatchFailureFault,
    CorruptFault,
    DenylistFault,
    DependencyFault,
    DiskSpaceFault,
    Fault,
    Invocation,
    TimeoutFault,
    _dependency,
    _network,
    batch_item_ids,
)
from tests.conftest import FakeLambdaContext, RecordingSleep
from tests.unit.test_events import ALB, HTTP_V2, REST_V1

NEW_TYPES = ["timeout", "dependency", "denylist", "diskspace", "corrupt", "batch_failure"]

VALID: dict[str, dict[str, Any]] = {
    "timeout": {"type": "timeout", "fallback_ms": 1500},
    "dependency": {
        "type": "dependency",
        "services": ["dynamodb"],
        "operations": ["PutItem"],
        "error": "ProvisionedThroughputExceededException",
    },
    "denylist": {"type": "denylist", "hosts": ["*.amazonaws.com", "10.0.*"], "ports": [443]},
    "diskspace": {"type": "diskspace", "mb": 100},
    "corrupt": {"type": "corrupt", "truncate": 10},
    "batch_failure": {"type": "batch_failure", "fraction": 0.5, "rate": 0.2},
}


def only_fault(fault: dict[str, Any]) -> Fault:
    return parse_config({"enabled": True, "faults": [fault]}).faults[0]


def problems(fault: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"enabled": True, "faults": [fault]})
    return [str(p) for p in caught.value.problems]


class Handler:
    def __init__(self, response: Any = None) -> None:
        self.response = response
        self.runs = 0

    def __call__(self) -> Any:
        self.runs += 1
        return self.response


def invocation(event: Any = None, context: Any = None, seed: int = 7) -> tuple[Invocation, RecordingSleep]:
    sleep = RecordingSleep()
    return Invocation(event=event, context=context, sleep=sleep, random=Random(seed)), sleep


class TestRegistryAndParsing:
    def test_every_new_type_is_registered(self) -> None:
        assert set(NEW_TYPES) <= set(FAULT_TYPES)

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_a_valid_fault_parses_and_its_settings_are_a_loggable_json_object(self, kind: str) -> None:
        fault = only_fault(VALID[kind])
        assert fault.type == kind
        settings = json.loads(json.dumps(fault.settings()))
        assert settings["type"] == kind
        assert settings["rate"] == VALID[kind].get("rate", 1)

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_unknown_keys_are_errors(self, kind: str) -> None:
        assert problems({**VALID[kind], "blast": 1}) == ["faults[0].blast: unknown key"]

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_a_rate_outside_0_to_1_is_an_error(self, kind: str) -> None:
        assert problems({**VALID[kind], "rate": 1.5}) == ["faults[0].rate: must be a number between 0 and 1"]

    def test_defaults(self) -> None:
        assert only_fault({"type": "timeout"}) == TimeoutFault(fallback_ms=3000)
        assert only_fault({"type": "diskspace", "mb": 5}) == DiskSpaceFault(mb=5, path="/tmp", min_free_mb=64)
        assert only_fault({"type": "dependency", "services": ["SQS"], "delay_ms": 50}) == DependencyFault(
            services=("sqs",), delay_ms=50
        )


class TestValidationProblems:
    @pytest.mark.parametrize(
        ("fault", "expected"),
        [
            ({"type": "timeout", "fallback_ms": -1}, ["faults[0].fallback_ms: must be a number between 0 and 900000"]),
            (
                {"type": "dependency"},
                ["faults[0].services: is required", "faults[0].error: give exactly one of error and delay_ms"],
            ),
            ({"type": "dependency", "services": [], "delay_ms": 1}, ["faults[0].services: must not be empty"]),
            (
                {"type": "dependency", "services": ["dynamo db"], "error": "Throttling", "delay_ms": 5},
                [
                    "faults[0].services[0]: must be a boto3 service name such as dynamodb",
                    "faults[0].error: give exactly one of error and delay_ms",
                ],
            ),
            (
                {"type": "dependency", "services": ["s3"], "operations": ["Put Object"], "error": "Slow Down!"},
                [
                    "faults[0].operations[0]: must be an API operation name such as PutItem",
                    "faults[0].error: must be an AWS error code such as ThrottlingException, or connection or timeout",
                ],
            ),
            ({"type": "denylist"}, ["faults[0].hosts: is required"]),
            ({"type": "denylist", "hosts": []}, ["faults[0].hosts: must not be empty"]),
            ({"type": "denylist", "hosts": "example.com"}, ["faults[0].hosts: must be an array, not a string"]),
            ({"type": "denylist", "hosts": ["ok.example.com"], "ports": []}, ["faults[0].ports: must not be empty"]),
            ({"type": "diskspace"}, ["faults[0].mb: is required"]),
            (
                {"type": "diskspace", "mb": 0.5, "path": "tmp"},
                [
                    "faults[0].mb: must be a whole number, not a number",
                    "faults[0].path: must be an absolute path such as /tmp",
                ],
            ),
            (
                {"type": "diskspace", "mb": 1, "min_free_mb": -1},
                ["faults[0].min_free_mb: must be a whole number at least 0"],
            ),
            ({"type": "corrupt"}, ["faults[0].body: give exactly one of body and truncate"]),
            (
                {"type": "corrupt", "body": "x", "truncate": 1},
                ["faults[0].body: give exactly one of body and truncate"],
            ),
            ({"type": "corrupt", "truncate": -1}, ["faults[0].truncate: must be a whole number at least 0"]),
            ({"type": "batch_failure"}, ["faults[0].fraction: is required"]),
            ({"type": "batch_failure", "fraction": 1.1}, ["faults[0].fraction: must be a number between 0 and 1"]),
        ],
    )
    def test_problems_name_the_key_and_the_rule(self, fault: dict[str, Any], expected: list[str]) -> None:
        assert problems(fault) == expected

    @pytest.mark.parametrize(
        "host", ["", " ", "exa mple.com", "example.com\n", "[::1]", "ex/ample", "a" * 254, "é.com"]
    )
    def test_invalid_host_patterns_are_config_errors(self, host: str) -> None:
        reported = problems({"type": "denylist", "hosts": ["fine.example.com", host]})
        assert len(reported) == 1
        assert reported[0].startswith("faults[0].hosts[1]: must be")

    @pytest.mark.parametrize("port", [0, 65536, -1, 80.5, "80", True, None])
    def test_invalid_ports_are_config_errors(self, port: object) -> None:
        assert problems({"type": "denylist", "hosts": ["example.com"], "ports": [443, port]}) == [
            "faults[0].ports[1]: must be a whole number between 1 and 65535"
        ]

    def test_problems_never_echo_the_value(self) -> None:
        secret = "s3cr3t value"
        reported = problems({"type": "denylist", "hosts": [secret], "ports": [secret]})
        reported += problems({"type": "dependency", "services": [secret], "error": secret})
        assert reported
        assert not any(secret in p for p in reported)

    def test_a_denylist_that_fails_validation_never_patches_anything(self) -> None:
        with pytest.raises(ConfigError):
            parse_config({"enabled": True, "faults": [{"type": "denylist", "hosts": ["ok.example.com", "bad host"]}]})
        assert not _network.active()


class TestHostPatterns:
    def test_hosts_are_kept_in_canonical_form(self) -> None:
        fault = only_fault({"type": "denylist", "hosts": ["API.Example.COM.", "::FFFF:10.0.0.1", "0:0::1"]})
        assert isinstance(fault, DenylistFault)
        assert fault.hosts == ("api.example.com", "10.0.0.1", "::1")


class TestTimeout:
    def test_holds_the_invocation_past_the_functions_own_deadline_and_never_runs_the_handler(self) -> None:
        call, sleep = invocation(context=FakeLambdaContext())  # 30 s remaining
        handler = Handler()

        with pytest.raises(TimeoutError, match="Task timed out"):
            only_fault({"type": "timeout"}).apply(call, handler)

        assert sleep.calls == [31.0]  # a second past the deadline: Lambda's timeout ends it first
        assert handler.runs == 0

    @pytest.mark.parametrize("context", [None, object()])
    def test_without_a_lambda_context_raises_after_the_fallback(self, context: object) -> None:
        call, sleep = invocation(context=context)
        handler = Handler()

        with pytest.raises(TimeoutError) as caught:
            only_fault({"type": "timeout", "fallback_ms": 1500}).apply(call, handler)

        assert str(caught.value) == TIMEOUT_MESSAGE
        assert sleep.calls == [1.5]
        assert handler.runs == 0

    def test_a_context_whose_clock_fails_falls_back(self) -> None:
        class Broken:
            def get_remaining_time_in_millis(self) -> int:
                raise RuntimeError("no deadline")

        call, sleep = invocation(context=Broken())
        with pytest.raises(TimeoutError):
            only_fault({"type": "timeout"}).apply(call, Handler())
        assert sleep.calls == [3.0]


class TestDependencyMatching:
    fault = DependencyFault(services=("dynamodb", "states"), operations=("PutItem", "get_item"), error="X")

    @pytest.mark.parametrize(
        ("service", "prefix", "operation", "expected"),
        [
            ("dynamodb", "dynamodb", "PutItem", True),
            ("dynamodb", "dynamodb", "GetItem", True),  # given in boto3's snake_case
            ("dynamodb", "dynamodb", "Query", False),
            ("stepfunctions", "states", "PutItem", True),  # by endpoint prefix
            ("s3", "s3", "PutItem", False),
        ],
    )
    def test_services_and_operations(self, service: str, prefix: str, operation: str, expected: bool) -> None:
        assert self.fault.matches(service, prefix, operation) is expected

    def test_without_operations_every_operation_of_the_service_matches(self) -> None:
        fault = DependencyFault(services=("sqs",), delay_ms=1)
        assert fault.matches("sqs", "sqs", "SendMessage")
        assert not fault.matches("sns", "sns", "Publish")

    @pytest.mark.parametrize(
        ("service", "code", "status"),
        [
            ("dynamodb", "ProvisionedThroughputExceededException", 400),
            ("dynamodb", "ThrottlingException", 400),
            ("dynamodb", "InternalServerError", 500),
            ("lambda", "TooManyRequestsException", 429),  # from the service model
            ("s3", "NoSuchKey", 404),  # from the service model
            ("s3", "SlowDown", 503),
            ("sqs", "ServiceUnavailable", 503),
            ("sqs", "InternalFailure", 500),
            ("sqs", "SomethingNew", 400),
        ],
    )
    def test_the_http_status_is_the_one_the_service_answers_with(self, service: str, code: str, status: int) -> None:
        make_client: Any = boto3.client  # typed per service name; any service here
        client = make_client(service, region_name="us-east-1")
        assert _dependency.http_status(client, code) == status


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


class TestCorrupt:
    @pytest.mark.parametrize("event", [REST_V1, HTTP_V2, ALB])
    def test_replaces_the_body_of_an_http_response(self, event: dict[str, Any]) -> None:
        call, _ = invocation(event)
        response = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok": true}'}

        result = CorruptFault(body="<html>oops").apply(call, Handler(response))

        assert result == {**response, "body": "<html>oops"}

    def test_truncates_the_body_to_a_number_of_bytes(self) -> None:
        call, _ = invocation(REST_V1)
        result = CorruptFault(truncate=8).apply(call, Handler({"statusCode": 200, "body": '{"items": [1, 2, 3]}'}))
        assert result["body"] == '{"items"'

    def test_truncating_inside_a_multibyte_character_keeps_valid_text(self) -> None:
        call, _ = invocation(REST_V1)
        result = CorruptFault(truncate=4).apply(call, Handler({"statusCode": 200, "body": "naïve"}))
        assert result["body"] == "na\u00ef"  # 4 bytes: n, a and the two bytes of ï

        result = CorruptFault(truncate=3).apply(call, Handler({"statusCode": 200, "body": "naïve"}))
        assert result["body"] == "na"

    def test_truncates_a_base64_body_in_bytes_and_keeps_it_base64(self) -> None:
        call, _ = invocation(HTTP_V2)
        image = bytes(range(256))
        response = {"statusCode": 200, "body": base64.b64encode(image).decode(), "isBase64Encoded": True}

        result = CorruptFault(truncate=10).apply(call, Handler(response))

        assert base64.b64decode(result["body"]) == image[:10]
        assert result["isBase64Encoded"] is True

    def test_a_replaced_body_is_plain_text(self) -> None:
        call, _ = invocation(HTTP_V2)
        response = {"statusCode": 200, "body": base64.b64encode(b"png").decode(), "isBase64Encoded": True}
        result = CorruptFault(body="garbage").apply(call, Handler(response))
        assert result["body"] == "garbage"
        assert result["isBase64Encoded"] is False

    def test_a_bare_string_return_is_the_body(self) -> None:
        call, _ = invocation(HTTP_V2)
        assert CorruptFault(truncate=5).apply(call, Handler("hello world")) == "hello"

    def test_a_bare_dict_returned_to_an_http_api_is_its_json_body(self) -> None:
        call, _ = invocation(HTTP_V2)
        result = CorruptFault(truncate=6).apply(call, Handler({"order": 42}))
        assert result["statusCode"] == 200
        assert result["body"] == '{"orde'

    @pytest.mark.parametrize("response", [None, {"statusCode": 204}, {"result": "ok"}, ["a"]])
    def test_a_response_without_a_body_is_left_unchanged(self, response: Any) -> None:
        call, _ = invocation(SQS_EVENT)
        handler = Handler(response)
        assert CorruptFault(body="x").apply(call, handler) == response
        assert handler.runs == 1


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
