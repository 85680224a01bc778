"""Build the Lambda layer: `make layer` (or `python layer/build.py`) writes dist/chaos-layer.zip.

The zip holds `python/chaos_layer/...` and the runtime dependencies every Lambda Python
runtime lacks (Powertools and typing_extensions; boto3, botocore and jmespath are in every
runtime), plus the exec wrapper `chaos-layer` at its root (`/opt/chaos-layer` in Lambda).

One zip serves python3.10-3.14 on x86_64 and arm64. Everything is pure Python except
google-re2 (linear-time `match.regex`), whose wheels are shipped for every claimed runtime
and both architectures side by side: their extension modules are named per version and
architecture (`re2/_re2.cpython-312-aarch64-linux-gnu.so`), so each interpreter imports its
own, and they link only against the system's C and C++ libraries (no vendored library whose
name could collide). Their wheel tags ask for a newer glibc than Amazon Linux 2 has (2.26,
python3.10 and 3.11), so the build reads the symbol versions each extension really needs and
refuses one newer than its runtime's OS provides.

Lambda's /opt is read-only, so nothing can cache bytecode there: without shipped `.pyc`
files every cold start compiles the package. The build compiles chaos_layer's modules with
each Python runtime interpreter it finds here (`python3.X` on PATH, or pyenv's), as
unchecked-hash `.pyc` files (valid whatever the zip's timestamps say) under `__pycache__`,
one per version (`module.cpython-312.pyc`), with paths as Lambda sees them (/opt/python/...).
A runtime whose interpreter is not here gets no bytecode and still runs from the sources;
the build says which.

The dependencies are the wheels pinned in layer/requirements.txt (one version each, and the
sha256 of every wheel), not whatever this environment resolved. Wheels not yet in build/wheels
are downloaded from PyPI (or the index pip is configured with) and pip checks their hashes; with
the cache filled, the build needs no network. The zip is reproducible: pinned wheels, sorted
entries, fixed timestamps and modes, so the same commit gives the same bytes (and the same layer
hash) wherever the same interpreters compile the bytecode.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chaos_layer"
WRAPPER = Path(__file__).resolve().parent / "chaos-layer"
# What the layer ships, pinned with hashes; their own dependencies must be there or in RUNTIME_PROVIDED.
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"
# Downloaded wheels, kept between builds (build/ is not in git); trusted only by their hashes.
WHEEL_CACHE = ROOT / "build" / "wheels"
DISTRIBUTION = "chaos-layer"

# Shipped as one wheel per claimed runtime and architecture: distribution -> its package.
NATIVE_DEPENDENCIES = {"google-re2": "re2"}
# Lambda's architectures -> the wheels' names for them.
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}
# The newest manylinux tag the native wheels may carry (Amazon Linux 2023's glibc is 2.34);
# what each extension really needs is checked against its runtime's OS below.
MANYLINUX = "manylinux_2_28"
# The newest symbol versions each runtime's OS provides: Amazon Linux 2 (glibc 2.26, libstdc++
# of GCC 7) for python3.10 and 3.11, Amazon Linux 2023 (glibc 2.34, GCC 11) from python3.12.
AMAZON_LINUX_2 = {"GLIBC": (2, 26), "GLIBCXX": (3, 4, 24), "CXXABI": (1, 3, 11)}
AMAZON_LINUX_2023 = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
RUNTIME_OS = {"3.10": AMAZON_LINUX_2, "3.11": AMAZON_LINUX_2}  # later ones: AMAZON_LINUX_2023
SYMBOL_VERSION = re.compile(rb"\b(GLIBC|GLIBCXX|CXXABI)_([0-9]+(?:\.[0-9]+)*)\b")
EXTENSION = re.compile(r"\.cpython-3([0-9]+)-(x86_64|aarch64)-linux-gnu\.so\Z")
# The zip Lambda accepts for a layer must stay under this.
MAX_ZIP_BYTES = 10 * 1024 * 1024
# What every Lambda Python runtime already has (boto3 and what it pulls in).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"})
# What the layer ships: the package's top-level modules (the function side) and these of its
# folders. Every other folder (cli/, control/, experiment/, ctk/: the operator's side) stays
# out, so a new operator folder cannot ship by accident.
FUNCTION_SIDE_FOLDERS = frozenset({"source", "faults"})
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


class Pin(NamedTuple):
    name: str
    version: str
    hashes: frozenset[str]

    @property
    def wheel_name(self) -> str:
        """The name as wheel files spell it (`aws_lambda_powertools-3.37.0-...`)."""
        return self.name.replace("-", "_")

    def requirement(self) -> str:
        """This pin as a line of a pip requirements file."""
        return " ".join([f"{self.name}=={self.version}", *(f"--hash=sha256:{h}" for h in sorted(self.hashes))])


def read_pins(path: Path) -> dict[str, Pin]:
    """`name -> Pin` from a requirements file of `NAME==VERSION --hash=sha256:...` lines."""
    pins: dict[str, Pin] = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        words = line.partition("#")[0].split()
        if not words:
            continue
        name, equals, version = words[0].partition("==")
        hashes = {word.removeprefix("--hash=sha256:") for word in words[1:]}
        well_formed = all(re.fullmatch(r"[0-9a-f]{64}", value) for value in hashes)
        if not (equals and version and hashes and well_formed and len(hashes) == len(words) - 1):
            sys.exit(
                f"layer build: {path.name}: {words[0]} must be NAME==VERSION followed by --hash=sha256:... options"
            )
        pins[normalize(name)] = Pin(normalize(name), version, frozenset(hashes))
    return pins


def check_pins(pins: dict[str, Pin], source: Path = REQUIREMENTS) -> None:
    """Every runtime dependency of chaos-layer that Lambda lacks is pinned (their own dependencies
    are checked on the wheels, by check_closure)."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        sys.exit(f"layer build: {DISTRIBUTION} is not installed here; run `make venv` first")
    wanted = {requirement_name(r) for r in requirements if not is_extra(r)} - RUNTIME_PROVIDED
    missing = sorted((wanted | set(NATIVE_DEPENDENCIES)) - set(pins))
    if missing:
        sys.exit(f"layer build: {source.name} lacks a pin for {', '.join(missing)}")


