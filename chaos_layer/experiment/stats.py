"""The statistics a comparison of two groups needs, as small pure functions (no scientific stack).

- `wilson`: Wilson's score interval for one proportion (Wilson 1927; Newcombe 1998a, method 3).
- `newcombe`: Newcombe's hybrid score interval for a difference of two independent proportions,
  built from the two Wilson intervals (Newcombe, "Interval estimation for the difference
  between independent proportions: comparison of eleven methods", Statistics in Medicine
  17:873-890, 1998, method 10). It keeps its coverage near the nominal level with small samples
  and with proportions near 0, where error rates live, unlike the simple Wald interval.
- `percentile_floor`: how many values a percentile needs before it says anything.
- `even_split_p`: the two-sided exact binomial test of a count against an even split, for a
  sample ratio mismatch (records lost, or a broken split).
- `samples_per_group`: the usual sample size for comparing two proportions, for the docs'
  sizing figures.

A two-sided interval at level 1 - 2a gives two one-sided bounds at level 1 - a each: with
z = 1.6449 each bound is a one-sided 95 % bound, as the runner uses them (docs/control-groups.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# z of a one-sided 95 % bound (the 95th percentile of the standard normal), as docs/control-groups.md fixes it.
Z_ONE_SIDED_95 = 1.6449
# Values a percentile needs beyond the point it names: p99 needs 10 / (1 - 0.99) = 1000.
PERCENTILE_TAIL_VALUES = 10


@dataclass(frozen=True)
class Interval:
    """An estimate of a difference and the bounds around it."""

    estimate: float
    lower: float
    upper: float


def wilson(successes: int, trials: int, z: float) -> tuple[float, float]:
    """Wilson's score interval for successes / trials: the proportions p whose score
    |successes / trials - p| / sqrt(p (1 - p) / trials) is at most z."""
    _check(successes, trials, z)
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # At p = 0 or 1 one bound is the proportion itself; rounding must not move it past.
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper


def newcombe(successes_1: int, trials_1: int, successes_2: int, trials_2: int, z: float) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 (method 10): the difference, and bounds
    from each group's Wilson interval, so each bound keeps the asymmetry of the proportions."""
    p1, p2 = successes_1 / _positive(trials_1), successes_2 / _positive(trials_2)
    low_1, high_1 = wilson(successes_1, trials_1, z)
    low_2, high_2 = wilson(successes_2, trials_2, z)
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - low_1) ** 2 + (high_2 - p2) ** 2)
    upper = difference + math.sqrt((high_1 - p1) ** 2 + (p2 - low_2) ** 2)
    return Interval(difference, max(-1.0, lower), min(1.0, upper))


def percentile_floor(quantile: float, floor: int) -> int:
    """Values each group needs before a percentile at `quantile` (0.99 for p99) can be
    compared: max(floor, 10 / (1 - quantile)), so that at least 10 values lie beyond it."""
    if not 0 < quantile < 1:
        raise ValueError("quantile must be between 0 and 1")
    return max(floor, math.ceil(round(PERCENTILE_TAIL_VALUES / (1 - quantile), 6)))  # 0.999 is not exact


def even_split_p(successes: int, trials: int) -> float:
    """The two-sided p-value of `successes` in `trials` draws with probability 1/2 each: twice
    the probability of a count at least as far from the middle, at most 1. Exact, summed in
    log space from the tail's edge outwards until the terms no longer count."""
    if trials <= 0:
        return 1.0
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    edge = min(successes, trials - successes)
    if 2 * edge == trials:
        return 1.0
    log_half = trials * math.log(0.5)

    def log_term(k: int) -> float:
        return math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1) + log_half

    top = log_term(edge)
    total = 0.0
    for k in range(edge, -1, -1):
        term = math.exp(log_term(k) - top)
        total += term
        if term < 1e-17 * total:
            break
    return min(1.0, 2 * math.exp(top) * total)


def samples_per_group(p_control: float, p_treatment: float, z_alpha: float, z_beta: float) -> int:
    """Invocations per group to detect p_treatment against p_control with a one-sided test at
    z_alpha and power from z_beta (the normal approximation for two proportions)."""
    if p_treatment == p_control:
        raise ValueError("the proportions must differ")
    variance = p_control * (1 - p_control) + p_treatment * (1 - p_treatment)
    return math.ceil((z_alpha + z_beta) ** 2 * variance / (p_treatment - p_control) ** 2)


def _check(successes: int, trials: int, z: float) -> None:
    _positive(trials)
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    if not z > 0:
        raise ValueError("z must be above 0")


def _positive(trials: int) -> int:
    if trials <= 0:
        raise ValueError("trials must be at least 1")
    return trials
