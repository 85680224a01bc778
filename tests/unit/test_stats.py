"""chaos_layer.experiment.stats against published worked examples, an independent computation, and the
edge cases a comparison meets in real runs (no errors at all, every invocation failing, a
handful of invocations).

Sources:
- Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
  methods. Statistics in Medicine 1998; 17:857-872. Table I, method 3 (Wilson's score interval
  without continuity correction).
- Newcombe RG. Interval estimation for the difference between independent proportions:
  comparison of eleven methods. Statistics in Medicine 1998; 17:873-890. Table II, method 10
  (the hybrid score interval from Wilson intervals). Its examples are two-sided 95 % intervals,
  z = 1.959964; the runner uses each bound one-sided at z = 1.6449.
"""

from __future__ import annotations

import math

import pytest

from chaos_layer.experiment.stats import Z_ONE_SIDED_95, newcombe, percentile_floor, samples_per_group, wilson

Z_TWO_SIDED_95 = 1.959964


# Newcombe 1998a, Table I, method 3: (successes, trials) -> (lower, upper)
WILSON_EXAMPLES = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0000, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]

# Newcombe 1998b, Table II, method 10: (m, n, x, y) for m/n - x/y -> (difference, lower, upper)
NEWCOMBE_EXAMPLES = [
    ((56, 70, 48, 80), (0.2000, 0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.6000, 0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.5714, 0.0582, 0.8062)),
    ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
    ((0, 10, 0, 20), (0.0000, -0.1611, 0.2775)),
    ((0, 10, 0, 10), (0.0000, -0.2775, 0.2775)),
    ((10, 10, 0, 20), (1.0000, 0.6791, 1.0000)),
    ((10, 10, 0, 10), (1.0000, 0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), WILSON_EXAMPLES)
def test_wilson_matches_the_published_examples(counts: tuple[int, int], published: tuple[float, float]) -> None:
    lower, upper = wilson(*counts, Z_TWO_SIDED_95)
    assert (round(lower, 4), round(upper, 4)) == published


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_EXAMPLES)
def test_newcombe_matches_the_published_examples(
    counts: tuple[int, int, int, int], published: tuple[float, float, float]
) -> None:
    interval = newcombe(*counts, Z_TWO_SIDED_95)
    assert (round(interval.estimate, 4), round(interval.lower, 4), round(interval.upper, 4)) == published


# An independent computation: Wilson's limits as the roots of the score equation, found by
# bisection rather than by the closed form the module uses, then Newcombe's combination.


def score_root(successes: int, trials: int, z: float, upper: bool) -> float:
    p = successes / trials

    def outside(pi: float) -> bool:  # the score statistic exceeds z at pi
        return abs(p - pi) > z * math.sqrt(pi * (1 - pi) / trials)

    if (upper and successes == trials) or (not upper and successes == 0):
        return p
    low, high = (p, 1.0) if upper else (0.0, p)
    for _ in range(200):
        middle = (low + high) / 2
        if outside(middle) == upper:
            high = middle
        else:
            low = middle
    return (low + high) / 2


@pytest.mark.parametrize("z", [Z_TWO_SIDED_95, Z_ONE_SIDED_95, 1.0, 3.0])
@pytest.mark.parametrize(
    "counts", [(56, 70, 48, 80), (3, 1000, 0, 1000), (25, 500, 5, 480), (1, 1, 0, 1), (7, 9, 9, 9), (0, 3, 2, 5)]
)
def test_an_independent_computation_agrees(counts: tuple[int, int, int, int], z: float) -> None:
    m, n, x, y = counts
    l1, u1 = score_root(m, n, z, upper=False), score_root(m, n, z, upper=True)
    l2, u2 = score_root(x, y, z, upper=False), score_root(x, y, z, upper=True)
    assert wilson(m, n, z) == pytest.approx((l1, u1), abs=1e-12)
    p1, p2 = m / n, x / y
    lower = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    interval = newcombe(m, n, x, y, z)
    assert (interval.lower, interval.upper) == pytest.approx((lower, upper), abs=1e-12)


