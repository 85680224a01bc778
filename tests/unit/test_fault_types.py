"""What every fault type shares: the registry, parsing into a loggable fault, unknown keys
and the per-fault rate (each type's own rules are in tests/unit/test_fault_<type>.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import chaos_layer.faults
from chaos_layer.faults import FAULT_TYPES
from chaos_layer.faults.base import Fault
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


def test_the_registry_names_every_fault_module_and_each_module_its_type() -> None:
    package = Path(chaos_layer.faults.__file__).parent
    modules = {path.stem for path in package.glob("*.py") if not path.stem.startswith("_")} - {"base"}
    assert modules == set(FAULT_TYPES)
    for kind, fault_type in FAULT_TYPES.items():
        assert issubclass(fault_type, Fault)
        assert fault_type.type == kind
        assert fault_type.__module__ == f"chaos_layer.faults.{kind}"


def test_an_unknown_type_is_not_in_the_registry() -> None:
    assert "teleport" not in FAULT_TYPES
    assert FAULT_TYPES.get("teleport") is None
    assert FAULT_TYPES.get("base") is None  # a module of the package, but no fault type


def test_importing_the_library_compiles_no_fault_type() -> None:
    """A cold start pays for the fault types a config names, not for all of them (nor for the
    registry: the faults load with the first config read, tests/unit/test_lazy_imports.py)."""
    code = "import sys, chaos_layer; print(sorted(m for m in sys.modules if m.startswith('chaos_layer.faults')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
