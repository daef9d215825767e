"""Batched classification of CXRs on any backend, with a CSV of probabilities and, when the data
is labeled, the metrics."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_bytes
from edgegen.classifiers.card import ClassifierCard, read_card
from edgegen.classifiers.metrics import MetricsReport
from edgegen.classifiers.multilabel import MultiLabelReport
from edgegen.data.torch_dataset import to_model_input
from edgegen.errors import ArtifactError
from edgegen.runtime.backends.base import Runner
from edgegen.runtime.loader import RunConfig, onnx_runner
from edgegen.types import Backend, Component


@dataclass(frozen=True)
class ClassifyResult:
    n: int
    backend: str
    precision: str
    seconds: float
    images_per_s: float
    report: MetricsReport | MultiLabelReport | None
    csv: Path | None


def open_classifier(
    config: RunConfig, classifier: str | None = None, artifacts: Path | None = None
) -> tuple[Runner, ClassifierCard]:
    from edgegen.export.components import EXPORTS

    if config.backend is Backend.TORCH:
        from edgegen.classifiers.card import load_classifier
        from edgegen.models.embedded import resolve_classifier_dir
        from edgegen.runtime.backends.torch_backend import TorchRunner

        pair = load_classifier(resolve_classifier_dir(classifier or "default"))
        return TorchRunner(EXPORTS[Component.CLASSIFIER](pair), config.device, threads=config.threads), pair[1]
    if artifacts is None:
        raise ArtifactError(f"--backend {config.backend.value} needs --artifacts (an export folder with a classifier)")
    from edgegen.export.artifacts import load_manifest

    folder = Path(artifacts)
    card_path = folder / "classifier_card.json"
    if not card_path.is_file():
        raise ArtifactError(
            f"{folder} has no exported classifier (classifier_card.json missing)",
            hint="export with --classifier default",
        )
    card = read_card(card_path)
    manifest = load_manifest(folder / "manifest.json")
    if classifier not in (None, "default"):
        from edgegen.export.artifacts import sha256_file
        from edgegen.models.embedded import resolve_classifier_dir

        wanted = resolve_classifier_dir(classifier)
        have = (manifest.classifier or {}).get("sha256")
        if have != sha256_file(wanted / "model.safetensors"):
            raise ArtifactError(
                f"{folder} holds another classifier ({(manifest.classifier or {}).get('path', '?')}), not {classifier}",
                hint=f"export it: `edgegen export MODEL --classifier {classifier} --components classifier`",
            )
    return onnx_runner(
        folder,
        manifest,
        Component.CLASSIFIER,
        config.precisions[Component.CLASSIFIER],
        config,
    ), card


def predict(runner: Runner, card: ClassifierCard, images: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, float]:
    """(probabilities [N, K], seconds spent in the runner): softmax, or per-finding sigmoid for a
    multi-label model."""
    probs, seconds = [], 0.0
    for i in range(0, len(images), batch_size):
        x = to_model_input(images[i : i + batch_size], card.input_size, card.mean, card.std).numpy()
        logits = next(iter(runner.run({"images": x}).values())).astype(np.float64)
        seconds += runner.last_inference_s
        if card.multilabel:
            probs.append((1.0 / (1.0 + np.exp(-logits))).astype(np.float32))
        else:
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs.append((e / e.sum(axis=1, keepdims=True)).astype(np.float32))
    return np.concatenate(probs), seconds


def classify(
    runner: Runner,
    card: ClassifierCard,
    images: np.ndarray,
    names: list[str],
    labels,
    out_csv: Path | None,
    batch_size: int = 64,
    bootstrap: int = 500,
    backend: str = "",
    precision: str = "",
) -> ClassifyResult:
    """`labels`: None (unlabeled), or the labeled ImageSet the images came from."""
    start = time.perf_counter()
    probs, _ = predict(runner, card, images, batch_size)
    seconds = time.perf_counter() - start
    return summarize(card, probs, names, labels, out_csv, bootstrap, backend, precision, seconds)


def summarize(
    card: ClassifierCard,
    probs: np.ndarray,
    names: list[str],
    labels,
    out_csv: Path | None,
    bootstrap: int,
    backend: str,
    precision: str,
    seconds: float,
) -> ClassifyResult:
    """The CSV (written atomically) and, for labeled data, the metrics, from the probabilities of
    `predict` (run here or, shard by shard, on Ray workers)."""
    from edgegen.classifiers.evaluate import align_labels, score

    aligned = None if labels is None or card.multilabel else align_labels(labels, card.class_names)
    if out_csv is not None:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(
            ["path", "predicted", *(f"p_{c}" for c in card.class_names), *(["label"] if aligned is not None else [])]
        )
        for i, (name, p) in enumerate(zip(names, probs, strict=True)):
            if card.multilabel:
                predicted = (
                    "|".join(c for j, c in enumerate(card.class_names) if p[j] >= card.thresholds.get(c, 0.5)) or "none"
                )
            else:
                predicted = card.class_names[int(p.argmax())]
            row = [name, predicted, *(f"{v:.6f}" for v in p)]
            if aligned is not None:
                row.append(card.class_names[int(aligned[i])])
            w.writerow(row)
        atomic_write_bytes(Path(out_csv), buf.getvalue().encode())
    report = score(probs, labels, card, bootstrap) if labels is not None else None
    n = len(probs)
    return ClassifyResult(n, backend, precision, seconds, n / seconds if seconds > 0 else 0.0, report, out_csv)
