"""`corrupt` through `@inject_fault`: HTTP responses of each event source."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import FakeLambdaContext, MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos
from tests.unit.test_events import ALB, HTTP_V2
from tests.unit.test_fault_batch_failure import SQS_EVENT


class TestCorrupt:
    def test_an_http_api_response_body_is_truncated(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "truncate": 12})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"orders": [1, 2, 3]}),
            }

        response = handler(HTTP_V2, FakeLambdaContext())

        assert response["statusCode"] == 200
        assert response["body"] == '{"orders": ['
        with pytest.raises(json.JSONDecodeError):
            json.loads(response["body"])

    def test_an_alb_response_body_is_replaced(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "body": "<html>502 Bad Gateway</html>"})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "statusDescription": "200 OK", "body": '{"ok": true}', "isBase64Encoded": False}

        assert handler(ALB, None) == {
            "statusCode": 200,
            "statusDescription": "200 OK",
            "body": "<html>502 Bad Gateway</html>",
            "isBase64Encoded": False,
        }

    def test_a_non_http_result_is_left_alone(self, moto_server: MotoServer, sleeps: RecordingSleep) -> None:
        @with_chaos(moto_server, sleeps, {"type": "corrupt", "body": "garbage"})
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"processed": 3}

        assert handler(SQS_EVENT, None) == {"processed": 3}
