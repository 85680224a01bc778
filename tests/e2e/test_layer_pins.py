"""The layer ships what layer/requirements.txt pins, hash-checked, whatever this environment
resolved: the same commit gives the same zip, and a wheel that is not the pinned one stops the
build."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.e2e.conftest import ROOT, build_layer, load_build_module

PINS = ROOT / "layer" / "requirements.txt"
CACHE = ROOT / "build" / "wheels"


def shipped_versions(layer_zip: Path) -> dict[str, str]:
    """`distribution -> version` of every dist-info folder in the zip."""
    with zipfile.ZipFile(layer_zip) as archive:
        folders = {name.split("/")[1] for name in archive.namelist() if ".dist-info/" in name}
    versions = {}
    for folder in folders:
        name, version = folder.removesuffix(".dist-info").rsplit("-", 1)
        versions[re.sub(r"[-_.]+", "-", name).lower()] = version
    return versions


def test_every_runtime_dependency_that_lambda_lacks_is_pinned_with_hashes() -> None:
    build = load_build_module()
    pins = build.read_pins(PINS)
    declared = {
        build.requirement_name(r): r for r in metadata.requires("chaos-layer") or [] if not build.is_extra(r)
    }  # pyproject's dependencies, as installed
    assert set(pins) == (set(declared) - build.RUNTIME_PROVIDED) | {"typing-extensions"}  # Powertools needs it
    for name, requirement in declared.items():
        if name in pins:
            assert pins[name].version in Requirement(requirement).specifier, requirement
    # one hash per wheel the build downloads: a native dependency has one per runtime and architecture
    runtimes_and_architectures = len(build.RUNTIMES) * len(build.ARCHITECTURES)
    assert {name: len(pin.hashes) for name, pin in pins.items()} == {
        name: runtimes_and_architectures if name in build.NATIVE_DEPENDENCIES else 1 for name in pins
    }


def test_the_zip_ships_the_pinned_versions(layer_zip: Path) -> None:
    pins = load_build_module().read_pins(PINS)
    assert shipped_versions(layer_zip) == {name: pin.version for name, pin in pins.items()}


@pytest.mark.slow
def test_two_builds_of_one_commit_give_the_same_bytes(layer_zip: Path, tmp_path: Path) -> None:
    assert build_layer(tmp_path).read_bytes() == layer_zip.read_bytes()


def test_a_wheel_that_does_not_have_a_pinned_hash_stops_the_build(tmp_path: Path, sole_layer_build: None) -> None:
    text = PINS.read_text()
    pinned = re.search(r"typing-extensions==\S+ \\\n\s+--hash=sha256:([0-9a-f]{64})", text)
    assert pinned is not None
    pins = tmp_path / "requirements.txt"
    pins.write_text(text.replace(pinned.group(1), "0" * 64))
    cached = sorted(CACHE.glob("*.whl"))
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "layer" / "build.py"),
            "--requirements",
            str(pins),
            "--output",
            str(tmp_path / "chaos-layer.zip"),
            "--content",
            str(tmp_path / "content"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "layer build: could not download typing-extensions==" in result.stderr
    assert "the build needs access to it" in result.stderr  # says what the build needs
    assert not (tmp_path / "chaos-layer.zip").exists()
    assert cached == sorted(CACHE.glob("*.whl"))  # a failed download leaves the cache as it was


def test_a_pins_file_without_a_dependency_of_chaos_layer_is_refused(tmp_path: Path) -> None:
    build = load_build_module()
    pins = build.read_pins(PINS)
    del pins["google-re2"]
    with pytest.raises(SystemExit, match=r"^layer build: requirements\.txt lacks a pin for google-re2$"):
        build.check_pins(pins, PINS)


def test_a_pin_without_hashes_is_refused(tmp_path: Path) -> None:
    build = load_build_module()
    pins = tmp_path / "requirements.txt"
    pins.write_text("aws-lambda-powertools==3.37.0\n")
    with pytest.raises(SystemExit, match=r"aws-lambda-powertools==3\.37\.0 must be NAME==VERSION followed by --hash"):
        build.read_pins(pins)
