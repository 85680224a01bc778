"""The exit codes the pages promise are the ones the code returns: `run`'s verdicts
(docs/experiments.md) against the journal's table, and the command line's codes
(docs/command-line.md) against the CLI's errors."""

from __future__ import annotations

import re

from chaos_layer.cli import app
from chaos_layer.experiment.journal import EXIT_CODES
from tests.docs import pages


def rows(page: str, marker: str) -> list[list[str]]:
    table = pages.text(page).split(f"<!-- {marker} -->\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def test_the_verdict_table_is_the_runners() -> None:
    shown = {verdict.strip("`"): int(code) for code, verdict, _ in rows("experiments.md", "verdicts")}
    assert shown == {verdict.value: code for verdict, code in EXIT_CODES.items()}


def test_the_command_lines_exit_codes_are_the_clis() -> None:
    shown = [int(code) for code, _ in rows("command-line.md", "exit codes")]
    assert shown == sorted({0, *app.EXIT_CODES.values()})
    adds = r"`run` adds (\d+) \(hypothesis rejected\), (\d+) \(aborted.*?\), (\d+) \(inconclusive\) and (\d+)"
    runs = re.search(adds, pages.text("command-line.md"), re.S)
    assert runs is not None
    assert sorted(map(int, runs.groups())) == sorted(code for code in EXIT_CODES.values() if code)
