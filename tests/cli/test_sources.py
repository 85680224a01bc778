"""`chaos-layer` on every source: the config and kill switch in S3 (moto over HTTP) and in
AppConfig (moto behind the stand-in), alone or mixed with SSM. Endpoints come from the SDK's
usual variables (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_APPCONFIG, ...), as against AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import Result

from chaos_layer import control
from chaos_layer.cli import app as app_module
from tests.cli.conftest import KILL_SWITCH, Cli
from tests.conftest import AppConfig, MotoServer, S3Bucket
from tests.scripted_endpoint import ScriptedEndpoint

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1f0e3a52-8d1c-4c5e-9e3c-5b9f1c2d7a10"
LATENCY = {"enabled": True, "experiment": "slow", "faults": [{"type": "latency", "delay_ms": 300}]}


def one_line(text: str) -> str:
    return " ".join(text.split())


def rows(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.fixture
def run(cli: Cli, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`run("start", "--param", location, ...)`: the CLI with endpoints from the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server.endpoint_url)

    def run(*args: str, input: str | None = None) -> Result:
        return cli(*args, endpoint=False, param=False, input=input)

    return run


def hooked(monkeypatch: pytest.MonkeyPatch, service: str, event: str, action: Any) -> None:
    """The CLI's clients, with `action` run once before the client's `event` call: someone
    else's write racing ours, through another client."""
    clients = control.clients()
    fired: list[bool] = []

    def once(**_: Any) -> None:
        if not fired:
            fired.append(True)
            action()

    clients(service).meta.events.register(event, once)
    monkeypatch.setattr(app_module, "client_factory", lambda **_: clients)


# --- S3 --------------------------------------------------------------------------------------


