"""One read per period for all the request processes of a Lambda Managed Instances environment.

There (`AWS_LAMBDA_MAX_CONCURRENCY` set) Python runs several processes per execution
environment, and they share the temporary directory. The process whose period ends first
reads, under an exclusive `flock`, and writes what it read to a small JSON file; the others
take it from there until it expires (docs/sources-and-scale.md, "Polling periods"):

- one file per pair of config and kill-switch locations, named by a hash of them, mode 0600,
  written atomically (a temporary file renamed over it);
- it holds what the read found (the stored config text and kill-switch value, or why the read
  failed), when it was read and its period, jittered once by the process that read, so N
  processes do not read at the earliest of N jittered deadlines. Each process checks the
  stored values again with its own rules; nothing in the file is ever run;
- a file that cannot be read, is malformed, another user's, from another boot or dated in the
  future counts as missing: at worst it costs a normal read.

A lock held longer than a read takes (its holder stopped or hung) is not waited for: each
process then reads on its own until it comes free (chaos_layer.source.cache).

The lock is taken on the file itself: a process that locked a file another process has since
renamed over looks again (the usual lock-then-check-the-inode pattern), so no lock file is
left beside it. Times are `time.monotonic()` (CLOCK_MONOTONIC: one clock for every process of
a boot), hence the boot id in the file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import os
import stat
import tempfile
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from chaos_layer.source.reading import MAX_SLOWDOWN, Reading

FORMAT = 1
MAX_BYTES = 1 << 20  # larger than any stored config it may hold (S3 objects included)
BOOT_ID = "/proc/sys/kernel/random/boot_id"
_OPEN = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Interprets(Protocol):
    def interpret(self, config: str | None, kill_switch: str | None) -> Reading: ...


@dataclass(frozen=True)
class Entry:
    """One read, as the processes of an environment share it (monotonic times)."""

    read_at: float
    valid_until: float  # the end of the reading's life
    next_read: float  # when any process reads again (later than valid_until while backing off)
    slowdown: float  # the environment's backoff after throttled reads
    stored: tuple[str | None, str | None] | None  # config text and kill-switch value, when the read found them
    problem: str | None = None  # why the read failed, when it did
    throttled: bool = False


def reading_of(entry: Entry, reader: Interprets) -> Reading:
    """The reading an entry stands for, its stored values checked with the library's rules."""
    if entry.stored is not None:
        return reader.interpret(*entry.stored)
    return Reading(problem=entry.problem or "the shared read failed", throttled=entry.throttled)


def _boot_id() -> str:
    try:
        with open(BOOT_ID, encoding="ascii") as file:
            return file.read().strip()
    except (OSError, ValueError):
        return ""


class Lock:
    """An exclusive flock on the shared file, released on exit (and by the kernel if the
    process dies holding it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> Lock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        os.close(self.fd)  # closing the last descriptor releases the lock


class SharedFile:
    """The shared reading of one config and kill switch in the temporary directory."""

    def __init__(self, parameter: str, kill_switch: str, directory: str | None = None) -> None:
        digest = hashlib.sha256(f"{parameter}\0{kill_switch}".encode("utf-8", "surrogatepass")).hexdigest()
        self.path = os.path.join(directory or tempfile.gettempdir(), f"chaos-layer-{digest[:32]}.json")
        self.boot = _boot_id()

    def load(self) -> Entry | None:
        """The entry in the file, or None when it is missing or cannot be trusted."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _OPEN)
        except OSError:
            return None
        try:
            if not _ours(os.fstat(fd)):
                return None
            data = os.read(fd, MAX_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        if not data or len(data) > MAX_BYTES:
            return None
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return None
        return self._entry(document)

    def try_lock(self) -> Lock | None:
        """The file's lock, or None while another process holds it. Raises OSError when the
        file cannot be used at all (another user's, a directory that refuses it)."""
        for _ in range(3):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _OPEN, 0o600)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
                    raise OSError(errno.EPERM, "not a file of this user", self.path)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    return None
                try:
                    current = os.stat(self.path, follow_symlinks=False).st_ino
                except FileNotFoundError:
                    current = -1
                if current == info.st_ino:
                    if stat.S_IMODE(info.st_mode) != 0o600:  # others could have written it: keep nothing of it
                        os.fchmod(fd, 0o600)
                        os.ftruncate(fd, 0)
                    return Lock(fd)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # renamed over since we opened it: lock the new one
        return None

    def store(self, entry: Entry) -> None:
        """Write an entry atomically; only the holder of the lock writes."""
        document: dict[str, Any] = {
            "format": FORMAT,
            "boot": self.boot,
            "read_at": entry.read_at,
            "valid_until": entry.valid_until,
            "next_read": entry.next_read,
            "slowdown": entry.slowdown,
        }
        if entry.stored is not None:
            document["config"], document["kill_switch"] = entry.stored
        else:
            document["problem"] = entry.problem or ""
            document["throttled"] = entry.throttled
        data = json.dumps(document, ensure_ascii=True, allow_nan=False).encode("ascii")
        temporary = self.path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _OPEN, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temporary, self.path)

    def _entry(self, document: object) -> Entry | None:
        if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("boot") != self.boot:
            return None
        times = [document.get(key) for key in ("read_at", "valid_until", "next_read", "slowdown")]
        if not all(_finite(value) for value in times):
            return None
        read_at, valid_until, next_read, slowdown = (float(value) for value in times)  # type: ignore[arg-type]
        if not (read_at <= valid_until <= next_read and 1 <= slowdown <= MAX_SLOWDOWN):
            return None
        if "problem" in document:
            problem, throttled = document.get("problem"), document.get("throttled")
            if not isinstance(problem, str) or not isinstance(throttled, bool):
                return None
            return Entry(read_at, valid_until, next_read, slowdown, None, problem, throttled)
        config, kill_switch = document.get("config", 0), document.get("kill_switch", 0)
        if not all(value is None or isinstance(value, str) for value in (config, kill_switch)):
            return None
        return Entry(read_at, valid_until, next_read, slowdown, (config, kill_switch))


def _ours(info: os.stat_result) -> bool:
    """A regular file of this user that no one else may read or write."""
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077 == 0


def _finite(value: object) -> bool:
    """A number that is a finite float (an integer too large for one is not: it cannot be a time)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
