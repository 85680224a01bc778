"""The `chaos-layer` command. Its packages (Typer, Rich) come with the `cli` extra; the
layer itself never imports this package."""

from __future__ import annotations

import sys

# The top-level packages of the `cli` extra (Click comes with Typer).
CLI_PACKAGES = frozenset({"typer", "rich", "click"})
INSTALL_HINT = "chaos-layer: the command line needs its extra packages: pip install 'chaos-layer[cli]'"


def main() -> None:
    """Console-script entry point."""
    try:
        from chaos_layer.cli.app import app
    except ImportError as error:
        if (error.name or "").partition(".")[0] not in CLI_PACKAGES:
            raise
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(1) from None
    app()
