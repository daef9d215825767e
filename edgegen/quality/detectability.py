"""Detectability: how well a small classifier tells real from synthetic images — the automated
counterpart of the radiologists' real/fake task.

A linear classifier (shrinkage LDA: pooled within-class covariance shrunk towards a scaled
identity with the Ledoit–Wolf intensity, from scikit-learn) on the feature network's
standardised multiscale features, k-fold cross-validated. Folds are grouped: all images of one
patient stay in one fold where patient IDs are known, so the classifier cannot score by
recognising a patient. The AUROC is the mean of the per-fold test AUROCs.

The interval comes from bootstrapping the whole procedure (groups resampled with replacement,
copies of a group kept in one fold, folds re-drawn, classifiers refitted): cross-validated
estimates from one fixed pool vary mostly through the shared training data, which resampling
only the test scores would miss (its intervals were seen to exclude 0.5 on two samples of one
distribution). 0.5: the two sets are indistinguishable to this classifier; 1.0: every synthetic
image is spotted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgegen.classifiers.metrics import Estimate


@dataclass(frozen=True)
class Detectability:
    auroc: Estimate
    folds: int
    fold_auroc: list[float]
    n_real: int
    n_synthetic: int
    classifier: str = "shrinkage LDA (Ledoit-Wolf) on standardised multiscale features, grouped k-fold"


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann–Whitney AUROC (ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(s)
    n1 = int((y == 1).sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _fold_of(groups: np.ndarray, y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold per group, dealt round-robin per class in random order (stratified by class)."""
    fold = np.empty(len(groups), np.int64)
    for label in (0, 1):
        members = np.unique(groups[y == label])
        order = rng.permutation(members)
        where = {g: i % folds for i, g in enumerate(order)}
        sel = y == label
        fold[sel] = [where[g] for g in groups[sel]]
    return fold


def _centered(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m0, m1 = x[y == 0].mean(0), x[y == 1].mean(0)
    return np.where(y[:, None] == 1, x - m1, x - m0), m0, m1


def _lda_direction(x: np.ndarray, y: np.ndarray, shrinkage: float) -> np.ndarray:
    xc, m0, m1 = _centered(x, y)
    cov = xc.T @ xc / max(len(x) - 2, 1)
    target = np.trace(cov) / cov.shape[0]
    cov = (1.0 - shrinkage) * cov + shrinkage * target * np.eye(cov.shape[0])
    return np.linalg.solve(cov, m1 - m0)


def _cv_auroc(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, rng: np.random.Generator, shrinkage: float
) -> list[float]:
    fold = _fold_of(groups, y, folds, rng)
    out = []
    for f in range(folds):
        test = fold == f
        if len(np.unique(y[test])) < 2 or len(np.unique(y[~test])) < 2:
            continue
        w = _lda_direction(x[~test], y[~test], shrinkage)
        out.append(auroc(y[test], x[test] @ w))
    return out


def detectability(
    real: np.ndarray,
    synthetic: np.ndarray,
    real_groups: np.ndarray | None = None,
    synthetic_groups: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
    bootstrap: int = 100,
) -> Detectability:
    """AUROC of telling `synthetic` (label 1) from `real` (label 0) features, cross-validated."""
    if min(len(real), len(synthetic)) < folds:
        raise ValueError(
            f"detectability with {folds} folds needs ≥ {folds} images a "
            f"side, got {len(real)} real and {len(synthetic)} synthetic"
        )
    x = np.concatenate([real, synthetic]).astype(np.float64)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)
    y = np.concatenate([np.zeros(len(real), np.int64), np.ones(len(synthetic), np.int64)])
    rg = (
        np.asarray(real_groups).astype(str) if real_groups is not None else np.array([f"{i}" for i in range(len(real))])
    )
    sg = (
        np.asarray(synthetic_groups).astype(str)
        if synthetic_groups is not None
        else np.array([f"{i}" for i in range(len(synthetic))])
    )
    groups = np.concatenate([np.char.add("r:", rg), np.char.add("s:", sg)])
    from sklearn.covariance import ledoit_wolf_shrinkage

    shrinkage = float(ledoit_wolf_shrinkage(_centered(x, y)[0], assume_centered=True))  # once, on all images
    rng = np.random.default_rng(seed)
    fold_auc = _cv_auroc(x, y, groups, folds, rng, shrinkage)
    point = float(np.mean(fold_auc))
    uniq, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
    is_real = np.array([y[m[0]] == 0 for m in members])
    values = []
    for _ in range(bootstrap):
        picks = np.concatenate(
            [rng.choice(np.flatnonzero(is_real == c), int((is_real == c).sum())) for c in (True, False)]
        )
        idx = np.concatenate([members[g] for g in picks])
        copy_groups = np.concatenate(
            [np.full(len(members[g]), f"{g}") for g in picks]
        )  # copies of a group share its fold
        per = _cv_auroc(x[idx], y[idx], copy_groups, folds, rng, shrinkage)
        if per:
            values.append(np.mean(per))
    lo, hi = np.percentile(values, [2.5, 97.5]) if values else (point, point)
    return Detectability(
        Estimate(round(point, 4), round(float(lo), 4), round(float(hi), 4)),
        len(fold_auc),
        [round(a, 4) for a in fold_auc],
        len(real),
        len(synthetic),
    )
