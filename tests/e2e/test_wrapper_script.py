"""The exec wrapper on its own: what the runtime's bootstrap receives from /opt/chaos-layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# Prints the arguments it got and the handler variables it sees.
PROBE = (
    "import json, os, sys; "
    "print(json.dumps([sys.argv[1:], os.environ.get('_HANDLER'), os.environ.get('CHAOS_LAYER_HANDLER')]))"
)


def run_wrapper(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30, check=False
    )


def probe(wrapper: Path, env: dict[str, str], *arguments: str) -> Any:
    result = run_wrapper([str(wrapper), sys.executable, "-c", PROBE, *arguments], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_moves_the_handler_and_passes_every_argument_through_untouched(opt_dir: Path) -> None:
    arguments = ["two words", "", "*", "$HOME", "--flag=a;b", "'quoted'"]

    seen = probe(opt_dir / "chaos-layer", {"_HANDLER": "app.handler"}, *arguments)

    assert seen == [arguments, "chaos_layer.wrapper.handler", "app.handler"]


def test_keeps_a_chaos_layer_handler_the_owner_set(opt_dir: Path) -> None:
    seen = probe(opt_dir / "chaos-layer", {"_HANDLER": "app.handler", "CHAOS_LAYER_HANDLER": "src/orders.main"})

    assert seen == [[], "chaos_layer.wrapper.handler", "src/orders.main"]


def test_running_it_twice_changes_nothing_more(opt_dir: Path) -> None:
    wrapper = str(opt_dir / "chaos-layer")
    result = run_wrapper([wrapper, wrapper, sys.executable, "-c", PROBE], {"_HANDLER": "app.handler"})

    assert json.loads(result.stdout) == [[], "chaos_layer.wrapper.handler", "app.handler"]


def test_hands_over_to_the_next_wrapper_once(opt_dir: Path, tmp_path: Path) -> None:
    next_wrapper = tmp_path / "next"
    next_wrapper.write_text('#!/bin/sh\necho "next wrapper saw $_HANDLER" >&2\nexec "$@"\n')
    next_wrapper.chmod(0o755)

    result = run_wrapper(
        [str(opt_dir / "chaos-layer"), sys.executable, "-c", PROBE, "argument"],
        {"_HANDLER": "app.handler", "CHAOS_LAYER_NEXT_WRAPPER": str(next_wrapper)},
    )

    assert result.stderr.splitlines() == ["next wrapper saw chaos_layer.wrapper.handler"]
    assert json.loads(result.stdout) == [["argument"], "chaos_layer.wrapper.handler", "app.handler"]


def test_without_a_command_it_says_how_to_use_it(opt_dir: Path) -> None:
    result = run_wrapper([str(opt_dir / "chaos-layer")], {"_HANDLER": "app.handler"})

    assert result.returncode != 0
    assert "AWS_LAMBDA_EXEC_WRAPPER=/opt/chaos-layer" in result.stderr
