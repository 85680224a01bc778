"""Runs an SSM Automation document (schema 0.3) here: it stands in for SSM Automation, which
cannot run here (no AWS account, no network).

Only what chaos-layer's FIS document uses: `aws:executeAwsApi` (the named Service/Api called
with boto3 against the moto server, its Outputs' `$.Path` selectors mapped), `aws:executeScript`
(the Script's Handler called with the InputPayload), `aws:sleep` (through an injectable sleep),
`aws:branch` (Choices and Default); `onFailure` (Abort or step:NAME), `onCancel` (Abort or
step:NAME), `maxAttempts`, `nextStep`, `isEnd`; `{{ Parameter }}` and `{{ Step.Output }}`
substitution. A reference that cannot be resolved stays as written, as its literal text.

Every aws:executeAwsApi call's parameters are checked against botocore's model of the operation
first: an unknown or missing member, or a value of the wrong type, fails the *test*
(AssertionError), not the step, since AWS would refuse the document's call.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters

REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?)\s*\}\}")
ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
TYPES: dict[str, Callable[[Any], Any]] = {
    "String": str,
    "Integer": int,
    "Boolean": bool,
    "StringList": list,
    "MapList": list,
    "StringMap": dict,
}
# Operators of aws:branch's Choices that the document may use.
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "BooleanEquals": lambda value, expected: value is expected,
    "StringEquals": lambda value, expected: str(value) == expected,
    "NumericEquals": lambda value, expected: value == expected,
}
_SESSION = botocore.session.get_session()


class StepFailed(Exception):
    """A step's action failed (an API error, a script that raised, an injected failure)."""


@dataclass
class StepRun:
    name: str
    action: str
    status: str  # Success, Failed or Cancelled
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Execution:
    status: str  # Success, Failed or Cancelled
    steps: list[StepRun]

    def step(self, name: str) -> StepRun:
        return next(step for step in reversed(self.steps) if step.name == name)

    @property
    def names(self) -> list[str]:
        return [step.name for step in self.steps]


