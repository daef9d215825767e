"""Multi-label (findings) metrics: per-finding AUROC, average precision and F1 at a threshold
chosen on validation data, macro and micro, each with a bootstrap 95% CI over images.

Targets are float [N, F] with 1 / 0 / NaN; NaN (unknown, uncertain-ignored) is left out of that
finding's scores. A finding with no positive or no negative image in the data has no AUROC/AP
(None) and is left out of the macro average, which says how many findings it covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgegen.classifiers.metrics import Estimate


@dataclass(frozen=True)
class FindingMetrics:
    n_positive: int
    n_negative: int
    threshold: float
    auroc: Estimate | None
    average_precision: Estimate | None
    f1: Estimate | None
    sensitivity: float | None
    specificity: float | None


@dataclass(frozen=True)
class MultiLabelReport:
    n: int
    finding_names: tuple[str, ...]
    per_finding: dict[str, FindingMetrics]
    macro_auroc: Estimate | None
    macro_average_precision: Estimate | None
    macro_f1: Estimate | None
    micro_auroc: Estimate | None
    micro_average_precision: Estimate | None
    micro_f1: Estimate | None
    macro_over: tuple[str, ...]  # the findings with both classes present, averaged over
    bootstrap_rounds: int


def _auroc(p: np.ndarray, y: np.ndarray) -> float | None:
    from torchmetrics.functional.classification import binary_auroc

    if y.min() == y.max():
        return None
    return float(binary_auroc(torch.from_numpy(p), torch.from_numpy(y.astype(np.int64))))


def _ap(p: np.ndarray, y: np.ndarray) -> float | None:
    from torchmetrics.functional.classification import binary_average_precision

    if y.max() == 0:
        return None
    return float(binary_average_precision(torch.from_numpy(p), torch.from_numpy(y.astype(np.int64))))


def _f1(p: np.ndarray, y: np.ndarray, threshold: float) -> float:
    pred = p >= threshold
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0


def choose_thresholds(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per finding, the probability threshold that maximises F1 on these (validation) data;
    0.5 where a finding has no positive."""
    out = np.full(probs.shape[1], 0.5, np.float32)
    for j in range(probs.shape[1]):
        known = ~np.isnan(targets[:, j])
        p, y = probs[known, j], targets[known, j]
        if len(y) == 0 or y.max() == 0:
            continue
        candidates = np.unique(p)
        scores = [_f1(p, y, t) for t in candidates]
        out[j] = float(candidates[int(np.argmax(scores))])
    return out


def _point(probs: np.ndarray, targets: np.ndarray, thresholds: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    aurocs, aps, f1s = [], [], []
    flat_p, flat_y, flat_pred = [], [], []
    for j in range(probs.shape[1]):
        known = ~np.isnan(targets[:, j])
        p, y = probs[known, j], targets[known, j]
        a, ap = (_auroc(p, y), _ap(p, y)) if len(y) else (None, None)
        f = _f1(p, y, float(thresholds[j])) if len(y) and y.max() > 0 else None
        out[f"auroc/{j}"], out[f"ap/{j}"], out[f"f1/{j}"] = a, ap, f
        if a is not None:
            aurocs.append(a)
            aps.append(ap)
            f1s.append(f)
        flat_p.append(p)
        flat_y.append(y)
        flat_pred.append(p >= thresholds[j])
    out["macro_auroc"] = float(np.mean(aurocs)) if aurocs else None
    out["macro_ap"] = float(np.mean(aps)) if aps else None
    out["macro_f1"] = float(np.mean(f1s)) if f1s else None
    fp, fy, fpred = np.concatenate(flat_p), np.concatenate(flat_y), np.concatenate(flat_pred)
    out["micro_auroc"] = _auroc(fp, fy) if len(fy) else None
    out["micro_ap"] = _ap(fp, fy) if len(fy) else None
    tp = float((fpred & (fy == 1)).sum())
    denom = tp + float((fpred & (fy == 0)).sum()) + float((~fpred & (fy == 1)).sum())
    out["micro_f1"] = 2 * tp / (tp + denom) if denom > 0 else None
    return out


def multilabel_report(
    probs: np.ndarray,
    targets: np.ndarray,
    finding_names: tuple[str, ...],
    thresholds: np.ndarray | None = None,
    bootstrap: int = 500,
    seed: int = 0,
) -> MultiLabelReport:
    """Scores with bootstrap CIs (resampling images). `thresholds` None: chosen on these data
    (optimistic; pass the validation thresholds when scoring a test set)."""
    probs = np.asarray(probs, np.float32)
    targets = np.asarray(targets, np.float32)
    thr = choose_thresholds(probs, targets) if thresholds is None else np.asarray(thresholds, np.float32)
    point = _point(probs, targets, thr)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(bootstrap):
        idx = rng.integers(0, len(probs), len(probs))
        for k, v in _point(probs[idx], targets[idx], thr).items():
            if v is not None:
                samples[k].append(v)

    def est(key: str) -> Estimate | None:
        if point[key] is None:
            return None
        values = samples[key] or [point[key]]
        lo, hi = np.percentile(values, [2.5, 97.5])
        return Estimate(round(float(point[key]), 6), round(float(lo), 6), round(float(hi), 6))

    per = {}
    for j, name in enumerate(finding_names):
        known = ~np.isnan(targets[:, j])
        y = targets[known, j]
        pred = probs[known, j] >= thr[j]
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        sens = float((pred & (y == 1)).sum() / pos) if pos else None
        spec = float((~pred & (y == 0)).sum() / neg) if neg else None
        per[name] = FindingMetrics(
            pos, neg, round(float(thr[j]), 6), est(f"auroc/{j}"), est(f"ap/{j}"), est(f"f1/{j}"), sens, spec
        )
    covered = tuple(n for j, n in enumerate(finding_names) if point[f"auroc/{j}"] is not None)
    return MultiLabelReport(
        len(probs),
        tuple(finding_names),
        per,
        est("macro_auroc"),
        est("macro_ap"),
        est("macro_f1"),
        est("micro_auroc"),
        est("micro_ap"),
        est("micro_f1"),
        covered,
        bootstrap,
    )
