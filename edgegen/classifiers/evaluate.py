"""Evaluate a saved classifier on a dataset: metrics with CIs and per-image probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.classifiers.card import load_classifier
from edgegen.classifiers.metrics import MetricsReport, classification_report
from edgegen.classifiers.predict import predict_probs
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError


@dataclass(frozen=True)
class Evaluation:
    model_dir: Path
    data_source: str
    report: MetricsReport
    skipped: int


def align_labels(data: ImageSet, class_names: tuple[str, ...]) -> np.ndarray:
    """The data's labels re-indexed to the model's class order (names must be known to it)."""
    unknown = [n for n in data.class_names if n not in class_names]
    if unknown:
        raise DataError(f"{data.source}: classes {unknown} are unknown to the model", hint=f"the model knows {list(class_names)}")
    return np.array([class_names.index(data.class_names[i]) for i in data.labels], dtype=np.int64)


def evaluate_classifier(model_dir: Path, data: ImageSet, bootstrap: int = 500, seed: int = 0) -> Evaluation:
    model, card = load_classifier(model_dir)
    labels = align_labels(data, card.class_names)
    probs = predict_probs(model, data.images, card)
    report = classification_report(probs, labels, card.class_names, bootstrap, seed)
    return Evaluation(Path(model_dir), data.source, report, len(data.skipped))
