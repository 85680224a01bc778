"""The `chaos-layer` command. Its packages (Typer, Rich, PyYAML, pygal) come with the `cli` extra; the
layer itself never imports this package."""

from __future__ import annotations

import re
import sys
from importlib import metadata

# The top-level packages of the `cli` extra (Click comes with Typer; yaml is PyYAML).
CLI_PACKAGES = frozenset({"typer", "rich", "click", "yaml", "pygal"})
DISTRIBUTION = "chaos-layer"
_CLI_EXTRA = re.compile(r"""extra\s*==\s*["']cli["']""")


def install_command() -> str:
    """`pip install` of the cli extra's requirements, as installed metadata lists them: it works
    whether chaos-layer came from a wheel or a checkout (it is on no index to name it by)."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        requirements = []
    needed = [requirement.partition(";")[0].strip() for requirement in requirements if _CLI_EXTRA.search(requirement)]
    return "pip install " + (" ".join(f"'{requirement}'" for requirement in needed) or "typer rich pyyaml pygal")


def install_hint() -> str:
    """What to run when the extra is missing."""
    return f"chaos-layer: the command line needs its extra packages: {install_command()}"


def main() -> None:
    """Console-script entry point."""
    try:
        from chaos_layer.cli.app import app
    except ImportError as error:
        if (error.name or "").partition(".")[0] not in CLI_PACKAGES:
            raise
        print(install_hint(), file=sys.stderr)
        raise SystemExit(1) from None
    app()
