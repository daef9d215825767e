"""Summaries of timing samples, and ratios between legs with confidence intervals. Pure.

Legs are timed in interleaved rounds (every leg once per round, in rotating order), so a ratio is
computed per round from samples taken seconds apart, and the machine's drift between rounds
cancels. The ratio's point estimate is the geometric mean of the per-round ratios; its 95%
interval a percentile bootstrap over rounds. A leg is called faster only when the interval
excludes 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

P90_MIN_SAMPLES = 10  # fewer samples give no honest 90th percentile
P99_MIN_SAMPLES = 100


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mean: float
    min: float
    max: float
    cv: float  # coefficient of variation (std / mean)
    p90: float | None = None  # None below P90_MIN_SAMPLES samples
    p99: float | None = None  # None below P99_MIN_SAMPLES samples


def summarize(samples: list[float]) -> Summary | None:
    if not samples:
        return None
    a = np.asarray(samples, dtype=np.float64)
    mean = float(a.mean())
    return Summary(
        len(a),
        float(np.median(a)),
        mean,
        float(a.min()),
        float(a.max()),
        float(a.std(ddof=1) / mean) if len(a) > 1 and mean > 0 else 0.0,
        float(np.percentile(a, 90)) if len(a) >= P90_MIN_SAMPLES else None,
        float(np.percentile(a, 99)) if len(a) >= P99_MIN_SAMPLES else None,
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class RatioCI:
    value: float
    low: float
    high: float
    rounds: int
    faster: bool  # the interval lies wholly above 1: the first leg is faster
    slower: bool  # wholly below 1

    @property
    def verdict(self) -> str:
        return "faster" if self.faster else "slower" if self.slower else "no difference shown"


def paired_speedup(
    slow_rounds: list[list[float]], fast_rounds: list[list[float]], bootstrap: int = 2000, seed: int = 0
) -> RatioCI | None:
    """How many times faster leg B is than leg A, from seconds per call measured in the same rounds:
    per round median(A) / median(B); rounds where either leg has no sample are dropped."""
    per_round = [
        float(np.median(a)) / float(np.median(b))
        for a, b in zip(slow_rounds, fast_rounds, strict=False)
        if a and b and np.median(b) > 0
    ]
    if not per_round:
        return None
    logs = np.log(per_round)
    point = float(np.exp(logs.mean()))
    if len(logs) == 1:
        return RatioCI(point, point, point, 1, False, False)
    rng = np.random.default_rng(seed)
    boots = np.exp(logs[rng.integers(0, len(logs), (bootstrap, len(logs)))].mean(axis=1))
    lo, hi = (float(v) for v in np.percentile(boots, [2.5, 97.5]))
    return RatioCI(point, lo, hi, len(logs), lo > 1.0, hi < 1.0)


def round_order(names: list[str], round_index: int) -> list[str]:
    """Legs in the order round `round_index` runs them: rotated by one leg per round, so no leg
    always runs first (after a pause) or last."""
    if not names:
        return []
    k = round_index % len(names)
    return names[k:] + names[:k]
