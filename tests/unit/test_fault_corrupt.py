"""The `corrupt` fault on its own: what it does to the handler's response."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from chaos_layer.faults import run
from chaos_layer.faults.corrupt import CorruptFault
from tests.unit.fault_harness import Handler, invocation, problems
from tests.unit.test_events import ALB, HTTP_V2, REST_V1
from tests.unit.test_fault_batch_failure import SQS_EVENT


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "corrupt"}, ["faults[0].body: give exactly one of body and truncate"]),
        (
            {"type": "corrupt", "body": "x", "truncate": 1},
            ["faults[0].body: give exactly one of body and truncate"],
        ),
        ({"type": "corrupt", "truncate": -1}, ["faults[0].truncate: must be a whole number at least 0"]),
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


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


class TestWhatCorruptLeavesAlone:
    def test_a_non_http_event_is_not_corrupted_even_with_a_body(self) -> None:
        reported: list[str] = []
        warned: list[str] = []
        call, _ = invocation(SQS_EVENT, report=lambda fault: reported.append(fault.type), warn=warned.append)
        response = {"statusCode": 200, "body": "looks like HTTP"}

        assert run([CorruptFault(truncate=2)], call, Handler(response)) == response  # passed over
        assert reported == []
        assert warned == ["corrupt skipped for aws:sqs events: it applies only to events from HTTP sources"]

    def test_a_response_without_a_body_is_not_counted(self) -> None:
        reported: list[str] = []
        call, _ = invocation(REST_V1, report=lambda fault: reported.append(fault.type))

        assert CorruptFault(truncate=2).apply(call, Handler({"statusCode": 204})) == {"statusCode": 204}
        assert reported == []

    def test_truncating_a_body_with_a_lone_surrogate_never_raises_into_the_handler(self) -> None:
        call, _ = invocation(REST_V1)
        body = "ab\ud800cd"  # a lone surrogate: a valid Python string, not valid UTF-8

        assert CorruptFault(truncate=5).apply(call, Handler({"statusCode": 200, "body": body}))["body"] == "ab\ud800"
        assert CorruptFault(truncate=4).apply(call, Handler({"statusCode": 200, "body": body}))["body"] == "ab"
        assert CorruptFault(truncate=3).apply(call, Handler(body)) == "ab"

    def test_the_replacement_body_is_free_text_left_out_of_the_log_record(self) -> None:
        assert CorruptFault(body="secret").settings() == {"type": "corrupt", "rate": 1.0}
