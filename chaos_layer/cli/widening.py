"""What a `start` would change, and which of its changes widen the blast radius.

`start` is where a person types flags, so it guards against widening by accident: a change
that lets an experiment touch more invocations than the stored config did (targets, match or
cohort removed or changed, a rate raised, an expiry dropped or extended) is
stated and must be confirmed or asked for with --replace. The operator API does not ask: a
runner's ramp raises the rate on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chaos_layer.config import FILTER_KEYS
from chaos_layer.control.stores.base import changed

MISSING = object()


def widenings(before: Mapping[str, Any] | None, after: Mapping[str, Any], now: float | None = None) -> list[str]:
    """Each way `after` reaches further than `before`, in words; empty when it does not.
    A new expiry after one that had passed by `now` extends nothing: that config ran no more."""
    if before is None:
        return []
    found = []
    for key in FILTER_KEYS:
        old, new = before.get(key), after.get(key)
        if old is not None and new is None:
            found.append(f"removes {key}: every invocation it excluded can be hit")
        elif old is not None and new != old and not _narrower_cohort(key, old, new):
            found.append(f"changes {key}: invocations it excluded may be hit")
    old_rate, new_rate = _number(before.get("rate", 1)), _number(after.get("rate", 1))
    if old_rate is not None and new_rate is not None and new_rate > old_rate:
        found.append(f"raises rate from {old_rate:g} to {new_rate:g}")
    old_expiry, new_expiry = instant(before.get("expires_at")), instant(after.get("expires_at"))
    if old_expiry is not None and after.get("expires_at") is None:
        found.append("drops the expiry: the experiment runs until stopped")
    elif (
        old_expiry is not None
        and new_expiry is not None
        and new_expiry > old_expiry
        and (now is None or old_expiry.timestamp() > now)
    ):
        found.append(f"extends the expiry from {before['expires_at']} to {after['expires_at']}")
    return found


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(key, before, after) for each top-level key whose value changes, in the new document's order."""
    old = before or {}
    return [(key, _show(old.get(key, MISSING)), _show(after.get(key, MISSING))) for key in changed(old, after)]


def _narrower_cohort(key: str, old: Any, new: Any) -> bool:
    """A cohort whose percent is lowered, with the same key and salt, only narrows."""
    if key != "cohort" or not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return False
    same = {k: v for k, v in old.items() if k != "percent"} == {k: v for k, v in new.items() if k != "percent"}
    old_percent, new_percent = _number(old.get("percent")), _number(new.get("percent"))
    return same and old_percent is not None and new_percent is not None and new_percent <= old_percent


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def instant(value: Any) -> datetime | None:
    """expires_at as stored, or None when it is absent or not an instant with an offset."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 200 else text[:197] + "..."
