"""Recognise the HTTP event sources Lambda serves and shape responses for them.

API Gateway REST (v1), HTTP API (v2) and function URLs take
`{"statusCode", "headers", "body", "isBase64Encoded"}`; ALB also needs
`statusDescription`, and `multiValueHeaders` when the target group enables them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any


class Source(Enum):
    ALB = "alb"
    API_GATEWAY_V1 = "apigateway-v1"
    HTTP_V2 = "http-v2"  # HTTP API payload 2.0 and function URLs
    OTHER = "other"


def http_source(event: object) -> Source:
    if not isinstance(event, Mapping):
        return Source.OTHER
    request_context = event.get("requestContext")
    if isinstance(request_context, Mapping) and "elb" in request_context:
        return Source.ALB
    if event.get("version") == "2.0":
        return Source.HTTP_V2
    if "httpMethod" in event and isinstance(request_context, Mapping):
        return Source.API_GATEWAY_V1
    return Source.OTHER


def status_description(status_code: int) -> str:
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status_code} {phrase}"


def _uses_multi_value_headers(event: object) -> bool:
    return isinstance(event, Mapping) and "multiValueHeaders" in event


def build_response(event: object, status_code: int, body: str, headers: Mapping[str, str]) -> dict[str, Any]:
    source = http_source(event)
    response: dict[str, Any] = {"statusCode": status_code}
    if source is Source.ALB:
        response["statusDescription"] = status_description(status_code)
    if source is Source.ALB and _uses_multi_value_headers(event):
        response["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    else:
        response["headers"] = dict(headers)
    response["body"] = body
    response["isBase64Encoded"] = False
    return response


def replace_status(event: object, response: object, status_code: int, headers: Mapping[str, str]) -> Any:
    """The handler's own response with its status code replaced; a bare return value
    (which HTTP APIs and function URLs turn into a 200 with a JSON body) is wrapped first."""
    if not (isinstance(response, Mapping) and "statusCode" in response):
        body = response if isinstance(response, str) else json.dumps(response, default=str)
        return build_response(event, status_code, body, {"content-type": "application/json", **headers})
    replaced = dict(response)
    replaced["statusCode"] = status_code
    if "statusDescription" in replaced or http_source(event) is Source.ALB:
        replaced["statusDescription"] = status_description(status_code)
    if headers:
        key = "multiValueHeaders" if "multiValueHeaders" in replaced else "headers"
        existing = dict(replaced.get(key) or {})
        for name, value in headers.items():
            existing[name] = [value] if key == "multiValueHeaders" else value
        replaced[key] = existing
    return replaced
