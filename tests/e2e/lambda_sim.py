"""A local Lambda: the built layer, the real runtime interface client, a Runtime API server.

Used by the end-to-end tests and by `make demo`. It runs a function the way Lambda does:

- the layer zip is unpacked into an `/opt`-like folder (modes from the zip, as Lambda does);
- a `/var/runtime`-like folder holds what every Python runtime provides (boto3, botocore and
  their dependencies, and awslambdaric, the runtime interface client), linked from this venv;
- the runtime's bootstrap is started through the exec wrapper, as `AWS_LAMBDA_EXEC_WRAPPER`
  does: `<wrapper> <python> <runtime>/bootstrap.py`, and that bootstrap reads `_HANDLER`
  from its environment, after the wrapper changed it, like Lambda's own bootstrap;
- Python runs without site-packages (`-S`), so the function sees only its own folder, the
  layer and the runtime: the layer has to stand on its own;
- a Runtime API server on 127.0.0.1 hands out events (`/invocation/next`) and collects what
  the runtime posts back (`/response`, `/error`, `/init/error`).

Every wait is bounded, and `close()` stops the process and the server.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

API = "/2018-06-01/runtime"
FUNCTION_NAME = "hello"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# What Lambda's Python runtimes ship besides the standard library.
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
# Dummy credentials, and no config or credentials file from the machine it runs on.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Lambda's own bootstrap, reduced: the handler comes from the environment the wrapper left.
BOOTSTRAP = """\
import os
from awslambdaric import __main__ as awslambdaricmain

awslambdaricmain.main([os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"]])
"""


@dataclass(frozen=True)
class Reply:
    """What the runtime posted back for one invocation (or for the init)."""

    kind: str  # "response", "error" or "init_error"
    request_id: str | None
    body: bytes
    headers: Mapping[str, str]
    seconds: float  # from the event being queued to the reply

    @property
    def payload(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    queued_at: float = field(default_factory=time.monotonic)


class RuntimeAPI:
    """The Lambda Runtime API, enough of it for one function process."""

    def __init__(self, function_name: str = FUNCTION_NAME, timeout_ms: int = 30_000) -> None:
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.timeout_ms = timeout_ms
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()
        self._replies: queue.Queue[Reply] = queue.Queue()
        self._queued: dict[str, float] = {}
        self._server = _QuietServer(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._pending.put(None)  # releases a runtime waiting on /next
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def queue_event(self, event: Any) -> str:
        invocation = _Invocation(str(uuid.uuid4()), json.dumps(event).encode())
        self._queued[invocation.request_id] = invocation.queued_at
        self._pending.put(invocation)
        return invocation.request_id

    def next_reply(self, timeout: float) -> Reply | None:
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            return None

    # called from the server's threads
    def _next_invocation(self) -> _Invocation | None:
        invocation = self._pending.get()
        if invocation is None:
            self._pending.put(None)  # every later /next is released too
        return invocation

    def _reply(self, kind: str, request_id: str | None, body: bytes, headers: Mapping[str, str]) -> None:
        queued_at = self._queued.pop(request_id, None) if request_id else None
        seconds = time.monotonic() - queued_at if queued_at is not None else 0.0
        self._replies.put(Reply(kind, request_id, body, dict(headers), seconds))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the runtime process was stopped
            super().handle_error(request, client_address)


def _handler_class(api: RuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def setup(self) -> None:
            super().setup()
            # headers and body go out as two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every call
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            if self.path != f"{API}/invocation/next":
                self._send(404, b'{"errorType": "NotFound"}')
                return
            invocation = api._next_invocation()
            if invocation is None:
                self._send(500, b'{"errorType": "ServiceStopped"}')
                return
            deadline_ms = int(time.time() * 1000) + api.timeout_ms
            self._send(
                200,
                invocation.body,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                },
            )

        def do_POST(self) -> None:
            body = self._read_body()
            parts = self.path.removeprefix(API).strip("/").split("/")
            headers = {key: value for key, value in self.headers.items()}
            if parts == ["init", "error"]:
                api._reply("init_error", None, body, headers)
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                api._reply(parts[2], parts[1], body, headers)
            else:
                self._send(404, b'{"errorType": "NotFound"}')
                return
            self._send(202, b'{"status": "OK"}')

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def unpack_layer(zip_path: Path, opt_dir: Path) -> Path:
    """Unzip as Lambda does into /opt, keeping the unix modes stored in the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, opt_dir))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
    return opt_dir


