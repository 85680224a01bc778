"""`chaos-layer recover JOURNAL`: after a runner died (SIGKILL, a lost machine), put back the
function settings its journal says are still changed, only where they still hold the runner's
value, and delete the restoring schedules it left. Running it again changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from chaos_layer import control
from chaos_layer.cli.options import Connection, with_options
from chaos_layer.experiment import settings_faults

# Seam for tests: how the Lambda and Scheduler clients of one region are made.
settings_factory: Callable[..., Any] = settings_faults.new_client
STYLES = {"info": "", "ok": "green", "warn": "yellow", "error": "bold red"}


def register(app: typer.Typer) -> None:
    @app.command(name="recover")
    @with_options(Connection)
    def recover_command(
        aws: Connection,
        journal: Annotated[
            str, typer.Argument(metavar="JOURNAL", help="Journal written by `run`.", show_default=False)
        ],
    ) -> None:
        """Restore the function settings a killed `run` left changed, and delete its restoring
        schedules. A setting someone else changed since is kept as they set it, and said.
        Safe to run again: what is restored already is left alone.

        Exit codes: 0 nothing is left changed, 2 the journal cannot be read, 3 AWS error.
        """
        path = Path(journal)
        if not path.exists():
            raise control.UsageError(f"cannot read {journal}: no such file")
        data = settings_faults.read_journal(path)
        entries = data["settings"]
        console = Console(highlight=False, soft_wrap=True)
        if not entries:
            console.print(f"{journal}: the run changed no function settings; nothing to recover.")
            return

        def say(text: str, level: str = "info") -> None:
            console.print(Text(text, style=STYLES.get(level, "")))

        def save() -> None:
            settings_faults.write_journal(path, data)

        failure: control.ControlError | None = None
        # Each change is made where its function is: the ARN says the region.
        for region, group in _by_region(entries, aws.region).items():
            connection = {"region": region, "profile": aws.profile, "endpoint_url": aws.endpoint_url}
            error = settings_faults.recover(group, settings_factory(connection), say, save)
            failure = failure or error
        data.setdefault("recovered", []).append({"at": control.format_instant(time.time()), "ok": failure is None})
        save()
        if failure is not None:
            raise failure


def _by_region(entries: list[dict[str, Any]], fallback: str | None) -> dict[str | None, list[dict[str, Any]]]:
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for entry in entries:
        region = settings_faults.target_of(entry).region or fallback
        groups.setdefault(region, []).append(entry)
    return groups
