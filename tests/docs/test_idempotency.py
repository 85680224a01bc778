"""The idempotency example (docs/idempotency.md), run as written: its consumer, its config and
its stand-in for the SQS event source mapping saved as files, its commands run one at a time
against a moto server on loopback (the page's own `moto_server` line is that server, started
by the test on a free port). With Powertools' Idempotency the lost answer's redelivery is
absorbed; without it the order is charged twice, and each prints what the page shows."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import MotoServer
from tests.docs.pages import ROOT, block

PAGE = "idempotency.md"


def test_the_duplicate_is_absorbed_with_idempotency_and_charged_twice_without(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    (tmp_path / "consumer.py").write_text(block(PAGE, "consumer.py"))
    (tmp_path / "lost-answer.json").write_text(block(PAGE, "lost-answer.json"))
    (tmp_path / "redeliver.py").write_text(block(PAGE, "redeliver.py"))
    activate, server, *commands = block(PAGE, "run").replace("\\\n", " ").splitlines()
    assert activate == ". .venv/bin/activate"
    assert shlex.split(server, comments=True)[:3] == ["moto_server", "-p", "5051"]
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # what activate does
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),  # this checkout's chaos_layer, as the clone's own venv has it
        "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],  # nothing from the developer's own files
        "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
    }
    outputs: list[str] = []
    for command in commands:
        words = shlex.split(command, comments=True)
        if words[0] == "export":
            environment.update((name, value) for name, _, value in (word.partition("=") for word in words[1:]))
            assert environment.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5051") == "http://127.0.0.1:5051"
            continue
        environment["AWS_ENDPOINT_URL"] = moto_server.endpoint_url  # the page's server, on its free port
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        outputs.append(result.stdout)
    start, with_idempotency, without = outputs
    assert "Started experiment 'orders-lost-answer'" in start
    assert with_idempotency == block(PAGE, "with idempotency")
    assert without == block(PAGE, "without idempotency")
