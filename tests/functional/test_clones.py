"""Copies of one memory image: SnapStart resumes many execution environments from one snapshot,
and a fork copies a process. Each copy must draw its own numbers (else a `rate: 0.5`
experiment hits all of a scale-out or none of it) and read its config afresh.

Each test runs a fresh interpreter (the runtime's hook registry and fork handlers start
empty there) against the moto server over HTTP, which counts the reads. A SnapStart restore is
simulated as Lambda's runtime performs it, minus the microVM: the snapshot's memory (the random
state and the cache's state) is put back, then awslambdaric's own runner calls the hooks
registered with `snapshot_restore_py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import MotoServer

PARAM = "/chaos-layer/clones"
EXPERIMENT = {"enabled": True, "rate": 0.5, "faults": [{"type": "status_code", "status_code": 503}]}

PRELUDE = """
import json, os
from chaos_layer import inject_fault

@inject_fault(parameter=os.environ["PARAM"])
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}

EVENT = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}

def draws():
    return [handler(EVENT, None)["statusCode"] for _ in range(64)]

handler(EVENT, None)  # the init ends with a reading in the cache: it is in the snapshot
"""

RESTORE = """
from awslambdaric import lambda_runtime_hooks_runner

experiment = handler.chaos_experiment
image = (experiment.random.getstate(), dict(vars(experiment.cache)))

def resume(hooks):
    experiment.random.setstate(image[0])  # every copy resumes from the same memory
    vars(experiment.cache).update(image[1])
    if hooks:
        lambda_runtime_hooks_runner.run_after_restore()
    return draws()

print(json.dumps({"plain": [resume(False), resume(False)], "hooked": [resume(True), resume(True)]}))
"""

FORK = """
readers = []
for _ in range(2):
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.write(write_end, json.dumps(draws()).encode())
        os._exit(0)
    os.close(write_end)
    readers.append(read_end)
copies = []
for read_end in readers:
    with os.fdopen(read_end) as pipe:
        copies.append(json.loads(pipe.read()))
    os.wait()
print(json.dumps(copies))
"""


def run(moto_server: MotoServer, code: str) -> object:
    environment = {**os.environ, "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url, "PARAM": PARAM}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE) + textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_snapstart_copies_draw_their_own_numbers_and_read_afresh(moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(EXPERIMENT))
    result = run(moto_server, RESTORE)
    assert isinstance(result, dict)
    plain, hooked = result["plain"], result["hooked"]
    # Without the hooks (the runtime running none), two copies draw the very same numbers...
    assert plain[0] == plain[1]
    # ...with them, each copy draws its own, and each read its config again on resuming.
    assert hooked[0] != hooked[1]
    assert all(503 in copy and 200 in copy for copy in hooked)
    assert moto_server.calls() == 1 + 2  # the init's read, then one per hooked copy


def test_forked_copies_draw_their_own_numbers_and_read_afresh(moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps(EXPERIMENT))
    copies = run(moto_server, FORK)
    assert isinstance(copies, list)
    assert copies[0] != copies[1]
    assert moto_server.calls() == 1 + 2
