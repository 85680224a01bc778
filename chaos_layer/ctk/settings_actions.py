"""Chaos Toolkit actions that change a function's settings, with `restore_settings` as their
rollback. Each action checks the opt-in tag (`chaos-layer:settings-faults` = `allow` on the
function, or on a mapping's function) and, for a timeout or memory, that the function has no
published version or alias, before anything is written. It records the value it replaces in a
small journal file (`journal`, by default in the working directory) and creates a one-time
EventBridge Scheduler schedule, due after `duration`, that restores that value even if Chaos
Toolkit dies; Chaos Toolkit does not poll, so the schedule is not moved. `restore_settings`
(or `chaos-layer recover JOURNAL`) restores whatever is still the action's value, keeps
someone else's later change, deletes the schedules, and can run again safely."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaos_layer import control
from chaos_layer.exceptions import Problem
from chaos_layer.experiment import settings_faults
from chaos_layer.experiment.settings_aws import Settings

DEFAULT_JOURNAL = "chaos-layer-settings.journal.json"
Configuration = Mapping[str, Any] | None


def set_reserved_concurrency(
    function: str,
    reserved_concurrency: int,
    restore_role: str,
    duration: str = "15m",
    journal: str = DEFAULT_JOURNAL,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Reserve this much concurrency for the function (0: every invocation is throttled)."""
    return _change({"function": function, "reserved_concurrency": reserved_concurrency}, restore_role, duration,
                   journal, configuration)  # fmt: skip


def set_timeout(
    function: str,
    timeout_s: int,
    restore_role: str,
    duration: str = "15m",
    journal: str = DEFAULT_JOURNAL,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Shorten (or lengthen) the function's timeout, in seconds, on $LATEST."""
    return _change({"function": function, "timeout_s": timeout_s}, restore_role, duration, journal, configuration)


def set_memory(
    function: str,
    memory_mb: int,
    restore_role: str,
    duration: str = "15m",
    journal: str = DEFAULT_JOURNAL,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Give the function this much memory (MB), on $LATEST."""
    return _change({"function": function, "memory_mb": memory_mb}, restore_role, duration, journal, configuration)


def set_event_source_mapping_enabled(
    event_source_mapping: str,
    enabled: bool,
    restore_role: str,
    duration: str = "15m",
    journal: str = DEFAULT_JOURNAL,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Disable (or enable) an event source mapping, by UUID: its source stops delivering."""
    return _change({"event_source_mapping": event_source_mapping, "enabled": enabled}, restore_role, duration,
                   journal, configuration)  # fmt: skip


def restore_settings(journal: str = DEFAULT_JOURNAL, configuration: Configuration = None) -> dict[str, Any]:
    """The rollback: restore every setting the actions changed that still holds their value."""
    path = Path(journal)
    data = settings_faults.read_journal(path)
    said: list[str] = []
    error = settings_faults.recover(
        data["settings"],
        _client(configuration),
        lambda text, level: said.append(text),
        lambda: settings_faults.write_journal(path, data),
    )
    if error is not None:
        raise error
    return {"journal": str(path), "settings": [_summary(entry) for entry in data["settings"]], "said": said}


def _change(
    entry: dict[str, Any], restore_role: str, duration: str, journal: str, configuration: Configuration
) -> dict[str, Any]:
    problems: list[Problem] = []
    settings = settings_faults.parse_settings([entry], "settings", problems)
    if problem := settings_faults.role_problem(restore_role):
        problems.append(Problem("restore_role", problem))
    lease = control.parse_duration(duration)
    if problems:
        listed = "; ".join(str(problem) for problem in problems)
        raise control.InvalidConfig(f"the setting is invalid, nothing was written: {listed}", problems)
    path = Path(journal)
    data = settings_faults.read_journal(path) if path.exists() else {"settings": []}
    data["restore_role"] = restore_role
    said: list[str] = []
    machinery = settings_faults.SettingsFaults(
        settings,
        _client(configuration),
        data["settings"],
        role=restore_role,
        lease=lease,
        save=lambda: settings_faults.write_journal(path, data),
        say=lambda text, level: said.append(text),
    )
    try:
        machinery.check()
    except control.InvalidConfig as error:
        # Chaos Toolkit shows an exception's message only: every problem goes into it.
        listed = "; ".join(str(problem) for problem in error.problems)
        raise control.InvalidConfig(f"{error}: {listed}", error.problems) from None
    machinery.apply()
    return {**_summary(data["settings"][-1]), "journal": str(path), "said": said}


def _summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    schedule = entry.get("schedule") or {}
    return {
        "setting": entry.get("setting"),
        "function": entry.get("function"),
        "event_source_mapping": entry.get("event_source_mapping"),
        "replaced": entry.get("replaced"),
        "value": entry.get("value"),
        "state": entry.get("state"),
        "found": entry.get("found"),
        "schedule": schedule.get("name"),
        "restores_by": schedule.get("due"),
    }


def _client(configuration: Configuration) -> Settings:
    options = configuration or {}
    connection = {
        "region": options.get("aws_region"),
        "profile": options.get("aws_profile_name"),
        "endpoint_url": options.get("aws_endpoint_url"),
    }
    return settings_faults.new_client(connection)
