"""The operator API: what the `chaos-layer` CLI, the experiment runner and the Chaos Toolkit
extension drive experiments with. It reads through the library's own reader
(chaos_layer.source), so `status` shows what functions read, and it validates every config
with the library's own rules before writing it. Where a config or kill switch lives (SSM, S3,
AppConfig) is a location's form; `stores` reads and writes each source.

Operators only: the Lambda layer leaves this package out.

- `controller`: `Controller` (status, start, stop, kill) and `clients`;
- `status`: `Status`, everything `status` shows;
- `documents`: config documents as operators write them, durations read;
- `formatting`: rates, spans and instants shown to people, alike in the terminal and the report;
- `errors`: the `ControlError` family (drawn in its docstring) and `aws_errors`;
- `aws_names`: a `dependency` fault's services and error codes against botocore's data;
- `scale`: the environments an experiment reaches and the reads they imply, before a write;
- `stores`: one store per source.
"""

from chaos_layer.control.controller import DEFAULT_DURATION, Controller, clients, creates, ssm_client
from chaos_layer.control.documents import (
    check_type_flags,
    disable,
    enable,
    new_config,
    parse_duration,
    to_json,
    validate,
    validate_text,
)
from chaos_layer.control.errors import (
    AwsError,
    Changed,
    ControlError,
    InvalidConfig,
    NotFound,
    Overwritten,
    UsageError,
    aws_errors,
)
from chaos_layer.control.formatting import format_instant, format_seconds
from chaos_layer.control.status import Status
from chaos_layer.control.stores.base import (
    DEFAULT_STRATEGY,
    PARAMETER_TYPES,
    Clients,
    Deployment,
    Written,
    absent,
)

__all__ = [
    "DEFAULT_DURATION",
    "DEFAULT_STRATEGY",
    "PARAMETER_TYPES",
    "AwsError",
    "Changed",
    "Clients",
    "ControlError",
    "Controller",
    "Deployment",
    "InvalidConfig",
    "NotFound",
    "Overwritten",
    "Status",
    "UsageError",
    "Written",
    "absent",
    "aws_errors",
    "check_type_flags",
    "clients",
    "creates",
    "disable",
    "enable",
    "format_instant",
    "format_seconds",
    "new_config",
    "parse_duration",
    "ssm_client",
    "to_json",
    "validate",
    "validate_text",
]
