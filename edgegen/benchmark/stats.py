"""Summaries of timing samples. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float


def summarize(samples: list[float]) -> Summary | None:
    if not samples:
        return None
    a = np.asarray(samples, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return Summary(len(a), float(p50), float(p90), float(p99), float(a.mean()), float(a.min()), float(a.max()))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return numerator / denominator
