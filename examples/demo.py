"""`make demo`: the unmodified examples/hello function under chaos-layer, run as Lambda runs it.

The built layer (dist/chaos-layer.zip) is unpacked as /opt, the function is started through the
layer's exec wrapper in the real runtime interface client (awslambdaric) against a local Lambda
Runtime API, and SSM is a moto server on 127.0.0.1 that the demo starts and stops. Experiments
are switched with the real AWS CLI, exactly as in the docs. CHAOS_LAYER_MAX_AGE=0 and
CHAOS_LAYER_IDLE_MAX_AGE=0 make the function read its config on every invocation, so each change
shows at once (in production the default periods apply: 5 s while an experiment is active, 60 s
while none is; MAX_AGE=0 alone would still keep a disabled or killed reading for 60 s).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.lambda_sim import (  # noqa: E402 (the harness lives with the e2e tests)
    LocalLambda,
    Reply,
    aws_cli,
    copy_function,
    embedded_ssm,
    make_runtime_dir,
    unpack_layer,
)

LAYER_ZIP = ROOT / "dist" / "chaos-layer.zip"
CONFIG = "/chaos-layer/hello"
KILL_SWITCH = "/chaos-layer/kill-switch"
EVENT = {
    "version": "2.0",
    "routeKey": "GET /hello",
    "rawPath": "/hello",
    "rawQueryString": "name=chaos",
    "queryStringParameters": {"name": "chaos"},
    "headers": {"host": "demo.execute-api.us-east-1.amazonaws.com"},
    "requestContext": {"http": {"method": "GET", "path": "/hello"}, "stage": "$default"},
    "isBase64Encoded": False,
}


def experiment(*faults: dict[str, Any], enabled: bool = True) -> str:
    return json.dumps({"enabled": enabled, "experiment": "hello-demo", "faults": list(faults)})


# (title, what the AWS CLI is told, what to expect)
STEPS: list[tuple[str, list[str], str]] = [
    (
        "normal: experiment disabled",
        ["--name", CONFIG, "--value", experiment(enabled=False)],
        "the function's own answer",
    ),
    (
        "latency: 300 ms before the handler",
        ["--name", CONFIG, "--value", experiment({"type": "latency", "delay_ms": 300})],
        "the same answer, 300 ms later",
    ),
    (
        "503: a response instead of running the handler",
        [
            "--name", CONFIG,
            "--value", experiment({"type": "status_code", "status_code": 503, "body": '{"message": "busy"}',
                                   "headers": {"Retry-After": "1"}}),
        ],
        "a 503 the function never produced",
    ),
    (
        "exception: TimeoutError raised instead of running the handler",
        ["--name", CONFIG, "--value", experiment({"type": "exception", "exception": "TimeoutError",
                                                  "message": "injected by chaos-layer"})],
        "a function error, as Lambda reports it",
    ),
    (
        "kill switch engaged (the experiment is still on)",
        ["--name", KILL_SWITCH, "--value", "on"],
        "back to normal",
    ),
    (
        "kill switch released",
        ["--name", KILL_SWITCH, "--value", "off"],
        "the experiment again",
    ),
]  # fmt: skip


def build_layer() -> None:
    if not LAYER_ZIP.exists():
        subprocess.run([sys.executable, str(ROOT / "layer" / "build.py")], check=True)


def describe(reply: Reply) -> str:
    payload = reply.payload
    if reply.kind == "response" and isinstance(payload, dict):
        headers = {k: v for k, v in (payload.get("headers") or {}).items() if k != "Content-Type"}
        extra = f" headers={json.dumps(headers)}" if headers else ""
        return f"{payload.get('statusCode')} {payload.get('body')}{extra}"
    if reply.kind == "error" and isinstance(payload, dict):
        return f"function error {payload.get('errorType')}: {payload.get('errorMessage')} (API Gateway: 500)"
    return f"{reply.kind}: {reply.body.decode(errors='replace')}"


def chaos_lines(logs: str) -> list[str]:
    """The function's log lines chaos-layer wrote: the injection record and the EMF metric."""
    shown = []
    for line in logs.splitlines():
        message = line.split("\t")[-1]
        if "chaos-layer" in message and message.startswith("{"):
            record = json.loads(message)
            shown.append(f"log     {record['message']}: experiment={record['experiment']} fault={record['fault']}")
        elif line.startswith('{"_aws"'):
            metric = json.loads(line)
            shown.append(f"metric  InjectedFaults experiment={metric['experiment']} fault={metric['fault']}")
        elif line.startswith("[WARNING]") and "chaos-layer" in message:
            shown.append(f"log     {message}")
    return shown


def main() -> None:
    build_layer()
    with zipfile.ZipFile(LAYER_ZIP) as archive:
        files = len(archive.infolist())
    print("chaos-layer demo: the unmodified examples/hello function, zero-code mode")
    size = LAYER_ZIP.stat().st_size // 1024
    print(f"  layer    {LAYER_ZIP.relative_to(ROOT)} ({size} KiB, {files} files) unpacked as /opt")
    print("  runtime  awslambdaric, started through AWS_LAMBDA_EXEC_WRAPPER=/opt/chaos-layer, _HANDLER=app.handler")
    with tempfile.TemporaryDirectory(prefix="chaos-layer-demo-") as workdir, embedded_ssm() as endpoint:
        work = Path(workdir)
        print(f"  SSM      moto on {endpoint} (every aws command below also gets --endpoint-url)")
        print("  cache    CHAOS_LAYER_MAX_AGE=0 and CHAOS_LAYER_IDLE_MAX_AGE=0: SSM is read at every invocation,")
        print("           so a change shows at once (defaults: 5 s with an experiment active, 60 s without);")
        print("           that read is most of the milliseconds below")
        aws_cli("ssm", "put-parameter", "--type", "String", "--name", CONFIG, "--value", experiment(enabled=False),
                endpoint=endpoint)  # fmt: skip
        function = LocalLambda(
            opt_dir=unpack_layer(LAYER_ZIP, work / "opt"),
            runtime_dir=make_runtime_dir(work / "var-runtime"),
            task_root=copy_function(ROOT / "examples" / "hello", work / "task"),
            handler="app.handler",
            exec_wrapper=str(work / "opt" / "chaos-layer"),
            environment={
                "CHAOS_LAYER_PARAM": CONFIG,
                "CHAOS_LAYER_MAX_AGE": "0",
                "CHAOS_LAYER_IDLE_MAX_AGE": "0",
                "AWS_ENDPOINT_URL_SSM": endpoint,
            },
            log_path=work / "function.log",
        )
        with function:
            first = function.invoke(EVENT)
            print(f"  cold start (init and first invocation): {first.seconds * 1000:.0f} ms -> {describe(first)}")
            for number, (title, arguments, expected) in enumerate(STEPS, start=1):
                command = ["ssm", "put-parameter", "--type", "String", "--overwrite", *arguments]
                print(f"\n{number}. {title}: expect {expected}")
                print(f"   $ aws {shlex.join(command)}")
                aws_cli(*command, endpoint=endpoint)
                logged = len(function.logs().splitlines())
                reply = function.invoke(EVENT)
                print(f"   GET /hello?name=chaos -> {describe(reply)}  ({reply.seconds * 1000:.0f} ms)")
                for line in chaos_lines("\n".join(function.logs().splitlines()[logged:])):
                    print(f"      {line}")
    print("\ndone: the SSM server and the function process are stopped.")


if __name__ == "__main__":
    main()
