"""The FIS template: `integrations/fis/template.yaml` and what `chaos-layer fis template` renders
from a `run` file, checked by cfn-lint and read back as CloudFormation would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos_layer import control
from chaos_layer.fis.template import generic, render

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEMPLATE = ROOT / "integrations" / "fis" / "template.yaml"
RUN_FILE = """\
experiment: checkout-latency
hypothesis: With 300 ms more latency on 5 % of calls, checkout errors stay under 1 %
parameter: /chaos-layer/checkout
faults: [{type: latency, delay_ms: 300}]
blast_radius: {targets: {functions: [checkout]}}
steady_state:
  - alarm: checkout-errors
  - alarm: checkout-p99
ramp: [{rate: 0.01, hold: 2m}, {rate: 0.05, hold: 5m}]
"""


def run_binary(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=dict(os.environ),
        check=False,
    )


def cfn_lint(path: Path) -> None:
    result = run_binary("cfn-lint", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def policies(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    properties = template["Resources"][role]["Properties"]
    return [s for policy in properties["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_the_committed_template_is_the_one_the_package_renders() -> None:
    assert TEMPLATE.read_text(encoding="utf-8") == render(generic()), "python -m chaos_layer.fis > " + str(TEMPLATE)


def test_the_committed_template_passes_cfn_lint_with_the_stack_parameters_named() -> None:
    cfn_lint(TEMPLATE)
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert list(template["Parameters"]) == [
        "ConfigParameter",
        "KillSwitchParameter",
        "ExperimentConfig",
        "Duration",
        "StopAlarmArn",
    ]
    assert template["Resources"]["AutomationDocument"]["Properties"]["DocumentType"] == "Automation"
    stop = template["Resources"]["ExperimentTemplate"]["Properties"]["StopConditions"]
    assert stop == [{"Source": "aws:cloudwatch:alarm", "Value": {"Ref": "StopAlarmArn"}}]
    assert len(TEMPLATE.read_bytes()) < 51_200, "aws cloudformation deploy sends a larger template through S3 only"


def test_the_documents_role_reads_three_parameters_and_writes_only_the_config() -> None:
    template = generic()
    statements = policies(template, "AutomationRole")
    assert {s["Action"] for s in statements} == {"ssm:GetParameters", "ssm:PutParameter"}
    (write,) = (s for s in statements if s["Action"] == "ssm:PutParameter")
    assert write["Resource"] == {
        "Fn::Sub": [
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}",
            {"Name": {"Ref": "ConfigParameter"}},
        ]
    }
    (read,) = (s for s in statements if s["Action"] == "ssm:GetParameters")
    assert len(read["Resource"]) == 3
    assert "*" not in json.dumps(read["Resource"])


def test_fis_may_start_watch_and_stop_the_automation_and_pass_only_the_documents_role() -> None:
    statements = policies(generic(), "FisRole")
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == [
        "cloudwatch:DescribeAlarms",
        "iam:PassRole",
        "ssm:GetAutomationExecution",
        "ssm:StartAutomationExecution",
        "ssm:StopAutomationExecution",
    ]
    (passing,) = (s for s in statements if s["Action"] == "iam:PassRole")
    assert passing["Resource"] == {"Fn::GetAtt": ["AutomationRole", "Arn"]}


def test_fis_template_renders_a_run_file_that_passes_cfn_lint(tmp_path: Path) -> None:
    (tmp_path / "checkout.yaml").write_text(RUN_FILE, encoding="utf-8")

    result = run_binary("chaos-layer", "fis", "template", "checkout.yaml", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    (tmp_path / "fis.yaml").write_text(result.stdout, encoding="utf-8")
    cfn_lint(tmp_path / "fis.yaml")
    template = yaml.safe_load(result.stdout)
    properties = template["Resources"]["ExperimentTemplate"]["Properties"]
    alarms = [condition["Value"]["Fn::Join"][1][-1] for condition in properties["StopConditions"]]
    assert alarms == [":alarm:checkout-errors", ":alarm:checkout-p99"]
    actions = properties["Actions"]
    assert list(actions) == ["Step1", "Step2"]
    assert actions["Step2"]["StartAfter"] == ["Step1"]
    for index, (rate, hold) in enumerate([(0.01, "PT2M"), (0.05, "PT5M")], start=1):
        parameters = actions[f"Step{index}"]["Parameters"]
        assert parameters["documentParameters"]["Fn::Sub"][1]["Duration"] == hold
        config = json.loads(template["Resources"][f"ExperimentConfigParameter{index}"]["Properties"]["Value"])
        assert config == {
            "experiment": "checkout-latency",
            "rate": rate,
            "targets": {"functions": ["checkout"]},
            "faults": [{"type": "latency", "delay_ms": 300}],
        }
        control.validate({**config, "enabled": True, "expires_at": "2030-01-01T00:00:00Z"})


def test_fis_template_writes_the_file_named_by_o(tmp_path: Path) -> None:
    (tmp_path / "checkout.yaml").write_text(RUN_FILE, encoding="utf-8")

    result = run_binary("chaos-layer", "fis", "template", "checkout.yaml", "-o", "fis.yaml", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "AWS::FIS::ExperimentTemplate" in (tmp_path / "fis.yaml").read_text(encoding="utf-8")


METRIC = "  - metric: {namespace: AWS/Lambda, name: Errors, statistic: Sum, period: 60}\n    max: 5\n"
COMPARE = "  - compare: errors\n    max_increase: 0.01\n"


@pytest.mark.parametrize(
    ("change", "location", "reason"),
    [
        (
            lambda f: f.replace("  - alarm: checkout-p99\n", METRIC),
            "steady_state[1]",
            "a metric check without an alarm",
        ),
        (lambda f: f.replace("  - alarm: checkout-p99\n", COMPARE), "steady_state[1]", "a comparison with the control"),
        (lambda f: f + "settings:\n  - {function: checkout, timeout_s: 3}\n", "settings", "faults on a function's"),
        (lambda f: f + "on_breach: kill\n", "on_breach", "cannot engage the kill switch"),
        (
            lambda f: f.replace("/chaos-layer/checkout", "s3://bucket/checkout.json"),
            "parameter",
            "must be an SSM parameter",
        ),
    ],
    ids=["metric", "compare", "settings", "kill", "s3"],
)
def test_fis_template_refuses_what_fis_cannot_express(tmp_path: Path, change: Any, location: str, reason: str) -> None:
    (tmp_path / "checkout.yaml").write_text(change(RUN_FILE), encoding="utf-8")

    result = run_binary("chaos-layer", "fis", "template", "checkout.yaml", "-o", "fis.yaml", cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert location in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "fis.yaml").exists()
    assert result.stdout == ""


def test_fis_template_names_settings_and_the_files_other_problems_together(tmp_path: Path) -> None:
    broken = RUN_FILE.replace("ramp: [", "rmp: [") + "settings: []\n"
    (tmp_path / "checkout.yaml").write_text(broken, encoding="utf-8")

    result = run_binary("chaos-layer", "fis", "template", "checkout.yaml", cwd=tmp_path)

    assert result.returncode == 1
    assert "faults on a function's settings" in result.stderr
    assert "ramp" in result.stderr
    assert result.stdout == ""
