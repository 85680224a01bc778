"""`--help` as a person reads it in an 80-column terminal, and the AWS
options declared once for every command that takes them."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chaos_layer.cli import app as app_module

COMMANDS = ["start", "stop", "kill", "resume", "status", "validate", "schema", "run", "report"]
ENV_NAME = re.compile(r"\b(?:CHAOS_LAYER|CHAOS|AWS)_[A-Z0-9_]*")
SHARED = ("--region", "--profile", "--endpoint-url", "--max-age", "--idle-max-age")


def root() -> Any:
    """The Click group Typer builds (from the Click Typer vendors)."""
    return typer.main.get_command(app_module.app)


def written_env_names() -> set[str]:
    """Every variable name as the help texts spell it, before any wrapping."""
    texts = [root().help or ""]
    for command in root().commands.values():
        texts.append(command.help or "")
        texts += [getattr(parameter, "help", None) or "" for parameter in command.params]
    return {name for text in texts for name in ENV_NAME.findall(text)}


@pytest.mark.parametrize("command", ["", *COMMANDS], ids=lambda c: c or "chaos-layer")
def test_help_reads_well_at_80_columns(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(app_module.app, args, terminal_width=80, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert [line for line in text.splitlines() if len(line) > 80] == []
    assert "<bool>" not in text  # a flag takes no value
    assert "…" not in text  # nothing cut off
    assert set(ENV_NAME.findall(text)) <= written_env_names()  # every variable name whole


def test_the_start_help_names_every_variable_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = CliRunner().invoke(app_module.app, ["start", "--help"], terminal_width=80).stdout
    for name in ("CHAOS_LAYER_PARAM", "CHAOS_LAYER_KILL_SWITCH", "CHAOS_LAYER_MAX_AGE", "CHAOS_LAYER_IDLE_MAX_AGE"):
        assert name in text
    for flag in ("--dry-run / --no-dry-run", "--replace ", "--control-group / --no-control-group"):
        assert flag in text


def test_the_aws_options_read_the_same_in_every_command() -> None:
    ctx = root().context_class(root())
    seen: dict[str, set[tuple[str, str]]] = {}
    for name, command in root().commands.items():
        for parameter in command.params:
            record = parameter.get_help_record(ctx)
            if record is not None and parameter.opts[0] in SHARED:
                seen.setdefault(parameter.opts[0], set()).add(record)
        if name not in ("schema", "report", "fis"):  # these read and write local files only
            assert {"--region", "--profile", "--endpoint-url"} <= {p.opts[0] for p in command.params}, name
    assert set(seen) == set(SHARED)
    assert {flag: len(records) for flag, records in seen.items()} == dict.fromkeys(SHARED, 1)
