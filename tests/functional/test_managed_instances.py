"""Lambda Managed Instances, with real processes: several request processes of one execution
environment (`AWS_LAMBDA_MAX_CONCURRENCY` set, one temporary directory) share one read per
period through the library's cache file, and a kill still reaches each of them within
max_age. SSM is the moto server over HTTP, which counts the requests it answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import MotoServer

PARAM = "/chaos-layer/managed"
KILL = "/chaos-layer/kill-switch"
PROCESSES = 6

# One request process: it imports the handler, says so, waits for the go, then serves an
# invocation every 20 ms for SECONDS and prints, per invocation, when it began and whether the
# 503 was injected (its last line; the EMF metrics of the injections come before it).
PROCESS = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from chaos_layer import inject_fault

    period = float(os.environ["PERIOD"])

    @inject_fault(parameter=os.environ["PARAM"], max_age=period, idle_max_age=period)
    def handler(event, context):
        return {"statusCode": 200, "body": "ok"}

    event = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}
    go, stop, marks = Path(os.environ["GO"]), Path(os.environ["STOP"]), Path(os.environ["MARKS"])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    served, end = [], time.monotonic() + float(os.environ["SECONDS"])
    while time.monotonic() < end and not stop.exists():
        began = time.monotonic()
        served.append((began, handler(event, None)["statusCode"] == 503))
        if served[-1][1]:
            (marks / str(os.getpid())).touch()  # this process has injected
        time.sleep(0.02)
    print(json.dumps(served), flush=True)
    """
)


def run_environment(
    moto_server: MotoServer, tmp_path: Path, *, shared: bool, period: float, seconds: float, during: object = None
) -> list[list[tuple[float, bool]]]:
    """Start PROCESSES request processes sharing `tmp_path` as their /tmp, let them serve for
    `seconds` (or until `during` touches tmp_path/stop); `during(tmp_path)` runs while they do.
    Each process touches tmp_path/marks/PID once it has injected. Each process's invocations."""
    go = tmp_path / "go"
    (tmp_path / "marks").mkdir()
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url,
        "TMPDIR": str(tmp_path),
        "PARAM": PARAM,
        "PERIOD": str(period),
        "SECONDS": str(seconds),
        "GO": str(go),
        "STOP": str(tmp_path / "stop"),
        "MARKS": str(tmp_path / "marks"),
    }
    if shared:
        environment["AWS_LAMBDA_MAX_CONCURRENCY"] = str(PROCESSES)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # the library's log of each injection
            text=True,
            cwd=os.getcwd(),
        )
        for _ in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        go.touch()
        if callable(during):
            during(tmp_path)
        outputs = [process.communicate(timeout=120)[0].splitlines()[-1] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait(10)
    assert all(process.returncode == 0 for process in processes)
    return [[(began, injected) for began, injected in json.loads(output)] for output in outputs]


@pytest.mark.slow
def test_the_processes_of_an_environment_share_one_read_per_period(moto_server: MotoServer, tmp_path: Path) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": False}))
    period, seconds = 1.0, 4.0

    (tmp_path / "shared").mkdir()
    run_environment(moto_server, tmp_path / "shared", shared=True, period=period, seconds=seconds)
    shared_reads = moto_server.calls()
    files = [p.name for p in (tmp_path / "shared").iterdir() if p.name.startswith("chaos-layer-")]

    moto_server.reset()
    moto_server.put(PARAM, json.dumps({"enabled": False}))
    (tmp_path / "alone").mkdir()
    run_environment(moto_server, tmp_path / "alone", shared=False, period=period, seconds=seconds)
    alone_reads = moto_server.calls()

    # About one read per (jittered) period for the whole environment: seconds / period, give or
    # take the first read and the jitter. Each process on its own reads about that many times
    # over (fewer on a busy machine, where a read can take a while: at least twice each).
    assert shared_reads <= seconds / (period * 0.75) + 2
    assert alone_reads >= max(2 * PROCESSES, 2 * shared_reads)
    assert len(files) == 1  # one cache file for the pair of locations (and no temporary file left)


@pytest.mark.slow
def test_a_kill_reaches_every_process_within_max_age(moto_server: MotoServer, tmp_path: Path) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": True, "faults": [{"type": "status_code", "status_code": 503}]}))
    period = 1.0
    killed_at: list[float] = []

    def kill(folder: Path) -> None:
        # Once every process has injected (however long their first shared read takes on a
        # busy machine), engage the kill switch, then watch three periods more.
        deadline = time.monotonic() + 60
        while len(list((folder / "marks").iterdir())) < PROCESSES and time.monotonic() < deadline:
            time.sleep(0.05)
        moto_server.put(KILL, "on")
        killed_at.append(time.monotonic())  # CLOCK_MONOTONIC: the processes' clock too
        time.sleep(3 * period)
        (folder / "stop").touch()

    served = run_environment(moto_server, tmp_path, shared=True, period=period, seconds=90.0, during=kill)
    [written] = killed_at
    for invocations in served:
        assert any(injected for _, injected in invocations)  # each process injected before the kill...
        last = max(began for began, injected in invocations if injected)
        assert last <= written + period  # ...and none after max_age
        assert not any(injected for began, injected in invocations if began > written + period)
