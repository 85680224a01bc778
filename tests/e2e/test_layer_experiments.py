"""Faults and blast-radius controls through the built layer in zero-code mode: the
function's code knows nothing of chaos-layer, the exec wrapper puts it under experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import MotoServer, config_json
from tests.e2e.conftest import CONFIG_PARAMETER, StartLambda, WriteFunction
from tests.e2e.test_layer import hello_response, http_api_event, injection_records

# A function with a module-level boto3 client created at import, before any invocation,
# and a plain urllib call: the two ways handlers reach their dependencies.
DEPENDENT_FUNCTION = """
import json
import os
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import BotoCoreError, ClientError

SSM = boto3.client("ssm", endpoint_url=os.environ["DEPENDENCY_URL"])


def handler(event, context):
    try:
        SSM.describe_parameters()
        sdk = "ok"
    except ClientError as error:
        sdk = error.response["Error"]["Code"]
    except BotoCoreError as error:
        sdk = type(error).__name__
    try:
        urllib.request.urlopen(os.environ["DEPENDENCY_URL"], timeout=5).close()
        http = "ok"
    except urllib.error.HTTPError:
        http = "ok"  # the server answered: the connection was made
    except urllib.error.URLError as error:
        http = type(error.reason).__name__
    return {"statusCode": 200, "body": json.dumps({"sdk": sdk, "http": http})}
"""


def start_dependent(start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer) -> Any:
    return start_lambda(write_function(DEPENDENT_FUNCTION), environment={"DEPENDENCY_URL": moto_server.endpoint_url})


def body(reply: Any) -> Any:
    assert reply.kind == "response", reply.payload
    return json.loads(reply.payload["body"])


def test_dependency_fault_reaches_a_client_created_at_import_and_only_during_the_experiment(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    fault = {"type": "dependency", "services": ["ssm"], "operations": ["DescribeParameters"], "error": "Throttling"}
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[fault]))
    function = start_dependent(start_lambda, write_function, moto_server)

    during = body(function.invoke(http_api_event()))
    moto_server.put(CONFIG_PARAMETER, json.dumps({"enabled": False}))
    after = body(function.invoke(http_api_event()))

    assert during == {"sdk": "Throttling", "http": "ok"}
    assert after == {"sdk": "ok", "http": "ok"}


def test_denylist_refuses_the_handlers_connections_and_restores_them_afterwards(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    port = int(moto_server.endpoint_url.rsplit(":", 1)[1])
    moto_server.put(
        CONFIG_PARAMETER, config_json(faults=[{"type": "denylist", "hosts": ["127.0.0.1"], "ports": [port]}])
    )
    function = start_dependent(start_lambda, write_function, moto_server)

    during = body(function.invoke(http_api_event()))
    moto_server.put(CONFIG_PARAMETER, json.dumps({"enabled": False}))
    after = body(function.invoke(http_api_event()))

    assert during == {"sdk": "EndpointConnectionError", "http": "ConnectionRefusedError"}
    assert after == {"sdk": "ok", "http": "ok"}


def test_targets_leave_functions_that_are_not_named_alone(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    fault = {"type": "status_code", "status_code": 503}
    moto_server.put(CONFIG_PARAMETER, config_json(targets={"functions": ["checkout-*"]}, faults=[fault]))
    function = start_lambda(example_function)  # named "hello"

    reply = function.invoke(http_api_event())
    moto_server.put(CONFIG_PARAMETER, config_json(targets={"functions": ["hel*"]}, faults=[fault]))
    targeted = function.invoke(http_api_event())

    assert (reply.kind, reply.payload) == ("response", hello_response())
    assert targeted.payload["statusCode"] == 503


def test_dry_run_logs_who_would_be_hit_but_serves_the_real_response(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(CONFIG_PARAMETER, config_json(dry_run=True, faults=[{"type": "status_code", "status_code": 503}]))
    function = start_lambda(example_function)

    reply = function.invoke(http_api_event())

    assert (reply.kind, reply.payload) == ("response", hello_response())
    logs = function.logs()
    dry = [json.loads(line.split("\t")[-1]) for line in logs.splitlines() if "dry run" in line]
    assert [(r["fault"], r["dry_run"]) for r in dry] == [("status_code", True)]
    assert injection_records(logs) == []


def test_cohort_and_match_select_the_same_users_on_every_call(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    moto_server.put(
        CONFIG_PARAMETER,
        config_json(
            match=[{"path": "requestContext.http.method", "equals": "GET"}],
            cohort={"key": "queryStringParameters.name", "percent": 50},
            faults=[{"type": "status_code", "status_code": 503}],
        ),
    )
    function = start_lambda(example_function)
    names = [f"user-{i}" for i in range(12)]

    first = {name: function.invoke(http_api_event(name)).payload["statusCode"] for name in names}
    second = {name: function.invoke(http_api_event(name)).payload["statusCode"] for name in names}

    assert first == second  # sticky
    assert set(first.values()) == {200, 503}  # 12 users at 50 %: both groups exist


def test_batch_failure_reports_part_of_an_sqs_batch(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    task_root = write_function(
        """
        def handler(event, context):
            return {"batchItemFailures": []}
        """
    )
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "batch_failure", "fraction": 0.5}]))
    function = start_lambda(task_root)
    records = [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": "{}"} for i in range(4)]

    reply = function.invoke({"Records": records})

    failed = [item["itemIdentifier"] for item in reply.payload["batchItemFailures"]]
    assert len(failed) == 2
    assert set(failed) <= {"m0", "m1", "m2", "m3"}


def test_a_regex_runs_on_the_layers_re2_in_linear_time(
    start_lambda: StartLambda, example_function: Path, moto_server: MotoServer
) -> None:
    """A pattern that would hold a backtracking engine for hours, on a 400-character value."""
    moto_server.put(
        CONFIG_PARAMETER,
        config_json(
            match=[{"path": "queryStringParameters.name", "regex": "^(a|a)*$"}],
            faults=[{"type": "status_code", "status_code": 503}],
        ),
    )
    function = start_lambda(example_function)

    assert function.invoke(http_api_event("a" * 399 + "!")).payload["statusCode"] == 200
    assert function.invoke(http_api_event("a" * 400)).payload["statusCode"] == 503


def test_an_http_fault_never_answers_an_sqs_batch_and_exception_can_follow_the_work(
    start_lambda: StartLambda, write_function: WriteFunction, moto_server: MotoServer
) -> None:
    task_root = write_function(
        """
        import json

        def handler(event, context):
            print(json.dumps({"processed": [r["messageId"] for r in event["Records"]]}))
            return {"batchItemFailures": []}
        """
    )
    records = [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": "{}"} for i in range(2)]
    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "status_code", "status_code": 503}]))
    function = start_lambda(task_root)

    reply = function.invoke({"Records": records})
    assert reply.kind == "response"
    assert reply.payload == {"batchItemFailures": []}  # the handler's own answer: it ran
    assert injection_records(function.logs()) == []

    moto_server.put(CONFIG_PARAMETER, config_json(faults=[{"type": "exception", "prevent_execution": False}]))
    reply = function.invoke({"Records": records})
    assert reply.kind == "error"
    assert reply.payload["errorType"] == "InjectedFault"
    assert function.logs().count('{"processed": ["m0", "m1"]}') == 2  # the work was done both times
