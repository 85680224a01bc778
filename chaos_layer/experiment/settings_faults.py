"""Faults on a function's settings: throttling (reserved concurrency), a shorter timeout, less
memory, a stopped event source mapping. Each change is journaled before it is made, restored in
every ending only where the setting still holds what the runner wrote (someone else's later
change is reported and kept), and guarded by a one-time EventBridge Scheduler schedule that
restores it if the runner dies: due one lease ahead (2 x poll + 60 s), moved at every poll.

A function is changed only when it carries the tag `chaos-layer:settings-faults` = `allow`
(for a mapping: its function); that, and every other check, happens before anything is written.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos_layer import control
from chaos_layer.contract import Fields, describe, join
from chaos_layer.exceptions import Problem
from chaos_layer.experiment.settings_aws import (
    FUNCTION_KEYS,
    MAPPING_KEYS,
    TAG,
    TAG_VALUE,
    Busy,
    Changed,
    Settings,
    Target,
    Value,
    describe_target,
    error_code,
    function_name,
    instant,
    shown,
)

# The bounds Lambda itself sets; a value outside them would fail half-way through a run.
BOUNDS = {"reserved_concurrency": (0, None), "timeout_s": (1, 900), "memory_mb": (128, 10240)}
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
WRITE_ATTEMPTS = 3
# Journal states of a change: planned (replaced value recorded, nothing written yet), changed,
# restored, kept (someone else changed it; left as they set it), unchanged (it already held the value).
OPEN_STATES = ("planned", "changed")


@dataclass(frozen=True)
class Setting:
    """One setting the file changes: `target` is a function name or a mapping's UUID."""

    location: str
    key: str
    value: int | bool
    function: str | None = None
    mapping: str | None = None

    @property
    def subject(self) -> str:
        return f"event source mapping {self.mapping}" if self.mapping else f"function {self.function}"


def parse_settings(raw: object, location: str, problems: list[Problem]) -> tuple[Setting, ...]:
    """`settings: [{function: checkout, reserved_concurrency: 0}, {event_source_mapping: UUID,
    enabled: false}]`, with every problem and its location."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(Problem(location, f"must be an array, not {describe(raw)}"))
        return ()
    if not raw:
        problems.append(Problem(location, "must list at least one setting (or leave settings out)"))
    found: list[Setting] = []
    seen: dict[tuple[str, str], str] = {}
    for index, item in enumerate(raw):
        where = join(location, index)
        fields = Fields(item, where, problems)
        if not fields.is_object:
            continue
        function = fields.string("function", "") if fields.has("function") else None
        mapping = fields.string("event_source_mapping", "") if fields.has("event_source_mapping") else None
        if function is None and mapping is None:
            fields.problem("", "must name a function or an event_source_mapping")
        elif function is not None and mapping is not None:
            fields.problem("", "must name a function or an event_source_mapping, not both")
        elif function is not None and (not function or ":" in function.removeprefix("arn:").split(":function:")[-1]):
            fields.problem(
                "function",
                "must name a function (a name or an unqualified ARN), not a version or alias: the settings"
                " belong to the function",
            )
        keys = FUNCTION_KEYS if mapping is None else MAPPING_KEYS
        others = MAPPING_KEYS if mapping is None else FUNCTION_KEYS
        given = [key for key in keys if fields.has(key)]
        for key in others:
            if fields.has(key):
                owner = "an event_source_mapping" if key in MAPPING_KEYS else "a function"
                fields.problem(key, f"is a setting of {owner}")
        if not given and (function or mapping):
            fields.problem("", f"must set {' or '.join(keys)}")
        for key in given:
            value = _value(fields, key)
            subject = mapping or function or ""
            if value is None or not subject:
                continue
            setting = Setting(join(where, key), key, value, function, mapping)
            if (subject, key) in seen:
                fields.problem(key, f"is already set for {setting.subject} at {seen[(subject, key)]}")
                continue
            seen[(subject, key)] = setting.location
            found.append(setting)
        fields.finish()
    return tuple(found)


def _value(fields: Fields, key: str) -> int | bool | None:
    raw = fields.raw(key)
    if key == "enabled":
        if isinstance(raw, bool):
            return raw
        fields.problem(key, f"must be true or false, not {describe(raw)}")
        return None
    low, high = BOUNDS[key]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= low and (high is None or raw <= high):
        return raw
    bound = f"{low} or more" if high is None else f"from {low} to {high}"
    fields.problem(key, f"must be a whole number {bound}, not {describe(raw)}")
    return None


def role_problem(role: str) -> str | None:
    if ROLE_ARN.match(role):
        return None
    return (
        "must be the ARN of the IAM role EventBridge Scheduler assumes to restore a setting"
        " (arn:aws:iam::ACCOUNT:role/NAME)"
    )


def lease_of(poll: float) -> float:
    """How far ahead a restoring schedule is due: two polls and a minute, as the config's lease."""
    return 2 * poll + 60.0


