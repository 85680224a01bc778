"""The sdist and wheel `make dist` builds: what they hold, their metadata, and the wheel as
pip installs it (built once per session with `python -m build`, as `make dist` does)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from chaos_layer import __version__
from tests.e2e.conftest import ROOT, built_once

pytestmark = pytest.mark.slow  # each test needs the sdist and wheel, built with python -m build

# Named after the package's own version: a build that took its version from elsewhere fails here.
WHEEL = f"chaos_layer-{__version__}-py3-none-any.whl"
SDIST = f"chaos_layer-{__version__}.tar.gz"


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=cwd)


def build_dist(output: Path) -> None:
    result = run(sys.executable, "-m", "build", "--outdir", str(output), str(ROOT))
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(tmp_path_factory, "dist", build_dist)


def wheel_names(dist: Path) -> set[str]:
    with zipfile.ZipFile(dist / WHEEL) as archive:
        return set(archive.namelist())


def test_make_dist_builds_the_sdist_and_the_wheel_and_twine_accepts_them(dist: Path) -> None:
    assert sorted(path.name for path in dist.iterdir()) == [WHEEL, SDIST]
    result = run(sys.executable, "-m", "twine", "check", "--strict", str(dist / WHEEL), str(dist / SDIST))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_holds_every_module_the_schema_and_the_typed_marker(dist: Path) -> None:
    names = wheel_names(dist)
    package = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "chaos_layer").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert package <= names
    assert {"chaos_layer/schema.json", "chaos_layer/py.typed"} <= names


def test_the_wheel_declares_the_cli_extra_and_the_command(dist: Path) -> None:
    with zipfile.ZipFile(dist / WHEEL) as archive:
        fields = Parser().parsestr(archive.read(f"chaos_layer-{__version__}.dist-info/METADATA").decode())
        entry_points = archive.read(f"chaos_layer-{__version__}.dist-info/entry_points.txt").decode()
    assert "cli" in fields.get_all("Provides-Extra", [])
    cli = sorted(r.partition(";")[0].strip() for r in fields.get_all("Requires-Dist", []) if "'cli'" in r)
    assert cli == ["jinja2>=3.1", "pygal>=3", "pyyaml>=6", "rich>=13", "typer>=0.12"]
    assert "chaos-layer = chaos_layer.cli:main" in entry_points


def test_the_wheel_holds_the_reports_templates(dist: Path) -> None:
    """`chaos-layer report` draws its page from these: a wheel without them has no report."""
    with zipfile.ZipFile(dist / WHEEL) as archive:
        names = set(archive.namelist())
    templates = ROOT / "chaos_layer" / "experiment" / "templates"
    expected = {path.relative_to(ROOT).as_posix() for path in templates.rglob("*") if path.is_file()}
    assert "chaos_layer/experiment/templates/report.html.j2" in expected
    assert expected <= names


def test_the_installed_wheel_serves_its_own_files(dist: Path, tmp_path: Path) -> None:
    """Installed by pip (its dependencies are this environment's), the copy from the wheel
    is the one imported, and the CLI reads the schema from it."""
    target = tmp_path / "site"
    installed = run(
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(dist / WHEEL)
    )
    assert installed.returncode == 0, installed.stderr
    code = (
        f"import sys; sys.path.insert(0, {str(target)!r}); sys.argv = ['chaos-layer', 'schema'];"
        f" import chaos_layer; assert chaos_layer.__file__.startswith({str(target)!r}), chaos_layer.__file__;"
        " from chaos_layer.cli import main; main()"
    )
    result = run(sys.executable, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "chaos_layer" / "schema.json").read_text(encoding="utf-8")
