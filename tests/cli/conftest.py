"""Running `chaos-layer` as users do: through Typer's CliRunner (most tests), the installed
console script and the real AWS CLI (`.venv/bin/...`, in a subprocess), against the moto
server of tests/conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from chaos_layer.cli import app as app_module
from tests.conftest import FakeClock, MotoServer
from tests.scripted_endpoint import ScriptedEndpoint

BIN = Path(sys.executable).parent
PARAM = "/chaos-layer/orders"
KILL_SWITCH = "/chaos-layer/kill-switch"
AWS_COMMANDS = ("start", "stop", "kill", "resume", "status")


@dataclass
class Cli:
    """`cli("start", "--rate", "1", "--latency", "300")` runs the command against the moto server (its
    --endpoint-url and --param are added unless `endpoint=False` / `param=False`)."""

    server: MotoServer
    runner: CliRunner

    def __call__(self, *args: str, endpoint: bool = True, param: bool = True, input: str | None = None) -> Result:
        extra: list[str] = []
        if param and args and args[0] in AWS_COMMANDS:
            extra += ["--param", PARAM]
        if endpoint and args and args[0] in AWS_COMMANDS:
            extra += ["--endpoint-url", self.server.endpoint_url]
        return self.runner.invoke(app_module.app, [*args, *extra], input=input, catch_exceptions=False)

    def value(self, name: str = PARAM) -> str | None:
        client = self.server.client()
        try:
            return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except client.exceptions.ParameterNotFound:
            return None

    def document(self, name: str = PARAM) -> Any:
        text = self.value(name)
        assert text is not None, f"{name} does not exist"
        return json.loads(text)

    def describe(self, name: str = PARAM) -> dict[str, Any]:
        filters = [{"Key": "Name", "Option": "Equals", "Values": [name]}]
        (parameter,) = self.server.client().describe_parameters(ParameterFilters=filters)["Parameters"]
        return dict(parameter)


@pytest.fixture
def fake_clock(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The CLI's "now" (expires_at of --duration, time left in status), moved only by the test."""
    monkeypatch.setattr(app_module, "clock", clock)
    return clock


@pytest.fixture
def cli(moto_server: MotoServer, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # Rich wraps at the terminal width; a wide one keeps each status row on one line.
    monkeypatch.setenv("COLUMNS", "200")
    return Cli(moto_server, CliRunner())


def run_binary(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run an executable of the virtualenv (chaos-layer, aws) as a user would."""
    return subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def fake_ssm() -> Iterator[Callable[[int, dict[str, Any]], ScriptedEndpoint]]:
    """`fake_ssm(400, {"__type": "AccessDeniedException", ...})`: an SSM that always says that."""
    endpoints: list[ScriptedEndpoint] = []

    def start(status: int, body: dict[str, Any]) -> ScriptedEndpoint:
        endpoint = ScriptedEndpoint()
        endpoint.answer_json(status, body)
        endpoint.start()
        endpoints.append(endpoint)
        return endpoint

    yield start
    for endpoint in endpoints:
        endpoint.stop()
