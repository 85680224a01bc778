"""Cold-start cost of the layer, as Lambda loads it (`make bench-layer`).

The zip that `layer/build.py` writes is unpacked as an /opt and made read-only, and each case
is imported in a fresh interpreter as Lambda's init does: `-B` and PYTHONDONTWRITEBYTECODE (so
nothing can cache bytecode, as on Lambda's read-only /opt and /var/task), without
site-packages (`-S`), with the function's folder, the layer and a /var/runtime-like folder
(boto3, botocore, awslambdaric) on the path, and with the modules that Lambda's runtime
(awslambdaric's bootstrap) has loaded before it imports a handler already loaded. What is
timed is the import of the handler's module alone, median of fresh processes, cases
interleaved, for every Python 3.10-3.14 found on this machine:

- the bare example handler (examples/hello), no chaos-layer;
- zero-code mode: `chaos_layer.wrapper`, which imports and decorates that handler;
- decorator mode: the same handler with `@inject_fault` in its own module;
- `import chaos_layer` after `import boto3` (which every runtime has);
- what zero-code mode's first invocation imports for its first read (the config's parser and
  the fault types' declarations, after boto3 and the wrapper): moved off init, not removed, so
  the table shows it beside init and adds both up;
- for scale, `import boto3`.

Each runs from the layer with the `.pyc` files it ships, and again from its sources alone (a
runtime the build found no interpreter for gets only those). Benchmarks inform, they don't gate:
the script exits 0 when a target is missed, and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.lambda_sim import copy_function, make_runtime_dir, unpack_layer  # noqa: E402

# The Python runtimes the layer claims.
CLAIMED = ("3.10", "3.11", "3.12", "3.13", "3.14")
TARGET_ZERO_CODE_MS = 15.0
TARGET_IMPORT_OVER_BOTO3_MS = 5.0

# A child: preload what the runtime has, then time one import (after `before`, untimed).
PROBE = """
import importlib, json, sys, time
for name in {preload!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
for name in {before!r}:
    importlib.import_module(name)
wall, cpu = time.perf_counter(), time.process_time()
importlib.import_module({module!r})
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"wall": wall, "cpu": cpu, "bytecode": sys.flags.dont_write_bytecode}}))
"""

# What the runtime's bootstrap imports before the handler: the standard-library modules it
# loads, found by importing it (awslambdaric's bootstrap) in a child of this venv's Python.
RUNTIME_PROBE = """
import json, sys
before = set(sys.modules)
import awslambdaric.bootstrap
core = {"os", "posixpath", "genericpath", "ntpath", "stat", "importlib"}  # part of any interpreter's start-up
names = sorted(
    n for n in set(sys.modules) - before
    if n.split(".")[0] in sys.stdlib_module_names - core and not any(p.startswith("_") for p in n.split("."))
)
print(json.dumps(names))
"""

DECORATED_HANDLER = '''"""The example handler in decorator mode: its own code applies inject_fault."""

from app import handler as undecorated

from chaos_layer import inject_fault

handler = inject_fault(undecorated)
'''


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    module: str
    before: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


CASES = (
    Case("bare", "bare handler (examples/hello)", "app"),
    Case(
        "zero_code",
        "zero-code mode: chaos_layer.wrapper + the handler",
        "chaos_layer.wrapper",
        env=(("CHAOS_LAYER_HANDLER", "app.handler"),),
    ),
    Case("decorator", "decorator mode: the handler with @inject_fault", "app_decorated"),
    Case(
        "first_read",
        "the first read's imports, after boto3 and zero-code mode's init",
        "chaos_layer.config",
        before=("boto3", "chaos_layer.wrapper"),
        env=(("CHAOS_LAYER_HANDLER", "app.handler"),),
    ),
    Case("over_boto3", "import chaos_layer, after boto3", "chaos_layer", before=("boto3",)),
    Case("boto3", "import boto3", "boto3"),
)


def pythons() -> dict[str, str]:
    """version -> interpreter, for each claimed runtime found here (PATH first, pyenv's shims
    aside, then pyenv's versions)."""
    found: dict[str, str] = {}
    roots = sorted(Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions").glob("3.*"))
    for version in CLAIMED:
        candidates = [shutil.which(f"python{version}")] + [
            str(root / "bin" / f"python{version}") for root in reversed(roots) if root.name.startswith(version + ".")
        ]
        for candidate in candidates:
            if candidate and "/shims/" not in candidate and Path(candidate).exists():
                found[version] = candidate
                break
    return found


def build_layer(work: Path) -> tuple[Path, str]:
    output = work / "chaos-layer.zip"
    result = subprocess.run(
        [sys.executable, str(ROOT / "layer" / "build.py"), "--output", str(output), "--content", str(work / "content")],
        check=True,
        capture_output=True,
        text=True,
    )
    return output, result.stdout + result.stderr


def read_only(tree: Path) -> None:
    for path in [*tree.rglob("*"), tree]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o222)


def writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


def sources_only(opt: Path, destination: Path) -> Path:
    shutil.copytree(opt, destination, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def runtime_preload(runtime: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", RUNTIME_PROBE],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(runtime)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return names


def run_case(python: str, case: Case, opt: Path, task: Path, runtime: Path, preload: list[str]) -> tuple[float, float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(task), str(opt / "python"), str(runtime)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "CHAOS_LAYER_PARAM": "/chaos-layer/hello",
        "AWS_LAMBDA_FUNCTION_NAME": "hello",
        "AWS_DEFAULT_REGION": "us-east-1",
        **dict(case.env),
    }
    code = PROBE.format(preload=preload, before=list(case.before), module=case.module)
    result = subprocess.run(
        [python, "-S", "-B", "-c", code], env=env, cwd=task, capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark set-up is wrong: {case.key} on {python} failed:\n{result.stderr}")
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome["wall"] * 1000, outcome["cpu"] * 1000


def shipped_versions(opt: Path) -> set[str]:
    """The versions the layer ships chaos_layer's bytecode for (`decorator.cpython-312.pyc`)."""
    names = (path.name for path in (opt / "python" / "chaos_layer" / "__pycache__").glob("decorator.*.pyc"))
    return {f"{m.group(1)}.{m.group(2)}" for name in names if (m := re.search(r"cpython-(\d)(\d+)", name))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per case (default 11)")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    arguments = parser.parse_args()
    found = pythons()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="chaos-layer-bench-") as workdir:
        work = Path(workdir)
        layer_zip, build_output = build_layer(work)
        opt = unpack_layer(layer_zip, work / "opt")
        bare_opt = sources_only(opt, work / "opt-sources")
        runtime = make_runtime_dir(work / "var-runtime")
        task = copy_function(ROOT / "examples" / "hello", work / "task")
        (task / "app_decorated.py").write_text(DECORATED_HANDLER)
        preload = runtime_preload(runtime)
        shipped = shipped_versions(opt)
        for tree in (opt, bare_opt, task):
            read_only(tree)
        try:
            for version, python in found.items():
                print(f"- Python {version} ({python}) ...", file=sys.stderr, flush=True)
                for mode, tree in (("shipped", opt), ("sources", bare_opt)):
                    samples: dict[str, list[tuple[float, float]]] = {case.key: [] for case in CASES}
                    for case in CASES:  # once each, untimed: the OS's file cache, as on a warm Lambda host
                        run_case(python, case, tree, task, runtime, preload)
                    for _ in range(arguments.runs):
                        for case in CASES:
                            samples[case.key].append(run_case(python, case, tree, task, runtime, preload))
                    results.setdefault(version, {})[mode] = {
                        key: statistics.median(wall for wall, _ in values) for key, values in samples.items()
                    } | {f"{key}_cpu": statistics.median(cpu for _, cpu in values) for key, values in samples.items()}
        finally:
            for tree in (opt, bare_opt, task):
                writable(tree)
        size_kib = layer_zip.stat().st_size / 1024
    if arguments.json:
        print(json.dumps(results, indent=2))
        return
    report(results, found, shipped, size_kib, arguments.runs, build_output)


def report(
    results: dict[str, dict[str, dict[str, float]]],
    found: dict[str, str],
    shipped: set[str],
    size_kib: float,
    runs: int,
    build_output: str,
) -> None:
    missing = [version for version in CLAIMED if version not in found]
    print(
        f"Import time of the handler's module in a fresh process, as Lambda's init: read-only layer, no bytecode "
        f"written, the runtime's own modules loaded; median of {runs} (layer zip {size_kib:.0f} KiB, .pyc shipped "
        f"for {', '.join(sorted(shipped)) or 'no version'})\n"
    )
    print(
        "| Python | bare handler | zero-code mode | added | first read's imports | added in all "
        "| decorator mode | added | `import chaos_layer` over boto3 | `import boto3` |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    missed: list[str] = []
    for version, modes in results.items():
        for mode, medians in modes.items():
            if mode == "sources" and version not in shipped:
                continue  # the same files as "shipped": nothing was shipped for it
            zero_code = medians["zero_code"] - medians["bare"]
            decorator = medians["decorator"] - medians["bare"]
            label = f"{version}, .pyc shipped" if mode == "shipped" and version in shipped else f"{version}, sources"
            print(
                f"| {label} | {medians['bare']:.1f} ms | {medians['zero_code']:.1f} ms | **{zero_code:+.1f} ms** "
                f"| {medians['first_read']:.1f} ms | {zero_code + medians['first_read']:+.1f} ms "
                f"| {medians['decorator']:.1f} ms | {decorator:+.1f} ms | {medians['over_boto3']:.1f} ms "
                f"| {medians['boto3']:.0f} ms |"
            )
            if mode == "shipped":
                in_all = zero_code + medians["first_read"]  # a cold start is init and its first invocation
                if in_all > TARGET_ZERO_CODE_MS:
                    missed.append(
                        f"zero-code mode adds {in_all:.1f} ms on {version}, init and first read (target <= 15 ms)"
                    )
                if medians["over_boto3"] > TARGET_IMPORT_OVER_BOTO3_MS:
                    missed.append(
                        f"import chaos_layer over boto3 {medians['over_boto3']:.1f} ms on {version} (<= 5 ms)"
                    )
    print()
    print(
        "CPU time of the same imports (steadier than wall time on a shared machine), zero-code mode added / "
        "import over boto3: "
        + "; ".join(
            f"{version} {modes['shipped']['zero_code_cpu'] - modes['shipped']['bare_cpu']:+.1f} ms / "
            f"{modes['shipped']['over_boto3_cpu']:.1f} ms"
            for version, modes in results.items()
        )
    )
    if missing:
        print(
            f"Not on this machine, so not measured and shipped without bytecode (their sources serve them): "
            f"Python {', '.join(missing)}."
        )
    notes = [line for line in build_output.splitlines() if "bytecode" in line.lower() or "interpreter" in line.lower()]
    if notes:
        print("The build said: " + " / ".join(note.strip() for note in notes))
    print()
    print(
        "Targets: zero-code mode adds <= 15 ms (init and the first read's imports), import chaos_layer adds"
        " <= 5 ms over boto3 (shipped .pyc). "
        + ("TARGETS MISSED: " + "; ".join(missed) if missed else "All targets met.")
    )


if __name__ == "__main__":
    main()
