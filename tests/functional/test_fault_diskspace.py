"""`diskspace` through `@inject_fault`: a real file in a temporary directory, always removed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from chaos_layer.faults import _disk
from tests.conftest import MotoServer, RecordingSleep
from tests.functional.fault_harness import with_chaos

MIB = 1024 * 1024


def fill_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{_disk.PREFIX}*"))


class TestDiskSpace:
    def test_the_space_is_taken_during_the_handler_and_given_back_after(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        seen: list[tuple[int, int]] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 3, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> str:
            for file in fill_files(tmp_path):
                seen.append((file.stat().st_size, file.stat().st_blocks * 512))
            return "ok"

        assert handler({}, None) == "ok"

        assert len(seen) == 1
        size, allocated = seen[0]
        assert size == 3 * MIB
        assert allocated >= 3 * MIB  # really allocated, not a sparse file
        assert fill_files(tmp_path) == []

    def test_the_file_is_removed_after_a_handler_exception(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        present: list[bool] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(tmp_path), "min_free_mb": 0})
        def handler(event: Any, context: Any) -> None:
            present.append(bool(fill_files(tmp_path)))
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space left"):
            handler({}, None)
        assert present == [True]
        assert fill_files(tmp_path) == []

    @pytest.mark.parametrize(
        ("free_mb", "expected_mb"),
        [(70, 6), (64, None), (10, None)],  # margin 64: fill reduced to 6 MiB, or skipped
    )
    def test_the_safety_margin_always_stays_free(
        self,
        moto_server: MotoServer,
        sleeps: RecordingSleep,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        free_mb: int,
        expected_mb: int | None,
    ) -> None:
        monkeypatch.setattr(_disk, "free_bytes", lambda directory: free_mb * MIB)
        sizes: list[int] = []

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 100, "path": str(tmp_path)})
        def handler(event: Any, context: Any) -> str:
            sizes.extend(file.stat().st_size for file in fill_files(tmp_path))
            return "ran"

        with caplog.at_level(logging.WARNING, logger="chaos_layer"):
            assert handler({}, None) == "ran"

        assert sizes == ([] if expected_mb is None else [expected_mb * MIB])
        warnings = [r.getMessage() for r in caplog.records if r.name == "chaos_layer.faults._disk"]
        assert len(warnings) == 1
        assert "safety margin" in warnings[0]
        assert not any(char.isdigit() for char in warnings[0])
        assert fill_files(tmp_path) == []

    def test_a_missing_directory_lets_the_handler_run(
        self, moto_server: MotoServer, sleeps: RecordingSleep, tmp_path: Path
    ) -> None:
        missing = tmp_path / "not-there"

        @with_chaos(moto_server, sleeps, {"type": "diskspace", "mb": 1, "path": str(missing)})
        def handler(event: Any, context: Any) -> str:
            return "ran"

        assert handler({}, None) == "ran"
        assert not missing.exists()

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
        assert [r.getMessage() for r in caplog.records if r.name == "chaos_layer.faults._disk"] == [
            "chaos-layer diskspace fault skipped: cannot create a file in its path"
        ]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
