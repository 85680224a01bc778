"""The quick start (the README's and Getting started's), run as a newcomer types it: its set-up,
its handler and its commands, one at a time, against a moto server on loopback with dummy credentials (the set-up's own
`moto_server` line is the same server, started by the test on a free port)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MotoServer
from tests.docs import pages
from tests.docs.pages import ROOT, block

INJECTED = "chaos-layer injected a fault"
PAGES = ["README.md", "getting-started.md"]


def commands(script: str) -> list[str]:
    """The script's command lines, continuations joined, comments and blank lines dropped."""
    lines = script.replace("\\\n", " ").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def exported(command: str) -> dict[str, str]:
    words = shlex.split(command, comments=True)
    assert words[0] == "export", command
    return dict(word.split("=", 1) for word in words[1:])


@dataclass
class Ran:
    command: str
    result: subprocess.CompletedProcess[str]
    seconds: float

    def injections(self) -> list[dict[str, Any]]:
        lines = self.result.stderr.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and INJECTED in line]


@pytest.mark.parametrize("page", PAGES)
def test_the_quick_start_has_no_fixed_dates(page: str) -> None:
    """A date written into the quick start is soon in the past, and an expired experiment injects nothing."""
    assert not re.findall(r"\b20\d\d-\d\d-\d\d", block(page, "set-up") + block(page, "run"))


def test_the_install_commands_install_from_the_clone() -> None:
    """chaos-layer is not on PyPI: a bare `pip install chaos-layer` finds nothing."""
    installs = [found for page in pages.names() for found in re.findall(r"pip install [^`\n]*", pages.text(page))]
    assert installs
    for install in installs:
        assert not re.search(r"pip install (--\S+ )*'?chaos-layer\b", install), install


@pytest.mark.parametrize("page", PAGES)
def test_the_set_up_points_the_sdk_at_the_local_ssm(page: str) -> None:
    make, server, export = commands(block(page, "set-up"))
    assert make.split("#")[0].split() == ["make", "venv", "&&", ".", ".venv/bin/activate"]
    assert "\nvenv: $(STAMP)\n" in (ROOT / "Makefile").read_text()
    port = re.fullmatch(r"moto_server -p (\d+) > /dev/null 2>&1 &\s*(#.*)?", server)
    assert port is not None, server
    assert (Path(sys.executable).parent / "moto_server").exists()  # what make venv installs
    assert exported(export)["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port.group(1)}"


@pytest.fixture(params=PAGES)
def quick_start(request: pytest.FixtureRequest, moto_server: MotoServer, tmp_path: Path) -> list[Ran]:
    """Every command of the run block, in a shell of its own, with what the set-up exported."""
    page = request.param
    (tmp_path / "orders.py").write_text(block(page, "orders.py"))
    *_, export = commands(block(page, "set-up"))
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # . .venv/bin/activate
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],  # nothing from the developer's own files
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
        **exported(export),
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
        # the checkout under test, where it is not the installed one (a worktree)
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},
    }
    ran = []
    for command in commands(block(page, "run")):
        if command.startswith("export "):
            environment.update(exported(command))
            continue
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
        )
        ran.append(Ran(command, result, time.monotonic() - started))
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    return ran


@pytest.mark.slow
def test_the_quick_start_starts_shows_injects_and_stops(quick_start: list[Ran], moto_server: MotoServer) -> None:
    start, status, injected, stop, after = quick_start
    assert start.command.startswith("chaos-layer start ")
    assert stop.command.startswith("chaos-layer stop")

    assert re.search(r"^injecting\s+yes\b", status.result.stdout, re.MULTILINE), status.result.stdout

    (record,) = injected.injections()
    assert (record["experiment"], record["fault"], record["settings"]["delay_ms"]) == ("orders-latency", "latency", 300)
    assert injected.result.stdout.splitlines()[-1] == "{'statusCode': 200, 'body': 'hello'}"
    assert injected.seconds >= 0.3

    assert after.injections() == []
    assert after.result.stdout.splitlines() == ["{'statusCode': 200, 'body': 'hello'}"]

    stored = json.loads(moto_server.client().get_parameter(Name="/chaos-layer/orders")["Parameter"]["Value"])
    assert stored["enabled"] is False  # stopped, and kept for `start` to resume
    expires = datetime.fromisoformat(stored["expires_at"].replace("Z", "+00:00"))
    remaining = (expires - datetime.now(timezone.utc)).total_seconds()
    assert 3600 - 300 < remaining <= 3600  # the default expiry: an hour from when it started
