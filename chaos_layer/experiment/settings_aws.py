"""Reading and writing one function setting (reserved concurrency, timeout, memory) or an event
source mapping's state, and the EventBridge Scheduler schedule that restores it if the runner
dies. Lambda refuses an update while the previous one is in progress, so every write first
waits for it, and a conflict is waited out, never skipped."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from chaos_layer import control

TAG = "chaos-layer:settings-faults"
TAG_VALUE = "allow"
FUNCTION_KEYS = ("reserved_concurrency", "timeout_s", "memory_mb")
MAPPING_KEYS = ("enabled",)
# The API field behind each key, for people and for the restore's input.
API_FIELDS = {
    "reserved_concurrency": "ReservedConcurrentExecutions",
    "timeout_s": "Timeout",
    "memory_mb": "MemorySize",
    "enabled": "Enabled",
}
# How long a write waits for Lambda's previous update (or a mapping's transition) to finish.
UPDATE_WAIT = 180.0
UPDATE_POLL = 2.0
SCHEDULE_GROUP = "default"
# A mapping's states while it moves between enabled and disabled; its value is where it is going.
MAPPING_STATES = {"Enabled": True, "Enabling": True, "Disabled": False, "Disabling": False}
MAPPING_BUSY = ("Creating", "Updating", "Deleting", "Enabling", "Disabling")

Value = int | bool | None


class Busy(Exception):
    """Lambda still applies a previous update after the whole wait."""


@dataclass(frozen=True)
class Target:
    """What one setting changes, as found before the run: ARNs carry the region for `recover`."""

    key: str
    function_arn: str
    mapping_uuid: str | None = None
    mapping_arn: str | None = None

    @property
    def partition(self) -> str:
        return self.function_arn.split(":")[1] if self.function_arn.count(":") >= 5 else "aws"

    @property
    def region(self) -> str | None:
        parts = self.function_arn.split(":")
        return parts[3] if len(parts) >= 6 and parts[3] else None


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class Settings:
    """One Lambda client and one Scheduler client; `sleep` must let `clock` move on."""

    def __init__(
        self,
        lambda_client: Any,
        scheduler: Any,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.lambda_client = lambda_client
        self.scheduler = scheduler
        self.clock = clock
        self.sleep = sleep

    # reading

    def read(self, target: Target) -> tuple[Value, str | None]:
        """The setting's value now, and the RevisionId to make a write conditional on this read
        (None where the API has none). Waits while an update is in progress."""
        deadline = self.clock() + UPDATE_WAIT
        while True:
            value, revision, busy = self._read_once(target)
            if not busy:
                return value, revision
            if self.clock() >= deadline:
                raise Busy(f"{describe_target(target)} is still being updated after {UPDATE_WAIT:.0f}s")
            self.sleep(UPDATE_POLL)

    def _read_once(self, target: Target) -> tuple[Value, str | None, bool]:
        client = self.lambda_client
        if target.key == "enabled":
            with control.aws_errors(f"read the event source mapping {target.mapping_uuid}", service="Lambda"):
                mapping = client.get_event_source_mapping(UUID=target.mapping_uuid)
            state = str(mapping.get("State", ""))
            return MAPPING_STATES.get(state), None, state in MAPPING_BUSY
        if target.key == "reserved_concurrency":
            with control.aws_errors(f"read the reserved concurrency of {target.function_arn}", service="Lambda"):
                answer = client.get_function_concurrency(FunctionName=target.function_arn)
            reserved = answer.get("ReservedConcurrentExecutions")
            return (None if reserved is None else int(reserved)), None, False
        with control.aws_errors(f"read the configuration of {target.function_arn}", service="Lambda"):
            config = client.get_function_configuration(FunctionName=target.function_arn)
        busy = config.get("LastUpdateStatus") == "InProgress" or config.get("State") == "Pending"
        return int(config[API_FIELDS[target.key]]), config.get("RevisionId"), busy

    # writing

    def write(self, target: Target, value: Value, revision: str | None) -> None:
        """Set the value, conditional on `revision` where the API takes one. A conflict (an update
        in progress) is waited out; the caller reads again and decides again."""
        client = self.lambda_client
        action = f"set {target.key} of {describe_target(target)}"
        with control.aws_errors(action, service="Lambda"):
            try:
                if target.key == "enabled":
                    client.update_event_source_mapping(UUID=target.mapping_uuid, Enabled=bool(value))
                elif target.key == "reserved_concurrency":
                    if value is None:
                        client.delete_function_concurrency(FunctionName=target.function_arn)
                    else:
                        client.put_function_concurrency(
                            FunctionName=target.function_arn, ReservedConcurrentExecutions=int(value)
                        )
                else:
                    extra = {"RevisionId": revision} if revision else {}
                    client.update_function_configuration(
                        FunctionName=target.function_arn, **{API_FIELDS[target.key]: int(value or 0)}, **extra
                    )
            except Exception as error:
                if error_code(error) in ("ResourceConflictException", "ResourceInUseException"):
                    raise Busy(str(error)) from None
                if error_code(error) == "PreconditionFailedException":
                    raise Changed(str(error)) from None
                raise

    # the dead man's switch

    def restore_call(self, target: Target, replaced: Value) -> tuple[str, dict[str, Any]]:
        """The Scheduler universal target (ARN) and input that put `replaced` back."""
        payload: dict[str, Any]
        if target.key == "enabled":
            action, payload = "updateEventSourceMapping", {"UUID": target.mapping_uuid, "Enabled": bool(replaced)}
        elif target.key == "reserved_concurrency":
            if replaced is None:
                action, payload = "deleteFunctionConcurrency", {"FunctionName": target.function_arn}
            else:
                action = "putFunctionConcurrency"
                payload = {"FunctionName": target.function_arn, "ReservedConcurrentExecutions": replaced}
        else:
            action = "updateFunctionConfiguration"
            payload = {"FunctionName": target.function_arn, API_FIELDS[target.key]: replaced}
        return f"arn:{target.partition}:scheduler:::aws-sdk:lambda:{action}", payload

    def schedule(
        self, name: str, target: Target, replaced: Value, role: str, due: float, *, create: bool
    ) -> dict[str, Any]:
        """Create (or move) the one-time schedule due at `due` that restores `replaced`; it deletes
        itself after running."""
        arn, payload = self.restore_call(target, replaced)
        request = {
            "Name": name,
            "GroupName": SCHEDULE_GROUP,
            "ScheduleExpression": at_expression(due),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Description": f"chaos-layer: restores {target.key} of {describe_target(target)} if the runner dies",
            "Target": {
                "Arn": arn,
                "RoleArn": role,
                "Input": json.dumps(payload),
                # Lambda may refuse while another update runs: keep trying for an hour.
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185},
            },
        }
        verb = "create" if create else "move"
        with control.aws_errors(f"{verb} the restoring schedule {name}", service="EventBridge Scheduler"):
            (self.scheduler.create_schedule if create else self.scheduler.update_schedule)(**request)
        return {"name": name, "group": SCHEDULE_GROUP, "due": instant(due), "target": arn, "input": payload}

    def delete_schedule(self, name: str) -> bool:
        """Delete the schedule; False when it was already gone (it ran, or was deleted)."""
        with control.aws_errors(f"delete the schedule {name}", service="EventBridge Scheduler"):
            try:
                self.scheduler.delete_schedule(Name=name, GroupName=SCHEDULE_GROUP)
            except Exception as error:
                if error_code(error) == "ResourceNotFoundException":
                    return False
                raise
        return True


class Changed(Exception):
    """The RevisionId no longer matches: someone changed the function since the read."""


def at_expression(due: float) -> str:
    """A one-time schedule's expression, to the next whole second (UTC)."""
    moment = datetime.fromtimestamp(math.ceil(due), timezone.utc)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def instant(seconds: float) -> str:
    text = datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def describe_target(target: Target) -> str:
    if target.mapping_uuid is not None:
        return f"event source mapping {target.mapping_uuid}"
    return f"function {function_name(target.function_arn)}"


def function_name(arn_or_name: str) -> str:
    """`checkout` from `arn:aws:lambda:us-east-1:123:function:checkout[:qualifier]`."""
    parts = arn_or_name.split(":")
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else arn_or_name


def shown(key: str, value: Value) -> str:
    """A value for people: `none set` for no reserved concurrency, `3 s`, `256 MB`."""
    if value is None:
        return "none set" if key == "reserved_concurrency" else "unknown"
    if key == "enabled":
        return "enabled" if value else "disabled"
    return f"{value} s" if key == "timeout_s" else f"{value} MB" if key == "memory_mb" else str(value)
