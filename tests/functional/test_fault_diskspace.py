"""`diskspace` through `@inject_fault`: real space on a temporary directory, held by a file
that has no name, so it comes back when the invocation ends and when the process dies."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from chaos_layer import _sweep
from chaos_layer.faults import _disk
from tests.conftest import MotoServer, RecordingSleep
from tests.functional.fault_harness import PARAMETER, with_chaos

MIB = 1024 * 1024


def named_fills(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{_sweep.PREFIX}*"))


def held_fills(directory: Path, pid: int | str = "self") -> list[os.stat_result]:
    """The files without a name that process `pid` holds open in `directory`."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        link = f"/proc/{pid}/fd/{fd}"
        try:
            target = os.readlink(link)
            if target.startswith(f"{directory}/") and target.endswith(" (deleted)"):
                held.append(os.stat(link))
        except OSError:  # closed meanwhile
            continue
    return held


def injected_faults(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [json.loads(r.getMessage())["fault"] for r in caplog.records if r.name == "chaos_layer"]


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "chaos_layer.decorator"]


class TestDiskSpace:
    def test_the_space_is_taken_during_the_handler_and_given_back_after(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        seen: list[tuple[int, int, int]] = []
        names: list[list[Path]] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 3, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            seen.extend((held.st_size, held.st_blocks * 512, held.st_nlink) for held in held_fills(tmp_path))
            names.append(named_fills(tmp_path))
            return "ok"

        caplog.set_level(logging.WARNING, logger="chaos_layer")
        assert handler({}, None) == "ok"

        [(size, allocated, links)] = seen
        assert size == 3 * MIB
        assert allocated >= 3 * MIB  # really allocated, not a sparse file
        assert links == 0  # no name: only the descriptor holds the space
        assert names == [[]]
        assert held_fills(tmp_path) == []
        assert injected_faults(caplog) == ["diskspace"]

    def test_the_space_is_given_back_after_a_handler_exception(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        held: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> None:
            held.append(len(held_fills(tmp_path)))
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space left"):
            handler({}, None)
        assert held == [1]
        assert held_fills(tmp_path) == []
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        ("free_mb", "expected_mb", "warning"),
        [  # margin 64: fill reduced to 6 MiB, or skipped
            (70, 6, "chaos-layer: diskspace fault reduced to keep the safety margin free"),
            (64, None, "chaos-layer: diskspace fault skipped: the disk has no space left above the safety margin"),
            (10, None, "chaos-layer: diskspace fault skipped: the disk has no space left above the safety margin"),
        ],
    )
    def test_the_safety_margin_always_stays_free_and_a_skip_is_not_counted(
        self,
        moto_server: MotoServer,
        sleeps: RecordingSleep,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        free_mb: int,
        expected_mb: int | None,
        warning: str,
    ) -> None:
        monkeypatch.setattr(_disk, "free_bytes", lambda directory: free_mb * MIB)
        sizes: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 100, "path": str(tmp_path)})
        def handler(event: Any, context: Any) -> str:
            sizes.extend(held.st_size for held in held_fills(tmp_path))
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            for _ in range(3):
                assert handler({}, None) == "ran"

        assert sizes == ([] if expected_mb is None else [expected_mb * MIB] * 3)
        assert problems(caplog) == [warning]  # once per period, not once per invocation
        assert injected_faults(caplog) == ([] if expected_mb is None else ["diskspace"] * 3)
        assert held_fills(tmp_path) == []

    def test_a_missing_directory_lets_the_handler_run(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        missing = tmp_path / "not-there"

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(missing)})
        def handler(event: Any, context: Any) -> str:
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert handler({}, None) == "ran"
        assert not missing.exists()
        assert problems(caplog) == ["chaos-layer: diskspace fault skipped: its path is not a usable directory"]
        assert injected_faults(caplog) == []

    def test_a_path_that_is_not_a_directory_lets_the_handler_run(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        a_file = tmp_path / "config.json"
        a_file.write_text("{}")

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(a_file), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert handler({}, None) == "ran"
        assert problems(caplog) == ["chaos-layer: diskspace fault skipped: cannot create a file in its path"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]

    def test_without_unnamed_files_the_file_is_unlinked_at_once(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """File systems without O_TMPFILE: a named file, unlinked before the handler runs."""
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
        seen: list[tuple[int, int, list[Path]]] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 2, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            seen.extend((held.st_size, held.st_nlink, named_fills(tmp_path)) for held in held_fills(tmp_path))
            return "ok"

        assert handler({}, None) == "ok"
        assert seen == [(2 * MIB, 0, [])]
        assert held_fills(tmp_path) == []


class TestNothingLeftBehind:
    def test_the_space_comes_back_when_the_process_is_killed_mid_invocation(
        self, moto_server: MotoServer, tmp_path: Path
    ) -> None:
        """Lambda ends a timed-out process with SIGKILL: no `finally` runs. The fill has no
        name, so the kernel frees it with the process's last descriptor, and nothing is
        left in the directory for a later cold start."""
        fill = tmp_path / "fill"
        fill.mkdir()
        moto_server.put(
            PARAMETER,
            json.dumps(
                {
                    "enabled": True,
                    "faults": [
                        {"type": "diskspace", "mb": 20, "path": str(fill), "min_free_mb": 0},
                        {"type": "timeout", "fallback_ms": 600_000},
                    ],
                }
            ),
        )
        script = tmp_path / "function.py"
        script.write_text(
            textwrap.dedent(
                """
                from chaos_layer import inject_fault

                @inject_fault
                def handler(event, context):
                    return "ran"

                handler({}, None)
                """
            )
        )
        env = {**os.environ, "AWS_ENDPOINT_URL_SSM": moto_server.endpoint_url, "CHAOS_LAYER_PARAM": PARAMETER}
        child = subprocess.Popen(
            [sys.executable, str(script)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            for line in child.stderr or ():
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        try:
            # The timeout fault logs as it starts its wait: the fill is in place by then.
            while '"fault":"timeout"' not in lines.get(timeout=60):
                pass
            [held] = held_fills(fill, child.pid)
            assert held.st_nlink == 0
            assert held.st_blocks * 512 >= 20 * MIB
            assert list(fill.iterdir()) == []
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        assert list(fill.iterdir()) == []

    def test_a_cold_start_sweeps_only_the_librarys_own_stale_files(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """What an earlier version left behind when it was killed is removed; nothing else."""
        (tmp_path / f"{_sweep.PREFIX}abc123").write_bytes(b"\0" * 1024)
        (tmp_path / "chaos-layer-cache-1234").write_text("{}")
        (tmp_path / "mine.txt").write_text("keep")
        (tmp_path / f"{_sweep.PREFIX}dir").mkdir()
        monkeypatch.setenv("TMPDIR", str(tmp_path))
        monkeypatch.setenv("CHAOS_LAYER_PARAM", "/chaos-layer/absent")

        from chaos_layer import inject_fault

        inject_fault(lambda event, context: None)

        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "chaos-layer-cache-1234",
            f"{_sweep.PREFIX}dir",
            "mine.txt",
        ]