# before anything is written


def check(settings: tuple[Setting, ...], client: Settings) -> list[Target]:
    """Find what each setting changes and refuse, with every reason, a function without the tag,
    a missing one, or a timeout or memory change that a version or alias would not see."""
    problems: list[Problem] = []
    targets: list[Target] = []
    functions: dict[str, dict[str, Any] | None] = {}
    lam = client.lambda_client
    for setting in settings:
        mapping_arn = None
        where = setting.location.rsplit(".", 1)[0]
        if setting.mapping is not None:
            with control.aws_errors(f"read the event source mapping {setting.mapping}", service="Lambda"):
                try:
                    mapping = lam.get_event_source_mapping(UUID=setting.mapping)
                except Exception as error:
                    if error_code(error) != "ResourceNotFoundException":
                        raise
                    problems.append(Problem(join(where, "event_source_mapping"), "no such event source mapping"))
                    continue
            name = function_name(str(mapping.get("FunctionArn", "")))
            mapping_arn = mapping.get("EventSourceMappingArn")
            key_location = join(where, "event_source_mapping")
        else:
            name = str(setting.function)
            key_location = join(where, "function")
        if name not in functions:
            functions[name] = _function(lam, name)
        function = functions[name]
        if function is None:
            problems.append(Problem(key_location, f"no such function: {name}"))
            continue
        arn = str(function["Configuration"]["FunctionArn"])
        tags = function.get("Tags") or {}
        if tags.get(TAG) != TAG_VALUE:
            whose = f"its function {name}" if setting.mapping else f"{name}"
            found = f" (it is {tags[TAG]!r})" if TAG in tags else ""
            problems.append(
                Problem(
                    key_location,
                    f"{whose} does not carry the tag {TAG}={TAG_VALUE}{found}: settings are changed only on a function"
                    " whose owner opted in",
                )
            )
            continue
        if setting.key in ("timeout_s", "memory_mb"):
            published = _published(lam, name)
            if published:
                problems.append(
                    Problem(
                        setting.location,
                        f"changes only the unpublished version ($LATEST) of {name}, but {name} has {published}:"
                        " invocations through them would not see it; test on a function invoked as $LATEST",
                    )
                )
                continue
        targets.append(Target(setting.key, arn, setting.mapping, mapping_arn))
    if problems:
        raise control.InvalidConfig("the settings cannot be changed, nothing was written", problems)
    return targets


def _function(lam: Any, name: str) -> dict[str, Any] | None:
    with control.aws_errors(f"read the function {name}", service="Lambda"):
        try:
            return dict(lam.get_function(FunctionName=name))
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise


def _published(lam: Any, name: str) -> str:
    """`published versions (1, 2) and aliases (live)`, or `` when it has neither."""
    with control.aws_errors(f"list the versions and aliases of {name}", service="Lambda"):
        versions = [
            str(version["Version"])
            for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=name)
            for version in page.get("Versions", [])
            if version.get("Version") != "$LATEST"
        ]
        aliases = [
            str(alias["Name"])
            for page in lam.get_paginator("list_aliases").paginate(FunctionName=name)
            for alias in page.get("Aliases", [])
        ]
    said = []
    if versions:
        said.append(f"published versions ({', '.join(versions[:5])}{', ...' if len(versions) > 5 else ''})")
    if aliases:
        said.append(f"aliases ({', '.join(aliases[:5])}{', ...' if len(aliases) > 5 else ''})")
    return " and ".join(said)


