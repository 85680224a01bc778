"""Lambda functions, event source mappings and EventBridge Scheduler schedules on the moto
server, for the tests of faults on a function's settings.

moto stores schedules but never runs them; `Lambdas.fire(name)` does what Scheduler would do at
the due time: it calls the schedule's universal target (`arn:aws:scheduler:::aws-sdk:lambda:ACTION`)
with the schedule's input, through boto3, then deletes the schedule (ActionAfterCompletion DELETE).
moto's functions always report LastUpdateStatus Successful; `Lambdas.updating(client, reads)`
makes a client see InProgress on its next reads, as Lambda answers during an update.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore import xform_name

from chaos_layer.experiment.settings_aws import TAG, TAG_VALUE, Settings
from tests.conftest import REGION, MotoServer

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
RESTORE_ROLE = "arn:aws:iam::123456789012:role/chaos-layer-restore"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'ok'\n")
    return buffer.getvalue()


@dataclass
class Lambdas:
    server: MotoServer
    lam: Any
    scheduler: Any
    iam: Any
    sqs: Any

    def function(self, name: str, *, tagged: bool = True, timeout: int = 30, memory: int = 512) -> str:
        """Create a function from a zip; `tagged`: it opts in to settings faults. Its ARN."""
        try:
            role = self.iam.get_role(RoleName="function-role")["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            role = self.iam.create_role(RoleName="function-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
        created = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Timeout=timeout,
            MemorySize=memory,
            Tags={TAG: TAG_VALUE} if tagged else {"team": "payments"},
        )
        return str(created["FunctionArn"])

    def mapping(self, function: str) -> str:
        """An SQS event source mapping to the function, enabled; its UUID."""
        queue = self.sqs.create_queue(QueueName=f"{function}-queue")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return str(self.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function)["UUID"])

    def concurrency(self, name: str) -> int | None:
        value = self.lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        return None if value is None else int(value)

    def configuration(self, name: str) -> dict[str, Any]:
        return dict(self.lam.get_function_configuration(FunctionName=name))

    def enabled(self, uuid: str) -> bool:
        return bool(self.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")

    def schedules(self) -> dict[str, dict[str, Any]]:
        names = [item["Name"] for item in self.scheduler.list_schedules()["Schedules"]]
        return {name: self.scheduler.get_schedule(Name=name) for name in names}

    def fire(self, name: str) -> None:
        """What EventBridge Scheduler does when the schedule is due (moto never runs it)."""
        schedule = self.scheduler.get_schedule(Name=name)
        target = schedule["Target"]
        service, action = target["Arn"].split(":")[-2:]
        assert target["Arn"].startswith("arn:aws:scheduler:::aws-sdk:")
        assert service == "lambda"
        getattr(self.lam, xform_name(action[0].upper() + action[1:]))(**json.loads(target["Input"]))
        assert schedule["ActionAfterCompletion"] == "DELETE"
        self.scheduler.delete_schedule(Name=name)

    def settings(self, **kwargs: Any) -> Settings:
        return Settings(self.lam, self.scheduler, **kwargs)


def lambdas_on(server: MotoServer) -> Lambdas:
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=server.endpoint_url)  # type: ignore[call-overload]

    return Lambdas(server, client("lambda"), client("scheduler"), client("iam"), client("sqs"))


@contextmanager
def conflicting(client: Any, operation: str, then: Any = None) -> Iterator[None]:
    """The client's next `operation` is refused with ResourceConflictException, as Lambda refuses
    an update while the previous one is in progress (moto never does); `then()` runs first, as
    whoever started that update."""
    from botocore.exceptions import ClientError

    remaining = [1]

    def refuse(**_: Any) -> None:
        if remaining[0]:
            remaining[0] -= 1
            if then is not None:
                then()
            error = {"Error": {"Code": "ResourceConflictException", "Message": "An update is in progress"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]

    client.meta.events.register(f"before-call.lambda.{operation}", refuse)
    try:
        yield
    finally:
        client.meta.events.unregister(f"before-call.lambda.{operation}", refuse)


@contextmanager
def updating(client: Any, reads: int) -> Iterator[list[str]]:
    """The client's next `reads` GetFunctionConfiguration answers say LastUpdateStatus InProgress
    (an update Lambda is still applying); yields the statuses the client saw."""
    seen: list[str] = []
    remaining = [reads]

    def answer(parsed: dict[str, Any], **_: Any) -> None:
        if remaining[0] > 0:
            remaining[0] -= 1
            parsed["LastUpdateStatus"] = "InProgress"
        seen.append(str(parsed.get("LastUpdateStatus")))

    client.meta.events.register("after-call.lambda.GetFunctionConfiguration", answer)
    try:
        yield seen
    finally:
        client.meta.events.unregister("after-call.lambda.GetFunctionConfiguration", answer)
