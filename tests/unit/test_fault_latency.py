"""The `latency` fault on its own: what it does around the rest of the invocation."""

from __future__ import annotations

from tests.unit.fault_harness import Handler, invocation, only_fault


class TestLatency:
    def test_fixed_delay_sleeps_then_runs_the_handler_once(self) -> None:
        call, sleep = invocation()
        handler = Handler()

        result = only_fault({"type": "latency", "delay_ms": 300}).apply(call, handler)

        assert sleep.calls == [0.3]
        assert handler.runs == 1
        assert result == handler.response

    def test_uniform_range_draws_every_delay_inside_the_range(self) -> None:
        fault = only_fault({"type": "latency", "min_ms": 100, "max_ms": 800})
        call, sleep = invocation(seed=42)

        for _ in range(2000):
            fault.apply(call, Handler())

        assert len(sleep.calls) == 2000
        assert min(sleep.calls) >= 0.1
        assert max(sleep.calls) <= 0.8
        # A uniform draw: both ends of the range are reached and the mean sits in the middle.
        assert min(sleep.calls) < 0.15
        assert max(sleep.calls) > 0.75
        assert 0.42 < sum(sleep.calls) / len(sleep.calls) < 0.48

    def test_uniform_range_is_reproducible_with_a_seeded_random(self) -> None:
        fault = only_fault({"type": "latency", "min_ms": 100, "max_ms": 800})
        first, first_sleep = invocation(seed=3)
        second, second_sleep = invocation(seed=3)
        for _ in range(5):
            fault.apply(first, Handler())
            fault.apply(second, Handler())
        assert first_sleep.calls == second_sleep.calls
        assert len(set(first_sleep.calls)) == 5

    def test_zero_delay_still_runs_the_handler(self) -> None:
        call, sleep = invocation()
        handler = Handler()
        only_fault({"type": "latency", "delay_ms": 0}).apply(call, handler)
        assert sleep.calls == [0]
        assert handler.runs == 1

    def test_settings_name_the_delay(self) -> None:
        assert only_fault({"type": "latency", "delay_ms": 300}).settings() == {
            "type": "latency",
            "rate": 1.0,
            "delay_ms": 300,
        }
        assert only_fault({"type": "latency", "min_ms": 1, "max_ms": 2, "rate": 0.5}).settings() == {
            "type": "latency",
            "rate": 0.5,
            "min_ms": 1,
            "max_ms": 2,
        }
