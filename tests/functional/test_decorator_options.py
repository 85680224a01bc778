"""The decorator's options are checked at decoration, parameter set or not; a handler that is
decorated twice is served once; async and generator handlers are refused with the reason."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from random import Random
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chaos_layer import inject_fault
from tests.conftest import REGION, RecordingSleep

PARAM = "/chaos-layer/options"


@pytest.mark.parametrize("with_parameter", [True, False])
class TestOptionsAtDecoration:
    @pytest.mark.parametrize(("option", "value"), [("parameter", 5), ("kill_switch", ["/x"])])
    def test_a_location_of_the_wrong_type_is_a_type_error_naming_it(
        self, with_parameter: bool, option: str, value: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if with_parameter:
            monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        with pytest.raises(TypeError, match=option):
            inject_fault(**{option: value})

    def test_an_empty_location_is_a_value_error(self, with_parameter: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        if with_parameter:
            monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        with pytest.raises(ValueError, match="kill_switch"):
            inject_fault(kill_switch=" ")

    @pytest.mark.parametrize(
        ("option", "value", "expected"),
        [
            ("parameter", "s3://bucket", "s3://BUCKET/KEY"),
            ("kill_switch", "s3://", "s3://BUCKET/KEY"),
            ("parameter", "appconfig://app/env", "appconfig://APPLICATION/ENVIRONMENT/PROFILE"),
        ],
    )
    def test_a_malformed_s3_or_appconfig_location_fails_at_decoration(
        self, with_parameter: bool, option: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if with_parameter:
            monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        options: dict[str, Any] = {option: value}
        with pytest.raises(ValueError, match=f"^{option}: .*expected {re.escape(expected)}"):
            inject_fault(**options)

    @pytest.mark.parametrize("location", ["s3://bucket/chaos/config.json", "appconfig://app/env/profile", "/a/b"])
    def test_well_formed_locations_of_every_source_are_accepted(self, with_parameter: bool, location: str) -> None:
        def handler(event: Any, context: Any) -> str:
            return "ran"

        decorated: Any = inject_fault(parameter=location)(handler)
        assert decorated.__wrapped__ is handler  # decorated, not refused

    def test_a_guardrail_of_the_wrong_type_fails_with_no_parameter_set(
        self, with_parameter: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if with_parameter:
            monkeypatch.setenv("CHAOS_LAYER_PARAM", PARAM)
        with pytest.raises(TypeError, match="max_rate"):
            inject_fault(max_rate="0.5")  # type: ignore[call-overload]


class TestHandlerKinds:
    def test_an_async_handler_is_refused_with_the_reason(self) -> None:
        async def handler(event: Any, context: Any) -> Any:
            return 1

        with pytest.raises(TypeError, match=r"async function.*coroutine"):
            inject_fault(parameter=PARAM)(handler)

    def test_a_generator_handler_is_refused_with_the_reason(self) -> None:
        def handler(event: Any, context: Any) -> Iterator[int]:
            yield 1

        with pytest.raises(TypeError, match="generator function"):
            inject_fault(parameter=PARAM)(handler)


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)
        document = {"enabled": True, "faults": [{"type": "latency", "delay_ms": 200}]}
        client.put_parameter(Name=PARAM, Value=json.dumps(document), Type="String")
        yield client


class TestDecoratedTwice:
    def test_faults_are_not_doubled_and_one_line_says_so(
        self, ssm: Any, sleeps: RecordingSleep, caplog: pytest.LogCaptureFixture
    ) -> None:
        reads = []
        ssm.meta.events.register("before-call.ssm.GetParameters", lambda **kwargs: reads.append(1))
        options: dict[str, Any] = {"parameter": PARAM, "boto3_client": ssm, "sleep": sleeps, "random": Random(1)}

        def handler(event: Any, context: Any) -> str:
            return "ok"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            twice = inject_fault(**options)(inject_fault(**options)(handler))
            assert twice(None, None) == "ok"
        assert sleeps.calls == [0.2]
        assert len(reads) == 1
        assert [r.getMessage() for r in caplog.records if "twice" in r.getMessage()] == [
            "chaos-layer: TestDecoratedTwice.test_faults_are_not_doubled_and_one_line_says_so.<locals>.handler is"
            " decorated with inject_fault twice; serving it once"
        ]
