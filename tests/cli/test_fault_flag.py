"""`chaos-layer start --fault TYPE key=value ...`: every fault type from flags, its keys and
values read by the fault type's own declarations."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.cli.faults import gather
from chaos_layer.faults import FAULT_TYPES
from tests.cli.conftest import Cli

EVERY_TYPE: dict[str, tuple[list[str], dict[str, Any]]] = {
    "latency": (["latency", "min_ms=100", "max_ms=800", "rate=0.5"], {"min_ms": 100, "max_ms": 800, "rate": 0.5}),
    "exception": (
        ["exception", "exception=TimeoutError", "message=took too long", "prevent_execution=false"],
        {"exception": "TimeoutError", "message": "took too long", "prevent_execution": False},
    ),
    "status_code": (
        ["status_code", "status_code=503", "headers=Retry-After:1,X-Chaos:yes", "prevent_execution=false"],
        {"status_code": 503, "headers": {"Retry-After": "1", "X-Chaos": "yes"}, "prevent_execution": False},
    ),
    "timeout": (["timeout"], {}),
    "dependency": (
        ["dependency", "services=dynamodb,s3", "operations=PutItem", "error=ThrottlingException"],
        {"services": ["dynamodb", "s3"], "operations": ["PutItem"], "error": "ThrottlingException"},
    ),
    "denylist": (
        ["denylist", "hosts=api.example.com,10.0.*", "ports=443,8443"],
        {"hosts": ["api.example.com", "10.0.*"], "ports": [443, 8443]},
    ),
    "diskspace": (
        ["diskspace", "mb=100", "path=/tmp", "min_free_mb=32"],
        {"mb": 100, "path": "/tmp", "min_free_mb": 32},
    ),
    "corrupt": (["corrupt", 'body={"broken": '], {"body": '{"broken": '}),
    "batch_failure": (["batch_failure", "fraction=0.25"], {"fraction": 0.25}),
}


def test_every_fault_type_has_a_case_here() -> None:
    assert set(EVERY_TYPE) == set(FAULT_TYPES)


@pytest.mark.parametrize("kind", EVERY_TYPE)
def test_every_fault_type_can_be_started_from_flags(cli: Cli, kind: str) -> None:
    words, keys = EVERY_TYPE[kind]
    result = cli("start", "--rate", "1", "--fault", *words, "--duration", "15m")
    assert result.exit_code == 0, result.output
    assert cli.document()["faults"] == [{"type": kind, **keys}]
    assert cli.document()["expires_at"] == "2026-09-21T14:28:20Z"


def test_fault_flags_repeat_and_mix_with_the_other_flags(cli: Cli) -> None:
    result = cli(
        "start",
        "--fault", "dependency", "services=sqs", "delay_ms=200",
        "--rate", "5%",
        "--fault", "corrupt", "truncate=10",
        "--latency", "300",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cli.document() == {
        "enabled": True,
        "rate": 0.05,
        "expires_at": "2026-09-21T15:13:20Z",  # in an hour: the default
        "faults": [
            {"type": "latency", "delay_ms": 300},
            {"type": "dependency", "services": ["sqs"], "delay_ms": 200},
            {"type": "corrupt", "truncate": 10},
        ],
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--fault", "dependency services=s3 delay_ms=200"],  # one quoted value
        ["--fault=dependency", "services=s3", "delay_ms=200"],
        ["--fault", "dependency", "services=s3", "delay_ms=2e2"],
        ["--fault", "dependency", 'services=["s3"]', "delay_ms=200"],  # a JSON array
    ],
)
def test_the_forms_a_fault_flag_takes(cli: Cli, args: list[str]) -> None:
    result = cli("start", "--rate", "1", *args)
    assert result.exit_code == 0, result.output
    assert cli.document()["faults"] == [{"type": "dependency", "services": ["s3"], "delay_ms": 200}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "teleport"], "--fault 'teleport' is not a fault type: latency, exception, status_code"),
        (["--fault", "latency", "delay=300"], "--fault latency: 'delay=300' is not key=value with a key of latency:"),
        (["--fault", "latency", "300"], "'300' is not key=value with a key of latency: rate, delay_ms, min_ms, max_ms"),
        (["--fault", "latency", "delay_ms=fast"], "--fault latency delay_ms='fast' is not a number between 0 and"),
        (["--fault", "diskspace", "mb=1.5"], "--fault diskspace mb='1.5' is not a whole number at least 1"),
        (["--fault", "status_code", "status_code=503", "prevent_execution=maybe"], "is not true or false"),
        (["--fault", "denylist", "hosts=a.example.com", "ports=443,https"], "ports='443,https' is not a comma-sep"),
        (["--fault", "status_code", "status_code=503", "headers=Retry-After"], "is not name:value pairs such as"),
        (["--fault", "corrupt", "truncate=1", "truncate=2"], "--fault corrupt: truncate is given twice"),
        (["--fault", "exception message='unclosed"], '--fault "exception message=\'unclosed": No closing quotation'),
        (["--fault", "--rate", "1"], "--fault needs a fault type"),
        (["--fault", "latency", "delay_ms=1", "--file", "x.json"], "give faults as flags or --file, not both"),
    ],
)
def test_a_value_the_flag_cannot_read_is_a_usage_error(cli: Cli, args: list[str], message: str) -> None:
    result = cli("start", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert cli.value() is None


def test_the_librarys_rules_for_a_fault_are_usage_errors_of_its_flag(cli: Cli) -> None:
    result = cli("start", "--rate", "1", "--fault", "latency", "delay_ms=1", "--fault", "dependency", "services=s3")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "chaos-layer: error: --fault dependency: error: give exactly one of error and delay_ms"
    )
    assert cli.value() is None


def test_the_help_shows_the_flag(cli: Cli) -> None:
    result = cli("start", "--help")
    assert result.exit_code == 0
    assert "--fault" in result.stdout
    assert "dependency services=dynamodb" in result.stdout


@pytest.mark.parametrize(
    ("args", "gathered"),
    [
        (["--fault", "a", "b=1", "--rate", "1"], ["--fault", "a b=1", "--rate", "1"]),
        (["--fault", "a", "b=x y", "--fault", "c"], ["--fault", "a 'b=x y'", "--fault", "c"]),
        (["--fault", "a b=1"], ["--fault", "a b=1"]),
        (["--fault=a", "b=1"], ["--fault", "a b=1"]),
        (["--latency", "3", "--faulty"], ["--latency", "3", "--faulty"]),
        (["--fault"], ["--fault"]),
    ],
)
def test_the_words_after_a_fault_flag_are_its_value(args: list[str], gathered: list[str]) -> None:
    assert gather(args) == gathered
