"""The `dependency` fault through `@inject_fault`, against boto3 clients talking to a moto
server on 127.0.0.1: the handler's own SDK calls fail the way the service would make them
fail, only for the named services and operations, only during the invocation."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.client
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from chaos_layer.faults import _dependency
from tests.conftest import REGION, MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos

NO_RETRIES = BotoConfig(retries={"total_max_attempts": 1})
ORIGINAL_MAKE_API_CALL = botocore.client.BaseClient.__dict__["_make_api_call"]

# Created when this module is imported, before any decorator or fault ran, like a
# handler module's global client. Its endpoint refuses connections: a call that is not
# intercepted fails with EndpointConnectionError, never reaching AWS.
MODULE_DYNAMODB = boto3.client(
    "dynamodb",
    region_name=REGION,
    endpoint_url="http://127.0.0.1:9",
    config=NO_RETRIES,
    aws_access_key_id="testing",  # the dummy credentials of tests/conftest.py, set later than import
    aws_secret_access_key="testing",
)


@pytest.fixture
def dynamodb(moto_server: MotoServer) -> Any:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server.endpoint_url, config=NO_RETRIES)
    client.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


@pytest.fixture
def sqs(moto_server: MotoServer) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=moto_server.endpoint_url, config=NO_RETRIES)


def put(client: Any, order: str) -> None:
    client.put_item(TableName="orders", Item={"id": {"S": order}})


def assert_restored() -> None:
    assert botocore.client.BaseClient.__dict__["_make_api_call"] is ORIGINAL_MAKE_API_CALL
    assert not _dependency.active()


def test_a_module_level_client_gets_the_services_own_error(moto_server: MotoServer, sleeps: RecordingSleep) -> None:
    chaos = with_chaos(
        moto_server,
        sleeps,
        {"type": "dependency", "services": ["dynamodb"], "error": "ProvisionedThroughputExceededException"},
    )

    @chaos
    def handler(event: Any, context: Any) -> Any:
        try:
            put(MODULE_DYNAMODB, "o-1")
        except MODULE_DYNAMODB.exceptions.ProvisionedThroughputExceededException as error:
            return error
        return None

    error = handler({}, None)

    assert isinstance(error, ClientError)
    assert error.operation_name == "PutItem"
    assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "ProvisionedThroughputExceededException" in str(error)
    assert_restored()
    with pytest.raises(EndpointConnectionError):  # not intercepted any more: it really tries to connect
        put(MODULE_DYNAMODB, "o-2")


def test_only_the_named_operations_of_the_named_services_fail(
    moto_server: MotoServer, sleeps: RecordingSleep, dynamodb: Any, sqs: Any
) -> None:
    put(dynamodb, "existing")
    chaos = with_chaos(
        moto_server,
        sleeps,
        {"type": "dependency", "services": ["dynamodb"], "operations": ["PutItem"], "error": "ThrottlingException"},
    )
    outcomes: dict[str, Any] = {}

    @chaos
    def handler(event: Any, context: Any) -> Any:
        with pytest.raises(ClientError) as caught:
            put(dynamodb, "new")
        outcomes["put"] = caught.value.response["Error"]["Code"]
        outcomes["get"] = dynamodb.get_item(TableName="orders", Key={"id": {"S": "existing"}})["Item"]
        outcomes["queue"] = sqs.create_queue(QueueName="orders")["QueueUrl"]
        with pytest.raises(ClientError) as through_resource:  # resources use the same clients
            boto3.resource("dynamodb", region_name=REGION, endpoint_url=moto_server.endpoint_url).Table(
                "orders"
            ).put_item(Item={"id": "via-resource"})
        outcomes["resource"] = through_resource.value.response["Error"]["Code"]
        return "done"

    assert handler({}, None) == "done"

    assert outcomes["put"] == "ThrottlingException"
    assert outcomes["resource"] == "ThrottlingException"
    assert outcomes["get"] == {"id": {"S": "existing"}}
    assert outcomes["queue"].endswith("/orders")
    assert_restored()
    put(dynamodb, "after")  # the same client works again once the invocation is over
    assert "Item" in dynamodb.get_item(TableName="orders", Key={"id": {"S": "after"}})


def test_everything_is_restored_after_a_handler_exception(
    moto_server: MotoServer, sleeps: RecordingSleep, dynamodb: Any
) -> None:
    chaos = with_chaos(
        moto_server, sleeps, {"type": "dependency", "services": ["dynamodb"], "error": "InternalServerError"}
    )

    @chaos
    def handler(event: Any, context: Any) -> Any:
        put(dynamodb, "fails")

    with pytest.raises(ClientError) as caught:
        handler({}, None)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert_restored()
    put(dynamodb, "works")


@pytest.mark.parametrize(
    ("failure", "expected"), [("connection", EndpointConnectionError), ("timeout", ReadTimeoutError)]
)
def test_connection_failures_are_botocores_own(
    moto_server: MotoServer, sleeps: RecordingSleep, dynamodb: Any, failure: str, expected: type[Exception]
) -> None:
    chaos = with_chaos(moto_server, sleeps, {"type": "dependency", "services": ["dynamodb"], "error": failure})

    @chaos
    def handler(event: Any, context: Any) -> Any:
        dynamodb.describe_table(TableName="orders")

    with pytest.raises(expected) as caught:
        handler({}, None)

    assert moto_server.endpoint_url in str(caught.value)
    assert_restored()


def test_delay_slows_every_matching_call_and_lets_it_succeed(
    moto_server: MotoServer, sleeps: RecordingSleep, dynamodb: Any, sqs: Any
) -> None:
    chaos = with_chaos(moto_server, sleeps, {"type": "dependency", "services": ["dynamodb"], "delay_ms": 250})

    @chaos
    def handler(event: Any, context: Any) -> Any:
        put(dynamodb, "slow-1")
        sqs.list_queues()
        put(dynamodb, "slow-2")
        return dynamodb.scan(TableName="orders")["Count"]

    assert handler({}, None) == 2
    assert sleeps.calls == [0.25, 0.25, 0.25]  # the two puts and the scan, not the SQS call
    assert_restored()


def test_a_delay_and_an_error_on_the_same_service_combine(
    moto_server: MotoServer, sleeps: RecordingSleep, dynamodb: Any
) -> None:
    chaos = with_chaos(
        moto_server,
        sleeps,
        {"type": "dependency", "services": ["dynamodb"], "delay_ms": 100},
        {"type": "dependency", "services": ["dynamodb"], "error": "RequestLimitExceeded"},
    )

    @chaos
    def handler(event: Any, context: Any) -> Any:
        put(dynamodb, "x")

    with pytest.raises(ClientError, match="RequestLimitExceeded"):
        handler({}, None)
    assert sleeps.calls == [0.1]
    assert_restored()


def test_the_librarys_own_ssm_read_is_never_affected(moto_server: MotoServer, sleeps: RecordingSleep) -> None:
    moto_server.put("/app/setting", "value")
    app_ssm = moto_server.client()
    chaos = with_chaos(
        moto_server, sleeps, {"type": "dependency", "services": ["ssm"], "error": "AccessDeniedException"}
    )

    @chaos
    def handler(event: Any, context: Any) -> Any:
        with pytest.raises(app_ssm.exceptions.ClientError, match="AccessDeniedException"):
            app_ssm.get_parameter(Name="/app/setting")
        # chaos-layer's reader, as a cache refresh would run it mid-invocation
        return handler.chaos_experiment.cache.reader.read()

    reading = handler({}, None)

    assert reading.problem is None
    assert reading.config is not None
    assert_restored()
