"""Fixtures shared by every test directory (unit, functional, e2e, cli), and each test's kind.

Each folder is one kind of test, marked here (`-m unit`, `-m "not e2e"`): unit, functional
(functional/, cli/, runner/, docs/, fis/) or e2e; `slow` marks the tests that take seconds on their
own. Under pytest-xdist (`make pytest`, or `pytest -n 2`) each worker has its own servers (moto,
the AppConfig stand-in) on free ports, and every test writes only in its own `tmp_path`; the
e2e tests build the layer and the wheel once per run for all workers (tests/e2e/conftest.py).

- `aws_env` (autouse): dummy credentials, region us-east-1, and nothing from the developer's
  machine (AWS_PROFILE, AWS_ENDPOINT_URL*, CHAOS_*, POWERTOOLS_*, Lambda's own variables), so
  no test can reach real AWS or depend on the shell it runs in.
- `moto_server`: an SSM endpoint over real HTTP on 127.0.0.1 (moto's ThreadedMotoServer on a
  free port), emptied before each test; `.endpoint_url`, `.client()`, `.requests` (the
  `X-Amz-Target` of every API request it answered, to count SSM calls), `.put(...)`.
- `ssm_client`: a boto3 SSM client against `moto_server`.
- `s3`: a bucket on `moto_server`'s S3, with AWS_ENDPOINT_URL_S3 pointing there; `.put(...)`,
  `.gets(key)` counts GETs of an object (conditional ones answered 304 included).
- `appconfig`: AppConfig through the loopback stand-in of tests/appconfig_standin.py (in
  front of moto), with AWS_ENDPOINT_URL_APPCONFIG(DATA) and AWS_APPCONFIG_EXTENSION_HTTP_PORT
  pointing there; `.profile(...)` creates an application, environment and profile,
  `.deploy(...)` writes and deploys a version as an operator would with the AWS CLI.
- `scripted_endpoint`: an HTTP endpoint whose answers the test scripts (an S3 that says
  AccessDenied, an SSM that throttles, an agent that says 502), so the real client stacks
  parse real answers; it records each request (tests/scripted_endpoint.py).
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
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.appconfig_standin import AppConfigStandIn
from tests.scripted_endpoint import ScriptedEndpoint

# The kind of test each folder of tests/ holds (the markers are declared in pyproject.toml).
KINDS = {
    "unit": "unit",
    "functional": "functional",
    "cli": "functional",
    "runner": "functional",
    "docs": "functional",
    "fis": "functional",
    "e2e": "e2e",
}
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        if folder not in KINDS:
            raise pytest.UsageError(f"{item.nodeid}: tests/{folder} has no kind; add it to KINDS in tests/conftest.py")
        item.add_marker(KINDS[folder])


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
    `AmazonSSM.GetParameters`), and each other request's method and path (S3's REST calls),
    before moto answers it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.targets: list[str] = []
        self.rest: list[tuple[str, str, bool]] = []  # method, path, conditional (If-None-Match)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET")
        with self._lock:
            if target:
                self.targets.append(target)
            elif not environ.get("PATH_INFO", "").startswith("/moto-api"):
                request = (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
                self.rest.append((*request, "HTTP_IF_NONE_MATCH" in environ))
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
        self._log.rest.clear()

    def _without_logging(self, action: Callable[[], Any]) -> Any:
        before, rest = len(self._log.targets), len(self._log.rest)
        result = action()
        with self._log._lock:
            del self._log.targets[before:]
            del self._log.rest[rest:]
        return result


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


BUCKET = "chaos-layer-configs"


@dataclass
class S3Bucket:
    """A bucket on the moto server (see the `s3` fixture)."""

    server: MotoServer
    name: str = BUCKET

    def client(self) -> Any:
        return boto3.client("s3", region_name=REGION, endpoint_url=self.server.endpoint_url)

    def location(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def put(self, key: str, body: str | bytes, **settings: Any) -> str:
        """Create or overwrite an object (not counted); its ETag."""
        data = body.encode() if isinstance(body, str) else body
        response = self.server._without_logging(
            lambda: self.client().put_object(Bucket=self.name, Key=key, Body=data, **settings)
        )
        return str(response["ETag"])

    def text(self, key: str) -> str | None:
        client = self.client()
        try:
            body = self.server._without_logging(lambda: client.get_object(Bucket=self.name, Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            return None
        return str(body.decode())

    def head(self, key: str) -> dict[str, Any]:
        return dict(self.server._without_logging(lambda: self.client().head_object(Bucket=self.name, Key=key)))

    def delete(self, key: str) -> None:
        self.server._without_logging(lambda: self.client().delete_object(Bucket=self.name, Key=key))

    def gets(self, key: str, *, conditional: bool | None = None) -> int:
        """GETs of this object the server answered since the test began (304s included);
        `conditional`: only those with (True) or without (False) If-None-Match."""
        return sum(
            1
            for method, path, with_etag in self.server._log.rest
            if (method, path) == ("GET", f"/{self.name}/{key}") and conditional in (None, with_etag)
        )


@pytest.fixture
def s3(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A bucket on the moto server; the SDK's usual AWS_ENDPOINT_URL_S3 points there."""
    bucket = S3Bucket(moto_server)
    moto_server._without_logging(lambda: bucket.client().create_bucket(Bucket=bucket.name))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint_url)
    return bucket