def is_extra(requirement: str) -> bool:
    return "extra ==" in requirement.replace('"', "").replace("'", "")


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return normalize(match.group(0)) if match else requirement


def check_closure(python_dir: Path, pins: dict[str, Pin]) -> None:
    """What each shipped wheel requires is shipped too or in every Lambda runtime."""
    for dist_info in sorted(python_dir.glob("*.dist-info")):
        fields = Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
        for requirement in fields.get_all("Requires-Dist") or []:
            needed = requirement_name(requirement)
            if not is_extra(requirement) and needed not in pins and needed not in RUNTIME_PROVIDED:
                sys.exit(
                    f"layer build: {fields['Name']} needs {needed}, which is neither shipped nor in the Lambda runtime"
                )


def shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(pin: Pin, cache: Path, pattern: str, pip_options: list[str], where: str, fetched: list[str]) -> Path:
    """The one wheel of `pin` that matches `pattern`: from the cache when a file there has a pinned
    hash, else downloaded (pip checks the hash) into a scratch folder and then moved to the cache,
    so that a failed download leaves the cache as it was."""
    found = [path for path in sorted(cache.glob(pattern)) if sha256(path) in pin.hashes]
    if not found:
        with tempfile.TemporaryDirectory() as scratch:
            requirements = Path(scratch) / "requirements.txt"
            requirements.write_text(pin.requirement() + "\n")
            downloads = Path(scratch) / "wheels"
            command = [
                sys.executable, "-m", "pip", "download",
                "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", "--require-hashes",
                *pip_options, "--dest", str(downloads), "-r", str(requirements),
            ]  # fmt: skip
            if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 (our own pip, pinned names)
                sys.exit(
                    f"layer build: could not download {pin.name}=={pin.version} for {where} (pip says why above);"
                    f" wheels not yet in {shown(cache)} come from PyPI, so the build needs access to it"
                )
            for wheel in downloads.glob("*.whl"):
                if sha256(wheel) in pin.hashes:
                    shutil.move(wheel, cache / wheel.name)
        fetched.append(f"{pin.name} for {where}")
        found = [path for path in sorted(cache.glob(pattern)) if sha256(path) in pin.hashes]
    if len(found) != 1:
        sys.exit(
            f"layer build: expected one {pin.name}=={pin.version} wheel for {where} with a pinned hash, found {found}"
        )
    return found[0]


