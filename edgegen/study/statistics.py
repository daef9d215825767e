"""Study statistics. Pure numpy/scipy: metrics per seed, seed-averaged estimates with 95%
intervals from a two-level bootstrap (training seeds resampled, then test images: the interval
holds both the run-to-run spread of training and the finite test set), paired deltas against
real-only on the same resampled seeds and test images, and DeLong's test for two correlated
AUROCs (DeLong et al. 1988, fast algorithm of Sun & Xu 2014). The same test images are scored by
every unit, which is what makes pairing possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from edgegen.classifiers.metrics import Estimate

CLASS_METRICS = ("accuracy", "precision", "recall", "f1", "auroc")


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def class_metrics(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1 and AUROC (binary: of the last class; else macro
    one-vs-rest) from probabilities [N, K] and labels [N]."""
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, pred), 1)
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        rec = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    present = cm.sum(1) > 0
    au = (
        auroc((y == 1).astype(int), probs[:, 1])
        if k == 2
        else float(np.nanmean([auroc((y == c).astype(int), probs[:, c]) for c in range(k)]))
    )
    return {
        "accuracy": float(tp.sum() / max(len(y), 1)),
        "precision": float(prec[present].mean()),
        "recall": float(rec[present].mean()),
        "f1": float(f1[present].mean()),
        "auroc": au,
    }


