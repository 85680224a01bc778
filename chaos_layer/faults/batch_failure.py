"""`batch_failure`: part of an SQS, Kinesis or DynamoDB Streams batch is reported failed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chaos_layer import events
from chaos_layer.contract import Number, field
from chaos_layer.faults.base import NEVER, Fault, Invocation

# Where each stream or queue puts the id that a partial batch response names.
BATCH_ITEM_IDS: dict[str, tuple[str, ...]] = {
    "aws:sqs": ("messageId",),
    "aws:kinesis": ("kinesis", "sequenceNumber"),
    "aws:dynamodb": ("dynamodb", "SequenceNumber"),
}


def batch_item_ids(event: object) -> list[str]:
    """The item identifiers of an SQS, Kinesis or DynamoDB Streams batch, in order, each once
    (one pass: a batch has up to 10,000 records)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return []
    ids: dict[str, None] = {}  # ordered, and a constant-time "seen"
    for record in records:
        source = record.get("eventSource") if isinstance(record, Mapping) else None
        path = BATCH_ITEM_IDS.get(source) if isinstance(source, str) else None
        value: Any = record
        for key in path or ():
            value = value.get(key) if isinstance(value, Mapping) else None
        if path and isinstance(value, str):
            ids[value] = None
    return list(ids)


def _batch_source(event: object) -> bool:
    """Whether `event` looks like a batch this fault can answer for (its first record)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    first = records[0] if isinstance(records, list) and records else None
    return isinstance(first, Mapping) and first.get("eventSource") in BATCH_ITEM_IDS


class BatchFailureFault(Fault):
    """Reports a `fraction` of an SQS, Kinesis or DynamoDB Streams batch as failed in a
    partial batch response, on top of the failures the handler reports itself."""

    type = "batch_failure"
    durable = NEVER
    fails_invocation = False
    description = (
        "For SQS, Kinesis and DynamoDB Streams events, reports a fraction of the batch's records as failed in"
        " batchItemFailures, merged with the handler's own (the event source mapping needs"
        " ReportBatchItemFailures); not injected for other events."
    )
    examples = ({"type": "batch_failure", "fraction": 0.2},)
    fraction: float = field(
        Number(0, 1), "Share (0..1) of the batch's records reported failed; at least one when above 0."
    )

    def skipped_for(self, event: Any) -> str | None:
        if _batch_source(event):
            return None
        return (
            f"batch_failure skipped for {events.event_kind(event)} events:"
            " it applies only to SQS, Kinesis and DynamoDB Streams batches"
        )

    def apply(self, invocation: Invocation, proceed: Callable[[], Any]) -> Any:
        ids = batch_item_ids(invocation.event)
        # At least one record when fraction > 0, so a selected batch always sees a failure.
        count = min(len(ids), max(1, round(self.fraction * len(ids)))) if ids and self.fraction > 0 else 0
        chosen = invocation.random.sample(ids, count)
        response = proceed()
        if not chosen:
            return response
        try:
            merged = _merged(response, ids, set(chosen))
        except Exception:  # a response too odd to read: the handler's answer stands, whole
            merged = None
        if merged is None:
            return response
        if not invocation.takes_effect(self):
            return response
        return merged


def _merged(response: Any, ids: list[str], chosen: set[str]) -> dict[str, Any] | None:
    """The response with the chosen items among its failures, after every item the handler
    reported itself; None when there is nothing to add or the handler's value cannot be
    extended (a string, a number: its answer then stands as it is)."""
    merged = dict(response) if isinstance(response, Mapping) else {}
    own = merged.get("batchItemFailures")
    if own is None:
        reported: list[Any] = []
    elif isinstance(own, Sequence) and not isinstance(own, (str, bytes, bytearray)):
        reported = list(own)  # a tuple too: Lambda sends any sequence as a JSON array
    else:
        return None
    known = {  # the identifiers the handler reported itself (strings; anything else is left as it is)
        identifier
        for item in reported
        if isinstance(item, Mapping) and isinstance(identifier := item.get("itemIdentifier"), str)
    }
    added = [{"itemIdentifier": item} for item in ids if item in chosen and item not in known]
    if not added:  # the handler had already reported them all
        return None
    merged["batchItemFailures"] = reported + added
    return merged
