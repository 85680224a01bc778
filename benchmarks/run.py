"""What chaos-layer costs a warm invocation, an SSM quota and a cold start (`make bench`).

One run, against an undecorated handler, on a local SSM (moto's ThreadedMotoServer on
127.0.0.1, started and stopped here; dummy credentials; nothing else on the network):

- overhead per warm invocation: config `{"enabled": false}`, an enabled experiment that does
  not select the invocation (`rate: 0`, and `rate: 0.05` for the draw an experiment at a small
  rate makes), and CHAOS_LAYER_DISABLED=true, next to the floor: a no-op `functools.wraps`
  wrapper measured the same way in the same run, and the ratio to it. Batches of calls are
  timed with perf_counter_ns, decorated and undecorated batches alternate (order swapped each
  pair), and the figure is the median over pairs of the per-call difference, so a noisy shared
  machine slows both sides of a pair alike and drops out of the median; the p99 comes from
  individually timed calls;
- the first injected invocation against later ones, in fresh processes, with the config
  already read (docs/benchmarks.md, "Cold start"): a 0 ms latency fault and an exception fault;
- GetParameters requests per cache period, counted by the server, for a stream of 10,000
  invocations per second over twelve default periods on a simulated clock;
- the same disabled overhead for chaos-lambda 0.3 (an SSM call per invocation), and the ratio;
- import cost (CPU time) of chaos_layer over boto3, in fresh interpreters, and the memory that
  import adds (tracemalloc). `make bench-layer` measures the layer as Lambda loads it.

Benchmarks inform, they don't gate: the script exits 0 when a target is missed, and says so.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise, repeat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"

DISABLED_PARAM = "/bench/disabled"
NOT_SELECTED_PARAM = "/bench/not-selected"
SMALL_RATE_PARAM = "/bench/small-rate"
FIRST_LATENCY_PARAM = "/bench/first-latency"
FIRST_EXCEPTION_PARAM = "/bench/first-exception"
LEGACY_PARAM = "/bench/chaos-lambda"
CONFIGS = {
    DISABLED_PARAM: {"enabled": False},
    NOT_SELECTED_PARAM: {
        "enabled": True,
        "experiment": "bench",
        "rate": 0,
        "faults": [{"type": "latency", "delay_ms": 300}],
    },
    SMALL_RATE_PARAM: {
        "enabled": True,
        "experiment": "bench",
        "rate": 0.05,
        "faults": [{"type": "latency", "delay_ms": 300}],
    },
    # Half the invocations: the first call draws "not selected" (a scripted random source),
    # every later one "selected"; the fault itself costs nothing but its own machinery.
    FIRST_LATENCY_PARAM: {
        "enabled": True,
        "experiment": "bench-first",
        "rate": 0.5,
        "faults": [{"type": "latency", "delay_ms": 0}],
    },
    FIRST_EXCEPTION_PARAM: {
        "enabled": True,
        "experiment": "bench-first",
        "rate": 0.5,
        "faults": [{"type": "exception", "message": "injected"}],
    },
    LEGACY_PARAM: {
        "is_enabled": False,
        "fault_type": "latency",
        "delay": 300,
        "error_code": 503,
        "exception_msg": "injected",
        "rate": 1,
    },
}

# What a Lambda function has anyway: boto3, in every Python runtime (chaos_layer imports it
# lazily, at the first read).
BASELINE_IMPORTS = ("boto3",)

TARGET_FLOOR_RATIO = 3.0  # our overhead over a no-op functools.wraps wrapper's, same run
TARGET_RATIO = 1000.0
TARGET_CALLS_PER_PERIOD = 1
TARGET_IMPORT_MS = 5.0
TARGET_FIRST_INJECTION_MS = 5.0

RESPONSE = {"statusCode": 200, "body": "ok"}
EVENT = {"version": "2.0", "rawPath": "/orders", "requestContext": {"http": {"method": "GET"}}}
CONTEXT = SimpleNamespace(
    function_name="orders-api",
    aws_request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
    invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:orders-api",
)


def handler(event: Any, context: Any) -> Any:
    return RESPONSE


def no_op_wrapper(function: Callable[..., Any]) -> Callable[..., Any]:
    """The floor: the cheapest decorator anyone writes."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return wrapper


