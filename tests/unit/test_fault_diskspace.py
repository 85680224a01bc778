"""The `diskspace` fault's config (what it does to a disk: tests/functional/test_fault_diskspace.py)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos_layer.faults.diskspace import DiskSpaceFault
from tests.unit.fault_harness import only_fault, problems


def test_defaults() -> None:
    assert only_fault({"type": "diskspace", "mb": 5}) == DiskSpaceFault(mb=5, path="/tmp", min_free_mb=64)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"type": "diskspace"}, ["faults[0].mb: is required"]),
        (
            {"type": "diskspace", "mb": 0.5, "path": "tmp"},
            [
                "faults[0].mb: must be a whole number, not a number",
                "faults[0].path: must be an absolute path such as /tmp",
            ],
        ),
        (
            {"type": "diskspace", "mb": 1, "min_free_mb": -1},
            ["faults[0].min_free_mb: must be a whole number at least 0"],
        ),
    ],
)
def test_problems_name_the_key_and_the_rule(fault: dict[str, Any], expected: list[str]) -> None:
    assert problems(fault) == expected


def test_a_path_with_a_lone_surrogate_is_refused_when_the_config_is_read() -> None:
    """No file system can take it: it would raise UnicodeEncodeError at every invocation."""
    assert problems({"type": "diskspace", "mb": 1, "path": "/tmp/\ud800"}) == [
        "faults[0].path: must be valid Unicode (no lone surrogate)"
    ]


def test_a_path_with_a_lone_surrogate_built_by_hand_is_skipped_not_raised() -> None:
    from chaos_layer.faults.diskspace import DiskSpaceFault
    from tests.unit.fault_harness import Handler, invocation

    warned: list[str] = []
    call, _ = invocation(warn=warned.append)
    handler = Handler()

    assert DiskSpaceFault(mb=1, path="/tmp/\ud800").apply(call, handler) == handler.response
    assert handler.runs == 1
    assert warned == ["diskspace fault skipped: its path is not a usable directory"]
