"""Reading the config and kill switch (no network here); how long an outcome is kept is in
test_periods.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chaos_layer.source import ConfigReader, Reading, parse
from chaos_layer.source.ssm import find, split_selector

CONFIG = "/chaos-layer/orders"
KILL = "/chaos-layer/kill-switch"
SECRET = "sekrit-4b1d-value"
VALID = json.dumps({"enabled": True, "experiment": "exp", "faults": [{"type": "exception", "message": SECRET}]})


class FakeSSM:
    """Answers GetParameters like SSM does; records every call."""

    def __init__(self, values: dict[str, str] | None = None, error: Exception | None = None) -> None:
        self.values = dict(values or {})
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def get_parameters(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        names = kwargs["Names"]
        return {
            "Parameters": [{"Name": n, "Type": "String", "Value": self.values[n]} for n in names if n in self.values],
            "InvalidParameters": [n for n in names if n not in self.values],
        }


def client_error(code: str, message: str = "denied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetParameters")


def read(ssm: FakeSSM) -> Reading:
    return ConfigReader(CONFIG, KILL, lambda: ssm).read()


class TestConfigReader:
    def test_one_call_fetches_config_and_kill_switch_decrypted(self) -> None:
        ssm = FakeSSM({CONFIG: VALID})
        reading = read(ssm)
        assert ssm.calls == [{"Names": [CONFIG, KILL], "WithDecryption": True}]
        assert reading.config is not None
        assert reading.config.experiment == "exp"
        assert not reading.killed
        assert reading.problem is None

    def test_absent_kill_switch_is_a_normal_answer(self) -> None:
        assert read(FakeSSM({CONFIG: VALID})).problem is None

    @pytest.mark.parametrize("value", ["on", "ON", "1", "true", "stop"])
    def test_engaged_kill_switch_wins_over_the_config(self, value: str) -> None:
        reading = read(FakeSSM({CONFIG: VALID, KILL: value}))
        assert reading.killed
        assert reading.config is None

    @pytest.mark.parametrize("value", ["off", " Off ", "FALSE", "0"])
    def test_released_kill_switch(self, value: str) -> None:
        reading = read(FakeSSM({CONFIG: VALID, KILL: value}))
        assert not reading.killed
        assert reading.config is not None

    def test_engaged_kill_switch_even_without_a_config(self) -> None:
        assert read(FakeSSM({KILL: "on"})).killed

    def test_missing_parameter(self) -> None:
        reading = read(FakeSSM())
        assert reading.config is None
        assert reading.problem == f"config {CONFIG} not found"

    @pytest.mark.parametrize(
        "text",
        [
            SECRET,
            f'{{"enabled": true, "faults": [{{"type": "{SECRET}"}}]}}',
            f'{{"enabled": "{SECRET}"}}',
            f'{{"enabled": true, "rate": 1{"0" * 400}, "faults": [{{"type": "exception", "message": "{SECRET}"}}]}}',
        ],
    )
    def test_invalid_config_is_a_problem_that_never_shows_the_value(self, text: str) -> None:
        reading = read(FakeSSM({CONFIG: text}))
        assert reading.config is None
        assert reading.problem is not None
        assert reading.problem.startswith(f"config in {CONFIG} is invalid: ")
        assert SECRET not in reading.problem

    @pytest.mark.parametrize(
        "error",
        [
            client_error("AccessDeniedException", "User is not authorized to perform ssm:GetParameters"),
            client_error("InternalServerError"),
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"),
            RuntimeError("anything at all"),
        ],
    )
    def test_any_client_failure_is_a_problem_not_an_exception(self, error: Exception) -> None:
        reading = read(FakeSSM(error=error))
        assert reading.config is None
        assert reading.problem is not None
        assert CONFIG in reading.problem
        assert not reading.throttled

    def test_a_client_that_cannot_be_created_is_a_problem(self) -> None:
        def broken() -> Any:
            raise ValueError("no region")

        assert ConfigReader(CONFIG, KILL, broken).read().problem is not None

    @pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
    def test_throttling_is_recognised(self, code: str) -> None:
        reading = read(FakeSSM(error=client_error(code, "Rate exceeded")))
        assert reading.throttled
        assert reading.problem is not None

    def test_a_reading_keeps_what_was_stored_so_another_process_can_check_it_again(self) -> None:
        reading = read(FakeSSM({CONFIG: VALID, KILL: "off"}))
        assert reading.stored == (VALID, "off")
        again = ConfigReader(CONFIG, KILL, lambda: None).interpret(*reading.stored)
        assert again == reading
        assert read(FakeSSM(error=client_error("ThrottlingException"))).stored is None  # nothing was read

    def test_the_client_is_created_once(self) -> None:
        created: list[FakeSSM] = []

        def factory() -> FakeSSM:
            created.append(FakeSSM({CONFIG: VALID}))
            return created[-1]

        reader = ConfigReader(CONFIG, KILL, factory)
        reader.read()
        reader.read()
        assert len(created) == 1
        assert len(created[0].calls) == 2


ARN_PREFIX = "arn:aws:ssm:us-east-1:123456789012:parameter"
ARN = ARN_PREFIX + CONFIG


class VersionedSSM:
    """GetParameters as SSM answers it for labels, versions and ARNs: an item per location,
    Name without the selector, Selector echoed (`echo_selector=False`: as moto does)."""

    def __init__(self, echo_selector: bool = True) -> None:
        self.echo_selector = echo_selector
        self.versions = {CONFIG: ["v1", "v2", "v3"], KILL: ["off", "on"]}
        self.labels = {(CONFIG, "stable"): 1, (KILL, "released"): 1}

    def get_parameters(self, Names: list[str], WithDecryption: bool) -> dict[str, Any]:
        found, invalid = [], []
        for requested in Names:
            name, _, selector = requested.removeprefix(ARN_PREFIX).partition(":")
            versions = self.versions.get(name, [])
            number = self.labels.get((name, selector), int(selector) if selector.isdigit() else None)
            if not selector:
                number = len(versions)
            if number is None or not 1 <= number <= len(versions):
                invalid.append(requested)
                continue
            item: dict[str, Any] = {
                "Name": name,
                "Type": "String",
                "Value": versions[number - 1],
                "Version": number,
                "ARN": ARN_PREFIX + name,
            }
            if selector and self.echo_selector:
                item["Selector"] = f":{selector}"
            found.append(item)
        return {"Parameters": found, "InvalidParameters": invalid}


class TestLocations:
    """Names, ARNs, `:label` and `:version` select the same value for every caller."""

    @pytest.mark.parametrize("echo_selector", [True, False], ids=["ssm", "moto"])
    @pytest.mark.parametrize(
        ("config", "kill_switch", "expected"),
        [
            (CONFIG, KILL, ("v3", 3, "on")),
            (f"{CONFIG}:stable", f"{KILL}:released", ("v1", 1, "off")),
            (f"{CONFIG}:2", f"{KILL}:2", ("v2", 2, "on")),
            (ARN, KILL, ("v3", 3, "on")),
            (f"{ARN}:stable", f"{KILL}:1", ("v1", 1, "off")),
            (f"{ARN}:2", KILL, ("v2", 2, "on")),
        ],
    )
    def test_each_location_finds_its_own_value(
        self, echo_selector: bool, config: str, kill_switch: str, expected: tuple[str, int, str]
    ) -> None:
        ssm = VersionedSSM(echo_selector)
        snapshot = ConfigReader(config, kill_switch, lambda: ssm).fetch()
        assert snapshot.config is not None
        assert snapshot.kill_switch is not None
        assert (snapshot.config.value, snapshot.config.version, snapshot.kill_switch.value) == expected
        assert snapshot.config.name == CONFIG

    def test_a_missing_version_or_label_is_a_missing_parameter(self) -> None:
        for config in (f"{CONFIG}:9", f"{CONFIG}:nope"):
            reading = ConfigReader(config, f"{KILL}:released", VersionedSSM).read()
            assert reading.problem == f"config {config} not found"

    def test_an_item_with_a_selector_does_not_answer_the_bare_name(self) -> None:
        items = [{"Name": CONFIG, "Selector": ":stable", "Value": "v1", "Version": 1}]
        assert find(items, CONFIG) is None
        assert find(items, f"{CONFIG}:stable") is items[0]

    def test_without_an_echoed_selector_a_version_must_match(self) -> None:
        items = [{"Name": CONFIG, "Value": "v1", "Version": 1}]
        assert find(items, f"{CONFIG}:2") is None
        assert find(items, f"{CONFIG}:1") is items[0]

    @pytest.mark.parametrize(
        ("location", "parts"),
        [
            ("/a/b", ("/a/b", "")),
            ("/a/b:live", ("/a/b", "live")),
            ("name", ("name", "")),
            (ARN, (ARN, "")),
            (f"{ARN}:7", (ARN, "7")),
        ],
    )
    def test_split_selector(self, location: str, parts: tuple[str, str]) -> None:
        assert split_selector(location) == parts


class TestParse:
    def test_a_valid_config_keeps_its_document(self) -> None:
        parsed = parse(VALID)
        assert parsed.config is not None
        assert parsed.problems == []
        assert parsed.document == json.loads(VALID)
        assert not parsed.legacy

    def test_an_invalid_object_keeps_its_document_and_lists_problems(self) -> None:
        parsed = parse('{"fault_type": "latency", "is_enabled": true}')
        assert parsed.config is None
        assert parsed.legacy
        assert [str(p) for p in parsed.problems] == ["delay: is required"]

    @pytest.mark.parametrize("text", ["[1]", "nope", '"text"'])
    def test_not_an_object(self, text: str) -> None:
        parsed = parse(text)
        assert (parsed.config, parsed.document, parsed.legacy) == (None, None, False)
        assert parsed.problems


class TestSources:
    @pytest.mark.parametrize(
        ("location", "source"),
        [
            ("/chaos-layer/orders", "ssm"),
            ("arn:aws:ssm:us-east-1:123456789012:parameter/chaos-layer/orders:3", "ssm"),
            ("s3://bucket/key/with/slashes.json", "s3"),
            ("appconfig://orders/prod/chaos", "appconfig"),
        ],
    )
    def test_a_location_names_its_source_by_its_form(self, location: str, source: str) -> None:
        from chaos_layer.source import kind

        assert kind(location) == source

    def test_s3_and_appconfig_locations(self) -> None:
        from chaos_layer.source import appconfig, s3

        assert s3.split("s3://bucket/a/b.json") == ("bucket", "a/b.json")
        assert appconfig.split("appconfig://app/env/profile") == ("app", "env", "profile")
        assert appconfig.agent_path("my app", "prod", "a/b") == (
            "/applications/my%20app/environments/prod/configurations/a%2Fb"
        )
        for bad in ("s3://bucket", "s3://bucket/", "s3:///key"):
            with pytest.raises(ValueError, match="expected s3://BUCKET/KEY"):
                s3.split(bad)
        for bad in ("appconfig://app/env", "appconfig://app//profile", "appconfig://a/b/c/d"):
            with pytest.raises(ValueError, match="expected appconfig://APPLICATION/ENVIRONMENT/PROFILE"):
                appconfig.split(bad)

    @pytest.mark.parametrize(("value", "port"), [(None, 2772), ("2773", 2773), ("nope", 2772), ("70000", 2772)])
    def test_the_agents_port(self, monkeypatch: pytest.MonkeyPatch, value: str | None, port: int) -> None:
        from chaos_layer.source import appconfig

        if value is not None:
            monkeypatch.setenv("AWS_APPCONFIG_EXTENSION_HTTP_PORT", value)
        assert appconfig.agent_port() == port

    def test_an_ssm_only_function_never_loads_the_other_sources(self) -> None:
        import subprocess
        import sys

        code = (
            "import sys\n"
            "from chaos_layer.source import ConfigReader\n"
            "ConfigReader('/p', '/k', lambda: None).provider('/p')\n"
            "print(sorted(m for m in sys.modules if m.startswith('chaos_layer.source.')))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        loaded = result.stdout
        assert "chaos_layer.source.ssm" in loaded
        assert "chaos_layer.source.s3" not in loaded
        assert "chaos_layer.source.appconfig" not in loaded
