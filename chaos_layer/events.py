"""Recognise the HTTP event sources Lambda serves and shape responses for them.

An event is from an HTTP source (docs/fault-types.md) when it is shaped as one of:

- API Gateway REST (v1): `httpMethod` and `requestContext`, no `methodArn` (a REQUEST
  authorizer's event has both) and no `requestContext.elb`;
- HTTP API (v2) or a function URL: `version` "2.0" and `requestContext.http`, no `routeArn`
  (an HTTP API authorizer's event has it);
- ALB: `requestContext.elb`;
- VPC Lattice v1: `method` and `raw_path`; v2: `version` "2.0" and
  `requestContext.serviceNetworkArn`.

Authorizers expect a policy, not a response, so they are never an HTTP source. Every other
event (SQS, S3, Kinesis, EventBridge, ...) is `Source.OTHER`: a fault that answers with an
HTTP response must not touch it, or Lambda would report its work done without running it.

API Gateway and function URLs take `{"statusCode", "headers", "body", "isBase64Encoded"}`;
ALB and VPC Lattice also need `statusDescription`, and ALB `multiValueHeaders` when the
target group enables them.
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
    LATTICE_V1 = "vpc-lattice-v1"
    LATTICE_V2 = "vpc-lattice-v2"
    OTHER = "other"

    @property
    def is_http(self) -> bool:
        return self is not Source.OTHER


# Sources whose responses carry a status line's reason phrase.
_DESCRIBED = frozenset({Source.ALB, Source.LATTICE_V1, Source.LATTICE_V2})


def http_source(event: object) -> Source:
    if not isinstance(event, Mapping):
        return Source.OTHER
    request_context = event.get("requestContext")
    context = request_context if isinstance(request_context, Mapping) else {}
    if "elb" in context:
        return Source.ALB
    if event.get("version") == "2.0":
        if "serviceNetworkArn" in context:
            return Source.LATTICE_V2
        if "http" in context and "routeArn" not in event:
            return Source.HTTP_V2
        return Source.OTHER
    if "httpMethod" in event and request_context is not None and "methodArn" not in event:
        return Source.API_GATEWAY_V1
    if "method" in event and "raw_path" in event:
        return Source.LATTICE_V1
    return Source.OTHER


def event_kind(event: object) -> str:
    """A short name for the kind of event, for warnings: the HTTP source, or the
    `eventSource` of the first record (`aws:sqs`, ...), never a value the caller chose."""
    source = http_source(event)
    if source.is_http:
        return source.value
    if isinstance(event, Mapping):
        records = event.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], Mapping):
            origin = records[0].get("eventSource") or records[0].get("EventSource")
            if isinstance(origin, str) and origin.startswith("aws:") and len(origin) <= 40:
                return origin
        if isinstance(event.get("type"), str) and ("methodArn" in event or "routeArn" in event):
            return "authorizer"
    return "non-HTTP"


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
    if source in _DESCRIBED:
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
    if "statusDescription" in replaced or http_source(event) in _DESCRIBED:
        replaced["statusDescription"] = status_description(status_code)
    if headers:
        key = "multiValueHeaders" if "multiValueHeaders" in replaced else "headers"
        existing = dict(replaced.get(key) or {})
        for name, value in headers.items():
            existing[name] = [value] if key == "multiValueHeaders" else value
        replaced[key] = existing
    return replaced
