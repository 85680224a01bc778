"""The `dependency` fault on its own: parsing, which calls it matches, the status codes of
its errors (against real clients: tests/functional/test_fault_dependency.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chaos_layer.faults import _dependency
from chaos_layer.faults.dependency import DependencyFault
from tests.unit.fault_harness import only_fault, problems


def test_defaults() -> None:
    assert only_fault({"type": "dependency", "services": ["SQS"], "delay_ms": 50}) == DependencyFault(
        services=("sqs",), delay_ms=50
    )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
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
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


def test_problems_never_echo_the_value() -> None:
    secret = "s3cr3t value"
    reported = problems({"type": "dependency", "services": [secret], "error": secret})
    assert reported
    assert not any(secret in p for p in reported)


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
