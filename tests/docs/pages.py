"""The documentation's pages as tests read them: README.md and docs/*.md, their sections and the
fenced blocks they mark.

A block a test runs as written is marked on the line before it with `<!-- test: NAME -->`, and
the test reads it with `block(PAGE, NAME)`; test_blocks.py checks that every shell or Python
block is either read that way or marked `<!-- not run: REASON -->`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>(?:> ?)* *)(?P<fence>```+)(?P<language>[\w+-]*)[^\n]*$")  # also in a quote
MARKER = re.compile(r"^(?:> ?)*\s*<!-- (?P<kind>test|not run): (?P<what>.+?) -->\s*$")


def path(page: str) -> Path:
    return ROOT / page if page == "README.md" else DOCS / page


def text(page: str) -> str:
    return path(page).read_text(encoding="utf-8")


def names() -> list[str]:
    """Every page: the README and the site's Markdown files."""
    return ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))]


def section(page: str, start: str, end: str | None = None) -> str:
    """The page from the heading line `start` to the heading line `end` (or the page's end)."""
    whole = text(page)
    begin = whole.index(f"\n{start}\n") + 1
    return whole[begin : whole.index(f"\n{end}\n", begin) + 1] if end else whole[begin:]


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    language: str
    marker: tuple[str, str] | None  # ("test", NAME) or ("not run", REASON)
    body: str


def blocks(page: str) -> list[Block]:
    """Every fenced block of the page, its indentation removed."""
    lines = text(page).splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next(i for i in range(index + 1, len(lines)) if lines[i][indent:].strip() == fence)
        body = "".join(line[indent:] + "\n" for line in lines[index + 1 : end])
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip(" >")), "")
        marked = MARKER.match(before)
        marker = (marked["kind"], marked["what"]) if marked else None
        found.append(Block(page, index + 1, opening["language"], marker, body))
        index = end + 1
    return found


def block(page: str, name: str) -> str:
    """The fenced block marked `<!-- test: NAME -->` on the page: what a test runs as written."""
    (found,) = [b.body for b in blocks(page) if b.marker == ("test", name)]
    return found
