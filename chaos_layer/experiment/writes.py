"""Every write `chaos-layer run` makes to the config: conditional on what it last wrote (or read
before the start), each with a lease, and recorded in the journal.

The runner never overrides anyone. On SSM, which has no conditional write, a write goes out
only when the parameter's version is still the one the runner last wrote, and must come back
as that version + 1; on S3 it carries `If-Match` with the ETag the runner last wrote. When
someone else wrote the config meanwhile (an operator's `stop`, another start, any write), the
runner writes nothing more to it and leaves it as they wrote it.

Every write sets `expires_at` one lease ahead (2 x poll + 60 s) and the runner renews it at
every poll, so a runner that dies or loses its network leaves an experiment that ends by
itself within that lease.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chaos_layer import control
from chaos_layer.experiment.definition import STOP_ATTEMPTS, Experiment
from chaos_layer.experiment.journal import JournalFile, WriteRecord, instant
from chaos_layer.source import Stored


@dataclass(frozen=True)
class Change:
    """Someone else's write to the config during the run."""

    change: str  # who wrote, when, which keys (as far as the source tells)
    at: float
    overwritten: str | None = None  # SSM: a write of ours landed on theirs; how to restore it


class SomeoneElseWrote(Exception):
    """The config was written by someone else since the runner's last write: the run ends."""

    def __init__(self, change: Change) -> None:
        super().__init__(change.change)
        self.change = change


class ConfigWrites:
    """The runner's writes to one config, each conditional on the one before."""

    def __init__(
        self,
        experiment: Experiment,
        controller: control.Controller,
        journal: JournalFile,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.experiment = experiment
        self.controller = controller
        self.journal = journal.journal
        self.clock = clock
        self.sleep = sleep
        self.expected: Stored | None = None  # what the next write must find there
        self.foreign: Change | None = None
        self.attempted = False  # a write went out (it may have landed even if it failed)
        self.rate = 0.0
        self.expires_at: str | None = None
        self._raced: control.Overwritten | None = None  # a write that landed on someone else's
        self._unconfirmed: str | None = None  # a value whose write failed, and may have landed

    def begin(self, expected: Stored) -> None:
        """What the check before the start read: the first write is conditional on it."""
        self.expected = expected

    def expiry(self) -> str:
        """One lease from now, to the second and never later."""
        return control.format_instant(math.floor(self.clock() + self.experiment.lease))

    def write(self, action: str, rate: float) -> control.Written:
        """An enabled config at `rate`, one lease ahead. Raises SomeoneElseWrote when the config
        changed since the runner's last write (nothing is written then), or when a write raced
        this one (SSM: this one landed on theirs); ControlError for any other failure."""
        self.expires_at = self.expiry()
        self.journal.expires_at = self.expires_at
        document = self.experiment.config(rate, self.expires_at)
        self.attempted = True
        self.rate = rate
        try:
            written = self._conditional(document)
        except SomeoneElseWrote:
            self._after(action, document)
            raise
        except control.ControlError as error:
            self.record_failure(action, error, document)
            raise
        self.record_write(action, written, document)
        return written

    def stop(self) -> control.ControlError | None:
        """Disable the config, conditionally and retried; nothing when someone else wrote it."""
        if self.foreign is not None or not self.attempted:
            return None
        assert self.expires_at is not None
        document = self.experiment.config(self.rate, self.expires_at, enabled=False)
        error: control.ControlError | None = None
        for attempt in range(STOP_ATTEMPTS):
            try:
                written = self._conditional(document)
            except SomeoneElseWrote:
                self._after("stop", document)
                return None
            except control.ControlError as failed:
                error = failed
                self.record_failure("stop", failed, document)
                if attempt + 1 < STOP_ATTEMPTS:
                    self.sleep(float(attempt + 1))
                continue
            self.record_write("stop", written, document)
            return None
        return error

    def _conditional(self, document: dict[str, Any]) -> control.Written:
        value = control.to_json(document)
        try:
            written = self.controller.write_config(document, expected=self.expected)
        except control.Changed as error:
            unconfirmed, self._unconfirmed = self._unconfirmed, None
            if unconfirmed is not None and self._landed(unconfirmed):
                return self._conditional(document)  # a write that failed on the way back had landed
            self.foreign = Change(error.change, self.clock())
            raise SomeoneElseWrote(self.foreign) from None
        except control.Overwritten as error:
            if error.version is not None:
                self.expected = Stored(self.experiment.parameter, value, None, error.version)
                if error.lost is not None and self._ours(error.lost, value):  # SDK retry of a landed write
                    return control.Written(self.experiment.parameter, None, error.version)
            self._raced = error
            self.foreign = Change(error.change, self.clock(), overwritten=str(error))
            raise SomeoneElseWrote(self.foreign) from None
        except control.ControlError:
            self._unconfirmed = value  # it may have landed all the same (a lost answer)
            raise
        self._unconfirmed = None
        self.expected = self.controller.written_as_read(written, value)
        return written

    def _after(self, action: str, document: dict[str, Any]) -> None:
        """Someone else wrote: record the write that did not go out, or, when it landed on theirs
        (SSM), record it and put theirs back."""
        raced, self._raced = self._raced, None
        if raced is None or raced.version is None or self.foreign is None:
            self.record_failure(action, None, document)
            return
        landed = control.Written(self.experiment.parameter, None, raced.version)
        self.record_write(action, landed, document, f"it replaced someone else's write: {raced.change}")
        said = str(raced)
        if raced.lost is not None and self.expected is not None:
            said = self._put_back(raced, raced.lost, self.expected)
        self.foreign = replace(self.foreign, overwritten=said)

    def _put_back(self, error: control.Overwritten, lost: int, ours: Stored) -> str:
        """Put their version back, conditional on the runner's write that replaced it, so the
        config is left as they wrote it. What happened, in words."""
        try:
            restored = self.controller.restore(lost, ours)
        except control.ControlError as failed:
            self.record_failure("restore", failed, None)
            return f"{error} (putting version {lost} back failed: {failed})"
        self.record_write("restore", restored, None)
        return (
            f"a write of the runner's (version {error.version}) replaced theirs (version {lost}); the runner put"
            f" theirs back as version {restored.version}, conditional on its own write"
        )

    def _ours(self, version: int, value: str) -> bool:
        """Whether `version` holds this very value: the SDK retried a write whose answer was lost."""
        try:
            return self.controller.config_version(version).value == value
        except control.ControlError:
            return False

    def _landed(self, value: str) -> bool:
        """Whether what is stored now is exactly this value (then taken as the runner's own)."""
        try:
            stored = self.controller.stored_config()
        except control.ControlError:
            return False
        if stored.value != value:
            return False
        self.expected = stored
        return True

    def record_failure(self, action: str, error: control.ControlError | None, document: dict[str, Any] | None) -> None:
        """A write that did not land; without an error, one left out because someone else wrote."""
        said = str(error) if error is not None else None
        if error is None and self.foreign is not None:
            said = f"not written: someone else wrote {self.experiment.parameter} ({self.foreign.change})"
        parameter = self.experiment.parameter if action != "kill" else self.controller.kill_switch
        self.journal.writes.append(WriteRecord(instant(self.clock()), action, parameter, None, document, said))

    def record_write(
        self, action: str, written: control.Written, document: dict[str, Any] | None, error: str | None = None
    ) -> None:
        self.journal.writes.append(
            WriteRecord(instant(self.clock()), action, written.name, written.version, document, error)
        )
