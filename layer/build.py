"""Build the Lambda layer: `make layer` (or `python layer/build.py`) writes dist/chaos-layer.zip.

The zip holds `python/chaos_layer/...` and the runtime dependencies every Lambda Python
runtime lacks (Powertools and typing_extensions; boto3, botocore and jmespath are in every
runtime), plus the exec wrapper `chaos-layer` at its root (`/opt/chaos-layer` in Lambda).
Everything is pure Python, so one zip serves python3.10-3.14 on x86_64 and arm64.

Lambda's /opt is read-only, so nothing can cache bytecode there: without shipped `.pyc`
files every cold start compiles the package. The build compiles chaos_layer's modules with
each Python runtime interpreter it finds here (`python3.X` on PATH, or pyenv's), as
unchecked-hash `.pyc` files (valid whatever the zip's timestamps say) under `__pycache__`,
one per version (`module.cpython-312.pyc`), with paths as Lambda sees them (/opt/python/...).
A runtime whose interpreter is not here gets no bytecode and still runs from the sources;
the build says which.

The dependencies are the pure wheels from PyPI at the versions installed in the running
environment (the ones the tests ran against). The zip is reproducible: sorted entries, fixed
timestamps and modes, so the same inputs give the same bytes (and the same layer hash).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chaos_layer"
WRAPPER = Path(__file__).resolve().parent / "chaos-layer"

# Shipped in the layer; their own dependencies must be here or in RUNTIME_PROVIDED.
LAYER_DEPENDENCIES = ("aws-lambda-powertools", "typing-extensions")
# What every Lambda Python runtime already has (boto3 and what it pulls in).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"})
# What only operators use, never a function: the operator API, the CLI (whose dependencies
# are not in the layer) and the experiment tooling built on them; a module or a package each.
OPERATOR_ONLY = frozenset(
    {
        "__main__.py",
        "cli",
        "control.py",
        "stores.py",
        "runner",
        "runner.py",
        "report",
        "report.py",
        "ctk",
        "ctk.py",
        "checks",
        "checks.py",
        "reference.py",  # writes schema.json and the README tables
    }
)
# pip bookkeeping that would be wrong (RECORD lists files we drop) or mean nothing in a layer.
DIST_INFO_DROPPED = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
# Oldest runtime the layer supports: wheels must install for it.
OLDEST_PYTHON = "3.10"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The Python runtimes the layer claims (template.yaml's CompatibleRuntimes).
RUNTIMES = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Where the layer's python/ folder is in Lambda: compiled code names its files from there.
LAMBDA_PYTHON_DIR = "/opt/python"
COMPILE = (
    "import compileall, py_compile, sys; "
    "ok = compileall.compile_dir(sys.argv[1], quiet=1, ddir=sys.argv[2], workers=1, "
    "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH); "
    "sys.exit(0 if ok else 1)"
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_dependencies() -> list[str]:
    """`name==version` for each shipped dependency, as installed here; fails when one of
    their own requirements would be missing in Lambda."""
    pins = []
    shipped = {normalize(name) for name in LAYER_DEPENDENCIES}
    for name in LAYER_DEPENDENCIES:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"layer build: {name} is not installed here; run `make venv` first")
        for requirement in distribution.requires or []:
            if "extra ==" in requirement.replace('"', "").replace("'", ""):
                continue
            match = re.match(r"[A-Za-z0-9._-]+", requirement)
            needed = normalize(match.group(0)) if match else requirement
            if needed not in shipped and needed not in RUNTIME_PROVIDED:
                sys.exit(f"layer build: {name} needs {needed}, which is neither shipped nor in the Lambda runtime")
        pins.append(f"{name}=={distribution.version}")
    return pins


def install_dependencies(target: Path, pins: list[str]) -> None:
    """Pure wheels only (`none-any`), resolved for the oldest supported runtime."""
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps",
        "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
        "--python-version", OLDEST_PYTHON,
        "--target", str(target),
        *pins,
    ]  # fmt: skip
    subprocess.run(command, check=True)  # noqa: S603 (our own pip, pinned names)


def copy_package(target: Path) -> None:
    def ignore(directory: str, names: list[str]) -> set[str]:
        dropped = {name for name in names if name == "__pycache__" or name.endswith(".pyc")}
        if Path(directory) == PACKAGE:
            dropped |= {name for name in names if name in OPERATOR_ONLY}
        return dropped

    shutil.copytree(PACKAGE, target / "chaos_layer", ignore=ignore)


def find_interpreters() -> dict[str, str]:
    """`version -> interpreter` for each claimed runtime found here: `python3.X` on PATH,
    else the newest pyenv install of that version."""
    found: dict[str, str] = {}
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for version in RUNTIMES:
        candidates = [shutil.which(f"python{version}")]
        if pyenv_root.is_dir():
            installs = sorted(
                pyenv_root.glob(f"{version}.*"), key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()]
            )
            candidates += [str(path / "bin" / f"python{version}") for path in reversed(installs)]
        for candidate in candidates:
            if candidate and _reports_version(candidate, version):
                found[version] = candidate
                break
    return found


def _reports_version(interpreter: str, version: str) -> bool:
    try:
        result = subprocess.run(  # noqa: S603 (an interpreter path we found ourselves)
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == version


def compile_bytecode(package_dir: Path, interpreters: dict[str, str]) -> None:
    """Unchecked-hash bytecode of the package for every interpreter found; reports the rest."""
    for interpreter in interpreters.values():
        command = [interpreter, "-c", COMPILE, str(package_dir), f"{LAMBDA_PYTHON_DIR}/{package_dir.name}"]
        subprocess.run(command, check=True, env={**os.environ, "PYTHONHASHSEED": "0"})  # noqa: S603
    missing = [version for version in RUNTIMES if version not in interpreters]
    compiled = ", ".join(f"python{v}" for v in interpreters) or "none"
    print(f"layer build: bytecode for {compiled}", file=sys.stderr)
    if missing:
        names = ", ".join(f"python{v}" for v in missing)
        print(
            f"layer build: no interpreter here for {names}: those runtimes compile the sources at cold start",
            file=sys.stderr,
        )


def prune(python_dir: Path) -> None:
    for path in sorted(python_dir.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in {"__pycache__", "tests"}:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix == ".pyc" or (path.parent.name.endswith(".dist-info") and path.name in DIST_INFO_DROPPED)
        ):
            path.unlink()
    bin_dir = python_dir / "bin"  # console scripts, if a wheel ever has some: useless in a layer
    if bin_dir.exists():
        shutil.rmtree(bin_dir)


def write_zip(content: Path, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".zip.tmp")
    files = sorted(path for path in content.rglob("*") if path.is_file())
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(content).as_posix(), date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so unzip honours the mode bits below
            executable = os.access(path, os.X_OK) and path.parent == content
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    temporary.replace(output)


def build(output: Path, content: Path) -> None:
    if content.exists():
        shutil.rmtree(content)
    python_dir = content / "python"
    python_dir.mkdir(parents=True)
    install_dependencies(python_dir, pinned_dependencies())
    copy_package(python_dir)
    prune(python_dir)
    compile_bytecode(python_dir / "chaos_layer", find_interpreters())
    shutil.copyfile(WRAPPER, content / "chaos-layer")
    (content / "chaos-layer").chmod(0o755)
    write_zip(content, output)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=ROOT / "dist" / "chaos-layer.zip", help="the zip to write")
    parser.add_argument(
        "--content", type=Path, default=ROOT / "build" / "layer", help="staging folder (the unpacked layer)"
    )
    arguments = parser.parse_args(argv)
    build(arguments.output.resolve(), arguments.content.resolve())
    with zipfile.ZipFile(arguments.output) as archive:
        count = len(archive.infolist())
        unpacked = sum(info.file_size for info in archive.infolist())
    size = arguments.output.stat().st_size
    print(f"wrote {arguments.output} ({size / 1024:.0f} KiB, {count} files, {unpacked / 1024 / 1024:.1f} MiB unpacked)")


if __name__ == "__main__":
    main()
