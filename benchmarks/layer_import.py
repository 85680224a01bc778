"""Cold-start cost of the layer: import time of the handler in a fresh process (`make bench-layer`).

The built zip is unpacked as /opt and each case is imported in a new interpreter, as Lambda's
init does, with `_HANDLER`'s module on the path like /var/task. Lambda's /opt and /var/task are
read-only, so nothing can cache bytecode there and every cold start compiles the layer's
sources: that is the first column. The second shows the same import with bytecode cached, what
shipping precompiled .pyc files would give. Medians over several runs, cases interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.lambda_sim import copy_function, make_runtime_dir, unpack_layer  # noqa: E402

PROBE = (
    "import importlib, time; t = time.perf_counter(); importlib.import_module({module!r}); "
    "print(time.perf_counter() - t)"
)

# (label, module the runtime imports, environment)
CASES = [
    ("bare handler (examples/hello, no chaos-layer)", "app", {}),
    (
        "zero-code mode: chaos_layer.wrapper + the handler",
        "chaos_layer.wrapper",
        {"CHAOS_LAYER_HANDLER": "app.handler"},
    ),
    ("for scale: import boto3 (in every runtime)", "boto3", {}),
]


def build_layer(work: Path) -> Path:
    output = work / "chaos-layer.zip"
    subprocess.run(
        [sys.executable, str(ROOT / "layer" / "build.py"), "--output", str(output), "--content", str(work / "content")],
        check=True,
        capture_output=True,
    )
    return output


def import_seconds(module: str, env: dict[str, str], cwd: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(module=module)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaos-layer-bench-") as workdir:
        work = Path(workdir)
        layer_zip = build_layer(work)
        opt = unpack_layer(layer_zip, work / "opt")
        runtime = make_runtime_dir(work / "var-runtime")
        task = copy_function(ROOT / "examples" / "hello", work / "task")
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(task), str(opt / "python"), str(runtime)]),
            "CHAOS_LAYER_PARAM": "/chaos-layer/hello",
            "AWS_LAMBDA_FUNCTION_NAME": "hello",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        results: dict[str, dict[str, float]] = {}
        for cached in (False, True):
            column = "bytecode cached" if cached else "no bytecode cache (Lambda)"
            env = dict(base_env)
            if not cached:
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            for path in [*opt.rglob("__pycache__"), *task.rglob("__pycache__"), *runtime.rglob("__pycache__")]:
                shutil.rmtree(path, ignore_errors=True)
            if cached:  # warm the cache once for every case
                for _, module, extra in CASES:
                    import_seconds(module, {**env, **extra}, task)
            samples: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
            for _ in range(arguments.runs):
                for label, module, extra in CASES:
                    samples[label].append(import_seconds(module, {**env, **extra}, task))
            for label, values in samples.items():
                results.setdefault(label, {})[column] = statistics.median(values) * 1000
        size_kib = layer_zip.stat().st_size / 1024
    if arguments.json:
        print(json.dumps(results, indent=2))
        return
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    print(
        f"Import time in a fresh process, median of {arguments.runs} (Python {python}, layer zip {size_kib:.0f} KiB)\n"
    )
    columns = ["no bytecode cache (Lambda)", "bytecode cached"]
    print(f"| import | {' | '.join(columns)} |")
    print(f"|---|{'---:|' * len(columns)}")
    for label, medians in results.items():
        print(f"| {label} | {' | '.join(f'{medians[column]:.1f} ms' for column in columns)} |")
    bare, wrapped = results[CASES[0][0]], results[CASES[1][0]]
    for column in columns:
        print(f"\nadded by the layer ({column}): {wrapped[column] - bare[column]:.1f} ms", end="")
    print()


if __name__ == "__main__":
    main()
