"""An mkdocs hook: the report screenshot on the experiments page, made from a real run.

Before the build, `examples/control_group.py --no-outbox` runs `chaos-layer run` against the
demo's embedded services (a rejected run, some 15 s), `chaos-layer report` renders its journal,
and headless Chromium photographs the page into docs/images/report.png (not in git). Where
Chromium is not installed, the build says so in one line, and the page says so in place of
the picture, so a build without Chromium still passes `--strict`.
`CHAOS_LAYER_DOCS_SCREENSHOT=0` skips the run (the picture's place then says so too).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "docs" / "images" / "report.png"
LINK = "images/report.png"
MISSING = (
    "*The report's screenshot goes here: `make docs` makes it with headless Chromium from a real run's"
    " journal, and this build had {why}.*"
)
log = logging.getLogger("mkdocs.hooks.screenshot")
state: dict[str, str] = {}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run(command: list[str], directory: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        environment.pop(name, None)  # the run's own moto server, never a developer's account
    # moto takes any credentials: these are placeholders, never a secret
    environment.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    environment["AWS_DEFAULT_REGION"] = "us-east-1"
    # the commands are this repository's own scripts and the local Chromium, never input
    subprocess.run(command, cwd=directory, env=environment, check=True, capture_output=True, timeout=300)  # noqa: S603


def screenshot(browser: str) -> None:
    with tempfile.TemporaryDirectory(prefix="chaos-layer-docs-") as temporary:
        directory = Path(temporary)
        journal, page = directory / "checkout.journal.json", directory / "report.html"
        # exit 5: the hypothesis was rejected, which is what the picture shows
        try:
            run(
                [sys.executable, str(ROOT / "examples" / "control_group.py"), "--no-outbox", "--journal", str(journal)],
                directory,
            )
        except subprocess.CalledProcessError as error:
            if error.returncode != 5:
                raise
        report = "from chaos_layer.cli import main; main()"
        run([sys.executable, "-c", report, "report", str(journal), "-o", str(page)], directory)
        IMAGE.parent.mkdir(exist_ok=True)
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        flags += ["--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
        flags += [f"--user-data-dir={directory / 'profile'}", "--window-size=1000,1500", f"--screenshot={IMAGE}"]
        run([browser, *flags, page.as_uri()], directory)


def on_pre_build(config: Any) -> None:
    state.clear()
    browser = chromium()
    if os.environ.get("CHAOS_LAYER_DOCS_SCREENSHOT") == "0":
        state["why"] = "CHAOS_LAYER_DOCS_SCREENSHOT=0"
    elif browser is None:
        state["why"] = "no Chromium (apt-get install chromium)"
    else:
        screenshot(browser)
        log.info("report screenshot: %s", IMAGE.relative_to(ROOT))
        return
    IMAGE.unlink(missing_ok=True)  # never a picture of an older run
    log.info("report screenshot skipped: %s", state["why"])
    print(f"docs: the report screenshot is not made: {state['why']}", file=sys.stderr)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Where there is no picture, a sentence saying why instead of a broken image."""
    if "why" not in state or LINK not in markdown:
        return markdown
    lines = [
        MISSING.format(why=state["why"]) if LINK in line and line.startswith("![") else line
        for line in markdown.splitlines()
    ]
    return "\n".join(lines) + "\n"
