"""Loading on demand (docs/benchmarks.md, "Cold start"): a function whose experiment is off loads none of what an
injection needs, and an active experiment loads it before its first draw, never inside a fault.

Each case runs in a fresh interpreter, so sys.modules holds only what that case imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What a read must not load while no experiment is active: the config's parser needs the fault
# types it names (their declarations), never what injecting them takes.
MECHANICS = (
    "chaos_layer.faults._disk",
    "chaos_layer.faults._network",
    "chaos_layer.faults._dependency",
    "chaos_layer._patches",
    "chaos_layer.durable",
    "chaos_layer.control_group",
    "chaos_layer.observability",
    "chaos_layer.regex",
    "re2",
    "regex",
    "aws_lambda_powertools",
)
# What init must never load: besides the mechanics, every fault type and the parser's pieces.
MUST_NOT_LOAD = (*MECHANICS, "chaos_layer.faults", "chaos_layer.blast_radius", "chaos_layer.config")

HANDLER_MODULE = """
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""

REPORT = """
import json, sys
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after(code: str, tmp_path: Path, env: dict[str, str], report: str = REPORT) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (with a handler module `app`),
    or what else `report` prints as a JSON list on its last line."""
    (tmp_path / "app.py").write_text(HANDLER_MODULE)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + report],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def forbidden(modules: set[str], names: tuple[str, ...] = MUST_NOT_LOAD) -> list[str]:
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in names))


def test_zero_code_mode_loads_no_fault_mechanics_at_init(tmp_path: Path) -> None:
    modules = loaded_after(
        "import chaos_layer.wrapper",
        tmp_path,
        {"CHAOS_LAYER_HANDLER": "app.handler", "CHAOS_LAYER_PARAM": "/chaos-layer/app"},
    )
    assert "chaos_layer.wrapper" in modules
    assert "app" in modules
    assert forbidden(modules) == []


# Standard-library modules that zero-code mode's init must leave to the first invocation (or
# to nobody): each costs a new environment milliseconds of CPU where the runtime has not
# loaded it already.
DEFERRED_STANDARD_LIBRARY = ("inspect", "dataclasses", "enum", "tempfile", "shutil")


def test_zero_code_modes_init_adds_none_of_the_heavier_standard_modules_to_the_runtimes(tmp_path: Path) -> None:
    code = """
    import sys
    import awslambdaric.bootstrap  # what Lambda's runtime has loaded before the handler
    runtime = set(sys.modules)
    import chaos_layer.wrapper
    """
    added = "\nimport json\nprint(json.dumps(sorted(set(sys.modules) - runtime)))\n"
    modules = loaded_after(
        code, tmp_path, {"CHAOS_LAYER_HANDLER": "app.handler", "CHAOS_LAYER_PARAM": "/chaos-layer/app"}, added
    )
    assert "chaos_layer.wrapper" in modules
    assert forbidden(modules, DEFERRED_STANDARD_LIBRARY) == []


def test_importing_and_decorating_loads_no_fault_mechanics(tmp_path: Path) -> None:
    code = """
    from chaos_layer import inject_fault
    import app
    handler = inject_fault(parameter="/chaos-layer/app")(app.handler)
    """
    modules = loaded_after(code, tmp_path, {})
    assert "chaos_layer.decorator" in modules
    assert forbidden(modules) == []