# during the run


class SettingsFaults:
    """Applies the file's settings, keeps their restoring schedules one lease ahead, and restores
    them. `entries` is the journal's `settings` list, changed in place; `save` writes the journal."""

    def __init__(
        self,
        settings: tuple[Setting, ...],
        client: Settings,
        entries: list[dict[str, Any]],
        *,
        role: str,
        lease: float,
        save: Callable[[], None] = lambda: None,
        say: Callable[[str, str], None] = lambda text, level: None,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.entries = entries
        self.role = role
        self.lease = lease
        self.save = save
        self.say = say
        self.run_id = run_id or secrets.token_hex(6)
        self.targets: list[Target] = []

    @property
    def clock(self) -> Callable[[], float]:
        return self.client.clock

    def check(self) -> None:
        """Before anything is written: the tag, the function, its versions and aliases."""
        if self.settings:
            self.targets = check(self.settings, self.client)

    def apply(self) -> None:
        """For each setting: journal the value it replaces, create its restoring schedule, then
        change it. An error leaves the changes made so far to `restore`."""
        if self.settings and not self.targets:
            self.check()
        for index, (setting, target) in enumerate(zip(self.settings, self.targets, strict=True)):
            replaced, revision = self.client.read(target)
            entry = _entry(setting, target, replaced)
            self.entries.append(entry)
            if replaced == setting.value:
                entry["state"] = "unchanged"
                _event(entry, self.clock(), "unchanged", f"already {shown(setting.key, replaced)}")
                self.save()
                self.say(f"Setting {setting.key} of {setting.subject}: already {shown(setting.key, replaced)}.", "info")
                continue
            self.save()  # the replaced value is on disk before anything changes
            name = f"chaos-layer-restore-{self.run_id}-{index + 1}"
            entry["schedule"] = self.client.schedule(
                name, target, replaced, self.role, self.clock() + self.lease, create=True
            )
            _event(entry, self.clock(), "scheduled", f"restore due {entry['schedule']['due']}")
            self.save()
            self._write(target, setting.value, replaced, revision)
            entry["state"] = "changed"
            entry["changed_at"] = instant(self.clock())
            change = f"{shown(setting.key, replaced)} -> {shown(setting.key, setting.value)}"
            _event(entry, self.clock(), "changed", change)
            self.save()
            self.say(
                f"Setting {setting.key} of {setting.subject}: {shown(setting.key, replaced)} ->"
                f" {shown(setting.key, setting.value)} (restored at the end; by the schedule {name} at"
                f" {entry['schedule']['due']} if this runner dies).",
                "info",
            )

    def renew(self) -> None:
        """At each poll: move every open change's schedule one lease on; a value someone else
        changed is theirs (its schedule is deleted so nothing undoes their change)."""
        for entry, target in self._open():
            if entry["state"] != "changed":
                continue
            try:
                current, _ = self.client.read(target)
                if current != entry["value"]:
                    self._keep(entry, current)
                    continue
                schedule = entry["schedule"]
                entry["schedule"] = self.client.schedule(
                    schedule["name"], target, entry["replaced"], self.role, self.clock() + self.lease, create=False
                )
            except (control.ControlError, Busy) as error:
                # The schedule stays due a lease after the last move: one missed poll is within it.
                _event(entry, self.clock(), "renew failed", str(error))
                self.say(f"Could not move the restoring schedule of {label(entry)} ({error}); trying again.", "warn")
        self.save()

    def restore(self) -> control.ControlError | None:
        """Put back every value the runner changed, only where it still holds what the runner
        wrote; the first error, if any (each setting is tried)."""
        failure: control.ControlError | None = None
        for entry, target in reversed(self._open()):
            error = restore_entry(entry, target, self.client, self.clock, self.say)
            self.save()
            failure = failure or error
        return failure

    def _open(self) -> list[tuple[dict[str, Any], Target]]:
        return [(entry, target_of(entry)) for entry in self.entries if entry["state"] in OPEN_STATES]

    def _keep(self, entry: dict[str, Any], current: Value) -> None:
        keep(entry, current, self.client, self.clock, self.say)

    def _write(self, target: Target, value: Value, replaced: Value, revision: str | None) -> None:
        """Change the setting, conditional on the read of `replaced`. An update in progress is
        waited out and the value read again: a value that is no longer `replaced` is someone
        else's, and the runner leaves it alone."""
        moved = control.AwsError(
            f"{describe_target(target)}: {target.key} was changed by someone else while the runner was changing it;"
            " the runner left it as it is"
        )
        for _ in range(WRITE_ATTEMPTS):
            try:
                self.client.write(target, value, revision)
                return
            except Changed:
                raise moved from None
            except Busy:
                current, revision = self.client.read(target)
                if current != replaced:
                    raise moved from None
        raise control.AwsError(
            f"could not set {target.key} of {describe_target(target)}: Lambda kept refusing the update"
        )


def _entry(setting: Setting, target: Target, replaced: Value) -> dict[str, Any]:
    return {
        "location": setting.location,
        "function": function_name(target.function_arn),
        "function_arn": target.function_arn,
        "event_source_mapping": setting.mapping,
        "event_source_mapping_arn": target.mapping_arn,
        "setting": setting.key,
        "value": setting.value,
        "replaced": replaced,
        "state": "planned",
        "changed_at": None,
        "restored_at": None,
        "found": None,
        "schedule": None,
        "events": [],
    }


def target_of(entry: Mapping[str, Any]) -> Target:
    return Target(
        str(entry["setting"]),
        str(entry["function_arn"]),
        entry.get("event_source_mapping"),
        entry.get("event_source_mapping_arn"),
    )


def _event(entry: dict[str, Any], at: float, what: str, detail: str) -> None:
    entry["events"].append({"at": instant(at), "event": what, "detail": detail})


def label(entry: Mapping[str, Any]) -> str:
    subject = entry.get("event_source_mapping")
    where = f"event source mapping {subject}" if subject else f"function {entry['function']}"
    return f"{entry['setting']} of {where}"


def keep(
    entry: dict[str, Any], current: Value, client: Settings, clock: Callable[[], float], say: Callable[[str, str], None]
) -> None:
    """Someone else set the value: keep it, say so, and delete the schedule that would undo it."""
    key = str(entry["setting"])
    entry.update(state="kept", found=current)
    _event(entry, clock(), "kept", f"found {shown(key, current)}, not the runner's {shown(key, entry['value'])}")
    _delete_schedule(entry, client, clock, say)
    say(
        f"{label(entry)} is now {shown(key, current)}, not the {shown(key, entry['value'])} the runner set:"
        f" someone else changed it; kept as they set it (not restored to {shown(key, entry['replaced'])}).",
        "warn",
    )


def restore_entry(
    entry: dict[str, Any],
    target: Target,
    client: Settings,
    clock: Callable[[], float],
    say: Callable[[str, str], None],
) -> control.ControlError | None:
    """The comparing rule: read the value just before restoring; restore only the runner's own."""
    key = str(entry["setting"])
    for attempt in range(WRITE_ATTEMPTS):
        try:
            current, revision = client.read(target)
            if current == entry["replaced"]:  # restored already (by its schedule, or by hand)
                entry.update(state="restored", restored_at=instant(clock()))
                _event(entry, clock(), "restored", f"already {shown(key, current)}")
                _delete_schedule(entry, client, clock, say)
                say(f"{label(entry)}: {shown(key, current)}, as before the run.", "ok")
                return None
            if current != entry["value"]:
                keep(entry, current, client, clock, say)
                return None
            client.write(target, entry["replaced"], revision)
        except (Busy, Changed):
            continue  # read again, compare again
        except control.ControlError as error:
            _event(entry, clock(), "restore failed", str(error))
            if attempt + 1 < WRITE_ATTEMPTS:
                client.sleep(float(attempt + 1))
                continue
            schedule = entry.get("schedule") or {}
            say(
                f"Could not restore {label(entry)} to {shown(key, entry['replaced'])}: {error}. The schedule"
                f" {schedule.get('name')} restores it at {schedule.get('due')}; or run chaos-layer recover JOURNAL.",
                "error",
            )
            return error
        entry.update(state="restored", restored_at=instant(clock()))
        _event(entry, clock(), "restored", f"{shown(key, entry['value'])} -> {shown(key, entry['replaced'])}")
        _delete_schedule(entry, client, clock, say)
        say(f"Restored {label(entry)}: {shown(key, entry['replaced'])}.", "ok")
        return None
    moving = control.AwsError(f"could not restore {label(entry)}: it kept changing under the runner")
    _event(entry, clock(), "restore failed", str(moving))
    say(f"{moving}; run chaos-layer recover JOURNAL.", "error")
    return moving


def _delete_schedule(
    entry: dict[str, Any], client: Settings, clock: Callable[[], float], say: Callable[[str, str], None]
) -> None:
    schedule = entry.get("schedule")
    if not schedule or schedule.get("deleted"):
        return
    try:
        existed = client.delete_schedule(str(schedule["name"]))
    except control.ControlError as error:
        _event(entry, clock(), "schedule not deleted", str(error))
        say(f"Could not delete the schedule {schedule['name']}: {error}; chaos-layer recover deletes it.", "warn")
        return
    schedule["deleted"] = True
    _event(entry, clock(), "schedule deleted" if existed else "schedule gone", str(schedule["name"]))


ENDINGS = {
    "restored": "restored",
    "kept": "kept: someone else changed it to {found}",
    "unchanged": "unchanged: it already held the value",
    "planned": "not restored: recover it (chaos-layer recover JOURNAL)",
    "changed": "not restored: recover it (chaos-layer recover JOURNAL)",
}


def settings_rows(entries: list[Mapping[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """For the report: setting, value before, the runner's value, how it ended, its events."""
    rows = []
    for entry in entries:
        key = str(entry.get("setting"))
        ending = ENDINGS.get(str(entry.get("state")), str(entry.get("state")))
        events = "; ".join(
            f"{event.get('at')} {event.get('event')}: {event.get('detail')}" for event in entry.get("events") or []
        )
        rows.append(
            (
                label(entry),
                shown(key, entry.get("replaced")),
                shown(key, entry.get("value")),
                ending.format(found=shown(key, entry.get("found"))),
                events,
            )
        )
    return rows


# after a runner died


def recover(
    entries: list[dict[str, Any]],
    client: Settings,
    say: Callable[[str, str], None],
    save: Callable[[], None] = lambda: None,
) -> control.ControlError | None:
    """Restore whatever the journal says is still changed (by the comparing rule) and delete every
    schedule left; a second run finds nothing to do."""
    failure: control.ControlError | None = None
    clock = client.clock
    for entry in reversed(entries):
        if entry.get("state") in OPEN_STATES:
            error = restore_entry(entry, target_of(entry), client, clock, say)
            failure = failure or error
        else:
            schedule = entry.get("schedule")
            if schedule and not schedule.get("deleted"):
                _delete_schedule(entry, client, clock, say)
            say(f"{label(entry)}: nothing to do ({entry.get('state')}).", "info")
        save()
    return failure


def new_client(connection: Mapping[str, Any], clock: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> Settings:  # fmt: skip
    clients = control.clients(**connection)
    with control.aws_errors("create the Lambda and Scheduler clients"):
        return Settings(clients("lambda"), clients("scheduler"), clock=clock, sleep=sleep)


def read_journal(path: Path) -> dict[str, Any]:
    """A run's journal, or the Chaos Toolkit actions' settings journal: any JSON object with a
    `settings` list. A missing file holds nothing to restore."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"settings": []}  # no action ran: nothing to restore
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise control.UsageError(f"cannot read the settings journal {path}: {error}") from None
    if isinstance(data, dict) and "settings" not in data and "verdict" in data:
        data["settings"] = []  # a run without settings
    if not isinstance(data, dict) or not isinstance(data.get("settings"), list):
        raise control.UsageError(f"{path} is not a settings journal (no settings list)")
    return data


def write_journal(path: Path, data: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise control.UsageError(f"cannot write the settings journal {path}: {error.strerror or error}") from None