def make_runtime_dir(runtime_dir: Path) -> Path:
    """A /var/runtime: links to the modules every Lambda Python runtime has, and the bootstrap."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    for top_level in _runtime_top_levels():
        link = runtime_dir / top_level.name
        if not link.exists():
            link.symlink_to(top_level)
    (runtime_dir / "bootstrap.py").write_text(BOOTSTRAP)
    return runtime_dir


def _runtime_top_levels() -> list[Path]:
    seen: set[str] = set()
    todo = list(RUNTIME_DISTRIBUTIONS)
    paths: set[Path] = set()
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        distribution = metadata.distribution(name)
        for requirement in distribution.requires or []:
            if "extra" not in requirement:
                todo.append(requirement.split(";")[0].split("(")[0].split(">")[0].split("<")[0].split("=")[0].strip())
        for file in distribution.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".data")) or top in ("..", "__pycache__"):
                continue
            paths.add(Path(str(distribution.locate_file(top))))
    return sorted(paths)


class LocalLambda:
    """One execution environment: a function process served by its own Runtime API."""

    def __init__(
        self,
        *,
        opt_dir: Path,
        runtime_dir: Path,
        task_root: Path,
        handler: str,
        environment: Mapping[str, str] | None = None,
        exec_wrapper: str | None = None,
        log_path: Path,
        function_name: str = FUNCTION_NAME,
    ) -> None:
        self.api = RuntimeAPI(function_name)
        self.log_path = log_path
        self.function_name = function_name
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(runtime_dir),
            "PYTHONPATH": os.pathsep.join([str(task_root), str(opt_dir / "python"), str(runtime_dir)]),
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            **DUMMY_CREDENTIALS,
        }
        if exec_wrapper:
            self.env["AWS_LAMBDA_EXEC_WRAPPER"] = exec_wrapper
        self.env.update(environment or {})
        bootstrap = [sys.executable, "-S", str(runtime_dir / "bootstrap.py")]
        self.command = [exec_wrapper, *bootstrap] if exec_wrapper else bootstrap
        self.cwd = task_root
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalLambda:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        self.api.start()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so close() can stop the wrapper and what it execs
            )

    def invoke(self, event: Any, timeout: float = 30.0) -> Reply:
        """Queue one event and wait for what the runtime posts back (or the init error)."""
        request_id = self.api.queue_event(event)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.api.next_reply(timeout=0.2)
            if reply is not None and (reply.kind == "init_error" or reply.request_id == request_id):
                return reply
            if self.process is not None and self.process.poll() is not None and reply is None:
                reply = self.api.next_reply(timeout=0.5)  # a last post may still be in flight
                if reply is not None:
                    return reply
                raise RuntimeError(f"the function process exited ({self.process.returncode}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {request_id} within {timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.api.close()


@contextmanager
def embedded_ssm() -> Iterator[str]:
    """A moto server on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_cli(*arguments: str, endpoint: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """The real AWS CLI from this venv, against the given endpoint, with dummy credentials."""
    executable = Path(sys.executable).with_name("aws")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        **DUMMY_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [str(executable), *arguments, "--endpoint-url", endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def copy_function(source: Path, task_root: Path) -> Path:
    """A function's code folder, as Lambda unpacks it into /var/task."""
    shutil.copytree(source, task_root, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    return task_root
