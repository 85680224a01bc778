"""Responses shaped for each HTTP event source Lambda serves."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.events import Source, build_response, http_source, replace_status

REST_V1: dict[str, Any] = {
    "resource": "/orders",
    "path": "/orders",
    "httpMethod": "GET",
    "headers": {"Accept": "application/json"},
    "multiValueHeaders": {"Accept": ["application/json"]},
    "requestContext": {"resourcePath": "/orders", "httpMethod": "GET", "stage": "prod"},
    "body": None,
    "isBase64Encoded": False,
}
HTTP_V2: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "GET /orders",
    "rawPath": "/orders",
    "headers": {"accept": "application/json"},
    "requestContext": {"http": {"method": "GET", "path": "/orders"}, "apiId": "api", "stage": "$default"},
    "isBase64Encoded": False,
}
FUNCTION_URL: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/",
    "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
    "requestContext": {"domainName": "abc.lambda-url.us-east-1.on.aws", "http": {"method": "GET", "path": "/"}},
    "isBase64Encoded": False,
}
ALB: dict[str, Any] = {
    "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/tg/1"}},
    "httpMethod": "GET",
    "path": "/orders",
    "headers": {"accept": "application/json"},
    "body": "",
    "isBase64Encoded": False,
}
ALB_MULTI_VALUE: dict[str, Any] = {
    "requestContext": ALB["requestContext"],
    "httpMethod": "GET",
    "path": "/orders",
    "multiValueHeaders": {"accept": ["application/json"]},
    "multiValueQueryStringParameters": {},
    "body": "",
    "isBase64Encoded": False,
}


@pytest.mark.parametrize(
    ("event", "source"),
    [
        (REST_V1, Source.API_GATEWAY_V1),
        (HTTP_V2, Source.HTTP_V2),
        (FUNCTION_URL, Source.HTTP_V2),
        (ALB, Source.ALB),
        (ALB_MULTI_VALUE, Source.ALB),
        ({"Records": [{"eventSource": "aws:sqs"}]}, Source.OTHER),
        ({}, Source.OTHER),
        ("plain string", Source.OTHER),
        (None, Source.OTHER),
    ],
)
def test_event_sources_are_recognised(event: object, source: Source) -> None:
    assert http_source(event) is source


@pytest.mark.parametrize("event", [REST_V1, HTTP_V2, FUNCTION_URL])
def test_api_gateway_and_function_url_response(event: dict[str, Any]) -> None:
    assert build_response(event, 503, '{"message": "busy"}', {"Retry-After": "1"}) == {
        "statusCode": 503,
        "headers": {"Retry-After": "1"},
        "body": '{"message": "busy"}',
        "isBase64Encoded": False,
    }


def test_alb_response_has_a_status_description() -> None:
    assert build_response(ALB, 503, "busy", {"Retry-After": "1"}) == {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "headers": {"Retry-After": "1"},
        "body": "busy",
        "isBase64Encoded": False,
    }


def test_alb_with_multi_value_headers_gets_multi_value_headers() -> None:
    """A target group with multi-value headers enabled ignores `headers` in the response."""
    assert build_response(ALB_MULTI_VALUE, 429, "", {"Retry-After": "1"}) == {
        "statusCode": 429,
        "statusDescription": "429 Too Many Requests",
        "multiValueHeaders": {"Retry-After": ["1"]},
        "body": "",
        "isBase64Encoded": False,
    }


def test_alb_status_description_of_an_unassigned_code() -> None:
    assert build_response(ALB, 599, "", {})["statusDescription"] == "599 Unknown"


class TestReplaceStatus:
    def test_proxy_response_keeps_body_and_headers(self) -> None:
        response = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}
        assert replace_status(REST_V1, response, 500, {}) == {
            "statusCode": 500,
            "headers": {"content-type": "text/plain"},
            "body": "ok",
        }
        assert response["statusCode"] == 200  # the handler's own object is not mutated

    def test_configured_headers_are_added(self) -> None:
        response = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}
        assert replace_status(HTTP_V2, response, 503, {"Retry-After": "2"})["headers"] == {
            "content-type": "text/plain",
            "Retry-After": "2",
        }

    def test_alb_status_description_follows_the_new_code(self) -> None:
        response = {"statusCode": 200, "statusDescription": "200 OK", "body": "ok", "isBase64Encoded": False}
        replaced = replace_status(ALB, response, 502, {})
        assert replaced["statusCode"] == 502
        assert replaced["statusDescription"] == "502 Bad Gateway"

    def test_alb_multi_value_headers_are_extended(self) -> None:
        response = {"statusCode": 200, "multiValueHeaders": {"x-a": ["1"]}, "body": "ok"}
        replaced = replace_status(ALB_MULTI_VALUE, response, 503, {"Retry-After": "1"})
        assert replaced["multiValueHeaders"] == {"x-a": ["1"], "Retry-After": ["1"]}
        assert "headers" not in replaced

    def test_a_bare_return_value_becomes_a_json_response(self) -> None:
        """HTTP APIs turn a bare value into a 200 with a JSON body; the fault keeps that body."""
        replaced = replace_status(HTTP_V2, {"orders": [1, 2]}, 503, {})
        assert replaced == {
            "statusCode": 503,
            "headers": {"content-type": "application/json"},
            "body": '{"orders": [1, 2]}',
            "isBase64Encoded": False,
        }

    def test_a_string_return_value_is_the_body(self) -> None:
        assert replace_status(FUNCTION_URL, "hello", 500, {})["body"] == "hello"
