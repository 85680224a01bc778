"""An mkdocs hook: a block the tests cannot run says why on the page, not only in its source.

`<!-- not run: REASON -->` before a fenced block (tests/docs/test_blocks.py asks for it) is an
HTML comment, which a reader of the site would never see; the site shows it as a line of
small print above the block instead.
"""

from __future__ import annotations

import re
from typing import Any

NOT_RUN = re.compile(r"^(?P<prefix>(?:> ?)*\s*)<!-- not run: (?P<reason>.+?) -->\s*$")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    lines: list[str] = []
    for line in markdown.splitlines():
        found = NOT_RUN.match(line)
        if found is None:
            lines.append(line)
            continue
        prefix = found["prefix"]
        lines += [f"{prefix}*Not run by the tests: {found['reason']}.*", prefix.rstrip()]
    return "\n".join(lines) + "\n"
