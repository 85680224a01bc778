"""The blast-radius controls in zero-code mode: `chaos_layer.wrapper.handler` serving a
function that does not import chaos-layer, configured only by the environment, as the
layer's exec wrapper sets it up (the exec wrapper itself is covered in tests/e2e)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import ACCOUNT_ID, REGION, FakeLambdaContext
from tests.functional.zero_code import zero_code_app

PARAM = "/chaos-layer/zero-code"


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Callable[..., Any]]]:
    """Imports the wrapper fresh for a function named `name`, as a new execution environment."""
    app = """
        def handler(event, context):
            return {"statusCode": 200, "body": "ok"}
        """
    monkeypatch.setenv("CHAOS_LAYER_IDLE_MAX_AGE", "0")
    with zero_code_app(tmp_path, monkeypatch, "blast_radius_app", app, PARAM) as fresh, mock_aws():

        def serve(name: str) -> Callable[..., Any]:
            monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", name)
            return fresh()

        yield serve


def put(document: dict[str, Any]) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAM, Value=json.dumps(document), Type="String", Overwrite=True
    )


def invoke(handler: Callable[..., Any], name: str, qualifier: str | None, event: Any) -> int:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}" + (f":{qualifier}" if qualifier else "")
    response = handler(event, FakeLambdaContext(function_name=name, invoked_function_arn=arn))
    return int(response["statusCode"])


def test_targets_match_and_cohort_apply_in_zero_code_mode(serve: Callable[[str], Callable[..., Any]]) -> None:
    put(
        {
            "enabled": True,
            "targets": {"functions": ["orders-*"], "qualifiers": ["live"]},
            "match": [{"path": "requestContext.http.method", "equals": "POST"}],
            "cohort": {"key": "requestContext.authorizer.jwt.claims.sub", "percent": 100},
            "faults": [{"type": "status_code", "status_code": 503}],
        }
    )
    orders, payments = serve("orders-api"), serve("payments-api")

    def event(method: str, user: str | None = "alice") -> dict[str, Any]:
        context: dict[str, Any] = {"http": {"method": method}}
        if user:
            context["authorizer"] = {"jwt": {"claims": {"sub": user}}}
        return {"version": "2.0", "rawPath": "/", "requestContext": context}

    assert invoke(orders, "orders-api", "live", event("POST")) == 503
    assert invoke(orders, "orders-api", "live", event("GET")) == 200
    assert invoke(orders, "orders-api", "live", event("POST", user=None)) == 200
    assert invoke(orders, "orders-api", None, event("POST")) == 200
    assert invoke(payments, "payments-api", "live", event("POST")) == 200


def test_a_dry_run_in_zero_code_mode_leaves_the_response_alone(
    serve: Callable[[str], Callable[..., Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    put({"enabled": True, "dry_run": True, "faults": [{"type": "status_code", "status_code": 503}]})
    handler = serve("orders-api")

    assert invoke(handler, "orders-api", None, {"version": "2.0", "requestContext": {"http": {}}}) == 200
    [metric] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert (metric["fault"], metric["dry_run"]) == ("status_code", True)
