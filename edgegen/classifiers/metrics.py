"""Classification metrics (torchmetrics) with bootstrap 95% confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float  # 2.5th bootstrap percentile
    high: float  # 97.5th bootstrap percentile

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class MetricsReport:
    n: int
    class_names: tuple[str, ...]
    accuracy: Estimate
    precision_macro: Estimate
    recall_macro: Estimate
    f1_macro: Estimate
    auroc: Estimate | None  # None when the set holds a single class
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    bootstrap_rounds: int


def _point(probs: torch.Tensor, labels: torch.Tensor, k: int) -> dict[str, float]:
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_auroc,
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    out = {
        "accuracy": multiclass_accuracy(probs, labels, k, average="micro").item(),
        "precision_macro": multiclass_precision(probs, labels, k, average="macro").item(),
        "recall_macro": multiclass_recall(probs, labels, k, average="macro").item(),
        "f1_macro": multiclass_f1_score(probs, labels, k, average="macro").item(),
    }
    if len(torch.unique(labels)) == k:
        if k == 2:
            from torchmetrics.functional.classification import binary_auroc

            out["auroc"] = binary_auroc(probs[:, 1], labels).item()
        else:
            out["auroc"] = multiclass_auroc(probs, labels, k, average="macro").item()
    return out


def classification_report(
    probs: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], bootstrap: int = 500, seed: int = 0
) -> MetricsReport:
    from torchmetrics.functional.classification import (
        multiclass_confusion_matrix,
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    k = len(class_names)
    p = torch.as_tensor(probs, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    point = _point(p, y, k)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {key: [] for key in point}
    for _ in range(bootstrap):
        idx = torch.from_numpy(rng.integers(0, len(y), len(y)))
        for key, value in _point(p[idx], y[idx], k).items():
            samples.setdefault(key, []).append(value)

    def est(key: str) -> Estimate:
        values = samples.get(key) or [point[key]]
        lo, hi = np.percentile(values, [2.5, 97.5])
        return Estimate(round(point[key], 6), round(float(lo), 6), round(float(hi), 6))

    per_p = multiclass_precision(p, y, k, average=None).tolist()
    per_r = multiclass_recall(p, y, k, average=None).tolist()
    per_f = multiclass_f1_score(p, y, k, average=None).tolist()
    support = torch.bincount(y, minlength=k).tolist()
    return MetricsReport(
        n=len(y),
        class_names=tuple(class_names),
        accuracy=est("accuracy"),
        precision_macro=est("precision_macro"),
        recall_macro=est("recall_macro"),
        f1_macro=est("f1_macro"),
        auroc=est("auroc") if "auroc" in point else None,
        per_class={
            name: ClassMetrics(round(per_p[i], 6), round(per_r[i], 6), round(per_f[i], 6), int(support[i]))
            for i, name in enumerate(class_names)
        },
        confusion=multiclass_confusion_matrix(p, y, k).tolist(),
        bootstrap_rounds=bootstrap,
    )
