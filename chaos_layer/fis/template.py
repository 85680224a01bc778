"""The CloudFormation template that lets AWS FIS run a chaos-layer experiment.

FIS decides who may run an experiment, when, and when it must stop (its stop conditions are
CloudWatch alarms); chaos-layer decides what is injected and where. The bridge is an SSM
Automation document that FIS starts with its `aws:ssm:start-automation-execution` action and
cancels when the experiment stops: the document writes the config, holds it for the duration,
and ends it on every path (success, cancel, failure) where the parameter still holds its write.

`generic()` is `integrations/fis/template.yaml` (every value a stack parameter); `for_experiment()`
renders a `run` file's experiment, or refuses what FIS cannot express.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos_layer import settings, source
from chaos_layer.control import InvalidConfig
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.checks import AlarmCheck, CompareCheck, MetricCheck
from chaos_layer.experiment.definition import Experiment
from chaos_layer.source.base import SSM

STEPS_SOURCE = Path(__file__).with_name("steps.py")
# What the document may use; tests check that it uses nothing else.
ALLOWED_ACTIONS = frozenset(
    {
        "aws:executeAwsApi",
        "aws:executeScript",
        "aws:branch",
        "aws:sleep",
        "aws:assertAwsResourceProperty",
        "aws:waitForAwsResourceProperty",
    }
)
SCRIPT_RUNTIME = "python3.11"
# The FIS action's own bound on the automation: the hold, then the end's few API calls.
END_ALLOWANCE_S = 10 * 60
# FIS's longest action (and experiment): the generic template cannot add its Duration to anything.
FIS_MAX_DURATION = "PT12H"
PARAMETER_NAME = r"^/[a-zA-Z0-9_.\-/]+$"
ISO_DURATION = r"^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$"
PARAMETER_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"

# The end: read just before writing, write the stop only where the version is still ours.
_END = "ReadCurrent"


def _step(name: str, action: str, inputs: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "action": action, **extra, "inputs": dict(inputs)}


def script_text() -> str:
    """`steps.py` without its docstrings: the same code, small enough to embed in every script step
    and keep the template under CloudFormation's 51,200 bytes for a template sent inline."""
    tree = ast.parse(STEPS_SOURCE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.FunctionDef)) or not node.body:
            continue
        first = node.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            del node.body[0]
    return ast.unparse(tree) + "\n"


def _script(handler: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"Runtime": SCRIPT_RUNTIME, "Handler": handler, "InputPayload": dict(payload), "Script": script_text()}


