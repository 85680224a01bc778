"""Getting started's commands that package a function by hand, run as written (after building the
project's wheel, as `make dist` does): the package holds chaos-layer and its dependencies as
wheels for the function's platform and Python, and no boto3 or botocore (Lambda has them).
An arm64 package cannot be imported on an x86_64 machine, so the wheels' tags are checked."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs import pages

ROOT = Path(__file__).resolve().parents[2]
ARM64 = "manylinux2014_aarch64"


def documented_commands() -> list[str]:
    lines = pages.block("getting-started.md", "package-by-hand").replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


def pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def index_reachable(tmp_path_factory: pytest.TempPathFactory) -> None:
    probe = pip(
        "download", "--no-deps", "--only-binary=:all:", "--dest", ".", "jmespath", cwd=tmp_path_factory.mktemp("probe")
    )
    if probe.returncode != 0:
        pytest.skip(f"no package index reachable from here: {probe.stderr.strip().splitlines()[-1:]}")


def wheel_tags(package: Path) -> dict[str, list[str]]:
    tags = {}
    for info in package.glob("*.dist-info"):
        text = (info / "WHEEL").read_text()
        tags[info.name] = re.findall(r"^Tag: (\S+)$", text, re.MULTILINE)
    return tags


def runs_on(tag: str, platform: str) -> bool:
    """Whether a wheel tag installs on CPython 3.12 on `platform` (manylinux2014_aarch64, ...)."""
    interpreter, abi, wheel_platform = tag.split("-")
    architecture = platform.split("_", 1)[1]
    return (
        interpreter in ("py3", "cp312", "py312")
        and abi in ("none", "abi3", "cp312")
        and (
            wheel_platform == "any"
            or (wheel_platform.startswith("manylinux") and wheel_platform.endswith(architecture))
        )
    )


@pytest.mark.usefixtures("index_reachable")
@pytest.mark.parametrize("platform", [ARM64, "manylinux2014_x86_64"])
def test_the_documented_commands_package_a_function_for_its_platform(tmp_path: Path, platform: str) -> None:
    built = pip("wheel", "--no-deps", "--wheel-dir", "dist", str(ROOT), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("chaos_layer-*.whl")
    commands = documented_commands()
    assert [command.split()[:2] for command in commands] == [["pip", "install"], ["pip", "install"]]
    for command in commands:
        words = shlex.split(command.replace(ARM64, platform))[2:]
        words = [str(wheel.relative_to(tmp_path)) if word.startswith("dist/chaos_layer-") else word for word in words]
        installed = pip("install", *words, cwd=tmp_path)
        assert installed.returncode == 0, (command, installed.stderr)

    package = tmp_path / "package"
    tags = wheel_tags(package)
    assert {name.split("-")[0] for name in tags} >= {"chaos_layer", "aws_lambda_powertools", "google_re2"}
    assert not (package / "boto3").exists()
    assert not (package / "botocore").exists()
    for name, found in tags.items():
        assert found, name
        assert all(runs_on(tag, platform) for tag in found), (name, found)
    architecture = "aarch64" if platform == ARM64 else "x86_64"
    extensions = list(package.rglob("*.so"))
    assert extensions
    assert all(architecture in extension.name for extension in extensions), extensions
