"""Evaluate a saved classifier on a dataset: metrics with CIs and per-image probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.classifiers.card import ClassifierCard, load_classifier
from edgegen.classifiers.metrics import MetricsReport, classification_report
from edgegen.classifiers.multilabel import MultiLabelReport, multilabel_report
from edgegen.classifiers.predict import predict_probs
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError


@dataclass(frozen=True)
class Evaluation:
    model_dir: Path
    data_source: str
    report: MetricsReport | MultiLabelReport
    skipped: int


def align_labels(data: ImageSet, class_names: tuple[str, ...]) -> np.ndarray:
    """The data's labels re-indexed to the model's class order (names must be known to it)."""
    unknown = [n for n in data.class_names if n not in class_names and (data.labels == data.class_names.index(n)).any()]
    if unknown:
        raise DataError(
            f"{data.source}: classes {unknown} are unknown to the model", hint=f"the model knows {list(class_names)}"
        )
    return np.array([class_names.index(data.class_names[i]) for i in data.labels], dtype=np.int64)


def score(
    probs: np.ndarray, data: ImageSet, card: ClassifierCard, bootstrap: int = 500, seed: int = 0
) -> MetricsReport | MultiLabelReport:
    """The report that fits the model: per-finding (multi-label, at the card's val thresholds)
    or per-class."""
    if card.multilabel:
        from edgegen.classifiers.train import finding_targets

        targets = finding_targets(data, card.class_names)
        thresholds = np.array([card.thresholds.get(n, 0.5) for n in card.class_names], np.float32)
        return multilabel_report(probs, targets, card.class_names, thresholds, bootstrap, seed)
    return classification_report(probs, align_labels(data, card.class_names), card.class_names, bootstrap, seed)


def evaluate_classifier(model_dir: Path, data: ImageSet, bootstrap: int = 500, seed: int = 0) -> Evaluation:
    model, card = load_classifier(model_dir)
    probs = predict_probs(model, data.images, card)
    return Evaluation(Path(model_dir), data.source, score(probs, data, card, bootstrap, seed), len(data.skipped))
