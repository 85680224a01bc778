"""Figures on the pages that a command produces are what the command produces today."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.docs import pages
from tests.docs.pages import ROOT


def test_the_draft_04_schemas_size_is_what_chaos_layer_schema_prints() -> None:
    said = re.search(r"compact \(about ([\d,]+) characters;", pages.text("sources-and-scale.md"))
    assert said is not None
    printed = subprocess.run(
        [sys.executable, "-c", "from chaos_layer.cli import main; main()", "schema", "--draft-04"],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    # "about": within a tenth, so a new key's few words need no edit, but a stale figure fails
    assert abs(int(said.group(1).replace(",", "")) - len(printed)) <= len(printed) / 10
    assert len(printed) <= 32_768  # what an AppConfig validator takes