def pure_wheels(cache: Path, pins: dict[str, Pin], fetched: list[str]) -> list[Path]:
    """One `none-any` wheel per pure dependency, for the oldest supported runtime."""
    cache.mkdir(parents=True, exist_ok=True)
    options = ["--platform", "any", "--implementation", "py", "--abi", "none", "--python-version", OLDEST_PYTHON]
    return [
        fetch_wheel(pin, cache, f"{pin.wheel_name}-{pin.version}-*-none-any.whl", options, "every runtime", fetched)
        for name, pin in sorted(pins.items())
        if name not in NATIVE_DEPENDENCIES
    ]


def install_dependencies(target: Path, wheels: list[Path]) -> None:
    """Installs the pure wheels as they are, offline."""
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps", "--no-index",
        "--only-binary=:all:", "--platform", "any", "--implementation", "py", "--abi", "none",
        "--python-version", OLDEST_PYTHON,
        "--target", str(target),
        *map(str, wheels),
    ]  # fmt: skip
    subprocess.run(command, check=True)  # noqa: S603 (our own pip, files we checked)


def native_wheels(cache: Path, pins: dict[str, Pin], fetched: list[str]) -> list[Path]:
    """One wheel per native dependency, claimed runtime and architecture."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = []
    for name in NATIVE_DEPENDENCIES:
        pin = pins[name]
        for runtime in RUNTIMES:
            abi = "cp" + runtime.replace(".", "")
            for arch in ARCHITECTURES.values():
                pattern = f"{pin.wheel_name}-{pin.version}-*{abi}-{abi}-*{arch}*.whl"
                options = ["--platform", f"{MANYLINUX}_{arch}", "--python-version", runtime]
                options += ["--implementation", "cp", "--abi", abi]
                wheels.append(fetch_wheel(pin, cache, pattern, options, f"python{runtime} on {arch}", fetched))
    return wheels


def note_versions(pins: dict[str, Pin]) -> None:
    """Says so when this environment (where the tests run) has other versions than the layer ships."""
    differing = []
    for pin in pins.values():
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            continue
        if installed != pin.version:
            differing.append(f"{pin.name} {installed} (the layer ships {pin.version})")
    if differing:
        print(f"layer build: note: the tests here run with {', '.join(differing)}", file=sys.stderr)


def install_native_wheels(target: Path, wheels: list[Path]) -> None:
    """Unpacks the wheels side by side. Files they share must be the same bytes (the pure
    Python part); their WHEEL files are merged into one listing every tag; RECORD is dropped."""
    headers: dict[str, list[str]] = {}
    tags: dict[str, set[str]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                parent, _, base = name.rpartition("/")
                if parent.endswith(".dist-info") and base in {"WHEEL", "RECORD"}:
                    if base == "WHEEL":
                        lines = archive.read(info).decode().splitlines()
                        headers.setdefault(parent, [line for line in lines if line and not line.startswith("Tag: ")])
                        tags.setdefault(parent, set()).update(line for line in lines if line.startswith("Tag: "))
                    continue
                data = archive.read(info)
                path = target / name
                if path.exists():
                    if path.read_bytes() != data:
                        sys.exit(f"layer build: {wheel.name} and an earlier wheel both ship {name}, differently")
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    for dist_info, listed in tags.items():
        (target / dist_info / "WHEEL").write_text("\n".join([*headers[dist_info], *sorted(listed)]) + "\n")


def symbol_versions(data: bytes) -> dict[str, tuple[int, ...]]:
    """The newest GLIBC, GLIBCXX and CXXABI symbol version a shared object refers to."""
    newest: dict[str, tuple[int, ...]] = {}
    for library, version in SYMBOL_VERSION.findall(data):
        number = tuple(int(part) for part in version.split(b"."))
        key = library.decode()
        newest[key] = max(newest.get(key, number), number)
    return newest


def check_extension(name: str, data: bytes) -> str | None:
    """Why the extension module `name` would not load in its runtime, or None."""
    match = EXTENSION.search(name)
    if match is None:
        return f"{name}: not named for one CPython version and architecture"
    runtime = f"3.{match.group(1)}"
    if runtime not in RUNTIMES:
        return f"{name}: for python{runtime}, which the layer does not claim"
    provided = RUNTIME_OS.get(runtime, AMAZON_LINUX_2023)
    for library, version in symbol_versions(data).items():
        if version > provided[library]:
            shown = ".".join(map(str, version))
            return f"{name}: needs {library}_{shown}, newer than the python{runtime} runtime's OS has"
    return None


def check_native(python_dir: Path) -> None:
    """Every claimed runtime and architecture has each native package's extension, and each
    extension would load there."""
    for package in NATIVE_DEPENDENCIES.values():
        extensions = sorted((python_dir / package).glob("*.so"))
        found = {(f"3.{m.group(1)}", m.group(2)) for path in extensions if (m := EXTENSION.search(path.name))}
        wanted = {(runtime, arch) for runtime in RUNTIMES for arch in ARCHITECTURES.values()}
        if found != wanted:
            sys.exit(f"layer build: {package} lacks extensions for {sorted(wanted - found)}")
        problems = [p for path in extensions if (p := check_extension(path.name, path.read_bytes()))]
        if problems:
            sys.exit("layer build: " + "; ".join(problems))


def copy_package(target: Path) -> None:
    def ignore(directory: str, names: list[str]) -> set[str]:
        dropped = {name for name in names if name == "__pycache__" or name.endswith(".pyc")}
        if Path(directory) == PACKAGE:
            dropped |= {name for name in names if (PACKAGE / name).is_dir() and name not in FUNCTION_SIDE_FOLDERS}
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


def build(output: Path, content: Path, requirements: Path = REQUIREMENTS) -> None:
    if content.exists():
        shutil.rmtree(content)
    python_dir = content / "python"
    python_dir.mkdir(parents=True)
    pins = read_pins(requirements)
    check_pins(pins, requirements)
    fetched: list[str] = []
    install_dependencies(python_dir, pure_wheels(WHEEL_CACHE, pins, fetched))
    install_native_wheels(python_dir, native_wheels(WHEEL_CACHE, pins, fetched))
    print(
        f"layer build: {len(pins)} dependencies as pinned in {shown(requirements)}, hash-checked; "
        + (f"{len(fetched)} wheel(s) downloaded from PyPI" if fetched else f"every wheel from {shown(WHEEL_CACHE)}"),
        file=sys.stderr,
    )
    note_versions(pins)
    check_closure(python_dir, pins)
    check_native(python_dir)
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
    parser.add_argument(
        "--requirements", type=Path, default=REQUIREMENTS, help="the pinned dependencies to ship (with their hashes)"
    )
    arguments = parser.parse_args(argv)
    build(arguments.output.resolve(), arguments.content.resolve(), arguments.requirements.resolve())
    with zipfile.ZipFile(arguments.output) as archive:
        count = len(archive.infolist())
        unpacked = sum(info.file_size for info in archive.infolist())
    size = arguments.output.stat().st_size
    if size >= MAX_ZIP_BYTES:
        sys.exit(f"layer build: {arguments.output} is {size / 1024 / 1024:.1f} MiB, over the 10 MiB limit")
    print(f"wrote {arguments.output} ({size / 1024:.0f} KiB, {count} files, {unpacked / 1024 / 1024:.1f} MiB unpacked)")


if __name__ == "__main__":
    main()