# --- environment and local SSM -------------------------------------------------------------


def isolate_environment(empty_file: Path) -> None:
    """Dummy credentials and region, and nothing from the shell that could reach real AWS or
    change the library's behaviour."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CHAOS_", "POWERTOOLS_", "_HANDLER", "_X_AMZN")) and name != "AWS_CA_BUNDLE":
            del os.environ[name]
    os.environ.update(
        {
            "AWS_CONFIG_FILE": str(empty_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty_file),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )


class RequestLog:
    """WSGI middleware recording each API request's X-Amz-Target and arrival time, so SSM
    calls are counted where they land, whichever client made them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            with self._lock:
                self.requests.append((target, time.monotonic()))
        return self.app(environ, start_response)

    def calls_since(self, start: int, operation: str = "AmazonSSM.GetParameters") -> list[float]:
        with self._lock:
            return [at for target, at in self.requests[start:] if target == operation]


@contextmanager
def local_ssm() -> Iterator[RequestLog]:
    """A moto SSM server on 127.0.0.1 holding the configs; every default SSM client points at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        log = RequestLog(server._server.app)  # type: ignore[union-attr]
        server._server.app = log  # type: ignore[union-attr]  # werkzeug reads .app per request
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL_SSM"] = endpoint
        admin = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
        for name, value in CONFIGS.items():
            admin.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)
        yield log
    finally:
        os.environ.pop("AWS_ENDPOINT_URL_SSM", None)
        server.stop()


@contextmanager
def no_chaos_layer_warnings() -> Iterator[list[str]]:
    """Collects chaos_layer warnings: any means we would be timing the fail-safe path."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    collector = Collect(logging.WARNING)
    chaos_logger = logging.getLogger("chaos_layer")
    chaos_logger.addHandler(collector)
    try:
        yield messages
    finally:
        chaos_logger.removeHandler(collector)


# --- overhead per warm invocation ----------------------------------------------------------


@dataclass
class Overhead:
    median_ns: float
    p99_ns: float
    baseline_ns: float  # median cost of one undecorated call, for scale
    pairs: int
    batch: int
    single_calls: int


def time_batch(function: Callable[[Any, Any], Any], batch: int) -> int:
    event, context = EVENT, CONTEXT
    start = time.perf_counter_ns()
    for _ in repeat(None, batch):
        function(event, context)
    return time.perf_counter_ns() - start


def time_calls(function: Callable[[Any, Any], Any], calls: int, into: list[int]) -> None:
    event, context, clock = EVENT, CONTEXT, time.perf_counter_ns
    for _ in repeat(None, calls):
        start = clock()
        function(event, context)
        into.append(clock() - start)


def percentile(values: list[float] | list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))])


