"""The `chaos-layer` command. Its packages (Typer, Rich, PyYAML, pygal) come with the `cli` extra; the
layer itself never imports this package."""

from __future__ import annotations

import sys

from chaos_layer.control.extras import install_command

# The top-level packages of the `cli` extra (Click comes with Typer; yaml is PyYAML).
CLI_PACKAGES = frozenset({"typer", "rich", "click", "yaml", "pygal"})


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
