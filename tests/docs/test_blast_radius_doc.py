"""docs/blast-radius-and-guardrails.md against the code: every config it shows is valid, the
cohort configs are refused and allowed under a 5 % guardrail as it says, and its handler
decorated twice runs as written and keeps the stricter guardrails."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chaos_layer.config import parse_config
from chaos_layer.guardrails import Guardrails
from tests.conftest import REGION
from tests.docs import pages

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "blast-radius-and-guardrails.md").read_text()
JSON_BLOCKS = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", PAGE, re.DOTALL)]
PYTHON_BLOCK = pages.block("blast-radius-and-guardrails.md", "decorated-twice")


@pytest.mark.parametrize("document", JSON_BLOCKS, ids=lambda document: str(document.get("experiment", "")))
def test_every_config_shown_is_valid(document: dict[str, Any]) -> None:
    parse_config(document)


def test_a_cohort_at_rate_one_is_refused_and_one_at_a_rate_within_it_is_not() -> None:
    at_one, within = JSON_BLOCKS[:2]
    assert at_one["cohort"]["percent"] == within["cohort"]["percent"] == 1
    guardrail = Guardrails(max_rate=0.05, max_rate_from="CHAOS_LAYER_MAX_RATE")
    assert guardrail.refusal(parse_config(at_one)) is not None
    assert guardrail.refusal(parse_config(within)) is None


def test_the_handler_decorated_twice_runs_once_and_keeps_the_stricter_guardrails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOS_LAYER_DISABLED", raising=False)
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        document = {"enabled": True, "rate": 0.05, "faults": [{"type": "latency", "delay_ms": 1}]}
        ssm.put_parameter(Name="/chaos-layer/orders", Value=json.dumps(document), Type="String")
        namespace: dict[str, Any] = {}
        exec(compile(PYTHON_BLOCK, "docs/blast-radius-and-guardrails.md", "exec"), namespace)
        handler = namespace["handler"]
        assert handler({}, None) == {"statusCode": 200}
        reading = handler.chaos_experiment.cache.reading
        assert reading.config is None  # 0.05 is within the inner 0.1, past the outer 0.01
        assert "max_rate=" in (reading.problem or "")
