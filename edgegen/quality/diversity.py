"""Diversity: mean pairwise distance between images of one set in the semantic feature space.
Mode collapse shows as synthetic diversity far below the real set's (ratio ≪ 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgegen.classifiers.metrics import Estimate


@dataclass(frozen=True)
class Diversity:
    synthetic: Estimate
    real: Estimate
    ratio: Estimate  # synthetic / real
    n: int


def _mean_pairwise(d: np.ndarray, idx: np.ndarray) -> float:
    sub = d[np.ix_(idx, idx)]
    mask = idx[:, None] != idx[None, :]
    return float((sub * mask).sum() / max(mask.sum(), 1))


def _distances(x: np.ndarray) -> np.ndarray:
    sq = (x * x).sum(1)
    return np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0, None))


def diversity(synthetic: np.ndarray, real: np.ndarray, bootstrap: int = 200, seed: int = 0) -> Diversity:
    """Mean pairwise L2 distance within each set (equal sizes: the larger set is subsampled)."""
    rng = np.random.default_rng(seed)
    n = min(len(synthetic), len(real))
    if n < 3:
        raise ValueError(f"diversity needs ≥ 3 images a side, got {len(synthetic)} and {len(real)}")
    s = synthetic[rng.choice(len(synthetic), n, replace=False)]
    r = real[rng.choice(len(real), n, replace=False)]
    ds, dr = _distances(s), _distances(r)
    all_idx = np.arange(n)
    ps, pr = _mean_pairwise(ds, all_idx), _mean_pairwise(dr, all_idx)
    bs, br, ratio = [], [], []
    for _ in range(bootstrap):
        i, j = rng.integers(0, n, n), rng.integers(0, n, n)
        a, b = _mean_pairwise(ds, i), _mean_pairwise(dr, j)
        bs.append(a)
        br.append(b)
        ratio.append(a / b if b > 0 else np.nan)

    def est(p, xs):
        lo, hi = np.nanpercentile(xs, [2.5, 97.5])
        return Estimate(round(p, 6), round(float(lo), 6), round(float(hi), 6))

    return Diversity(est(ps, bs), est(pr, br), est(ps / pr if pr > 0 else float("nan"), ratio), n)
