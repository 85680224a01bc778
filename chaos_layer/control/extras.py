"""What to install when a package of an extra is missing. chaos-layer is on no package index, so
`pip install 'chaos-layer[cli]'` finds nothing; the extra's own requirements, as the installed
metadata lists them, install wherever chaos-layer came from (a wheel or a checkout)."""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "chaos-layer"


def install_command(extra: str = "cli") -> str:
    """`pip install` of the extra's requirements."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        requirements = []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    needed = [requirement.partition(";")[0].strip() for requirement in requirements if marker.search(requirement)]
    return "pip install " + (" ".join(f"'{requirement}'" for requirement in needed) or "typer rich pyyaml pygal jinja2")