def finding_metrics(probs: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    """Per finding (unknown labels, NaN, left out): AUROC, and precision / recall / F1 of the call
    p ≥ 0.5 — the unit's probabilities arrive shifted so that 0.5 is the threshold chosen on the
    real validation split (`at_threshold`); macro means of each."""
    out = {}
    for j, n in enumerate(names):
        known = ~np.isnan(y[:, j])
        t, p = y[known, j].astype(int), probs[known, j]
        out[f"auroc/{n}"] = auroc(t, p)
        call = p >= 0.5
        tp = int((call & (t == 1)).sum())
        prec = tp / call.sum() if call.sum() else 0.0
        rec = tp / (t == 1).sum() if (t == 1).sum() else float("nan")
        out[f"precision/{n}"], out[f"recall/{n}"] = float(prec), float(rec)
        out[f"f1/{n}"] = float(2 * prec * rec / (prec + rec)) if prec + rec > 0 else 0.0
    for m in ("auroc", "precision", "recall", "f1"):
        vals = [out[f"{m}/{n}"] for n in names if not np.isnan(out[f"{m}/{n}"])]
        out[f"macro_{m}"] = float(np.mean(vals)) if vals else float("nan")
    return out


def at_threshold(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Probabilities moved (monotonically, per finding, in logit space) so that 0.5 falls where the
    threshold was: AUROC is unchanged and p ≥ 0.5 ⟺ p_raw ≥ threshold."""
    eps = 1e-6
    logit = lambda x: np.log(np.clip(x, eps, 1 - eps)) - np.log1p(-np.clip(x, eps, 1 - eps))  # noqa: E731
    return 1.0 / (1.0 + np.exp(-(logit(probs) - logit(np.asarray(thresholds, np.float64)[None, :]))))


def metrics(probs: np.ndarray, y: np.ndarray, finding_names: tuple[str, ...] = ()) -> dict[str, float]:
    return finding_metrics(probs, y, finding_names) if finding_names else class_metrics(probs, y)


@dataclass(frozen=True)
class SettingEstimate:
    seeds: int
    metrics: dict[str, Estimate]  # seed-mean; interval from resampling seeds and test images
    per_seed: dict[str, list[float]]


def _boot_indices(n: int, rounds: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, (rounds, n))


def _boot_seeds(k: int, rounds: int, seed: int) -> np.ndarray:
    """Training seeds drawn with replacement per round (all of them, once, when there is one)."""
    if k == 1:
        return np.zeros((rounds, 1), np.int64)
    return np.random.default_rng(seed + 7919).integers(0, k, (rounds, k))


def _est(point: float, samples: list[float]) -> Estimate:
    s = np.asarray(samples, float)
    s = s[~np.isnan(s)]
    lo, hi = np.percentile(s, [2.5, 97.5]) if len(s) else (point, point)
    return Estimate(round(float(point), 6), round(float(lo), 6), round(float(hi), 6))


def setting_estimate(
    probs_by_seed: list[np.ndarray], y: np.ndarray, finding_names=(), bootstrap: int = 1000, seed: int = 0
) -> SettingEstimate:
    per_seed = [metrics(p, y, finding_names) for p in probs_by_seed]
    keys = list(per_seed[0])
    point = {k: float(np.nanmean([m[k] for m in per_seed])) for k in keys}
    samples: dict[str, list[float]] = {k: [] for k in keys}
    seeds = _boot_seeds(len(probs_by_seed), bootstrap, seed)
    for idx, picks in zip(_boot_indices(len(y), bootstrap, seed), seeds, strict=True):
        reps = [metrics(probs_by_seed[s][idx], y[idx], finding_names) for s in picks]
        for k in keys:
            samples[k].append(float(np.nanmean([m[k] for m in reps])))
    return SettingEstimate(
        len(probs_by_seed),
        {k: _est(point[k], samples[k]) for k in keys},
        {k: [round(m[k], 6) for m in per_seed] for k in keys},
    )


@dataclass(frozen=True)
class Delta:
    metric: str
    delta: Estimate  # arm − real-only, seed means, paired over the same resampled seeds and test images
    p_two_sided: float  # bootstrap: 2 × the smaller tail share of deltas beyond 0
    significant: bool  # the interval excludes 0


def paired_deltas(
    arm: list[np.ndarray], base: list[np.ndarray], y: np.ndarray, finding_names=(), bootstrap: int = 1000, seed: int = 0
) -> dict[str, Delta]:
    """Seeds are paired by index (seed k of the arm with seed k of real-only) when both have it."""
    k = min(len(arm), len(base))
    arm, base = arm[:k], base[:k]

    def mean_metrics(ps, idx=None):
        ms = [metrics(p if idx is None else p[idx], y if idx is None else y[idx], finding_names) for p in ps]
        return {key: float(np.nanmean([m[key] for m in ms])) for key in ms[0]}

    a0, b0 = mean_metrics(arm), mean_metrics(base)
    samples: dict[str, list[float]] = {key: [] for key in a0}
    for idx, picks in zip(_boot_indices(len(y), bootstrap, seed), _boot_seeds(k, bootstrap, seed), strict=True):
        a, b = mean_metrics([arm[s] for s in picks], idx), mean_metrics([base[s] for s in picks], idx)
        for key in a0:
            samples[key].append(a[key] - b[key])
    out = {}
    for key in a0:
        s = np.asarray(samples[key])
        s = s[~np.isnan(s)]
        est = _est(a0[key] - b0[key], list(s))
        p = float(min(1.0, 2 * min((s <= 0).mean(), (s >= 0).mean()))) if len(s) else float("nan")
        out[key] = Delta(key, est, p, est.low > 0 or est.high < 0)
    return out


@dataclass(frozen=True)
class DeLong:
    auroc_a: float
    auroc_b: float
    delta: float  # a − b
    se: float
    z: float
    p_two_sided: float


def _midrank_components(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC and DeLong's structural components V10 (per positive) and V01 (per negative)."""
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    tz = rankdata(np.concatenate([pos, neg]))
    tx, ty = rankdata(pos), rankdata(neg)
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return float(auc), v10, v01


def delong(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DeLong:
    """DeLong's test that two correlated AUROCs (same cases, two scores) are equal."""
    y = np.asarray(y).astype(int)
    a, v10a, v01a = _midrank_components(y, np.asarray(score_a, float))
    b, v10b, v01b = _midrank_components(y, np.asarray(score_b, float))
    m, n = len(v10a), len(v01a)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se == 0:
        return DeLong(a, b, a - b, 0.0, 0.0, 1.0 if a == b else 0.0)
    z = (a - b) / se
    return DeLong(a, b, a - b, se, float(z), float(2 * norm.sf(abs(z))))
