"""Fixtures shared by every test directory (unit, functional, e2e, cli).

- `aws_env` (autouse): dummy credentials, region us-east-1, and nothing from the developer's
  machine (AWS_PROFILE, AWS_ENDPOINT_URL*, CHAOS_*, POWERTOOLS_*, Lambda's own variables), so
  no test can reach real AWS or depend on the shell it runs in.
- `moto_server`: an SSM endpoint over real HTTP on 127.0.0.1 (moto's ThreadedMotoServer on a
  free port), emptied before each test; `.endpoint_url`, `.client()`, `.requests` (the
  `X-Amz-Target` of every API request it answered, to count SSM calls), `.put(...)`.
- `ssm_client`: a boto3 SSM client against `moto_server`.
- `lambda_context`: builds a Lambda-like context (function_name, aws_request_id, ...).
- `clock`, `sleeps`: the decorator's `clock=` and `sleep=` seams (`clock.advance(seconds)`,
  `sleeps.calls` lists the seconds slept, nothing really sleeps).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# Environment that could make a test talk to a real account, another endpoint, or behave
# like a configured deployment.
_SCRUBBED_PREFIXES = ("AWS_", "CHAOS_", "POWERTOOLS_", "_HANDLER", "_X_AMZN")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials and region; everything else AWS-, chaos- or Powertools-related unset."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES) and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Loopback servers must never be reached through a proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


class _RequestLog:
    """WSGI middleware that records each API request's X-Amz-Target (e.g.
    `AmazonSSM.GetParameters`) before moto answers it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.targets: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            with self._lock:
                self.targets.append(target)
        return self.app(environ, start_response)


@dataclass
class MotoServer:
    """A running moto server on 127.0.0.1 (see the `moto_server` fixture)."""

    endpoint_url: str
    port: int
    _log: _RequestLog
    _client: Any = None

    @property
    def requests(self) -> list[str]:
        """X-Amz-Target of every API request answered since the test began."""
        return list(self._log.targets)

    def calls(self, operation: str = "GetParameters") -> int:
        """How many `operation` requests the server answered since the test began."""
        return sum(1 for target in self._log.targets if target == f"AmazonSSM.{operation}")

    def client(self) -> Any:
        """A new boto3 SSM client against this server."""
        return boto3.client("ssm", region_name=REGION, endpoint_url=self.endpoint_url)

    def _admin(self) -> Any:
        if self._client is None:
            self._client = self.client()
        return self._client

    def put(self, name: str, value: str, type: str = "String") -> None:
        """Create or overwrite a parameter (not counted in `requests`)."""
        self._without_logging(lambda: self._admin().put_parameter(Name=name, Value=value, Type=type, Overwrite=True))

    def delete(self, name: str) -> None:
        self._without_logging(lambda: self._admin().delete_parameter(Name=name))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        self._log.targets.clear()

    def _without_logging(self, action: Callable[[], Any]) -> None:
        before = len(self._log.targets)
        action()
        with self._log._lock:
            del self._log.targets[before:]


@pytest.fixture(scope="session")
def _moto_server_session() -> Iterator[MotoServer]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # ThreadedMotoServer offers no hook for middleware; its werkzeug server reads `.app`
        # for every request, so wrapping it there sees every request.
        log = _RequestLog(server._server.app)  # type: ignore[union-attr]
        server._server.app = log  # type: ignore[union-attr]
        yield MotoServer(endpoint_url=f"http://{host}:{port}", port=port, _log=log)
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server_session: MotoServer) -> MotoServer:
    """An SSM endpoint on 127.0.0.1 over HTTP, empty and with an empty request log.

    One server per session (starting one costs time), reset for every test so tests stay
    independent. Point the library at it with AWS_ENDPOINT_URL_SSM or `boto3_client=`.
    """
    _moto_server_session.reset()
    return _moto_server_session


@pytest.fixture
def ssm_client(moto_server: MotoServer) -> Any:
    """A boto3 SSM client against `moto_server`."""
    return moto_server.client()


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context that chaos-layer and Powertools read."""

    function_name: str = "orders-api"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:orders-api"
    log_group_name: str = "/aws/lambda/orders-api"
    log_stream_name: str = "2026/11/27/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> Callable[..., FakeLambdaContext]:
    """Factory: `lambda_context()` or `lambda_context(function_name=..., aws_request_id=...)`."""
    return FakeLambdaContext


@dataclass
class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    now: float = 1_790_000_000.0  # 2026-09-21, before the expiry dates tests use

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """An injectable clock for `inject_fault(clock=...)`: call `clock.advance(seconds)`."""
    return FakeClock()


@dataclass
class RecordingSleep:
    """A `sleep` that records the seconds asked for and returns at once."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    """An injectable sleep for `inject_fault(sleep=...)`; `sleeps.calls` lists the seconds."""
    return RecordingSleep()


# The smallest event from an HTTP source (an HTTP API's, payload 2.0): what `status_code`
# and `corrupt` apply to. Treat it as read-only.
HTTP_EVENT: dict[str, Any] = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}}


def config_json(**overrides: Any) -> str:
    """A valid config document (one 503 fault unless `faults=` says otherwise), as JSON."""
    document: dict[str, Any] = {
        "enabled": True,
        "experiment": "test-experiment",
        "faults": [{"type": "status_code", "status_code": 503}],
    }
    document.update(overrides)
    return json.dumps(document)