@pytest.mark.parametrize(
    "config",
    [
        {"enabled": False},
        {"enabled": True, "expires_at": "2001-01-01T00:00:00Z", "faults": [{"type": "diskspace", "mb": 1}]},
    ],
    ids=["disabled", "expired"],
)
def test_invocations_with_no_active_experiment_load_no_fault_mechanics(
    tmp_path: Path, moto_server: Any, config: dict[str, Any]
) -> None:
    """The config is read and checked (so its parser loads), but nothing an injection needs."""
    moto_server.put("/chaos-layer/app", json.dumps(config))
    code = """
    from chaos_layer import inject_fault
    import app
    handler = inject_fault(parameter="/chaos-layer/app")(app.handler)
    for _ in range(3):
        assert handler({"path": "/"}, None) == {"statusCode": 200, "body": "ok"}
    assert handler.chaos_experiment.cache.reading is not None
    """
    modules = loaded_after(code, tmp_path, {"AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url})
    assert "chaos_layer.source.ssm" in modules  # the read happened
    assert forbidden(modules, MECHANICS) == []


def test_an_active_experiment_loads_its_mechanics_before_any_injection(tmp_path: Path, moto_server: Any) -> None:
    """The first invocation reads an active config and is not selected: the mechanics of its
    faults are loaded then, so the first fault injected later imports nothing."""
    config = {
        "enabled": True,
        "rate": 0.5,
        "faults": [{"type": "denylist", "hosts": ["example.invalid"]}, {"type": "diskspace", "mb": 1}],
    }
    moto_server.put("/chaos-layer/app", json.dumps(config))
    code = """
    import random
    from chaos_layer import inject_fault
    import app

    class NeverSelected(random.Random):
        def random(self):
            return 0.99

    handler = inject_fault(parameter="/chaos-layer/app", random=NeverSelected())(app.handler)
    assert handler({"path": "/"}, None) == {"statusCode": 200, "body": "ok"}
    assert handler.chaos_experiment.cache.active is not None
    """
    modules = loaded_after(code, tmp_path, {"AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url})
    for needed in (
        "chaos_layer.faults._network",
        "chaos_layer.faults._disk",
        "chaos_layer._patches",
        "chaos_layer.observability",
        "chaos_layer.durable",
    ):
        assert needed in modules
    assert "aws_lambda_powertools" not in modules


# What a new environment's first read must not load while the experiment is stopped or killed:
# the config's parser (a stopped config selects nothing, whatever else it says) and any client
# machinery (the read is one signed request).
PARSER = ("chaos_layer.config", "chaos_layer.contract", "chaos_layer.blast_radius", "chaos_layer.faults")
CLIENT = ("boto3", "botocore.client", "botocore.endpoint", "botocore.loaders", "botocore.session")


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "killed"])
def test_a_new_environments_first_invocation_loads_no_parser_and_builds_no_client(
    tmp_path: Path, moto_server: Any, killed: bool
) -> None:
    """Zero-code mode, a function that does not use the SDK: init, then the first invocation
    reads the config and the kill switch (one GetParameters) and loads nothing more."""
    if killed:
        moto_server.put(
            "/chaos-layer/app", json.dumps({"enabled": True, "faults": [{"type": "latency", "delay_ms": 1}]})
        )
        moto_server.put("/chaos-layer/kill-switch", "on")
    else:
        moto_server.put("/chaos-layer/app", json.dumps({"enabled": False, "faults": [{"type": "diskspace", "mb": 1}]}))
    code = f"""
    import chaos_layer.wrapper
    assert chaos_layer.wrapper.handler({{"path": "/"}}, None) == {{"statusCode": 200, "body": "ok"}}
    reading = chaos_layer.wrapper.handler.chaos_experiment.cache.reading
    assert reading.problem is None and reading.killed is {killed}, reading
    """
    env = {
        "CHAOS_LAYER_HANDLER": "app.handler",
        "CHAOS_LAYER_PARAM": "/chaos-layer/app",
        "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url,
    }
    modules = loaded_after(code, tmp_path, env)
    assert "chaos_layer.source.signed" in modules  # the read happened, signed by hand
    assert forbidden(modules, (*MECHANICS, *PARSER, *CLIENT)) == []


def test_a_dependency_fault_loads_no_service_model_beyond_the_read(tmp_path: Path, moto_server: Any) -> None:
    """A `dependency` fault is checked structurally on the function side: its services and error
    codes are checked against botocore's service models by the operator's tools only, so a
    function reading one (typo included) loads no model but SSM's, for its own read."""
    config = {
        "enabled": True,
        "rate": 0.5,
        "faults": [{"type": "dependency", "services": ["dynamo"], "error": "ThrottlingExeption"}],
    }
    moto_server.put("/chaos-layer/app", json.dumps(config))
    code = """
    import random, sys
    import botocore.loaders
    from chaos_layer import inject_fault
    import app

    models = []
    load = botocore.loaders.Loader.load_service_model
    def recording(self, service_name, type_name, api_version=None):
        models.append(service_name)
        return load(self, service_name, type_name, api_version)
    botocore.loaders.Loader.load_service_model = recording

    class NeverSelected(random.Random):
        def random(self):
            return 0.99

    handler = inject_fault(parameter="/chaos-layer/app", random=NeverSelected())(app.handler)
    assert handler({"path": "/"}, None) == {"statusCode": 200, "body": "ok"}
    assert handler.chaos_experiment.cache.active is not None
    print(models, file=sys.stderr)
    assert set(models) <= {"ssm"}, models
    """
    modules = loaded_after(code, tmp_path, {"AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url})
    assert "chaos_layer.faults._dependency" in modules  # the fault is active, its mechanics are loaded
    assert forbidden(modules, ("chaos_layer.control",)) == []