@dataclass
class AppConfig:
    """AppConfig on the stand-in (see the `appconfig` fixture)."""

    standin: AppConfigStandIn

    def client(self) -> Any:
        return boto3.client("appconfig", region_name=REGION, endpoint_url=self.standin.endpoint_url)

    def profile(
        self, application: str = "orders", environment: str = "prod", profile: str = "chaos", **settings: Any
    ) -> str:
        """Create (or find) the application, environment and profile; their location."""
        client = self.client()
        apps = {a["Name"]: a["Id"] for a in client.list_applications()["Items"]}
        app_id = apps.get(application) or client.create_application(Name=application)["Id"]
        envs = {e["Name"]: e["Id"] for e in client.list_environments(ApplicationId=app_id)["Items"]}
        if environment not in envs:
            client.create_environment(ApplicationId=app_id, Name=environment)
        profiles = {p["Name"] for p in client.list_configuration_profiles(ApplicationId=app_id)["Items"]}
        if profile not in profiles:
            client.create_configuration_profile(
                ApplicationId=app_id, Name=profile, LocationUri="hosted", Type="AWS.Freeform", **settings
            )
        return f"appconfig://{application}/{environment}/{profile}"

    def ids(self, location: str) -> dict[str, str]:
        """ApplicationId, EnvironmentId and ConfigurationProfileId of a location."""
        application, environment, profile = location.removeprefix("appconfig://").split("/")
        client = self.client()
        app_id = next(a["Id"] for a in client.list_applications()["Items"] if a["Name"] == application)
        environments = client.list_environments(ApplicationId=app_id)["Items"]
        env_id = next(e["Id"] for e in environments if e["Name"] == environment)
        profile_id = next(
            p["Id"] for p in client.list_configuration_profiles(ApplicationId=app_id)["Items"] if p["Name"] == profile
        )
        return {"ApplicationId": app_id, "EnvironmentId": env_id, "ConfigurationProfileId": profile_id}

    def create_version(self, location: str, content: str, content_type: str = "application/json") -> int:
        """A new hosted version, not deployed."""
        ids = self.ids(location)
        return int(
            self.client().create_hosted_configuration_version(
                ApplicationId=ids["ApplicationId"],
                ConfigurationProfileId=ids["ConfigurationProfileId"],
                Content=content.encode(),
                ContentType=content_type,
            )["VersionNumber"]
        )

    def deploy(self, location: str, content: str, strategy: str = "AppConfig.AllAtOnce", finish: bool = True) -> int:
        """Write and deploy a version, as an operator would; the deployment number. With
        `finish`, the deployment is then COMPLETE, so another may start."""
        version = self.create_version(location, content)
        ids = self.ids(location)
        number = int(
            self.client().start_deployment(**ids, DeploymentStrategyId=strategy, ConfigurationVersion=str(version))[
                "DeploymentNumber"
            ]
        )
        if finish:
            self.standin.finish(ids["ApplicationId"], ids["EnvironmentId"], number)
        return number

    def deployments(self, location: str) -> list[dict[str, Any]]:
        ids = self.ids(location)
        client = self.client()
        items = client.list_deployments(ApplicationId=ids["ApplicationId"], EnvironmentId=ids["EnvironmentId"])
        return [
            client.get_deployment(
                ApplicationId=ids["ApplicationId"],
                EnvironmentId=ids["EnvironmentId"],
                DeploymentNumber=item["DeploymentNumber"],
            )
            for item in items["Items"]
        ]

    def served(self, location: str) -> str | None:
        """What the agent serves for the location now."""
        served = self.standin.served(*location.removeprefix("appconfig://").split("/"))
        return None if served is None else served[1].decode()


@pytest.fixture(scope="session")
def _appconfig_session(_moto_server_session: MotoServer) -> Iterator[AppConfigStandIn]:
    standin = AppConfigStandIn(_moto_server_session.endpoint_url, ACCOUNT_ID, REGION)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def appconfig(
    _appconfig_session: AppConfigStandIn, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> AppConfig:
    """AppConfig (moto behind the stand-in) and its agent, emptied for each test. The SDK's
    usual AWS_ENDPOINT_URL_APPCONFIG and AWS_ENDPOINT_URL_APPCONFIGDATA, and the agent's
    AWS_APPCONFIG_EXTENSION_HTTP_PORT, point there."""
    _appconfig_session.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPCONFIG", _appconfig_session.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_APPCONFIGDATA", _appconfig_session.endpoint_url)
    monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", str(_appconfig_session.agent_port))
    return AppConfig(_appconfig_session)


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


@pytest.fixture
def scripted_endpoint() -> Iterator[ScriptedEndpoint]:
    """An HTTP endpoint on 127.0.0.1 whose answers the test scripts (see ScriptedEndpoint)."""
    endpoint = ScriptedEndpoint()
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
