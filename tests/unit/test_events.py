"""Responses shaped for each HTTP event source Lambda serves."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.events import Source, build_response, event_kind, http_source, replace_status
from tests import sample_events

REST_V1: dict[str, Any] = sample_events.load("apigateway-rest")
HTTP_V2: dict[str, Any] = sample_events.load("apigateway-http-v2")
FUNCTION_URL: dict[str, Any] = sample_events.load("function-url")
ALB: dict[str, Any] = sample_events.load("alb")
ALB_MULTI_VALUE: dict[str, Any] = sample_events.load("alb-multi-value")
LATTICE_V1: dict[str, Any] = sample_events.load("vpc-lattice-v1")
LATTICE_V2: dict[str, Any] = sample_events.load("vpc-lattice-v2")
EXPECTED_SOURCE = {
    "apigateway-rest": Source.API_GATEWAY_V1,
    "apigateway-http-v2": Source.HTTP_V2,
    "function-url": Source.HTTP_V2,
    "alb": Source.ALB,
    "alb-multi-value": Source.ALB,
    "vpc-lattice-v1": Source.LATTICE_V1,
    "vpc-lattice-v2": Source.LATTICE_V2,
}


def test_every_sample_event_is_classified_by_these_tests() -> None:
    assert sorted((*sample_events.HTTP_EVENTS, *sample_events.NON_HTTP_EVENTS)) == sample_events.all_names()
    assert set(EXPECTED_SOURCE) == set(sample_events.HTTP_EVENTS)


@pytest.mark.parametrize("name", sample_events.HTTP_EVENTS)
def test_http_sample_events_are_recognised(name: str) -> None:
    assert http_source(sample_events.load(name)) is EXPECTED_SOURCE[name]


@pytest.mark.parametrize("name", sample_events.NON_HTTP_EVENTS)
def test_other_sample_events_are_not_http_sources(name: str) -> None:
    assert http_source(sample_events.load(name)) is Source.OTHER


# The minimal shapes of the rule on docs/fault-types.md, one key at a time.
@pytest.mark.parametrize(
    ("event", "source"),
    [
        ({"httpMethod": "GET", "requestContext": {}}, Source.API_GATEWAY_V1),
        ({"httpMethod": "GET"}, Source.OTHER),
        ({"httpMethod": "GET", "requestContext": {}, "methodArn": "arn", "type": "REQUEST"}, Source.OTHER),
        ({"httpMethod": "GET", "requestContext": {"elb": {}}}, Source.ALB),
        ({"requestContext": {"elb": {}}}, Source.ALB),
        ({"version": "2.0", "requestContext": {"http": {}}}, Source.HTTP_V2),
        ({"version": "2.0", "requestContext": {"http": {}}, "routeArn": "arn", "type": "REQUEST"}, Source.OTHER),
        ({"version": "2.0", "requestContext": {}}, Source.OTHER),
        ({"version": "1.0", "requestContext": {"http": {}}}, Source.OTHER),
        ({"version": "2.0", "requestContext": {"serviceNetworkArn": "arn"}}, Source.LATTICE_V2),
        ({"method": "GET", "raw_path": "/"}, Source.LATTICE_V1),
        ({"method": "GET"}, Source.OTHER),
        ({"type": "TOKEN", "methodArn": "arn", "authorizationToken": "x"}, Source.OTHER),
    ],
)
def test_the_spec_rule_on_minimal_shapes(event: object, source: Source) -> None:
    assert http_source(event) is source


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


@pytest.mark.parametrize("event", [LATTICE_V1, LATTICE_V2])
def test_vpc_lattice_response_has_a_status_description(event: dict[str, Any]) -> None:
    assert build_response(event, 503, "busy", {"Retry-After": "1"}) == {
        "statusCode": 503,
        "statusDescription": "503 Service Unavailable",
        "headers": {"Retry-After": "1"},
        "body": "busy",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("event", [LATTICE_V1, LATTICE_V2])
def test_vpc_lattice_replaced_status_gets_its_description(event: dict[str, Any]) -> None:
    replaced = replace_status(event, {"statusCode": 200, "headers": {}, "body": "ok"}, 502, {})
    assert replaced["statusDescription"] == "502 Bad Gateway"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sqs", "aws:sqs"),
        ("kinesis", "aws:kinesis"),
        ("sns", "aws:sns"),
        ("apigateway-authorizer-token", "authorizer"),
        ("eventbridge", "non-HTTP"),
        ("alb", "alb"),
    ],
)
def test_event_kind_names_the_source_for_warnings(name: str, kind: str) -> None:
    assert event_kind(sample_events.load(name)) == kind


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
