"""What an injected fault leaves behind: one log record and one EMF metric.

The record goes to the `chaos_layer` logger at WARNING, which Lambda's runtime shows by
default, and propagates to the runtime's own handler: the library adds no handler. Its
message is a JSON object; under Lambda's JSON log format it is passed as a dict, which the
runtime nests as structured JSON instead of a string.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from chaos_layer.constants import LOGGER_NAME, METRIC_NAME
from chaos_layer.settings import resolve_metrics_namespace

logger = logging.getLogger(LOGGER_NAME)


def injection_record(experiment: str, settings: dict[str, Any], context: Any, dry_run: bool = False) -> dict[str, Any]:
    record: dict[str, Any] = {
        "message": "chaos-layer dry run: would inject a fault" if dry_run else "chaos-layer injected a fault",
        "experiment": experiment,
        "fault": settings["type"],
        "settings": settings,
        "function_name": getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "request_id": getattr(context, "aws_request_id", None),
    }
    if dry_run:
        record["dry_run"] = True
    return record


def report_injection(experiment: str, settings: dict[str, Any], context: Any, dry_run: bool = False) -> None:
    record = injection_record(experiment, settings, context, dry_run)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        logger.warning(record)
    else:
        logger.warning(json.dumps(record, default=str, separators=(",", ":")))
    emit_metric(experiment, settings["type"], dry_run)


def emit_metric(experiment: str, fault: str, dry_run: bool = False) -> None:
    # Imported on the first injected fault, not at import: the aws_lambda_powertools package
    # loads Logger, Metrics and Tracer, about 100 ms of a cold start from a read-only /opt.
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    namespace = resolve_metrics_namespace()
    # service="" keeps POWERTOOLS_SERVICE_NAME from adding a third dimension
    metrics = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
    metrics.add_metric(name=METRIC_NAME, unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="experiment", value=experiment)
    metrics.add_dimension(name="fault", value=fault)
    if dry_run:  # metadata, not a dimension: the metric keeps the dimensions users graph
        metrics.add_metadata(key="dry_run", value=True)
    print(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")), flush=True)