def _outputs(**selectors: tuple[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Selector": selector, "Type": kind} for name, (selector, kind) in selectors.items()]


def document() -> dict[str, Any]:
    """The Automation document (schema 0.3): start a chaos-layer experiment, hold it, end it."""
    to_end = {"onFailure": f"step:{_END}", "onCancel": f"step:{_END}"}
    before_write = {"onFailure": "Abort", "onCancel": "Abort"}
    # A cancel while ending starts the end again: it re-reads, so a stop already written is left.
    ending = {"onFailure": "Abort", "onCancel": f"step:{_END}", "maxAttempts": 3}
    return {
        "description": (
            "Start a chaos-layer experiment, hold it for Duration, end it. Refuses when the kill switch is"
            " engaged or another enabled experiment holds ConfigParameter; ends on success, cancel and"
            " failure alike, and only where ConfigParameter still holds what it wrote."
        ),
        "schemaVersion": "0.3",
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": {
            "AutomationAssumeRole": {"type": "String", "description": "The role the document runs as."},
            "ConfigParameter": {"type": "String", "description": "The SSM parameter the functions read."},
            "KillSwitchParameter": {"type": "String", "description": "The kill switch's SSM parameter."},
            "ExperimentConfigParameter": {
                "type": "String",
                "description": "The SSM parameter holding the config document (JSON) to write.",
            },
            "Duration": {
                "type": "String",
                "description": "How long to hold the experiment (ISO 8601, e.g. PT15M).",
                "allowedPattern": ISO_DURATION,
            },
        },
        "mainSteps": [
            _step(
                "ReadState",
                "aws:executeAwsApi",
                {
                    "Service": "ssm",
                    "Api": "GetParameters",
                    "Names": [
                        "{{ KillSwitchParameter }}",
                        "{{ ConfigParameter }}",
                        "{{ ExperimentConfigParameter }}",
                    ],
                },
                **before_write,
                outputs=_outputs(Parameters=("$.Parameters", "MapList")),
            ),
            _step(
                "Prepare",
                "aws:executeScript",
                _script(
                    "prepare",
                    {
                        "Parameters": "{{ ReadState.Parameters }}",
                        "ConfigParameter": "{{ ConfigParameter }}",
                        "KillSwitchParameter": "{{ KillSwitchParameter }}",
                        "ExperimentConfigParameter": "{{ ExperimentConfigParameter }}",
                        "Duration": "{{ Duration }}",
                    },
                ),
                **before_write,
                outputs=_outputs(Value=("$.Payload.Value", "String"), ReadVersion=("$.Payload.ReadVersion", "Integer")),
            ),
            _step(
                "Write",
                "aws:executeAwsApi",
                {
                    "Service": "ssm",
                    "Api": "PutParameter",
                    "Name": "{{ ConfigParameter }}",
                    "Value": "{{ Prepare.Value }}",
                    "Type": "String",
                    "Overwrite": True,
                },
                **to_end,
                outputs=_outputs(Version=("$.Version", "Integer")),
            ),
            _step(
                "CheckWrite",
                "aws:executeScript",
                _script(
                    "check_write",
                    {
                        "ConfigParameter": "{{ ConfigParameter }}",
                        "ReadVersion": "{{ Prepare.ReadVersion }}",
                        "WrittenVersion": "{{ Write.Version }}",
                    },
                ),
                **to_end,
            ),
            _step("Hold", "aws:sleep", {"Duration": "{{ Duration }}"}, **to_end, nextStep=_END),
            _step(
                _END,
                "aws:executeAwsApi",
                {"Service": "ssm", "Api": "GetParameters", "Names": ["{{ ConfigParameter }}"]},
                **ending,
                outputs=_outputs(Parameters=("$.Parameters", "MapList")),
            ),
            _step(
                "DecideEnd",
                "aws:executeScript",
                _script(
                    "decide_end",
                    {
                        "Parameters": "{{ ReadCurrent.Parameters }}",
                        "ConfigParameter": "{{ ConfigParameter }}",
                        "WrittenValue": "{{ Prepare.Value }}",
                        "WrittenVersion": "{{ Write.Version }}",
                    },
                ),
                **ending,
                outputs=_outputs(
                    Ours=("$.Payload.Ours", "Boolean"),
                    Value=("$.Payload.Value", "String"),
                    CurrentVersion=("$.Payload.CurrentVersion", "Integer"),
                    Reason=("$.Payload.Reason", "String"),
                ),
            ),
            _step(
                "StillOurs",
                "aws:branch",
                {
                    "Choices": [{"NextStep": "WriteStop", "Variable": "{{ DecideEnd.Ours }}", "BooleanEquals": True}],
                    "Default": "LeaveIt",
                },
                **ending,
            ),
            _step(
                "WriteStop",
                "aws:executeAwsApi",
                {
                    "Service": "ssm",
                    "Api": "PutParameter",
                    "Name": "{{ ConfigParameter }}",
                    "Value": "{{ DecideEnd.Value }}",
                    "Type": "String",
                    "Overwrite": True,
                },
                **ending,
                outputs=_outputs(Version=("$.Version", "Integer")),
            ),
            _step(
                "CheckStop",
                "aws:executeScript",
                _script(
                    "check_write",
                    {
                        "ConfigParameter": "{{ ConfigParameter }}",
                        "ReadVersion": "{{ DecideEnd.CurrentVersion }}",
                        "WrittenVersion": "{{ WriteStop.Version }}",
                    },
                ),
                onFailure="Abort",
                onCancel="Abort",
                isEnd=True,
            ),
            _step(
                "LeaveIt",
                "aws:executeScript",
                _script("leave", {"Reason": "{{ DecideEnd.Reason }}"}),
                onFailure="Abort",
                onCancel="Abort",
                isEnd=True,
                outputs=_outputs(Message=("$.Payload.Message", "String")),
            ),
        ],
    }


@dataclass(frozen=True)
class Action:
    """One FIS action: one run of the document, with its config and hold."""

    name: str
    config: Any  # the config document (JSON text), or a reference to the stack parameter
    duration: Any
    max_duration: Any
    description: str


def _arn_of(name: Any) -> Any:
    """An SSM parameter's ARN, from a literal name or a reference to a `/`-rooted name."""
    if isinstance(name, str):
        return {"Fn::Sub": f"{PARAMETER_ARN}/{name.lstrip('/')}"}
    return {"Fn::Sub": [f"{PARAMETER_ARN}${{Name}}", {"Name": name}]}


def _resources(
    config_parameter: Any, kill_switch: Any, actions: Sequence[Action], alarm_arns: Sequence[Any], description: str
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    sources = []
    for index, action in enumerate(actions):
        key = "ExperimentConfigParameter" if len(actions) == 1 else f"ExperimentConfigParameter{index + 1}"
        sources.append(key)
        resources[key] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Type": "String",
                "Value": action.config,
                "Description": f"The chaos-layer config document that {action.name} writes (JSON)",
            },
        }
    resources["AutomationDocument"] = {
        "Type": "AWS::SSM::Document",
        "Properties": {"DocumentType": "Automation", "Content": document()},
    }
    account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    resources["AutomationRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Runs the chaos-layer Automation document: reads and writes one config, nothing else",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ssm.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": account,
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "chaos-layer-config",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "ReadKillSwitchAndConfigs",
                                "Effect": "Allow",
                                "Action": "ssm:GetParameters",
                                "Resource": [
                                    _arn_of(kill_switch),
                                    _arn_of(config_parameter),
                                    *(
                                        {"Fn::Sub": f"{PARAMETER_ARN}/${{{key}}}"}
                                        for key in sources  # generated names have no leading /
                                    ),
                                ],
                            },
                            {
                                "Sid": "WriteTheConfig",
                                "Effect": "Allow",
                                "Action": "ssm:PutParameter",
                                "Resource": _arn_of(config_parameter),
                            },
                        ],
                    },
                }
            ],
        },
    }
    resources["FisRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Lets AWS FIS start, watch and stop the chaos-layer Automation document",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "fis.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": account,
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "chaos-layer-automation",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "StartTheDocument",
                                "Effect": "Allow",
                                "Action": "ssm:StartAutomationExecution",
                                "Resource": {
                                    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                                    ":automation-definition/${AutomationDocument}:*"
                                },
                            },
                            {
                                "Sid": "WatchAndStopIt",
                                "Effect": "Allow",
                                "Action": ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"],
                                "Resource": {
                                    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                                    ":automation-execution/*"
                                },
                            },
                            {
                                "Sid": "PassTheDocumentsRole",
                                "Effect": "Allow",
                                "Action": "iam:PassRole",
                                "Resource": {"Fn::GetAtt": ["AutomationRole", "Arn"]},
                                "Condition": {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
                            },
                            {
                                # DescribeAlarms takes no resource ARNs: it is allowed on * or not at all
                                "Sid": "ReadTheStopConditions",
                                "Effect": "Allow",
                                "Action": "cloudwatch:DescribeAlarms",
                                "Resource": "*",
                            },
                        ],
                    },
                }
            ],
        },
    }
    fis_actions: dict[str, Any] = {}
    previous = None
    for action, key in zip(actions, sources, strict=True):
        parameters = {
            "AutomationAssumeRole": "${AutomationRole.Arn}",
            "ConfigParameter": "${ConfigParameter}",
            "KillSwitchParameter": "${KillSwitchParameter}",
            "ExperimentConfigParameter": f"${{{key}}}",
            "Duration": "${Duration}",
        }
        fis_actions[action.name] = {
            "ActionId": "aws:ssm:start-automation-execution",
            "Description": action.description,
            "Parameters": {
                "documentArn": {
                    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                    ":document/${AutomationDocument}"
                },
                "documentParameters": {
                    "Fn::Sub": [
                        json.dumps(parameters, separators=(",", ":")),
                        {
                            "ConfigParameter": config_parameter,
                            "KillSwitchParameter": kill_switch,
                            "Duration": action.duration,
                        },
                    ]
                },
                "maxDuration": action.max_duration,
            },
            **({"StartAfter": [previous]} if previous else {}),
        }
        previous = action.name
    resources["ExperimentTemplate"] = {
        "Type": "AWS::FIS::ExperimentTemplate",
        "Properties": {
            "Description": description[:512],
            "RoleArn": {"Fn::GetAtt": ["FisRole", "Arn"]},
            "StopConditions": [{"Source": "aws:cloudwatch:alarm", "Value": arn} for arn in alarm_arns],
            "Targets": {},
            "Actions": fis_actions,
            "Tags": {"Name": description[:256]},
        },
    }
    return resources


