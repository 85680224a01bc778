"""`match.regex` runs in linear time (RE2): patterns that hold a backtracking engine for
hours on a few hundred characters finish at once, with the right answer.

They run in a child process with a deadline, so a regression shows up as a failed test
(the child did not finish) instead of a hung test run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (pattern, value, found): each adversarial value is 400 characters; each pattern held
# one invocation for more than 10 s on Python's re.
CASES = [
    ("^(a|a)*$", "a" * 399 + "!", False),
    ("^(a|a)*$", "a" * 400, True),
    ("^(.*,){11}x", "," * 400, False),
    ("^(.*,){11}x", "," * 399 + "x", True),
    ("a*a*a*a*a*a*b", "a" * 400, False),
    ("a*a*a*a*a*a*b", "a" * 399 + "b", True),
    ("\\s*\\s*\\s*\\s*\\s*x$", " " * 400, False),
    ("\\s*\\s*\\s*\\s*\\s*x$", " " * 399 + "x", True),
    ("(a+)+$", "a" * 399 + "!", False),
]

CHILD = """
import json, sys
from random import Random
from chaos_layer.blast_radius import in_blast_radius
from chaos_layer.config import parse_config

results = []
for pattern, value in json.load(sys.stdin):
    config = parse_config({"enabled": True, "match": [{"path": "headers.x-probe", "regex": pattern}],
                           "faults": [{"type": "latency", "delay_ms": 1}]})
    results.append(in_blast_radius(config, {"headers": {"x-probe": value}}, None, Random(0)))
print(json.dumps(results))
"""


def test_patterns_that_backtrack_exponentially_elsewhere_finish_with_the_right_answer() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps([[pattern, value] for pattern, value, _ in CASES]),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,  # each case takes microseconds; a backtracking engine would take hours
        check=True,
    )
    assert json.loads(child.stdout) == [found for _, _, found in CASES]


@pytest.mark.parametrize(("pattern", "value", "found"), CASES[:2])
def test_the_same_answers_in_process(pattern: str, value: str, found: bool) -> None:
    from chaos_layer.regex import searcher

    assert searcher(pattern)(value) is found
