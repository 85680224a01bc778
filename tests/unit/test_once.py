"""Warnings once per problem per period, in bounded memory (chaos_layer.once)."""

from __future__ import annotations

from chaos_layer.once import WarningMemory


def test_a_problem_is_due_once_per_period() -> None:
    memory = WarningMemory()
    assert memory.due("config invalid", now=0.0, period=5.0)
    assert not memory.due("config invalid", now=4.9, period=5.0)
    assert memory.due("other problem", now=4.9, period=5.0)
    assert memory.due("config invalid", now=5.0, period=5.0)


def test_the_memory_never_holds_more_than_its_limit() -> None:
    memory = WarningMemory(limit=8)
    for i in range(1_000):  # a stream of distinct problems, all still in their period
        assert memory.due(f"problem {i}", now=float(i) / 1000, period=60.0)
        assert len(memory) <= 8


def test_problems_past_their_period_are_forgotten_before_recent_ones() -> None:
    memory = WarningMemory(limit=3)
    memory.due("long", now=0.0, period=100.0)
    memory.due("short 1", now=0.0, period=1.0)
    memory.due("short 2", now=0.0, period=1.0)

    assert memory.due("new", now=2.0, period=100.0)  # the two expired ones make room

    assert len(memory) == 2
    assert not memory.due("long", now=2.0, period=100.0)  # still remembered: still quiet


def test_when_every_problem_is_recent_the_oldest_is_forgotten() -> None:
    memory = WarningMemory(limit=2)
    memory.due("a", now=0.0, period=100.0)
    memory.due("b", now=1.0, period=100.0)
    memory.due("c", now=2.0, period=100.0)
    assert memory.due("a", now=3.0, period=100.0)  # forgotten, so said again
    assert not memory.due("c", now=3.0, period=100.0)