# what a comparison meets in real runs


def test_no_errors_in_either_group_bounds_the_increase_by_the_treatments_size() -> None:
    interval = newcombe(0, 1000, 0, 1000, Z_ONE_SIDED_95)
    assert interval.estimate == 0
    _, treatment_upper = wilson(0, 1000, Z_ONE_SIDED_95)
    assert interval.upper == pytest.approx(treatment_upper)  # at most what 0/1000 allows
    assert interval.lower == pytest.approx(-treatment_upper)
    assert 0.0026 < interval.upper < 0.0028  # z^2 / (n + z^2)


def test_every_invocation_failing_in_both_groups() -> None:
    interval = newcombe(200, 200, 200, 200, Z_ONE_SIDED_95)
    assert interval.estimate == 0
    assert interval.lower == pytest.approx(-interval.upper)
    assert 0 < interval.upper < 0.02


def test_every_treatment_invocation_failing_and_none_of_the_control() -> None:
    interval = newcombe(150, 150, 0, 150, Z_ONE_SIDED_95)
    assert (interval.estimate, interval.upper) == (1.0, 1.0)
    assert 0.95 < interval.lower < 1.0


def test_tiny_samples_give_wide_intervals_that_stay_within_minus_one_and_one() -> None:
    one = newcombe(1, 1, 0, 1, Z_ONE_SIDED_95)
    assert (one.estimate, one.upper) == (1.0, 1.0)
    assert -1 <= one.lower < 0.5  # one failure against one success says very little
    two = newcombe(0, 2, 2, 2, Z_ONE_SIDED_95)
    assert two.lower >= -1
    assert two.upper > -0.5


def test_the_interval_narrows_as_data_arrives_and_contains_the_difference() -> None:
    widths = []
    for n in (100, 1000, 10_000, 100_000):
        interval = newcombe(n // 50, n, n // 100, n, Z_ONE_SIDED_95)
        assert interval.lower < interval.estimate < interval.upper
        widths.append(interval.upper - interval.lower)
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < 0.002


def test_one_sided_bounds_are_the_two_sided_90_percent_interval() -> None:
    """z = 1.6449 puts 5 % beyond each bound: the lower one is a one-sided 95 % bound."""
    ninety = newcombe(30, 400, 12, 400, Z_ONE_SIDED_95)
    ninety_five = newcombe(30, 400, 12, 400, Z_TWO_SIDED_95)
    assert ninety_five.lower < ninety.lower < ninety.upper < ninety_five.upper


@pytest.mark.parametrize("arguments", [(1, 0, 0, 1), (0, 1, 0, 0), (2, 1, 0, 1), (-1, 1, 0, 1), (0, 1, 2, 1)])
def test_impossible_counts_are_refused(arguments: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"trials|successes"):
        newcombe(*arguments, Z_ONE_SIDED_95)


def test_z_must_be_positive() -> None:
    with pytest.raises(ValueError, match="z must be above 0"):
        wilson(1, 10, 0)


@pytest.mark.parametrize(
    ("quantile", "floor", "needed"),
    [
        (0.99, 100, 1000),
        (0.999, 100, 10_000),
        (99.9 / 100, 100, 10_000),
        (0.5, 100, 100),
        (0.9, 100, 100),
        (0.95, 100, 200),
        (0.99, 5000, 5000),
    ],
)
def test_a_percentile_needs_ten_values_beyond_it(quantile: float, floor: int, needed: int) -> None:
    assert percentile_floor(quantile, floor) == needed


def test_samples_per_group_for_a_two_point_rise_from_one_percent() -> None:
    """One-sided 95 %, power 80 % (z 0.8416): the sizing figure of docs/control-groups.md."""
    assert samples_per_group(0.01, 0.03, Z_ONE_SIDED_95, 0.8416) == 603