class TestS3:
    def test_start_status_and_stop_keep_the_objects_encryption(self, run: Any, s3: S3Bucket) -> None:
        location = s3.location("orders.json")
        s3.put(
            "orders.json",
            json.dumps({"enabled": False}),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=KMS_KEY,
            BucketKeyEnabled=True,
        )

        result = run("start", "--rate", "1", "--param", location, "--latency", "300", "--experiment", "s3-latency")
        assert result.exit_code == 0, result.stderr
        head = s3.head("orders.json")
        assert f"in {location} (S3 object, ETag {head['ETag']})" in one_line(result.stdout)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["BucketKeyEnabled"]) == (
            "aws:kms",
            KMS_KEY,
            True,
        )
        assert head["ContentType"] == "application/json"
        assert json.loads(s3.text("orders.json") or "")["experiment"] == "s3-latency"

        lines = rows(run("status", "--param", location).stdout)
        assert f"config {location} (S3 object, ETag {head['ETag']}, chaos-layer format)" in lines
        assert "injecting yes: the experiment is running" in lines

        assert run("stop", "--param", location).exit_code == 0
        document = json.loads(s3.text("orders.json") or "")
        assert document["enabled"] is False
        assert document["faults"] == [{"type": "latency", "delay_ms": 300}]
        assert s3.head("orders.json")["SSEKMSKeyId"] == KMS_KEY
        assert json.loads(run("status", "--json", "--param", location).stdout)["injecting"] is False

    def test_start_writes_a_new_object(self, run: Any, s3: S3Bucket) -> None:
        result = run(
            "start", "--rate", "1", "--param", s3.location("new.json"), "--status-code", "503", "--duration", "10m"
        )
        assert result.exit_code == 0, result.stderr
        assert json.loads(s3.text("new.json") or "")["faults"] == [{"type": "status_code", "status_code": 503}]

    def test_a_write_racing_the_stop_is_refused_not_overwritten(
        self, run: Any, s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        s3.put("orders.json", json.dumps(LATENCY))
        theirs = json.dumps({**LATENCY, "experiment": "theirs"})
        hooked(monkeypatch, "s3", "before-call.s3.PutObject", lambda: s3.put("orders.json", theirs))

        result = run("stop", "--param", s3.location("orders.json"))

        assert result.exit_code == 3
        assert "changed while it was being written; nothing was overwritten" in one_line(result.stderr)
        assert s3.text("orders.json") == theirs

    def test_a_write_after_the_read_is_found_before_writing(
        self, run: Any, s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        s3.put("orders.json", json.dumps({**LATENCY, "enabled": False}))
        theirs = json.dumps({**LATENCY, "experiment": "theirs", "enabled": False})
        hooked(monkeypatch, "s3", "before-call.s3.HeadObject", lambda: s3.put("orders.json", theirs))

        result = run("start", "--param", s3.location("orders.json"))

        assert result.exit_code == 3
        assert "changed since it was read" in one_line(result.stderr)
        assert s3.text("orders.json") == theirs

    def test_kill_and_resume_in_s3(self, run: Any, s3: S3Bucket, moto_server: MotoServer) -> None:
        moto_server.put("/chaos-layer/orders", json.dumps(LATENCY))
        kill_switch = s3.location("kill-switch")

        result = run("kill", "--param", "/chaos-layer/orders", "--kill-switch", kill_switch)
        assert result.exit_code == 0, result.stderr
        assert f"Kill switch {kill_switch} engaged (S3 object, ETag" in one_line(result.stdout)
        assert (s3.text("kill-switch"), s3.head("kill-switch")["ContentType"]) == ("on", "text/plain")
        state = json.loads(
            run("status", "--json", "--param", "/chaos-layer/orders", "--kill-switch", kill_switch).stdout
        )
        assert (state["kill_switch"]["source"], state["kill_switch"]["engaged"], state["injecting"]) == (
            "s3",
            True,
            False,
        )

        assert run("resume", "--kill-switch", kill_switch, "--param", "/chaos-layer/orders").exit_code == 0
        assert s3.text("kill-switch") == "off"

    def test_validate_the_stored_config(self, run: Any, s3: S3Bucket) -> None:
        location = s3.location("orders.json")
        assert run("validate", "--param", location).exit_code == 4
        s3.put("orders.json", json.dumps(LATENCY))
        result = run("validate", "--param", location)
        assert (result.exit_code, result.stdout.strip()) == (0, f"{location}: valid config, enabled, 1 fault.")
        s3.put("orders.json", json.dumps({"enabled": True, "faults": [{"type": "nope"}]}))
        result = run("validate", "--param", location)
        assert result.exit_code == 1
        assert f"{location}: invalid" in result.stdout
        assert run("validate", "-", "--param", location, input="{}").exit_code == 2

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("start", "--latency", "1", "--type", "SecureString"), "--type applies to SSM parameters only"),
            (("stop", "--strategy", "AppConfig.AllAtOnce"), "--strategy applies to appconfig:// locations only"),
            (("kill", "--strategy", "AppConfig.AllAtOnce"), "--strategy applies to appconfig:// locations only"),
        ],
    )
    def test_settings_of_another_source_are_usage_errors(
        self, run: Any, s3: S3Bucket, args: tuple[str, ...], message: str
    ) -> None:
        s3.put("orders.json", json.dumps(LATENCY))
        result = run(*args, "--param", s3.location("orders.json"), "--kill-switch", s3.location("kill"))
        assert result.exit_code == 2
        assert message in one_line(result.stderr)
        assert s3.text("kill") is None
        assert json.loads(s3.text("orders.json") or "") == LATENCY

    @pytest.mark.parametrize("location", ["s3://only-a-bucket", "s3:///key", "appconfig://app/env"])
    def test_a_malformed_location_is_a_usage_error(self, run: Any, location: str) -> None:
        result = run("status", "--param", location)
        assert result.exit_code == 2
        assert "expected" in result.stderr

    def test_access_denied_names_the_permission(
        self, run: Any, scripted_endpoint: ScriptedEndpoint, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        scripted_endpoint.answer(403)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", scripted_endpoint.endpoint_url)
        result = run("kill", "--kill-switch", "s3://chaos-layer-configs/kill-switch", "--param", "/x")
        assert result.exit_code == 3
        message = one_line(result.stderr)
        assert "access denied" in message
        assert "s3:GetObject on arn:aws:s3:::chaos-layer-configs/kill-switch" in message
        assert [request.method for request in scripted_endpoint.requests] == ["HEAD"]  # nothing written after it


# --- AppConfig ----------------------------------------------------------------------------


@pytest.fixture
def immediate(appconfig: AppConfig) -> str:
    """A strategy without deployment or bake time, as template.yaml creates."""
    appconfig.client().create_deployment_strategy(
        Name="chaos-layer.Immediate",
        DeploymentDurationInMinutes=0,
        FinalBakeTimeInMinutes=0,
        GrowthFactor=100,
        GrowthType="LINEAR",
        ReplicateTo="NONE",
    )
    return "chaos-layer.Immediate"


class TestAppConfig:
    def test_start_deploys_a_hosted_version_and_status_shows_the_deployment(
        self, run: Any, appconfig: AppConfig
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, json.dumps({"enabled": False}))

        result = run("start", "--rate", "1", "--param", location, "--latency", "300", "--duration", "15m")

        assert result.exit_code == 0, result.stderr
        text = one_line(result.stdout)
        assert "AppConfig hosted version 2, deployment #2 of version 2 with AppConfig.AllAtOnce: BAKING" in text
        assert "AWS_APPCONFIG_EXTENSION_POLL_INTERVAL_SECONDS" in text
        assert json.loads(appconfig.served(location) or "")["faults"] == [{"type": "latency", "delay_ms": 300}]

        lines = rows(run("status", "--param", location).stdout)
        assert f"config {location} (AppConfig, as deployed, chaos-layer format)" in lines
        assert any(
            line.startswith("deployment deployment #2 of version 2 with AppConfig.AllAtOnce: BAKING") for line in lines
        )
        assert "injecting yes: the experiment is running" in lines
        state = json.loads(run("status", "--json", "--param", location).stdout)
        assert (state["parameter"]["source"], state["parameter"]["version"]) == ("appconfig", 2)
        assert {k: state["parameter"]["deployment"][k] for k in ("number", "state", "version", "strategy")} == {
            "number": 2,
            "state": "BAKING",
            "version": "2",
            "strategy": "AppConfig.AllAtOnce",
        }

    def test_stop_during_the_starts_bake_time_stops_that_deployment_and_deploys_the_stop(
        self, run: Any, appconfig: AppConfig
    ) -> None:
        location = appconfig.profile()
        assert (
            run("start", "--rate", "1", "--param", location, "--latency", "300").exit_code == 0
        )  # AllAtOnce: baking 10 min

        result = run("stop", "--param", location)

        assert result.exit_code == 0, result.stderr
        assert "stopped the deployment #1 of version 1 with AppConfig.AllAtOnce: BAKING" in one_line(result.stdout)
        assert [(d["DeploymentNumber"], d["State"]) for d in appconfig.deployments(location)] == [
            (2, "BAKING"),
            (1, "ROLLED_BACK"),
        ]
        assert json.loads(appconfig.served(location) or "")["enabled"] is False
        assert json.loads(run("status", "--json", "--param", location).stdout)["injecting"] is False

    def test_a_strategy_by_name(self, run: Any, appconfig: AppConfig, immediate: str) -> None:
        location = appconfig.profile()
        result = run("start", "--rate", "1", "--param", location, "--latency", "300", "--strategy", immediate)
        assert result.exit_code == 0, result.stderr
        [deployment] = appconfig.deployments(location)
        assert deployment["State"] == "COMPLETE"
        assert deployment["DeploymentStrategyId"] != immediate  # its ID, looked up by name
        result = run("start", "--param", location, "--rate", "0.5", "--strategy", "no-such-strategy")
        assert result.exit_code == 2
        assert "--strategy no-such-strategy: no such deployment strategy" in one_line(result.stderr)

    def test_kill_and_resume_on_appconfig(self, run: Any, appconfig: AppConfig, immediate: str) -> None:
        location = appconfig.profile()
        kill_switch = appconfig.profile(profile="kill-switch")
        appconfig.deploy(location, json.dumps(LATENCY))
        places = ("--param", location, "--kill-switch", kill_switch)

        result = run("kill", *places)
        assert result.exit_code == 0, result.stderr
        assert appconfig.served(kill_switch) == "on"
        state = json.loads(run("status", "--json", *places).stdout)
        assert (state["kill_switch"]["engaged"], state["kill_switch"]["deployment"]["state"]) == (True, "BAKING")

        result = run("resume", *places)  # the kill is baking: a resume does not stop it
        assert result.exit_code == 3
        assert "is in progress in environment prod (BAKING)" in one_line(result.stderr)
        assert appconfig.served(kill_switch) == "on"

        ids = appconfig.ids(kill_switch)
        appconfig.standin.finish(ids["ApplicationId"], ids["EnvironmentId"], 2)
        assert run("resume", *places, "--strategy", immediate).exit_code == 0
        assert appconfig.served(kill_switch) == "off"
        assert json.loads(run("status", "--json", *places).stdout)["injecting"] is True

    def test_another_profiles_deployment_in_progress_is_not_stopped(self, run: Any, appconfig: AppConfig) -> None:
        location = appconfig.profile()
        flags = appconfig.profile(profile="feature-flags")
        appconfig.deploy(location, json.dumps(LATENCY))
        number = appconfig.deploy(flags, "{}", strategy="AppConfig.Linear50PercentEvery30Seconds", finish=False)

        result = run("stop", "--param", location)

        assert result.exit_code == 3
        message = one_line(result.stderr)
        assert f"deployment #{number} of feature-flags is in progress in environment prod (DEPLOYING)" in message
        assert "AppConfig runs one at a time" in message
        assert appconfig.deployments(location)[0]["State"] == "DEPLOYING"
        assert json.loads(appconfig.served(location) or "")["enabled"] is True

    def test_status_shows_a_deployment_in_progress_and_its_rollback(self, run: Any, appconfig: AppConfig) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, json.dumps({**LATENCY, "enabled": False}))
        result = run("start", "--param", location, "--strategy", "AppConfig.Linear50PercentEvery30Seconds")
        assert result.exit_code == 0, result.stderr

        lines = rows(run("status", "--param", location).stdout)
        assert any("with AppConfig.Linear50PercentEvery30Seconds: DEPLOYING 0%" in line for line in lines)
        assert "injecting no: the config is disabled" in lines  # not deployed yet: what functions read

        ids = appconfig.ids(location)
        appconfig.standin.roll_back(ids["ApplicationId"], ids["EnvironmentId"], 2, "Alarm chaos-errors went off")
        lines = rows(run("status", "--param", location).stdout)
        assert any(": ROLLED_BACK (Alarm chaos-errors went off)" in line for line in lines)
        assert "injecting no: the config is disabled" in lines

    def test_a_missing_profile(self, run: Any, appconfig: AppConfig) -> None:
        appconfig.profile(profile="other")
        location = "appconfig://orders/prod/chaos"
        result = run("start", "--rate", "1", "--param", location, "--latency", "300")
        assert result.exit_code == 4
        assert "no AppConfig configuration profile named chaos in application orders" in one_line(result.stderr)
        result = run("status", "--param", location)
        assert result.exit_code == 4
        assert f"config {location}: not found" in rows(result.stdout)

    def test_a_deployment_racing_the_stop_is_found_before_writing(
        self, run: Any, appconfig: AppConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, json.dumps(LATENCY))
        theirs = json.dumps({**LATENCY, "experiment": "theirs"})
        event = "after-call.appconfigdata.GetLatestConfiguration"
        hooked(monkeypatch, "appconfigdata", event, lambda: appconfig.deploy(location, theirs))

        result = run("stop", "--param", location)

        assert result.exit_code == 3
        assert "a deployment was started in environment prod since" in one_line(result.stderr)
        assert appconfig.served(location) == theirs
        assert len(appconfig.deployments(location)) == 2

    def test_a_deployment_racing_the_write_is_refused(
        self, run: Any, appconfig: AppConfig, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, json.dumps(LATENCY))
        theirs = json.dumps({**LATENCY, "experiment": "theirs"})
        event = "before-call.appconfig.CreateHostedConfigurationVersion"
        hooked(monkeypatch, "appconfig", event, lambda: appconfig.deploy(location, theirs))

        result = run("stop", "--param", location)

        assert result.exit_code == 3
        assert "was created but not deployed" in one_line(result.stderr)
        assert appconfig.served(location) == theirs

    def test_the_schema_as_the_profiles_validator_refuses_an_invalid_config(
        self, run: Any, appconfig: AppConfig
    ) -> None:
        schema = run("schema", "--draft-04").stdout
        location = appconfig.profile(Validators=[{"Type": "JSON_SCHEMA", "Content": schema}])

        assert run("start", "--rate", "1", "--param", location, "--latency", "300").exit_code == 0

        from botocore.exceptions import ClientError

        ids = appconfig.ids(location)
        appconfig.standin.finish(ids["ApplicationId"], ids["EnvironmentId"], 1)
        version = appconfig.create_version(location, json.dumps({"enabled": True, "faults": [{"type": "latency"}]}))
        with pytest.raises(ClientError, match="BadRequestException"):
            appconfig.client().start_deployment(
                **ids, DeploymentStrategyId="AppConfig.AllAtOnce", ConfigurationVersion=str(version)
            )

    def test_validate_checks_what_is_deployed(self, run: Any, appconfig: AppConfig) -> None:
        location = appconfig.profile()
        appconfig.deploy(location, json.dumps(LATENCY))
        appconfig.create_version(location, "not json")  # hosted, never deployed
        assert run("validate", "--param", location).exit_code == 0

    def test_type_is_a_usage_error(self, run: Any, appconfig: AppConfig) -> None:
        result = run("start", "--param", appconfig.profile(), "--latency", "1", "--type", "String")
        assert result.exit_code == 2
        assert "--type applies to SSM parameters only" in one_line(result.stderr)


def test_the_ssm_default_kill_switch_with_a_config_in_appconfig(run: Any, appconfig: AppConfig) -> None:
    location = appconfig.profile()
    assert run("start", "--rate", "1", "--param", location, "--latency", "300").exit_code == 0
    assert run("kill", "--param", location).exit_code == 0
    state = json.loads(run("status", "--json", "--param", location).stdout)
    assert (state["kill_switch"]["name"], state["kill_switch"]["source"]) == (KILL_SWITCH, "ssm")
    assert (state["kill_switch"]["engaged"], state["injecting"]) == (True, False)
