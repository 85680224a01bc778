"""The Python of the Automation document's aws:executeScript steps.

This module's whole text is the `Script` of each such step (each names its own `Handler`), so it
uses the standard library only and runs on Automation's Python 3.11 as it runs here. A handler
takes the step's `InputPayload` and returns what the step's outputs select (`$.Payload.Key`);
raising fails the step, which is how the document refuses to start or reports a race.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

# The config's expiry: the hold plus this, so the experiment ends by itself if every end fails.
EXPIRY_MARGIN = timedelta(minutes=5)
KILL_SWITCH_RELEASED = ("off", "false", "0")
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration as FIS and aws:sleep write it: PT15M, PT1H30M, P1DT2H, PT90S."""
    match = _ISO_DURATION.fullmatch(str(text).strip().upper())
    if not match or not any(match.groups()) or str(text).strip().upper().endswith("T"):
        raise ValueError(f"Duration {text!r} is not an ISO 8601 duration such as PT15M")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _find(parameters: Any, name: str) -> dict[str, Any] | None:
    """The entry of `name` in GetParameters' `Parameters` (None where it does not exist)."""
    if not isinstance(parameters, list):
        return None
    return next((p for p in parameters if isinstance(p, dict) and p.get("Name") == name), None)


def _object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _expired(config: dict[str, Any], now: datetime) -> bool:
    expires_at = config.get("expires_at")
    if not isinstance(expires_at, str):
        return False
    try:
        moment = datetime.fromisoformat(expires_at.strip().replace("Z", "+00:00"))
    except ValueError:
        return False  # the library would refuse this config; still, nobody may overwrite it unasked
    if moment.tzinfo is None:
        return False
    return moment <= now


def held_by(config: dict[str, Any], now: datetime) -> str | None:
    """The experiment that holds a stored config (enabled and not expired), or None."""
    enabled = config.get("enabled", config.get("is_enabled"))  # chaos-lambda's format too
    if enabled is not True or _expired(config, now):
        return None
    return str(config.get("experiment", "default"))


def prepare(events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Refuse when the kill switch is engaged or another experiment holds the config; otherwise
    the config to write (enabled, expiring at most Duration + 5 minutes from now) and the version
    of the config parameter it was read at (0: the parameter does not exist)."""
    now = datetime.now(timezone.utc)
    parameters = events["Parameters"]
    duration = parse_duration(events["Duration"])

    kill_switch = _find(parameters, events["KillSwitchParameter"])
    if kill_switch is not None and str(kill_switch.get("Value", "")).strip().lower() not in KILL_SWITCH_RELEASED:
        raise RuntimeError(f"refused: the kill switch {events['KillSwitchParameter']} is engaged; nothing was written")

    source = _find(parameters, events["ExperimentConfigParameter"])
    config = _object(source.get("Value")) if source else None
    if config is None:
        raise RuntimeError(
            f"refused: {events['ExperimentConfigParameter']} does not hold a config document (a JSON object);"
            " nothing was written"
        )

    current = _find(parameters, events["ConfigParameter"])
    if current is not None:
        if current.get("Type") not in (None, "String"):
            raise RuntimeError(
                f"refused: {events['ConfigParameter']} is a {current.get('Type')} parameter and this document"
                " writes String parameters; nothing was written"
            )
        stored = _object(current.get("Value"))
        holder = held_by(stored, now) if stored is not None else None
        if holder is not None:
            raise RuntimeError(
                f"refused: {events['ConfigParameter']} is held by the enabled experiment {holder!r}"
                f" (version {current.get('Version')}); nothing was written"
            )

    written = {**config, "enabled": True, "expires_at": _instant(now + duration + EXPIRY_MARGIN)}
    written.pop("is_enabled", None)
    return {
        "Value": json.dumps(written, separators=(",", ":")),
        "ReadVersion": int(current["Version"]) if current is not None else 0,
    }


def check_write(events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """A write is this document's alone when PutParameter returned the version read just before
    it + 1; otherwise someone wrote in between and that write was overwritten: say which."""
    name, read, written = events["ConfigParameter"], int(events["ReadVersion"]), int(events["WrittenVersion"])
    if written != read + 1:
        lost = f"version {read + 1}" if written == read + 2 else f"versions {read + 1} to {written - 1}"
        raise RuntimeError(
            f"another write to {name} came between reading version {read} and writing version {written}:"
            f" {lost} was overwritten; `aws ssm get-parameter-history --name {name}` shows who wrote it and"
            " what, so it can be restored"
        )
    return {"Version": written}


def decide_end(events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Whether the config parameter still holds what this document wrote (then `Value` is that
    config disabled). Its written version decides; where the write's outcome is unknown (the step
    was cancelled or failed mid-call) the written value does."""
    name, mine = events["ConfigParameter"], events["WrittenValue"]
    current = _find(events["Parameters"], name)
    version = events.get("WrittenVersion")
    known = isinstance(version, int) and not isinstance(version, bool)
    if current is None:
        ours, reason = False, f"{name} no longer exists; nothing to end"
    elif known:
        ours = int(current["Version"]) == version
        reason = "" if ours else f"{name} was written after this experiment (version {current['Version']} now)"
    else:
        ours = current.get("Value") == mine
        reason = "" if ours else f"{name} does not hold this experiment's config (version {current['Version']})"
    config = _object(mine) or {}
    stop = json.dumps({**config, "enabled": False}, separators=(",", ":"))
    return {
        "Ours": ours,
        "Value": stop,
        "CurrentVersion": int(current["Version"]) if current is not None else 0,
        "Reason": reason or "ending this experiment's config",
    }


def leave(events: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The end where the parameter is someone else's now: nothing is written, the reason is shown."""
    return {"Message": f"left as it is: {events['Reason']}"}
