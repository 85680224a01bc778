"""`chaos-layer fis template`: the CloudFormation template that lets AWS FIS run a `run` file's
experiment (chaos_layer.fis renders it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaos_layer import control
from chaos_layer.fis.template import from_file

app = typer.Typer(
    name="fis", help="Run chaos-layer experiments from AWS Fault Injection Service.", no_args_is_help=True
)


@app.command(name="template")
def template_command(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Experiment file (YAML or JSON).", show_default=False)],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUT",
            help="Write the template here (default: standard output).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Render the CloudFormation template (SSM Automation document, roles, FIS experiment
    template) that runs FILE's experiment from AWS FIS: its faults and blast radius as the config,
    its alarms as stop conditions, its ramp as actions one after the other.

    What FIS cannot express (a metric check without an alarm, a comparison, settings faults,
    on_breach: kill) is refused with the reason: exit 1, nothing written.
    """
    text = from_file(file)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise control.UsageError(f"cannot write {output}: {error.strerror or error}") from None
    typer.echo(f"wrote {output}: deploy it with aws cloudformation deploy --capabilities CAPABILITY_IAM", err=True)