def _outputs_section() -> dict[str, Any]:
    return {
        "ExperimentTemplateId": {
            "Description": "aws fis start-experiment --experiment-template-id <this>",
            "Value": {"Ref": "ExperimentTemplate"},
        },
        "AutomationDocumentName": {"Description": "The Automation document", "Value": {"Ref": "AutomationDocument"}},
    }


def generic() -> dict[str, Any]:
    """`integrations/fis/template.yaml`: one experiment, every value a stack parameter."""
    description = "chaos-layer experiment run by AWS FIS"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Run a chaos-layer experiment from AWS Fault Injection Service: an SSM Automation document that"
            " writes the config, holds it for Duration and ends it (on success, cancel and failure alike,"
            " never over a later write), the roles it and FIS need, and the FIS experiment template."
        ),
        "Parameters": {
            "ConfigParameter": {
                "Type": "String",
                "AllowedPattern": PARAMETER_NAME,
                "Description": "The SSM parameter (String) the functions read their config from: /chaos-layer/...",
            },
            "KillSwitchParameter": {
                "Type": "String",
                "AllowedPattern": PARAMETER_NAME,
                "Default": settings.DEFAULT_KILL_SWITCH,
                "Description": "The kill switch's SSM parameter: the document refuses to start while it is engaged",
            },
            "ExperimentConfig": {
                "Type": "String",
                "Description": (
                    "The config document to write (JSON, without enabled/expires_at: the document sets them),"
                    ' e.g. {"experiment":"checkout-latency","rate":0.05,"faults":[{"type":"latency","delay_ms":300}]}'
                ),
            },
            "Duration": {
                "Type": "String",
                "AllowedPattern": ISO_DURATION,
                "Default": "PT15M",
                "Description": "How long the experiment holds (ISO 8601, e.g. PT15M); its config expires 5 min later",
            },
            "StopAlarmArn": {
                "Type": "String",
                "Description": "The CloudWatch alarm that stops the experiment (its ARN)",
            },
        },
        "Resources": _resources(
            {"Ref": "ConfigParameter"},
            {"Ref": "KillSwitchParameter"},
            [Action("Experiment", {"Ref": "ExperimentConfig"}, {"Ref": "Duration"}, FIS_MAX_DURATION, description)],
            [{"Ref": "StopAlarmArn"}],
            description,
        ),
        "Outputs": _outputs_section(),
    }


