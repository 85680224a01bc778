"""Errors a user can cause: one line on stderr, a documented exit code, never a traceback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from importlib import metadata

import pytest

from tests.cli.conftest import PARAM, Cli, run_binary
from tests.conftest import MotoServer

AWS_COMMANDS = [["start", "--latency", "300"], ["stop"], ["kill"], ["resume"], ["status"]]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_no_credentials(cli: Cli, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    result = cli(*command)
    assert result.exit_code == 3
    assert one_line(result.stderr).startswith("chaos-layer: error: no AWS credentials found")


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_no_region(cli: Cli, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = cli(*command, endpoint=False)
    assert result.exit_code == 3
    assert one_line(result.stderr) == "chaos-layer: error: no AWS region: pass --region or set AWS_REGION"


def test_region_flag_and_env_are_honoured(cli: Cli, moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert cli("kill", "--region", "us-east-1").exit_code == 0
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert cli("resume").exit_code == 0
    assert moto_server.client().get_parameter(Name="/chaos-layer/kill-switch")["Parameter"]["Value"] == "off"


def test_unknown_profile(cli: Cli) -> None:
    result = cli("status", "--profile", "nobody")
    assert result.exit_code == 3
    assert "The config profile (nobody) could not be found" in one_line(result.stderr)


def test_profile_from_a_config_file(cli: Cli, moto_server: MotoServer, monkeypatch, tmp_path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[game-day]\naws_access_key_id = a\naws_secret_access_key = b\n")
    config = tmp_path / "config"
    config.write_text("[profile game-day]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    assert cli("kill", "--profile", "game-day").exit_code == 0
    monkeypatch.setenv("AWS_PROFILE", "game-day")
    assert cli("resume").exit_code == 0


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_access_denied(cli: Cli, fake_ssm, command: list[str]) -> None:
    denied = fake_ssm(
        400,
        {
            "__type": "AccessDeniedException",
            "message": "User: arn:aws:iam::123456789012:user/op is not authorized to perform: ssm:GetParameters",
        },
    )
    result = cli(*command, "--endpoint-url", denied.endpoint_url, endpoint=False)
    assert result.exit_code == 3
    line = one_line(result.stderr)
    assert line.startswith("chaos-layer: error: access denied: could not ")
    assert "the caller needs ssm:" in line  # the action and the parameter's ARN, in our words
    assert ":*:parameter/chaos-layer/" in line
    assert "is not authorized to perform" in line


def test_another_aws_error_is_one_line(cli: Cli, fake_ssm) -> None:
    throttled = fake_ssm(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
    result = cli("status", "--endpoint-url", throttled.endpoint_url, endpoint=False)
    assert result.exit_code == 3
    assert one_line(result.stderr).endswith(": ThrottlingException: Rate exceeded")


def test_something_else_than_aws_at_the_endpoint(cli: Cli, fake_ssm) -> None:
    other = fake_ssm(502, {"html": "<h1>Bad gateway</h1>"})
    result = cli("status", "--endpoint-url", other.endpoint_url, endpoint=False)
    assert result.exit_code == 3
    assert "HTTP 502: the endpoint's answer was not from AWS" in one_line(result.stderr)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_endpoint_unreachable(cli: Cli, closed_port: int, command: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = cli(*command, "--endpoint-url", url, endpoint=False)
    assert result.exit_code == 3
    assert f'Could not connect to the endpoint URL: "{url}/"' in one_line(result.stderr)


def test_invalid_endpoint_url(cli: Cli) -> None:
    result = cli("status", "--endpoint-url", "not a url", endpoint=False)
    assert result.exit_code == 2
    assert one_line(result.stderr) == "chaos-layer: error: --endpoint-url: Invalid endpoint: not a url"


def test_negative_max_age_is_a_usage_error(cli: Cli) -> None:
    result = cli("kill", "--max-age", "-1")
    assert result.exit_code == 2
    assert "--max-age" in one_line(result.stderr)


# The installed console script, as a user runs it.


def test_console_script_round_trip(moto_server: MotoServer) -> None:
    endpoint = ["--param", PARAM, "--endpoint-url", moto_server.endpoint_url]
    started = run_binary("chaos-layer", "start", "--status-code", "503", "--rate", "25%", *endpoint)
    assert started.returncode == 0, started.stderr
    assert "Started experiment 'default'" in started.stdout
    status = run_binary("chaos-layer", "status", "--json", *endpoint)
    assert status.returncode == 0, status.stderr
    assert '"injecting": true' in status.stdout
    assert '"rate": 0.25' in status.stdout


def test_console_script_errors_are_one_line(moto_server: MotoServer, closed_port: int) -> None:
    missing = run_binary("chaos-layer", "stop", "--param", "/nope", "--endpoint-url", moto_server.endpoint_url)
    assert (missing.returncode, one_line(missing.stderr)) == (4, "chaos-layer: error: config /nope not found")
    down = run_binary("chaos-layer", "kill", "--endpoint-url", f"http://127.0.0.1:{closed_port}")
    assert down.returncode == 3
    assert "Could not connect to the endpoint URL" in one_line(down.stderr)
    typo = run_binary("chaos-layer", "start", "--latncy", "3")
    assert typo.returncode == 2
    assert one_line(typo.stderr).startswith("chaos-layer: error: No such option: --latncy")


def test_without_the_cli_extra_main_says_what_to_install() -> None:
    # sys.modules[name] = None makes `import name` fail, as if the package were not installed
    code = "import sys; sys.modules['typer'] = None; from chaos_layer.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    # A command that works wherever chaos-layer came from: the cli extra's own requirements.
    extra = [
        r.partition(";")[0].strip()
        for r in metadata.requires("chaos-layer") or []
        if re.search(r"""extra\s*==\s*["']cli["']""", r)
    ]
    assert {"rich>=13", "typer>=0.12"} <= set(extra)
    assert result.stderr.strip() == (
        "chaos-layer: the command line needs its extra packages: pip install " + " ".join(f"'{r}'" for r in extra)
    )


def test_the_control_api_does_not_need_the_cli_extra() -> None:
    code = (
        "import sys; sys.modules['typer'] = sys.modules['rich'] = sys.modules['click'] = None; "
        "import chaos_layer.control as c; print(c.parse_duration('1h30m'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "5400.0"), result.stderr
