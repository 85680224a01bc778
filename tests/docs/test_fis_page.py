"""docs/fis.md as a reader follows it: its run file saved under the name the page gives, its
`chaos-layer fis template` command run as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from tests.docs import pages


def test_the_walk_through_renders_the_template_it_describes(tmp_path: Path) -> None:
    page = pages.text("fis.md")
    saved_as = re.search(r"saved as `([^`]+)`", page)
    assert saved_as is not None
    (tmp_path / saved_as.group(1)).write_text(pages.block("fis.md", "fis-run-file"), encoding="utf-8")
    (command,) = [line for line in pages.block("fis.md", "fis-render").splitlines() if line.strip()]

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
    assert "--template-file fis-checkout-latency.yaml" in page