@dataclass
class Automation:
    """One execution's settings. `client(service)` makes the boto3 client of a service;
    `cancel_at` cancels the execution when that step starts (its action not run, or run first
    with `cancel_after_action`: the API call was made but its outputs are lost); `fail_at` makes
    a step's every attempt fail; `before` runs a callable before a step (someone else's write)."""

    document: Mapping[str, Any]
    client: Callable[[str], Any]
    sleep: Callable[[float], None] = lambda seconds: None
    cancel_at: str | None = None
    cancel_after_action: bool = False
    fail_at: frozenset[str] = frozenset()
    before: Mapping[str, Callable[[], None]] = field(default_factory=dict)
    api_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def run(self, parameters: Mapping[str, Any]) -> Execution:
        declared = self.document.get("parameters", {})
        missing = [name for name in declared if name not in parameters and "default" not in declared[name]]
        assert not missing, f"parameters missing: {missing}"
        unknown = [name for name in parameters if name not in declared]
        assert not unknown, f"parameters the document does not declare: {unknown}"
        values: dict[str, Any] = {name: spec.get("default") for name, spec in declared.items()}
        values.update(parameters)
        steps = list(self.document["mainSteps"])
        by_name = {step["name"]: index for index, step in enumerate(steps)}
        runs: list[StepRun] = []
        status = "Success"
        cancel_pending = self.cancel_at
        index: int | None = 0
        while index is not None:
            step = steps[index]
            name = step["name"]
            if name in self.before:
                self.before[name]()
            if cancel_pending == name:
                cancel_pending = None
                if self.cancel_after_action:
                    with contextlib.suppress(StepFailed):
                        self._perform(step, values)
                runs.append(StepRun(name, step["action"], "Cancelled"))
                status = "Cancelled"
                index = self._target(step.get("onCancel", "Abort"), by_name)
                continue
            attempts = int(step.get("maxAttempts", 1))
            for attempt in range(attempts):
                try:
                    if name in self.fail_at:
                        raise StepFailed(f"{name}: injected failure (attempt {attempt + 1})")
                    outputs, chosen = self._perform(step, values)
                except StepFailed as error:
                    failure = str(error)
                    continue
                break
            else:
                runs.append(StepRun(name, step["action"], "Failed", failure))
                if status == "Success":
                    status = "Failed"
                index = self._target(step.get("onFailure", "Abort"), by_name)
                continue
            runs.append(StepRun(name, step["action"], "Success", outputs=outputs))
            for key, value in outputs.items():
                values[f"{name}.{key}"] = value
            if chosen is not None:
                index = by_name[chosen]
            elif step.get("isEnd"):
                index = None
            elif "nextStep" in step:
                index = by_name[step["nextStep"]]
            else:
                index = index + 1 if index + 1 < len(steps) else None
        return Execution(status, runs)

    @staticmethod
    def _target(where: str, by_name: Mapping[str, int]) -> int | None:
        if where == "Abort":
            return None
        assert where.startswith("step:"), f"onFailure/onCancel {where!r} is neither Abort nor step:NAME"
        return by_name[where.removeprefix("step:")]

    def _perform(self, step: Mapping[str, Any], values: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The step's outputs, and for aws:branch the step it chose."""
        inputs = substitute(step.get("inputs", {}), values)
        action = step["action"]
        if action == "aws:executeAwsApi":
            response = self._call(dict(inputs))
            return select(response, step.get("outputs", [])), None
        if action == "aws:executeScript":
            namespace: dict[str, Any] = {"__name__": "automation_script"}
            exec(compile(inputs["Script"], f"<{step['name']} script>", "exec"), namespace)
            try:
                payload = namespace[inputs["Handler"]](inputs.get("InputPayload", {}), None)
            except Exception as error:
                raise StepFailed(f"{type(error).__name__}: {error}") from None
            return select({"Payload": jsonable(payload)}, step.get("outputs", [])), None
        if action == "aws:sleep":
            self.sleep(seconds(inputs["Duration"]))
            return {}, None
        if action == "aws:branch":
            for choice in inputs["Choices"]:
                (operator,) = (key for key in choice if key in OPERATORS)
                if OPERATORS[operator](choice["Variable"], choice[operator]):
                    return {}, choice["NextStep"]
            if "Default" not in inputs:
                raise StepFailed(f"{step['name']}: no choice matched and there is no Default")
            return {}, inputs["Default"]
        raise AssertionError(f"the stand-in does not run {action}")

    def _call(self, inputs: dict[str, Any]) -> Any:
        service, api = inputs.pop("Service"), inputs.pop("Api")
        operation = _SESSION.get_service_model(service).operation_model(api)
        try:
            assert operation.input_shape is not None, f"{service} {api} takes no input"
            validate_parameters(inputs, operation.input_shape)
        except ParamValidationError as error:
            raise AssertionError(f"{service} {api} would be refused: {error}") from None
        self.api_calls.append((service, api, inputs))
        client = self.client(service)
        method = {value: key for key, value in client.meta.method_to_api_mapping.items()}[api]
        try:
            response = getattr(client, method)(**inputs)
        except ClientError as error:
            raise StepFailed(f"{api}: {error.response['Error'].get('Code')}") from None
        response.pop("ResponseMetadata", None)
        return jsonable(response)


def substitute(value: Any, values: Mapping[str, Any]) -> Any:
    """`{{ Name }}` and `{{ Step.Output }}` replaced: a whole-string reference by the value itself
    (an Integer stays an integer, a MapList a list), one inside text by its text."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value.strip())
        if whole and whole.group(1) in values:
            return values[whole.group(1)]

        def text(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                return match.group(0)
            found = values[name]
            return found if isinstance(found, str) else json.dumps(found)

        return REFERENCE.sub(text, value)
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "Script" else substitute(item, values) for key, item in value.items()}
    return value


def select(response: Any, outputs: list[Mapping[str, str]]) -> dict[str, Any]:
    """The step's Outputs: `$.A.B` followed into the response, converted to the output's Type."""
    selected = {}
    for output in outputs:
        path = output["Selector"]
        assert path.startswith("$."), f"selector {path!r} is not $.Path"
        found: Any = response
        for part in path[2:].split("."):
            if not isinstance(found, Mapping) or part not in found:
                found = None
                break
            found = found[part]
        if found is not None:
            selected[output["Name"]] = TYPES[output["Type"]](found)
    return selected


def jsonable(value: Any) -> Any:
    """As Automation passes values between steps: JSON (dates as text)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, (date, datetime)) else str(v)))


def seconds(duration: str) -> float:
    match = ISO_DURATION.fullmatch(duration)
    assert match, f"aws:sleep Duration {duration!r} is not ISO 8601"
    assert any(match.groups()), f"aws:sleep Duration {duration!r} is empty"
    days, hours, minutes, secs = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=secs).total_seconds()
