"""What every fault type shares: the registry, parsing into a loggable fault, unknown keys
and the per-fault rate (each type's own rules are in tests/unit/test_fault_<type>.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos_layer.faults import FAULT_TYPES
from tests.unit.fault_harness import only_fault, problems

NEW_TYPES = ["timeout", "dependency", "denylist", "diskspace", "corrupt", "batch_failure"]

VALID: dict[str, dict[str, Any]] = {
    "timeout": {"type": "timeout", "fallback_ms": 1500},
    "dependency": {
        "type": "dependency",
        "services": ["dynamodb"],
        "operations": ["PutItem"],
        "error": "ProvisionedThroughputExceededException",
    },
    "denylist": {"type": "denylist", "hosts": ["*.amazonaws.com", "10.0.*"], "ports": [443]},
    "diskspace": {"type": "diskspace", "mb": 100},
    "corrupt": {"type": "corrupt", "truncate": 10},
    "batch_failure": {"type": "batch_failure", "fraction": 0.5, "rate": 0.2},
}


class TestRegistryAndParsing:
    def test_every_new_type_is_registered(self) -> None:
        assert set(NEW_TYPES) <= set(FAULT_TYPES)

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_a_valid_fault_parses_and_its_settings_are_a_loggable_json_object(self, kind: str) -> None:
        fault = only_fault(VALID[kind])
        assert fault.type == kind
        settings = json.loads(json.dumps(fault.settings()))
        assert settings["type"] == kind
        assert settings["rate"] == VALID[kind].get("rate", 1)

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_unknown_keys_are_errors(self, kind: str) -> None:
        assert problems({**VALID[kind], "blast": 1}) == ["faults[0].blast: unknown key"]

    @pytest.mark.parametrize("kind", NEW_TYPES)
    def test_a_rate_outside_0_to_1_is_an_error(self, kind: str) -> None:
        assert problems({**VALID[kind], "rate": 1.5}) == ["faults[0].rate: must be a number between 0 and 1"]
