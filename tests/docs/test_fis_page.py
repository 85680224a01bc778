"""docs/fis.md as a reader follows it: its run file saved under the name the page gives, its
`chaos-layer fis template` command run as written; every other shell block says why it is not run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "fis.md").read_text(encoding="utf-8")


def block(marker: str) -> str:
    """The fenced block right after `<!-- fis: marker -->`."""
    fenced = PAGE.split(f"<!-- fis: {marker} -->\n```", 1)[1]
    return fenced.split("\n", 1)[1].split("```", 1)[0]


def test_every_fenced_block_is_run_here_or_says_why_not() -> None:
    opening = re.compile(r"^(.*)\n```(\w+)\n", re.MULTILINE)
    for match in opening.finditer(PAGE):
        before = match.group(1)
        assert before.startswith(("<!-- fis: ", "<!-- not run: ")), f"```{match.group(2)} after {before!r}"


def test_the_walk_through_renders_the_template_it_describes(tmp_path: Path) -> None:
    saved_as = re.search(r"saved as `([^`]+)`", PAGE)
    assert saved_as is not None
    (tmp_path / saved_as.group(1)).write_text(block("run-file"), encoding="utf-8")
    (command,) = [line for line in block("render").splitlines() if line.strip()]

    result = subprocess.run(
        shlex.split(command),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load((tmp_path / "fis-checkout-latency.yaml").read_text(encoding="utf-8"))
    properties = rendered["Resources"]["ExperimentTemplate"]["Properties"]
    assert list(properties["Actions"]) == ["Step1", "Step2"]
    assert len(properties["StopConditions"]) == 1
    # The deploy command that follows names the file this one wrote.
    assert "--template-file fis-checkout-latency.yaml" in PAGE
