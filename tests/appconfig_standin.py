"""A loopback stand-in for the parts of AWS AppConfig that moto lacks, and for the AppConfig
Agent Lambda extension, which does not run here.

moto keeps applications, configuration profiles and hosted configuration versions; every
request this stand-in does not answer itself is forwarded to moto unchanged, and it reads
moto's own state (in this process) for those. It answers itself, after the AppConfig API
reference and user guide:

- control plane: ListApplications (moto has no name listing), CreateEnvironment,
  ListEnvironments, GetEnvironment, CreateDeploymentStrategy, ListDeploymentStrategies
  (with AWS's predefined AppConfig.* strategies), StartDeployment (one deployment at a time
  per environment, `LatestDeploymentNumber` checked, JSON Schema validators applied as
  draft-04, as AppConfig documents), ListDeployments, GetDeployment and StopDeployment
  (`Allow-Revert` for a deployment that is baking or complete);
- data plane: StartConfigurationSession and GetLatestConfiguration;
- the agent's HTTP API: `GET /applications/A/environments/E/configurations/P` on a port of
  its own, 200 with the content and `Configuration-Version`, 404 when nothing is deployed.

Both the data plane and the agent serve the version DEPLOYED to the environment, never
merely the latest hosted one: the newest deployment of the profile that is BAKING or
COMPLETE (a rolled-back or reverted one gives way to the one before it). Time does not pass
here: a strategy without deployment time is BAKING (or COMPLETE, without bake time) at once;
one with deployment time stays DEPLOYING, serving the previous version, until a test calls
`finish` (or `roll_back`, as an alarm would). Not modelled: the agent's own poll interval
(the real agent serves its cache for up to AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS),
gradual percentages, KMS, extensions, and the exact text of AppConfig's and the agent's
error messages (`agent_answer` lets a test set one).
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jsonschema import Draft4Validator

PREDEFINED_STRATEGIES = [
    {"Id": "AppConfig.AllAtOnce", "DeploymentDurationInMinutes": 0, "FinalBakeTimeInMinutes": 10, "GrowthFactor": 100},
    {
        "Id": "AppConfig.Linear50PercentEvery30Seconds",
        "DeploymentDurationInMinutes": 1,
        "FinalBakeTimeInMinutes": 1,
        "GrowthFactor": 50,
    },
    {
        "Id": "AppConfig.Canary10Percent20Minutes",
        "DeploymentDurationInMinutes": 20,
        "FinalBakeTimeInMinutes": 10,
        "GrowthFactor": 10,
        "GrowthType": "EXPONENTIAL",
    },
    {
        "Id": "AppConfig.Linear20PercentEvery6Minutes",
        "DeploymentDurationInMinutes": 30,
        "FinalBakeTimeInMinutes": 30,
        "GrowthFactor": 20,
    },
]
SERVED = ("BAKING", "COMPLETE")
IN_PROGRESS = ("VALIDATING", "DEPLOYING", "BAKING", "ROLLING_BACK")
_SCOPE = re.compile(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/")

Answer = tuple[int, dict[str, str], bytes]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class State:
    environments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by application ID
    strategies: list[dict[str, Any]] = field(default_factory=list)
    deployments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str, str, int | None]] = field(default_factory=dict)


class AppConfigStandIn:
    def __init__(self, moto_endpoint: str, account_id: str, region: str) -> None:
        self.moto = urlsplit(moto_endpoint)
        self.account_id, self.region = account_id, region
        self.state = State()
        self.lock = threading.RLock()
        self.agent_requests: list[str] = []  # paths the agent was asked for
        self.agent_answer: tuple[int, str] | None = None  # a test's override of every agent answer
        self._api = _server(self._api_request)
        self._agent = _server(self._agent_request)
        self.endpoint_url = f"http://127.0.0.1:{self._api.server_address[1]}"
        self.agent_port = int(self._agent.server_address[1])

    def start(self) -> None:
        for server in (self._api, self._agent):
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        for server in (self._api, self._agent):
            server.shutdown()
            server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.state = State()
            self.agent_requests.clear()
            self.agent_answer = None

    # what a test does that AWS does by itself over time

    def finish(self, application_id: str, environment_id: str, number: int) -> None:
        """The deployment's time has passed: it is COMPLETE."""
        deployment = self._deployment(application_id, environment_id, number)
        deployment.update(State="COMPLETE", PercentageComplete=100.0, CompletedAt=time.time())
        _event(deployment, "DEPLOYMENT_COMPLETED", "Deployment completed")

    def roll_back(self, application_id: str, environment_id: str, number: int, reason: str) -> None:
        """What a CloudWatch alarm on the environment does to an in-progress deployment."""
        deployment = self._deployment(application_id, environment_id, number)
        deployment.update(State="ROLLED_BACK", CompletedAt=time.time())
        _event(deployment, "ROLLBACK_COMPLETED", reason, by="CLOUDWATCH_ALARM")

    # moto's state

    def _backend(self) -> Any:
        from moto.appconfig.models import appconfig_backends

        return appconfig_backends[self.account_id][self.region]

    def _application(self, name: str) -> Any:
        applications = self._backend().applications
        found = applications.get(name) or next((a for a in applications.values() if a.name == name), None)
        if found is None:
            raise ApiError(404, "ResourceNotFoundException", f"Application {name} not found")
        return found

    def _environment(self, application_id: str, name: str) -> dict[str, Any]:
        for environment in self.state.environments.get(application_id, []):
            if name in (environment["Id"], environment["Name"]):
                return environment
        raise ApiError(404, "ResourceNotFoundException", f"Environment {name} not found")

    def _profile(self, application: Any, name: str) -> Any:
        profiles = application.config_profiles
        found = profiles.get(name) or next((p for p in profiles.values() if p.name == name), None)
        if found is None:
            raise ApiError(404, "ResourceNotFoundException", f"Configuration profile {name} not found")
        return found

    def _deployment(self, application_id: str, environment_id: str, number: int) -> dict[str, Any]:
        for deployment in self.state.deployments.get((application_id, environment_id), []):
            if deployment["DeploymentNumber"] == number:
                return deployment
        raise ApiError(404, "ResourceNotFoundException", f"Deployment {number} not found")

    def served(self, application: str, environment: str, profile: str) -> tuple[int, bytes, str] | None:
        """(version, content, content type) deployed to the environment, or None."""
        with self.lock:
            app = self._application(application)
            env = self._environment(app.id, environment)
            prof = self._profile(app, profile)
            for deployment in reversed(self.state.deployments.get((app.id, env["Id"]), [])):
                if deployment["ConfigurationProfileId"] == prof.id and deployment["State"] in SERVED:
                    version = prof.get_version(int(deployment["ConfigurationVersion"]))
                    content = version.content if isinstance(version.content, bytes) else version.content.encode()
                    return int(version.version), content, version.content_type or "application/octet-stream"
            return None

    # the AWS API

    def _api_request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        scope = _SCOPE.search(headers.get("authorization", ""))
        if scope is None or scope.group(2) != "appconfig":
            return self._forward(method, url, headers, body)
        path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
        parts = [unquote(part) for part in path.strip("/").split("/")]
        route = self._route(method, parts)
        if route is None:
            return self._forward(method, url, headers, body)
        try:
            with self.lock:
                status, payload, extra = route(parts, query, headers, json.loads(body or b"{}") if body else {})
        except ApiError as error:
            data = json.dumps({"Message": str(error)}).encode()
            return error.status, {"x-amzn-ErrorType": error.code, "Content-Type": "application/json"}, data
        if isinstance(payload, bytes):
            return status, extra, payload
        return status, {"Content-Type": "application/json", **extra}, json.dumps(payload).encode()

    def _route(self, method: str, parts: list[str]) -> Callable[..., tuple[int, Any, dict[str, str]]] | None:
        shape = (method, tuple("*" if i % 2 else part for i, part in enumerate(parts)))
        routes: dict[tuple[str, tuple[str, ...]], Callable[..., tuple[int, Any, dict[str, str]]]] = {
            ("GET", ("applications",)): self._list_applications,
            ("POST", ("applications", "*", "environments")): self._create_environment,
            ("GET", ("applications", "*", "environments")): self._list_environments,
            ("GET", ("applications", "*", "environments", "*")): self._get_environment,
            ("POST", ("applications", "*", "environments", "*", "deployments")): self._start_deployment,
            ("GET", ("applications", "*", "environments", "*", "deployments")): self._list_deployments,
            ("GET", ("applications", "*", "environments", "*", "deployments", "*")): self._get_deployment,
            ("DELETE", ("applications", "*", "environments", "*", "deployments", "*")): self._stop_deployment,
            ("POST", ("deploymentstrategies",)): self._create_strategy,
            ("GET", ("deploymentstrategies",)): self._list_strategies,
            ("POST", ("configurationsessions",)): self._start_session,
            ("GET", ("configuration",)): self._latest_configuration,
        }
        return routes.get(shape)

    def _list_applications(self, parts: list[str], *_: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, {"Items": [app.to_json() for app in self._backend().applications.values()]}, {}

    def _create_environment(self, parts: list[str], query: Any, headers: Any, body: Any) -> Any:
        app = self._application(parts[1])
        environment = {
            "ApplicationId": app.id,
            "Id": secrets.token_hex(4)[:7],
            "Name": body["Name"],
            "Description": body.get("Description", ""),
            "State": "ReadyForDeployment",
            "Monitors": body.get("Monitors", []),
        }
        self.state.environments.setdefault(app.id, []).append(environment)
        return 201, environment, {}

    def _list_environments(self, parts: list[str], *_: Any) -> Any:
        return 200, {"Items": self.state.environments.get(self._application(parts[1]).id, [])}, {}

    def _get_environment(self, parts: list[str], *_: Any) -> Any:
        return 200, self._environment(self._application(parts[1]).id, parts[3]), {}

    def _create_strategy(self, parts: list[str], query: Any, headers: Any, body: Any) -> Any:
        strategy = {"Id": secrets.token_hex(4)[:7], "GrowthType": "LINEAR", **body}
        self.state.strategies.append(strategy)
        return 201, strategy, {}

    def _strategies(self) -> list[dict[str, Any]]:
        predefined = [{"Name": s["Id"], "GrowthType": "LINEAR", **s} for s in PREDEFINED_STRATEGIES]
        return predefined + self.state.strategies

    def _list_strategies(self, *_: Any) -> Any:
        return 200, {"Items": self._strategies()}, {}

    def _start_deployment(self, parts: list[str], query: Any, headers: Any, body: Any) -> Any:
        app = self._application(parts[1])
        env = self._environment(app.id, parts[3])
        profile = self._profile(app, body["ConfigurationProfileId"])
        strategy = next((s for s in self._strategies() if s["Id"] == body["DeploymentStrategyId"]), None)
        if strategy is None:
            raise ApiError(404, "ResourceNotFoundException", f"Deployment strategy {body['DeploymentStrategyId']}")
        deployments = self.state.deployments.setdefault((app.id, env["Id"]), [])
        busy = [d for d in deployments if d["State"] in IN_PROGRESS]
        if busy:
            raise ApiError(409, "ConflictException", f"Deployment #{busy[-1]['DeploymentNumber']} is in progress")
        latest = deployments[-1]["DeploymentNumber"] if deployments else 0
        if "LatestDeploymentNumber" in body and body["LatestDeploymentNumber"] != latest:
            raise ApiError(409, "ConflictException", "LatestDeploymentNumber does not match the latest deployment")
        try:
            version = profile.get_version(int(body["ConfigurationVersion"]))
        except Exception:
            raise ApiError(404, "ResourceNotFoundException", "Configuration version not found") from None
        self._validate(profile, version.content)
        immediate = strategy["DeploymentDurationInMinutes"] == 0
        state = ("BAKING" if strategy["FinalBakeTimeInMinutes"] else "COMPLETE") if immediate else "DEPLOYING"
        now = time.time()
        deployment = {
            "ApplicationId": app.id,
            "EnvironmentId": env["Id"],
            "DeploymentStrategyId": strategy["Id"],
            "ConfigurationProfileId": profile.id,
            "DeploymentNumber": latest + 1,
            "ConfigurationName": profile.name,
            "ConfigurationLocationUri": profile.location_uri,
            "ConfigurationVersion": str(version.version),
            "Description": body.get("Description", ""),
            "DeploymentDurationInMinutes": strategy["DeploymentDurationInMinutes"],
            "GrowthType": strategy.get("GrowthType", "LINEAR"),
            "GrowthFactor": strategy["GrowthFactor"],
            "FinalBakeTimeInMinutes": strategy["FinalBakeTimeInMinutes"],
            "State": state,
            "EventLog": [],
            "PercentageComplete": 100.0 if immediate else 0.0,
            "StartedAt": now,
            **({"CompletedAt": now} if state == "COMPLETE" else {}),
        }
        _event(deployment, "DEPLOYMENT_STARTED", "Deployment started", by="USER")
        deployments.append(deployment)
        return 201, deployment, {}

    @staticmethod
    def _validate(profile: Any, content: bytes | str) -> None:
        for validator in profile.validators or []:
            if validator.get("Type") != "JSON_SCHEMA":
                continue
            try:
                errors = list(Draft4Validator(json.loads(validator["Content"])).iter_errors(json.loads(content)))
            except ValueError:
                errors = ["not JSON"]
            if errors:
                raise ApiError(400, "BadRequestException", "Configuration failed JSON Schema validation")

    def _list_deployments(self, parts: list[str], *_: Any) -> Any:
        app = self._application(parts[1])
        env = self._environment(app.id, parts[3])
        keys = (
            "DeploymentNumber",
            "ConfigurationName",
            "ConfigurationVersion",
            "DeploymentDurationInMinutes",
            "GrowthType",
            "GrowthFactor",
            "FinalBakeTimeInMinutes",
            "State",
            "PercentageComplete",
            "StartedAt",
            "CompletedAt",
        )
        items = [
            {key: d[key] for key in keys if key in d}
            for d in reversed(self.state.deployments.get((app.id, env["Id"]), []))
        ]
        return 200, {"Items": items}, {}

    def _get_deployment(self, parts: list[str], *_: Any) -> Any:
        app = self._application(parts[1])
        env = self._environment(app.id, parts[3])
        return 200, self._deployment(app.id, env["Id"], int(parts[5])), {}

    def _stop_deployment(self, parts: list[str], query: Any, headers: dict[str, str], body: Any) -> Any:
        app = self._application(parts[1])
        env = self._environment(app.id, parts[3])
        deployment = self._deployment(app.id, env["Id"], int(parts[5]))
        revert = headers.get("allow-revert", "").lower() == "true"
        if deployment["State"] == "DEPLOYING" or (revert and deployment["State"] == "BAKING"):
            deployment["State"] = "ROLLED_BACK"
        elif revert and deployment["State"] == "COMPLETE":
            deployment["State"] = "REVERTED"
        else:
            raise ApiError(400, "BadRequestException", f"Deployment is {deployment['State']}")
        _event(deployment, "ROLLBACK_COMPLETED", "Deployment stopped by the user", by="USER")
        return 202, deployment, {}

    def _start_session(self, parts: list[str], query: Any, headers: Any, body: Any) -> Any:
        names = (body["ApplicationIdentifier"], body["EnvironmentIdentifier"], body["ConfigurationProfileIdentifier"])
        app = self._application(names[0])
        self._environment(app.id, names[1])
        self._profile(app, names[2])
        token = secrets.token_hex(16)
        self.state.sessions[token] = (*names, None)
        return 201, {"InitialConfigurationToken": token}, {}

    def _latest_configuration(self, parts: list[str], query: dict[str, list[str]], *_: Any) -> Any:
        token = (query.get("configuration_token") or [""])[0]
        if token not in self.state.sessions:
            raise ApiError(400, "BadRequestException", "Invalid or expired configuration token")
        application, environment, profile, seen = self.state.sessions.pop(token)
        served = self.served(application, environment, profile)
        following = secrets.token_hex(16)
        version = None if served is None else served[0]
        self.state.sessions[following] = (application, environment, profile, version)
        headers = {"Next-Poll-Configuration-Token": following, "Next-Poll-Interval-In-Seconds": "60"}
        if served is None or version == seen:
            return 200, b"", headers
        return 200, served[1], {**headers, "Content-Type": served[2]}

    def _forward(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        connection = http.client.HTTPConnection(self.moto.hostname or "127.0.0.1", self.moto.port, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k not in ("host", "connection", "transfer-encoding")}
            connection.request(method, url, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
            dropped = _HOP_BY_HOP if method != "HEAD" else _HOP_BY_HOP - {"content-length"}
            kept = {k: v for k, v in response.getheaders() if k.lower() not in dropped}
            return response.status, kept, data
        finally:
            connection.close()

    # the agent

    def _agent_request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Answer:
        path = urlsplit(url).path
        self.agent_requests.append(path)
        if self.agent_answer is not None:
            status, text = self.agent_answer
            return status, {"Content-Type": "text/plain"}, text.encode()
        match = re.fullmatch(r"/applications/([^/]+)/environments/([^/]+)/configurations/([^/]+)", path)
        if method != "GET" or match is None:
            return 400, {"Content-Type": "text/plain"}, b"BadRequestException: not an agent path"
        try:
            served = self.served(*(unquote(part) for part in match.groups()))
        except ApiError as error:
            return 404, {"Content-Type": "text/plain"}, f"ResourceNotFoundException: {error}".encode()
        if served is None:
            return 404, {"Content-Type": "text/plain"}, b"ResourceNotFoundException: nothing deployed"
        version, content, content_type = served
        return 200, {"Content-Type": content_type, "Configuration-Version": str(version)}, content


_HOP_BY_HOP = frozenset({"connection", "transfer-encoding", "content-length", "keep-alive", "server", "date"})


def _event(deployment: dict[str, Any], kind: str, description: str, by: str = "APPCONFIG") -> None:
    deployment["EventLog"].append(
        {"EventType": kind, "TriggeredBy": by, "Description": description, "OccurredAt": time.time()}
    )


def _server(answer: Callable[[str, str, dict[str, str], bytes], Answer]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, extra, data = answer(self.command, self.path, headers, body)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if "content-length" not in {key.lower() for key in extra}:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server