def paired_overhead(
    candidate: Callable[[Any, Any], Any],
    baseline: Callable[[Any, Any], Any],
    batch: int,
    pairs: int,
    single_calls: int = 0,
) -> Overhead:
    """Per-call cost of `candidate` minus `baseline`.

    Median: over alternating batches, of the per-call difference within each pair. p99: from
    `single_calls` individually timed calls of each (interleaved in chunks), p99 minus p99; a
    batch mean would put the machine's scheduling stalls into the tail instead of the library's.
    Without single calls, the p99 is over the pairs' differences.
    """
    differences: list[float] = []
    baselines: list[float] = []
    time_batch(candidate, batch)  # warm both paths
    time_batch(baseline, batch)
    for pair in range(pairs):  # the garbage collector stays on, as in Lambda
        if pair % 2:
            base = time_batch(baseline, batch)
            cand = time_batch(candidate, batch)
        else:
            cand = time_batch(candidate, batch)
            base = time_batch(baseline, batch)
        differences.append((cand - base) / batch)
        baselines.append(base / batch)
    p99 = percentile(differences, 0.99)
    if single_calls:
        chunk = 1000
        candidate_calls: list[int] = []
        baseline_calls: list[int] = []
        for _ in range(max(1, single_calls // chunk)):
            time_calls(candidate, chunk, candidate_calls)
            time_calls(baseline, chunk, baseline_calls)
        p99 = percentile(candidate_calls, 0.99) - percentile(baseline_calls, 0.99)
    return Overhead(
        median_ns=statistics.median(differences),
        p99_ns=p99,
        baseline_ns=statistics.median(baselines),
        pairs=pairs,
        batch=batch,
        single_calls=single_calls,
    )


def chaos_layer_handler(parameter: str, random: Any = None) -> Callable[[Any, Any], Any]:
    from chaos_layer import inject_fault

    decorated: Callable[[Any, Any], Any] = inject_fault(parameter=parameter, random=random)(handler)
    return decorated


def never_drawn() -> Any:
    """A random source whose every draw is 0.99: at `rate: 0.05` the invocation is never
    selected (so no 300 ms fault lands in a timed batch), at the cost of one C call, as a draw
    from random.Random costs."""
    import random

    source = random.Random()
    source.random = (0.99).__float__  # type: ignore[method-assign]
    return source


def warm(decorated: Callable[[Any, Any], Any], expect_active: bool) -> None:
    """The first call reads SSM; check it left the state the figure claims to measure."""
    with no_chaos_layer_warnings() as warnings:
        result = decorated(EVENT, CONTEXT)
    if warnings or result is not RESPONSE:
        raise SystemExit(f"benchmark set-up is wrong: warnings {warnings}, result {result!r}")
    experiment = getattr(decorated, "chaos_experiment", None)
    active = experiment is not None and experiment.cache.active is not None
    if active != expect_active:
        raise SystemExit(f"benchmark set-up is wrong: expected an {'active' if expect_active else 'inactive'} config")


def measure_floor(batch: int, pairs: int, single_calls: int) -> Overhead:
    return paired_overhead(no_op_wrapper(handler), handler, batch, pairs, single_calls)


def measure_disabled_config(batch: int, pairs: int, single_calls: int) -> Overhead:
    decorated = chaos_layer_handler(DISABLED_PARAM)
    warm(decorated, expect_active=False)
    return paired_overhead(decorated, handler, batch, pairs, single_calls)


def measure_not_selected(batch: int, pairs: int, single_calls: int, parameter: str = NOT_SELECTED_PARAM) -> Overhead:
    decorated = chaos_layer_handler(parameter, never_drawn() if parameter == SMALL_RATE_PARAM else None)
    warm(decorated, expect_active=True)
    return paired_overhead(decorated, handler, batch, pairs, single_calls)


@dataclass
class Floored:
    """Our overheads and the no-op wrapper's, measured in turns within one run."""

    floor: Overhead
    disabled: Overhead
    not_selected: Overhead
    small_rate: Overhead
    rounds: int

    def ratio(self, overhead: Overhead) -> float:
        return overhead.median_ns / max(self.floor.median_ns, 1.0)


def measure_against_floor(batch: int, pairs: int, single_calls: int, rounds: int) -> Floored:
    """The floor and each of our figures, in `rounds` turns (each a slice of the pairs), so
    a machine that speeds up or slows down during the run weighs on all of them alike."""
    share, calls = max(1, pairs // rounds), max(1000, single_calls // rounds)
    parts: dict[str, list[Overhead]] = {"floor": [], "disabled": [], "not_selected": [], "small_rate": []}
    for _ in range(rounds):
        parts["floor"].append(measure_floor(batch, share, calls))
        parts["disabled"].append(measure_disabled_config(batch, share, calls))
        parts["not_selected"].append(measure_not_selected(batch, share, calls))
        parts["small_rate"].append(measure_not_selected(batch, share, calls, SMALL_RATE_PARAM))

    def merged(items: list[Overhead]) -> Overhead:
        return Overhead(
            median_ns=statistics.median(item.median_ns for item in items),
            p99_ns=statistics.median(item.p99_ns for item in items),
            baseline_ns=statistics.median(item.baseline_ns for item in items),
            pairs=sum(item.pairs for item in items),
            batch=batch,
            single_calls=sum(item.single_calls for item in items),
        )

    return Floored(**{name: merged(items) for name, items in parts.items()}, rounds=rounds)


def measure_env_disabled(batch: int, pairs: int, single_calls: int) -> tuple[Overhead, bool]:
    os.environ["CHAOS_LAYER_DISABLED"] = "true"
    try:
        decorated = chaos_layer_handler(DISABLED_PARAM)
    finally:
        del os.environ["CHAOS_LAYER_DISABLED"]
    return paired_overhead(decorated, handler, batch, pairs, single_calls), decorated is handler


def measure_chaos_lambda(pairs: int) -> Overhead:
    """chaos-lambda 0.3 reads its parameter (CHAOS_PARAM) from SSM on every call."""
    os.environ["CHAOS_PARAM"] = LEGACY_PARAM
    try:
        import chaos_lambda

        decorated: Callable[[Any, Any], Any] = chaos_lambda.inject_fault(handler)
        if decorated(EVENT, CONTEXT) is not RESPONSE:
            raise SystemExit("benchmark set-up is wrong: chaos-lambda changed the response")
        return paired_overhead(decorated, handler, batch=1, pairs=pairs)
    finally:
        del os.environ["CHAOS_PARAM"]


# --- the first injection against later ones ---------------------------------------------

FIRST_INJECTION_PROBE = """
import json, logging, random, sys, time
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # a runtime's log handler, as Lambda's
from chaos_layer import InjectedFault, inject_fault

class Draws(random.Random):
    selects = False
    def random(self):
        return 0.0 if self.selects else 0.99

def handler(event, context):
    return {{"statusCode": 200, "body": "ok"}}

draws = Draws()
decorated = inject_fault(parameter={parameter!r}, random=draws)(handler)
event = {{"version": "2.0", "rawPath": "/orders", "requestContext": {{"http": {{"method": "GET"}}}}}}
decorated(event, None)  # reads the config, which turns active; this invocation is not selected
assert decorated.chaos_experiment.cache.active is not None
draws.selects = True
seconds = []
for _ in range({calls}):
    start = time.perf_counter()
    try:
        decorated(event, None)
    except InjectedFault:
        pass
    seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


@dataclass
class FirstInjection:
    label: str
    extra_ms: float  # median over processes of (first injected invocation - median of later ones)
    worst_ms: float
    later_us: float  # median cost of a later injected invocation
    processes: int


def measure_first_injection(label: str, parameter: str, processes: int, calls: int = 31) -> FirstInjection:
    """In fresh processes, with the config already read: the first injected invocation's time
    minus the median of the later ones'."""
    extra: list[float] = []
    later: list[float] = []
    for _ in range(processes):
        result = subprocess.run(
            [sys.executable, "-c", FIRST_INJECTION_PROBE.format(parameter=parameter, calls=calls)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise SystemExit(f"benchmark set-up is wrong: the first-injection probe failed:\n{result.stderr}")
        seconds = json.loads(result.stdout.strip().splitlines()[-1])
        rest = statistics.median(seconds[1:])
        extra.append((seconds[0] - rest) * 1000)
        later.append(rest * 1e6)
    return FirstInjection(label, statistics.median(extra), max(extra), statistics.median(later), processes)


# --- SSM calls per cache period ------------------------------------------------------------


class SimulatedClock:
    """The decorator's `clock=` seam: a stream of invocations over a minute takes a second of
    real time, and every request's instant is known exactly (no network latency in it)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class CallCount:
    max_age: float
    seconds: float  # simulated
    invocations: int
    calls: int
    most_in_one_period: int  # most calls within any shortest possible period
    shortest_gap: float
    longest_gap: float


def measure_ssm_calls(log: RequestLog, max_age: float, seconds: float, rate: int) -> CallCount:
    """`rate` invocations per simulated second for `seconds`, one environment; GetParameters
    counted by the server."""
    from chaos_layer import inject_fault
    from chaos_layer.source import JITTER

    clock = SimulatedClock(time.time())
    start = clock.now
    decorated: Callable[[Any, Any], Any] = inject_fault(parameter=NOT_SELECTED_PARAM, max_age=max_age, clock=clock)(
        handler
    )
    instants: list[float] = []  # simulated time of each call: the invocation waits for its answer
    first = len(log.requests)
    event, context = EVENT, CONTEXT
    invocations = int(seconds * rate)
    for index in range(invocations):
        clock.now = start + index / rate
        seen = len(log.requests)
        decorated(event, context)
        if len(log.requests) != seen:
            instants.append(clock.now)
    calls = log.calls_since(first)
    if len(calls) != len(instants):
        raise SystemExit(f"benchmark set-up is wrong: {len(calls)} GetParameters, {len(instants)} reads seen")
    # Jitter shortens a period by up to JITTER, never lengthens it: no two calls of one
    # environment may come closer than the shortest period.
    shortest_period = max_age * (1 - JITTER)
    most = max((sum(1 for later in instants if 0 <= later - at < shortest_period) for at in instants), default=0)
    gaps = [b - a for a, b in pairwise(instants)]
    return CallCount(
        max_age=max_age,
        seconds=seconds,
        invocations=invocations,
        calls=len(calls),
        most_in_one_period=most,
        shortest_gap=min(gaps, default=float("nan")),
        longest_gap=max(gaps, default=float("nan")),
    )


# --- import cost ---------------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys, time
c0, t0 = time.process_time(), time.perf_counter()
{baseline}
c1, t1 = time.process_time(), time.perf_counter()
before = set(sys.modules)
import chaos_layer
c2, t2 = time.process_time(), time.perf_counter()
modules = sorted(set(sys.modules) - before)
print(json.dumps({{
    "baseline": c1 - c0, "added": c2 - c1, "added_wall": t2 - t1, "baseline_wall": t1 - t0,
    "modules": modules, "file": chaos_layer.__file__,
}}))
"""

ALONE_PROBE = """
import json, time
c0 = time.process_time()
import chaos_layer
print(json.dumps({{"seconds": time.process_time() - c0, "file": chaos_layer.__file__}}))
"""

MEMORY_PROBE = """
import gc, json, tracemalloc
{baseline}
gc.collect()
tracemalloc.start()
import chaos_layer
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({{"current": current, "peak": peak, "file": chaos_layer.__file__}}))
"""


@dataclass
class ImportCost:
    # CPU time of the import: what its wall time is on a quiet machine, and unlike wall time
    # not lengthened by whatever else the shared machine runs meanwhile.
    added_ms: float  # bytecode cached, as pip leaves an installed package
    added_wall_ms: float
    added_source_ms: float  # compiled from source, as from a layer shipped without .pyc
    baseline_ms: float
    alone_ms: float
    runs: int
    third_party: list[str]
    module_count: int
    memory_kib: float
    memory_peak_kib: float


def copy_package(destination: Path) -> Path:
    """A copy of chaos_layer without __pycache__, so whether bytecode is cached is up to us
    (the working tree's state, and PYTHONDONTWRITEBYTECODE in the shell, are not)."""
    shutil.copytree(ROOT / "chaos_layer", destination / "chaos_layer", ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def run_probe(code: str, package_root: Path, write_bytecode: bool) -> Any:
    baseline = "\n".join(f"import {module}" for module in BASELINE_IMPORTS)
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", code.format(baseline=baseline)],
        cwd=package_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    if not outcome["file"].startswith(str(package_root)):
        raise SystemExit(f"benchmark set-up is wrong: imported {outcome['file']}, not the copy in {package_root}")
    return outcome


def measure_import(runs: int, workdir: Path) -> ImportCost:
    cached = copy_package(workdir / "cached")
    source = copy_package(workdir / "source")
    run_probe(IMPORT_PROBE, cached, write_bytecode=True)  # writes the copy's bytecode once
    added: list[float] = []
    added_wall: list[float] = []
    added_source: list[float] = []
    baseline: list[float] = []
    alone: list[float] = []
    modules: list[str] = []
    for _ in range(runs):  # interleaved, so a busy moment hits every kind of run
        outcome = run_probe(IMPORT_PROBE, cached, write_bytecode=True)
        added.append(outcome["added"] * 1000)
        added_wall.append(outcome["added_wall"] * 1000)
        baseline.append(outcome["baseline"] * 1000)
        modules = outcome["modules"]
        added_source.append(run_probe(IMPORT_PROBE, source, write_bytecode=False)["added"] * 1000)
        alone.append(run_probe(ALONE_PROBE, cached, write_bytecode=True)["seconds"] * 1000)
    memory = run_probe(MEMORY_PROBE, cached, write_bytecode=True)
    own = [name for name in modules if name.split(".")[0] != "chaos_layer"]
    third_party = sorted({name.split(".")[0] for name in own} - set(sys.stdlib_module_names))
    return ImportCost(
        added_ms=statistics.median(added),
        added_wall_ms=statistics.median(added_wall),
        added_source_ms=statistics.median(added_source),
        baseline_ms=statistics.median(baseline),
        alone_ms=statistics.median(alone),
        runs=runs,
        third_party=third_party,
        module_count=len(modules),
        memory_kib=memory["current"] / 1024,
        memory_peak_kib=memory["peak"] / 1024,
    )


# --- report --------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    result: str
    target: str
    met: bool | None  # None: informational


def overhead_text(overhead: Overhead) -> str:
    return f"{overhead.median_ns:.0f} ns (p99 {overhead.p99_ns:.0f} ns)"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({cpu}), shared with other work"
    )


def main() -> int:
    from chaos_layer.settings import DEFAULT_MAX_AGE
    from chaos_layer.source import JITTER

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a smoke run, not figures to quote")
    arguments = parser.parse_args()
    scale = 0.1 if arguments.quick else 1.0
    pairs = max(200, int(8000 * scale))
    single_calls = max(10_000, int(200_000 * scale))
    batch = 200  # short batches: both halves of a pair see the same machine
    legacy_pairs = max(20, int(200 * scale))
    import_runs = max(3, int(15 * scale))
    rounds = 8  # turns of floor, disabled, not selected
    first_processes = max(5, int(15 * scale))
    stream_rate = max(1000, int(10_000 * scale))  # invocations per simulated second

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chaos-layer-bench-") as workdir:
        empty = Path(workdir) / "no-aws-config"
        empty.touch()
        isolate_environment(empty)
        print(f"chaos-layer benchmarks: {machine()}", flush=True)
        with local_ssm() as log:
            print(
                "- overhead: a no-op functools.wraps wrapper, config {enabled: false}, an experiment that does not"
                f" select the invocation (rate 0, rate 0.05), in {rounds} turns ...",
                flush=True,
            )
            floored = measure_against_floor(batch, pairs, single_calls, rounds)
            floor, disabled, not_selected, small_rate = (
                floored.floor,
                floored.disabled,
                floored.not_selected,
                floored.small_rate,
            )
            print("- overhead with CHAOS_LAYER_DISABLED=true ...", flush=True)
            env_disabled, same_function = measure_env_disabled(batch, pairs, single_calls)
            print(
                f"- SSM calls per cache period ({stream_rate:,} invocations/s for 60 s, simulated clock) ...",
                flush=True,
            )
            calls = measure_ssm_calls(log, max_age=DEFAULT_MAX_AGE, seconds=60.0, rate=stream_rate)
            print(
                f"- the first injected invocation against later ones ({first_processes} fresh processes) ...",
                flush=True,
            )
            first = [
                measure_first_injection("latency, `delay_ms: 0`", FIRST_LATENCY_PARAM, first_processes),
                measure_first_injection("exception", FIRST_EXCEPTION_PARAM, first_processes),
            ]
            print("- chaos-lambda 0.3 with is_enabled false ...", flush=True)
            legacy = measure_chaos_lambda(legacy_pairs)
        print(f"- import cost ({import_runs} fresh interpreters) ...", flush=True)
        imports = measure_import(import_runs, Path(workdir))

    ours = max(disabled.median_ns, 1.0)  # a noise-level figure must not divide by zero
    ratio = legacy.median_ns / ours
    floor_target = f"<= {TARGET_FLOOR_RATIO:g}x the floor"
    rows = [
        Row("floor: a no-op `functools.wraps` wrapper", overhead_text(floor), "", None),
        Row(
            "overhead, config `enabled: false`",
            f"{overhead_text(disabled)}, {floored.ratio(disabled):.1f}x the floor",
            floor_target,
            floored.ratio(disabled) <= TARGET_FLOOR_RATIO,
        ),
        Row(
            "overhead, enabled but not selected (`rate: 0`)",
            f"{overhead_text(not_selected)}, {floored.ratio(not_selected):.1f}x the floor",
            floor_target,
            floored.ratio(not_selected) <= TARGET_FLOOR_RATIO,
        ),
        Row(
            "overhead, `rate: 0.05`, an invocation not drawn (the 95 %)",
            f"{overhead_text(small_rate)}, {floored.ratio(small_rate):.1f}x the floor",
            "",
            None,
        ),
        Row(
            "overhead, `CHAOS_LAYER_DISABLED=true`",
            overhead_text(env_disabled) + (" (handler returned as is)" if same_function else ""),
            "",
            None,
        ),
        *(
            Row(
                f"first injected invocation over later ones, {item.label}",
                f"{item.extra_ms:+.2f} ms (worst {item.worst_ms:+.2f} ms; a later one takes {item.later_us:.0f} us)",
                f"<= {TARGET_FIRST_INJECTION_MS:g} ms more",
                item.extra_ms <= TARGET_FIRST_INJECTION_MS,
            )
            for item in first
        ),
        Row(
            "chaos-lambda 0.3 overhead, `is_enabled: false`",
            f"{legacy.median_ns / 1e6:.2f} ms (p99 {legacy.p99_ns / 1e6:.2f} ms)",
            "",
            None,
        ),
        Row("chaos-lambda / chaos-layer (disabled)", f"{ratio:,.0f}x", ">= 1000x", ratio >= TARGET_RATIO),
        Row(
            f"SSM GetParameters calls per cache period (max_age {calls.max_age:g} s)",
            f"{calls.most_in_one_period} ({calls.calls} calls for {calls.invocations:,} invocations over "
            f"{calls.seconds:g} s)",
            "<= 1",
            calls.calls > 0 and calls.most_in_one_period <= TARGET_CALLS_PER_PERIOD,
        ),
        Row(
            "import chaos_layer over boto3 (bytecode cached, CPU time)",
            f"{imports.added_ms:.1f} ms (median of {imports.runs})",
            f"<= {TARGET_IMPORT_MS:g} ms",
            imports.added_ms <= TARGET_IMPORT_MS,
        ),
        Row(
            "the same, compiled from source (no .pyc: a layer built without them)",
            f"{imports.added_source_ms:.1f} ms",
            "",
            None,
        ),
        Row(
            "memory added by importing chaos_layer",
            f"{imports.memory_kib:.0f} KiB (peak {imports.memory_peak_kib:.0f} KiB)",
            "",
            None,
        ),
    ]

    print()
    print("| measure | result | target | met |")
    print("|---|---|---|---|")
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**NO**")
        print(f"| {row.measure} | {row.result} | {row.target} | {met} |")
    print()
    print(
        f"Overheads: median over {disabled.pairs} pairs of {disabled.batch}-call batches of the per-call difference, "
        f"measured in {floored.rounds} turns of floor, disabled, rate 0 and rate 0.05 (median of the turns); "
        f"p99 from {disabled.single_calls:,} single calls of each, p99 minus p99; an undecorated call costs "
        f"{disabled.baseline_ns:.0f} ns here. chaos-lambda: {legacy.pairs} pairs of single calls."
    )
    print(
        f"SSM calls: one environment, {calls.invocations // int(calls.seconds):,} invocations per simulated second; "
        f"gaps between calls {calls.shortest_gap:.2f}-{calls.longest_gap:.2f} s (a period is max_age shortened by "
        f"up to {JITTER:.0%} jitter, never lengthened)."
    )
    print(
        f"First injection: fresh processes, the config read by a first invocation that is not selected, then "
        f"{first[0].processes} processes x 30 injected invocations; the figure is the median over processes of the "
        f"first one's time minus the median of the later ones' (wall clock)."
    )
    print(
        f"Import: CPU time, median of {imports.runs} fresh interpreters (wall clock {imports.added_wall_ms:.1f} ms on "
        f"this shared machine); boto3 alone takes {imports.baseline_ms:.0f} ms; chaos_layer from nothing "
        f"{imports.alone_ms:.0f} ms; it adds {imports.module_count} modules, third-party ones beyond "
        f"the baseline: {', '.join(imports.third_party) or 'none'}."
    )
    missed = [row.measure for row in rows if row.met is False]
    print()
    if missed:
        print(f"TARGETS MISSED ({len(missed)}): " + "; ".join(missed))
    else:
        print("All targets met.")
    print(f"(benchmark run took {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
