"""What an injected fault leaves behind: one log record and one EMF metric.

The record goes to the `chaos_layer` logger at WARNING, which Lambda's runtime shows by
default, and propagates to the runtime's own handler: the library adds no handler. Its
message is a JSON object; under Lambda's JSON log format it is passed as a dict, which the
runtime nests as structured JSON instead of a string.

The metric is written as one line of CloudWatch's embedded metric format (EMF) to stdout,
which Lambda sends to CloudWatch Logs, where it becomes a metric. The format is a small
documented JSON document, so it is built here rather than through Powertools' Metrics:
importing those modules on the first injected fault cost tens of milliseconds on that
invocation's critical path (more from a read-only /opt, where nothing caches bytecode).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from chaos_layer.constants import LOGGER_NAME, METRIC_NAME
from chaos_layer.settings import resolve_metrics_namespace

logger = logging.getLogger(LOGGER_NAME)

COUNT = "Count"
MILLISECONDS = "Milliseconds"


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


def report_safely(experiment: str, settings: dict[str, Any], context: Any, dry_run: bool = False) -> None:
    """`report_injection`, but a failure to report is a warning: never the handler's problem."""
    try:
        report_injection(experiment, settings, context, dry_run)
    except Exception:
        logger.warning("chaos-layer could not report an injected fault", exc_info=True)


def emit_metric(experiment: str, fault: str, dry_run: bool = False) -> None:
    metadata = {"dry_run": True} if dry_run else None  # metadata, not a dimension: graphs keep theirs
    write_emf({"experiment": experiment, "fault": fault}, [(METRIC_NAME, COUNT, 1.0)], metadata)


def namespace() -> str:
    return resolve_metrics_namespace()


def emf_record(
    dimensions: Mapping[str, str],
    metrics: list[tuple[str, str, float]],
    metadata: Mapping[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """One EMF document: the metrics `(name, unit, value)` under one dimension set."""
    record: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace(),
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in metrics],
                }
            ],
        },
        **dict(metadata or {}),
        **dimensions,
    }
    for name, _, value in metrics:
        record[name] = [float(value)]
    return record


def write_emf(
    dimensions: Mapping[str, str],
    metrics: list[tuple[str, str, float]],
    metadata: Mapping[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> None:
    """One EMF record on stdout, where Lambda's log stream takes it; `timestamp_ms` files its
    metrics at that time (now, without it)."""
    record = emf_record(dimensions, metrics, metadata, timestamp_ms)
    line = json.dumps(record, separators=(",", ":"), default=str)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
