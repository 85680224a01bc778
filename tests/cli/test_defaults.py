"""Safe by default, as a user meets it in the real `chaos-layer` process against the moto server:
nothing starts at 100 % or forever by accident, a typo is a config error with the nearest known
names, the scale of an experiment is checked before it is written, and the output says what
happened. What was written is read back with boto3."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from chaos_layer import control
from tests.cli.conftest import PARAM, run_binary
from tests.conftest import MotoServer

REGION = "us-east-1"


def chaos_layer(server: MotoServer, *args: str, env: dict[str, str] | None = None) -> Any:
    command = args[0]
    extra = (
        [] if command in ("validate", "--help") and "--param" not in args else ["--endpoint-url", server.endpoint_url]
    )
    if command in ("start", "stop", "status") and "--param" not in args:
        extra += ["--param", PARAM]
    return run_binary("chaos-layer", *args, *extra, env={"COLUMNS": "200", **(env or {})})


def stored(server: MotoServer) -> tuple[dict[str, Any], int] | None:
    try:
        parameter = server.client().get_parameter(Name=PARAM)["Parameter"]
    except server.client().exceptions.ParameterNotFound:
        return None
    return json.loads(parameter["Value"]), int(parameter["Version"])


def seconds_until(instant: str) -> float:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() - time.time()


# a rate and an expiry, always


@pytest.mark.parametrize(
    "args",
    [
        ("--latency", "300"),
        ("--fault", "dependency services=dynamodb error=ThrottlingException"),
        ("--latency", "300", "--experiment", "another"),  # over a stored config of another experiment
        ("--latency", "300", "--replace"),
    ],
)
def test_a_new_experiment_without_a_rate_is_a_usage_error_naming_the_flag(
    moto_server: MotoServer, args: tuple[str, ...]
) -> None:
    if "--experiment" in args or "--replace" in args:
        moto_server.put(
            PARAM,
            json.dumps({"enabled": False, "experiment": "first", "rate": 0.01, "faults": [{"type": "exception"}]}),
        )
    before = stored(moto_server)
    result = chaos_layer(moto_server, "start", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--rate" in result.stderr
    assert "nothing was written" in result.stderr
    assert stored(moto_server) == before


def test_a_rate_in_the_config_file_is_a_rate(moto_server: MotoServer, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"enabled": True, "rate": 0.05, "faults": [{"type": "latency", "delay_ms": 300}]}))
    result = chaos_layer(moto_server, "start", "--file", str(path))
    assert result.returncode == 0, result.stderr
    assert (stored(moto_server) or ({}, 0))[0]["rate"] == 0.05


def test_every_start_expires_in_an_hour_unless_told_and_says_so(moto_server: MotoServer) -> None:
    result = chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "300")
    assert result.returncode == 0, result.stderr
    document, _ = stored(moto_server) or ({}, 0)
    assert 3600 - 60 < seconds_until(document["expires_at"]) <= 3600
    assert "the default; choose with --duration, --until or --no-expiry" in result.stdout
    # a change of the running experiment keeps its expiry
    assert chaos_layer(moto_server, "start", "--rate", "1%").returncode == 0
    assert (stored(moto_server) or ({}, 0))[0]["expires_at"] == document["expires_at"]


def test_no_expiry_writes_none_and_says_it_runs_until_stopped(moto_server: MotoServer) -> None:
    result = chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "300", "--no-expiry")
    assert result.returncode == 0, result.stderr
    assert "expires_at" not in (stored(moto_server) or ({}, 0))[0]
    assert "never: runs until stopped (--no-expiry)" in result.stdout
    both = chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "1", "--no-expiry", "--duration", "1h")
    assert both.returncode == 2
    assert "--no-expiry writes no expiry: give it without --duration or --until" in both.stderr


def test_a_plain_start_of_a_stopped_config_without_an_expiry_gets_one(moto_server: MotoServer) -> None:
    moto_server.put(PARAM, json.dumps({"enabled": False, "rate": 0.05, "faults": [{"type": "exception"}]}))
    result = chaos_layer(moto_server, "start")
    assert result.returncode == 0, result.stderr
    assert 3600 - 60 < seconds_until((stored(moto_server) or ({}, 0))[0]["expires_at"]) <= 3600


# typos


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("dependency services=dynamo error=ThrottlingException", "services[0]: unknown service 'dynamo'"),
        ("dependency services=dynamodb error=ThrottlingExeption", "did you mean ThrottlingException"),
        ("dependency services=s3 error=NoSuchBuckett", "did you mean NoSuchBucket?"),
    ],
)
def test_a_typo_in_a_dependency_fault_flag_is_refused_with_the_nearest_names(
    moto_server: MotoServer, fault: str, said: str
) -> None:
    result = chaos_layer(moto_server, "start", "--rate", "5%", "--fault", fault)
    assert result.returncode == 2, result.stdout + result.stderr  # a bad flag value, as for every flag
    assert said in result.stderr
    assert stored(moto_server) is None


def test_a_typo_in_a_config_file_is_a_config_error_and_nothing_is_written(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    fault = {"type": "dependency", "services": ["dynamodb"], "error": "ThrottlingExeption"}
    path.write_text(json.dumps({"enabled": True, "rate": 0.05, "faults": [fault]}))
    result = chaos_layer(moto_server, "start", "--file", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "faults[0].error: unknown error code 'ThrottlingExeption'" in result.stderr
    assert "did you mean ThrottlingException" in result.stderr
    assert stored(moto_server) is None


def test_validate_checks_services_and_codes_and_custom_error_allows_any_code(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    path = tmp_path / "config.json"
    faults = [
        {"type": "dependency", "services": ["dynamo"], "error": "ThrottlingException"},
        {"type": "dependency", "services": ["dynamodb"], "error": "ProvisionedThroughputExceededExeption"},
    ]
    path.write_text(json.dumps({"enabled": True, "faults": faults}))
    result = chaos_layer(moto_server, "validate", str(path))
    assert result.returncode == 1
    assert "faults[0].services[0]: unknown service 'dynamo': not a boto3 client name; did you mean dynamodb?" in (
        result.stdout
    )
    assert "faults[1].error: unknown error code 'ProvisionedThroughputExceededExeption'" in result.stdout
    assert "did you mean ProvisionedThroughputExceededException?" in result.stdout
    known = [
        {"type": "dependency", "services": ["dynamodb"], "error": "ConditionalCheckFailedException"},  # modeled
        {"type": "dependency", "services": ["sqs"], "error": "ServiceUnavailable"},  # generic
        {"type": "dependency", "services": ["monitoring"], "error": "LimitExceededFault"},  # an endpoint prefix
        {"type": "dependency", "services": ["lambda"], "error": "timeout"},
        {"type": "dependency", "services": ["s3"], "error": "OurGatewaySaysNo", "custom_error": True},
    ]
    path.write_text(json.dumps({"enabled": True, "faults": known}))
    result = chaos_layer(moto_server, "validate", str(path))
    assert result.returncode == 0, result.stdout


# scale


def concurrency(server: MotoServer, function: str | None, value: float) -> None:
    cloudwatch: Any = boto3.client("cloudwatch", region_name=REGION, endpoint_url=server.endpoint_url)
    dimensions = [] if function is None else [{"Name": "FunctionName", "Value": function}]
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Dimensions": dimensions,
                "Value": value,
                # a minute or two ago, as CloudWatch has it by then: a datapoint stamped in the very
                # second the CLI reads can fall past the end of its window
                "Timestamp": datetime.now(timezone.utc) - timedelta(minutes=2),
            }
        ],
    )


def test_start_warns_before_writing_when_the_reads_outrun_ssm(moto_server: MotoServer, tmp_path: Path) -> None:
    concurrency(moto_server, "orders", 600)
    concurrency(moto_server, "checkout", 400)
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "enabled": True,
                "rate": 0.05,
                "targets": {"functions": ["orders", "checkout"]},
                "faults": [{"type": "latency", "delay_ms": 300}],
            }
        )
    )
    result = chaos_layer(moto_server, "start", "--file", str(path))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "reaches about 1000 execution environments (orders 600, checkout 400" in out
    assert "about 200 reads a second" in out  # 1,000 environments every 5 s
    assert "standard throughput (40 reads a second" in out
    for remedy in ("CHAOS_LAYER_MAX_AGE", "S3 or AppConfig", "higher throughput"):
        assert remedy in out
    assert out.index("Warning: this experiment reaches") < out.index("Started experiment")
    assert stored(moto_server) is not None  # a warning, not a refusal
    # a longer period is a remedy: 1,000 environments every 30 s stay under 40 a second
    assert chaos_layer(moto_server, "stop").returncode == 0
    calm = chaos_layer(moto_server, "start", "--file", str(path), "--max-age", "30", "--replace")
    assert calm.returncode == 0, calm.stderr
    assert "reads a second" not in calm.stdout


def test_without_targets_start_counts_the_whole_account(moto_server: MotoServer) -> None:
    concurrency(moto_server, None, 300)
    result = chaos_layer(moto_server, "start", "--rate", "1%", "--latency", "300")
    assert result.returncode == 0, result.stderr
    assert "reaches about 300 execution environments (the whole account" in " ".join(result.stdout.split())


def test_where_cloudwatch_cannot_be_read_start_says_so_and_goes_on(moto_server: MotoServer) -> None:
    env = {"AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url, "AWS_ENDPOINT_URL_MONITORING": "http://127.0.0.1:9"}
    env["AWS_ENDPOINT_URL_CLOUDWATCH"] = "http://127.0.0.1:9"
    result = run_binary(
        "chaos-layer", "start", "--param", PARAM, "--rate", "1%", "--latency", "300", env={"COLUMNS": "200", **env}
    )
    assert result.returncode == 0, result.stderr
    assert "could not estimate the environments this experiment reaches" in " ".join(result.stdout.split())
    assert stored(moto_server) is not None


# what the output says


def test_a_start_that_changes_nothing_writes_nothing_and_says_so(moto_server: MotoServer) -> None:
    assert chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "300").returncode == 0
    _, version = stored(moto_server) or ({}, 0)
    result = chaos_layer(moto_server, "start")
    assert result.returncode == 0, result.stderr
    assert "Nothing changed: experiment 'default' is running in /chaos-layer/orders as stored" in result.stdout
    assert "Changed experiment" not in result.stdout
    assert (stored(moto_server) or ({}, 0))[1] == version


def test_output_lines_have_no_trailing_spaces(moto_server: MotoServer) -> None:
    for args in (("start", "--rate", "5%", "--latency", "300"), ("status",), ("start", "--rate", "1%")):
        result = chaos_layer(moto_server, *args)
        assert result.returncode == 0, result.stderr
        assert [line for line in result.stdout.splitlines() if line != line.rstrip()] == []


def test_help_lists_every_exit_code_and_usage_lines_read_plainly(moto_server: MotoServer) -> None:
    top = " ".join(run_binary("chaos-layer", "--help").stdout.split())
    for code in ("0 ok", "1 invalid config", "2 usage error", "3 AWS error", "4 config not found"):
        assert code in top
    for code in ("5 hypothesis rejected", "6 aborted", "7 inconclusive", "130 interrupted"):
        assert code in top
    assert "Usage: chaos-layer validate [OPTIONS] [FILE]" in run_binary("chaos-layer", "validate", "--help").stdout
    assert "Usage: chaos-layer run [OPTIONS] FILE" in run_binary("chaos-layer", "run", "--help").stdout


def test_type_takes_any_case_and_names_the_choices_plainly(moto_server: MotoServer) -> None:
    result = chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "300", "--type", "securestring")
    assert result.returncode == 0, result.stderr
    assert moto_server.client().get_parameter(Name=PARAM)["Parameter"]["Type"] == "SecureString"
    bad = chaos_layer(moto_server, "start", "--rate", "5%", "--latency", "300", "--type", "text")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "chaos-layer: error: --type 'text' is not an SSM parameter type: choose String or SecureString"
    )


def test_the_operator_api_holds_the_same_defaults(moto_server: MotoServer) -> None:
    controller = control.Controller(moto_server.client(), PARAM)
    document = {"enabled": True, "faults": [{"type": "latency", "delay_ms": 300}]}
    with pytest.raises(control.UsageError, match="a new experiment needs a rate: pass rate"):
        controller.start(document)
    assert stored(moto_server) is None
    with pytest.raises(control.InvalidConfig) as refused:
        controller.start({**document, "faults": [{"type": "dependency", "services": ["lamda"], "error": "timeout"}]})
    assert [str(problem) for problem in refused.value.problems] == [
        "faults[0].services[0]: unknown service 'lamda': not a boto3 client name; did you mean lambda?"
    ]
    controller.start(document, rate=0.05)
    written, _ = stored(moto_server) or ({}, 0)
    assert written["rate"] == 0.05
    assert 3600 - 60 < seconds_until(written["expires_at"]) <= 3600
