"""Every command and every piece of Python on the documentation's pages is either run by a test
as written or says why it cannot be: a fenced shell or Python block is marked on the line
before it with `<!-- test: NAME -->`, and some test reads it with `pages.block(PAGE, NAME)`, or
with `<!-- not run: REASON -->` (it needs an AWS account, say). A block with no language is
refused too: output is `text`, so an unmarked command cannot hide as plain text."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs import pages

SHELL = {"sh", "bash", "shell", "console", "zsh"}
PYTHON = {"python", "py", "pycon"}
TESTS = pages.ROOT / "tests"
ANY_PAGE = "*"  # block(page, NAME) with the page in a variable: a test parametrized over pages


@functools.cache
def read_by_tests() -> set[tuple[str, str]]:
    """(page, NAME) of every `block(PAGE, NAME)` call in the tests, found without running them."""
    found: set[tuple[str, str]] = set()
    for source in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and len(node.args) == 2):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            page, name = node.args
            if called == "block" and isinstance(name, ast.Constant) and isinstance(name.value, str):
                where = page.value if isinstance(page, ast.Constant) and isinstance(page.value, str) else ANY_PAGE
                found.add((where, name.value))
    return found


def problems(page: str, tested: set[tuple[str, str]]) -> Iterator[str]:
    for found in pages.blocks(page):
        where = f"{page}:{found.line}"
        if not found.language:
            yield f"{where}: a block without a language (`text` for output, `sh` or `python` for code)"
            continue
        if found.language not in SHELL | PYTHON:
            continue
        if found.marker is None:
            yield f"{where}: a {found.language} block that no test runs and no `<!-- not run: REASON -->` explains"
        elif found.marker[0] == "test" and not {(page, found.marker[1]), (ANY_PAGE, found.marker[1])} & tested:
            yield f"{where}: marked `test: {found.marker[1]}`, but no test reads block({page!r}, {found.marker[1]!r})"
        elif found.marker[0] == "not run" and len(found.marker[1].split()) < 3:
            yield f"{where}: `not run` needs a reason a reader can act on"


@pytest.mark.parametrize("page", pages.names())
def test_every_shell_and_python_block_is_run_by_a_test_or_says_why_not(page: str) -> None:
    assert list(problems(page, read_by_tests())) == []


def test_a_block_marked_for_a_test_that_reads_nothing_is_found(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- test: nobody -->\n```sh\nls\n```\n\n```\nmake\n```\n\n```python\nprint()\n```\n")
    monkeypatch.setattr(pages, "DOCS", tmp_path)
    assert [p.split(": ", 1)[1][:25] for p in problems("page.md", set())] == [
        "marked `test: nobody`, bu",
        "a block without a languag",
        "a python block that no te",
    ]
    assert len(list(problems("page.md", {("*", "nobody")}))) == 2  # read by a test: that block is fine


def test_every_page_the_readme_points_to_is_in_the_sites_navigation() -> None:
    """GitHub shows the README's links as files; the site must have them as pages too."""
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", pages.text("README.md")))
    navigation = (pages.ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert linked, "the README points to no page"
    for page in linked:
        assert (pages.DOCS / page).is_file(), page
        assert f": {page}\n" in navigation, page
