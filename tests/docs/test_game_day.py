"""The command line's game day (docs/command-line.md), run as written: each step's commands,
one at a time, in a shell with what the set-up exported, against a moto server on loopback
(the page's own `moto_server` line is that server, started by the test on a free port), from
the repository, as the page says."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MotoServer
from tests.docs.pages import ROOT, block

PAGE = "command-line.md"
PAGE_ENDPOINT = "http://127.0.0.1:5000"


def commands(script: str) -> list[str]:
    """The script's commands: continuations and quoted newlines joined, comments dropped."""
    found: list[str] = []
    pending = ""
    for line in script.replace("\\\n", " ").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        found.append(pending)
        pending = ""
    assert not pending, pending
    return found


@dataclass
class Ran:
    command: str
    code: int
    out: str
    err: str


@pytest.fixture
def game_day(moto_server: MotoServer) -> dict[str, list[Ran]]:
    """Every step, in order, as a reader types it; the results by step."""
    (server,) = commands(block(PAGE, "game day server"))
    assert server == f".venv/bin/moto_server -H 127.0.0.1 -p {PAGE_ENDPOINT.rsplit(':', 1)[1]}"
    activate, *exports = commands(block(PAGE, "game day set-up"))
    assert activate == "source .venv/bin/activate"
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # what activate does
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(ROOT),  # this checkout's chaos_layer, as the clone's own venv would have it
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],  # nothing from the developer's own files
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
    }
    for export in exports:
        words = shlex.split(export)
        assert words[0] == "export", export
        environment.update((name, value) for name, _, value in (word.partition("=") for word in words[1:]))
    assert environment["AWS_ENDPOINT_URL"] == PAGE_ENDPOINT
    environment["AWS_ENDPOINT_URL"] = moto_server.endpoint_url
    scripts = {
        "1": block(PAGE, "game day 1"),
        "2": block(PAGE, "game day 2"),
        "2, a function": block(PAGE, "game day 2, a function"),
        "3": block(PAGE, "game day 3"),
        "4": block(PAGE, "game day 4"),
        "5": block(PAGE, "game day 5"),
    }
    steps: dict[str, list[Ran]] = {}
    for step, script in scripts.items():
        steps[step] = []
        for command in commands(script):
            result = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
            )
            steps[step].append(Ran(command, result.returncode, result.stdout, result.stderr))
    return steps


def stored(moto_server: MotoServer) -> dict[str, object]:
    value = moto_server.client().get_parameter(Name="/chaos-layer/orders")["Parameter"]["Value"]
    return dict(json.loads(value))


def test_each_step_does_what_the_page_says(game_day: dict[str, list[Ran]], moto_server: MotoServer) -> None:
    (status,) = game_day["1"]
    assert status.code == 4, status  # nothing configured yet
    assert "injecting    no: nothing is stored at the config's location" in status.out

    start, status = game_day["2"]
    assert (start.code, status.code) == (0, 0), (start, status)
    assert re.search(r"^injecting\s+yes\b", status.out, re.MULTILINE), status.out

    (function,) = game_day["2, a function"]
    assert function.code == 0, function
    counts = ast.literal_eval(function.out.strip())
    assert set(counts) == {200, 503}, counts  # some of the 200 calls got a 503
    assert sum(counts.values()) == 200, counts
    assert 1 <= counts[503] <= 40, counts  # about 5 %: 10 expected, 40 is beyond any plausible draw

    (scale_up,) = game_day["3"]
    assert scale_up.code == 0, scale_up

    kill, status = game_day["4"]
    assert (kill.code, status.code) == (0, 0), (kill, status)
    assert re.search(r"^injecting\s+no\b", status.out, re.MULTILINE), status.out
    assert "kill switch" in status.out

    _, status, _, status_json, get_parameter = game_day["5"]  # resume, status, stop, ...
    assert [ran.code for ran in game_day["5"]] == [0] * 5, game_day["5"]
    assert re.search(r"^injecting\s+yes\b", status.out, re.MULTILINE), status.out  # the 50 % runs again
    assert "50%" in status.out, status.out
    assert json.loads(status_json.out)["injecting"] is False
    shown = json.loads(get_parameter.out)
    assert shown["enabled"] is False  # stopped, kept for a later start
    assert shown["rate"] == 0.5
    assert shown == stored(moto_server)
    assert [(fault["type"], fault["status_code"]) for fault in shown["faults"]] == [("status_code", 503)]