def iso_duration(seconds: float) -> str:
    """Whole seconds as ISO 8601 (PT1H30M, PT90S -> PT1M30S); a fraction is rounded up."""
    total = int(-(-seconds // 1))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if value)
    return f"PT{text or '0S'}"


def refusals(experiment: Experiment) -> list[Problem]:
    """What FIS cannot express in a `run` file, each with its reason; none is ever dropped."""
    problems = []
    for index, check in enumerate(experiment.checks):
        where = f"steady_state[{index}]"
        if isinstance(check, MetricCheck):
            problems.append(
                Problem(
                    where,
                    "a metric check without an alarm: FIS stops an experiment on CloudWatch alarms only;"
                    " create an alarm on this metric and name it with `alarm:`",
                )
            )
        elif isinstance(check, CompareCheck):
            problems.append(
                Problem(
                    where,
                    "a comparison with the control group: FIS judges no statistics; run it with"
                    " `chaos-layer run`, which compares the groups",
                )
            )
    if experiment.on_breach == "kill":
        problems.append(
            Problem(
                "on_breach",
                "kill: a FIS stop condition stops the experiment but cannot engage the kill switch;"
                " use on_breach: stop",
            )
        )
    for key, location in (("parameter", experiment.parameter), ("kill_switch", experiment.kill_switch)):
        if location is not None and source.kind(location) != SSM:
            problems.append(Problem(key, "must be an SSM parameter: the Automation document reads and writes SSM"))
    return problems


def settings_refusal(document: object) -> Problem | None:
    """A run file's `settings` (faults on a function's settings) is not the document's to change."""
    if isinstance(document, Mapping) and "settings" in document:
        return Problem(
            "settings",
            "faults on a function's settings: the Automation document writes the config only and cannot"
            " restore a function's settings; run such a file with `chaos-layer run`",
        )
    return None


def for_experiment(experiment: Experiment) -> dict[str, Any]:
    """The template that runs `experiment` from FIS: one action per ramp step, one after the
    other, its alarms as stop conditions. Raises InvalidConfig listing what FIS cannot express."""
    problems = refusals(experiment)
    if problems:
        raise InvalidConfig(f"FIS cannot run experiment {experiment.name!r} as written, nothing was written", problems)
    kill_switch = experiment.kill_switch or settings.DEFAULT_KILL_SWITCH
    actions = []
    for index, step in enumerate(experiment.ramp):
        config = experiment.config(step.rate, "")
        del config["expires_at"], config["enabled"]  # the document sets both when it writes
        actions.append(
            Action(
                f"Step{index + 1}",
                json.dumps(config, separators=(",", ":")),
                iso_duration(step.hold),
                iso_duration(step.hold + END_ALLOWANCE_S),
                f"rate {step.rate:g} for {iso_duration(step.hold)}",
            )
        )
    alarms = [
        {
            "Fn::Join": [
                "",
                [
                    *("arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":"),
                    *({"Ref": "AWS::AccountId"}, f":alarm:{check.alarm}"),
                ],
            ]
        }
        for check in experiment.checks
        if isinstance(check, AlarmCheck)
    ]
    description = f"chaos-layer {experiment.name}: {experiment.hypothesis}"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"AWS FIS runs the chaos-layer experiment {experiment.name}"[:1024],
        "Resources": _resources(experiment.parameter, kill_switch, actions, alarms, description),
        "Outputs": _outputs_section(),
    }


def render(template: Mapping[str, Any]) -> str:
    """The template as YAML, keys in the order written."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    Dumper.ignore_aliases = lambda *_: True  # type: ignore[method-assign]  # CloudFormation rejects aliases
    return yaml.dump(dict(template), Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True)


def from_file(path: str) -> str:
    """The template for the `run` file at `path`, as YAML. Raises UsageError when the file cannot
    be read, InvalidConfig with every problem (of the file, or what FIS cannot express)."""
    from chaos_layer.control import UsageError
    from chaos_layer.experiment import definition

    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    raw = definition.decode(text, json_only=path.lower().endswith(".json"), name=path)
    problems = []
    if (refused := settings_refusal(raw)) is not None and isinstance(raw, Mapping):
        problems.append(refused)
        raw = {key: value for key, value in raw.items() if key not in ("settings", "restore_role")}
    try:
        experiment = definition.parse_experiment(raw, path)
    except InvalidConfig as error:
        raise InvalidConfig(f"{path} is invalid, nothing was written", [*problems, *error.problems]) from None
    problems.extend(refusals(experiment))
    if problems:
        raise InvalidConfig(f"FIS cannot run {path} as written, nothing was written", problems)
    return render(for_experiment(experiment))
