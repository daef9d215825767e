"""Train a classifier on real, synthetic or hybrid CXR data, with early stopping on validation.

Two tasks: `classes` (softmax over class names, cross-entropy with class weights, model chosen on
val macro-F1) and `findings` (one sigmoid per finding, BCE with per-finding positive weights and
unknown labels masked, model chosen on val macro AUROC, thresholds chosen on val F1).
Returns a `TrainResult`; the model and its card (architecture, classes or findings,
preprocessing, data hashes, metrics with bootstrap CIs, the reproducing command) are saved
atomically.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgegen.classifiers.card import MULTICLASS, MULTILABEL, ClassifierCard, save_classifier
from edgegen.classifiers.metrics import MetricsReport, classification_report
from edgegen.classifiers.multilabel import MultiLabelReport, choose_thresholds, multilabel_report
from edgegen.classifiers.predict import predict_probs
from edgegen.classifiers.registry import build_classifier, get_arch
from edgegen.data.imageset import ImageSet
from edgegen.data.torch_dataset import ImageTensorDataset
from edgegen.errors import DataError, UsageError

TASKS = ("classes", "findings")


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "mobilenet_v3_small"
    input_size: int | None = None  # None: the architecture's default
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without a better val score before stopping
    class_weighting: bool = True
    augment: bool = True
    seed: int = 0
    bootstrap: int = 500
    task: str = "classes"  # "classes" | "findings"
    findings: tuple[str, ...] = ()  # task "findings": which (findings.yaml names); () = all in the data

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UsageError(f"unknown task {self.task!r}", hint=f"use one of {', '.join(TASKS)}")


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    epochs_run: int
    best_epoch: int
    val: MetricsReport | MultiLabelReport
    test: MetricsReport | MultiLabelReport | None
    seconds: float
    history: list[dict[str, float]]


def _class_weights(data: ImageSet) -> torch.Tensor:
    counts = np.bincount(data.labels, minlength=len(data.class_names)).astype(np.float64)
    if (counts == 0).any():
        missing = [n for n, c in zip(data.class_names, counts, strict=True) if c == 0]
        raise DataError(f"{data.source}: no training images for class(es) {missing}")
    w = counts.sum() / (len(counts) * counts)
    return torch.tensor(w, dtype=torch.float32)


POPULATION_PREFIX = "population:"  # a target "population:pediatric" is 1 for that population


def finding_targets(data: ImageSet, names: tuple[str, ...]) -> np.ndarray:
    """float [N, F] for `names` (NaN where unknown); a name the data lacks is an error. A name
    "population:<value>" is a target too (1 where the image's population is <value>)."""
    if not data.is_multilabel:
        raise DataError(
            f"{data.source} has no findings labels",
            hint="use a multi-label set (nih-cxr14-128, a CheXpert-style CSV) or --task classes",
        )
    missing = [
        n
        for n in names
        if n not in data.finding_names and not (n.startswith(POPULATION_PREFIX) and "population" in data.meta)
    ]
    if missing:
        raise DataError(
            f"{data.source} has no labels for finding(s) {missing}", hint=f"it has: {', '.join(data.finding_names)}"
        )
    cols = []
    for n in names:
        if n in data.finding_names:
            cols.append(data.findings[:, data.finding_names.index(n)])
        else:
            cols.append((data.meta["population"] == n[len(POPULATION_PREFIX) :]).astype(np.float32))
    return np.stack(cols, axis=1).astype(np.float32)


class _MaskedBCE(torch.nn.Module):
    """BCE-with-logits per finding, positives weighted by neg/pos, unknown (NaN) targets masked."""

    def __init__(self, pos_weight: torch.Tensor | None) -> None:
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(targets)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.nan_to_num(targets), pos_weight=self.pos_weight, reduction="none"
        )
        return (loss * known).sum() / known.sum().clamp(min=1)


def _pos_weight(targets: np.ndarray, names: tuple[str, ...]) -> torch.Tensor:
    pos = np.nansum(targets == 1, axis=0).astype(np.float64)
    neg = np.nansum(targets == 0, axis=0).astype(np.float64)
    if (pos == 0).any():
        raise DataError(
            f"no positive training image for finding(s) {[n for n, p in zip(names, pos, strict=True) if p == 0]}"
        )
    return torch.tensor(neg / pos, dtype=torch.float32)


@dataclass
class Fitted:
    """A trained model in eval mode (best val epoch), its card, and the training history."""

    model: torch.nn.Module
    card: ClassifierCard
    names: tuple[str, ...]
    targets: dict[str, np.ndarray]  # findings targets per split ("findings" task)
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float


def fit_classifier(
    config: TrainConfig, train: ImageSet, val: ImageSet, test: ImageSet | None = None, progress=None
) -> Fitted:
    """Train with early stopping on validation; no reports, nothing saved (studies train many)."""
    multilabel = config.task == "findings"
    if not multilabel and (
        train.class_names != val.class_names or (test is not None and test.class_names != train.class_names)
    ):
        raise DataError(f"class names differ between splits: {train.class_names} / {val.class_names}")
    names = (config.findings or train.finding_names) if multilabel else train.class_names
    targets = {"train": finding_targets(train, names), "val": finding_targets(val, names)} if multilabel else {}
    if multilabel and test is not None:
        targets["test"] = finding_targets(test, names)
    arch = get_arch(config.arch)
    size = config.input_size or arch.input_size
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    model = build_classifier(config.arch, len(names))
    task = MULTILABEL if multilabel else MULTICLASS
    card = ClassifierCard(config.arch, tuple(names), size, arch.mean, arch.std, task=task)
    loader = torch.utils.data.DataLoader(
        ImageTensorDataset(train, size, arch.mean, arch.std, augment=config.augment, targets=targets.get("train")),
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
    if multilabel:
        loss_fn = _MaskedBCE(_pos_weight(targets["train"], names) if config.class_weighting else None)
    else:
        loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(train) if config.class_weighting else None)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # Cosine decay from the start: early stopping then compares epochs at a falling, not peaking, LR.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs * len(loader))
    best_score, best_state, best_epoch, stale = -1.0, None, 0, 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for x, y in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            seen += len(y)
        val_probs = predict_probs(model, val.images, card)
        if multilabel:
            report = multilabel_report(val_probs, targets["val"], names, bootstrap=0)
            score = report.macro_auroc.value if report.macro_auroc else 0.0
            row = {"epoch": epoch, "train_loss": total / seen, "val_macro_auroc": score}
        else:
            report = classification_report(val_probs, val.labels, val.class_names, bootstrap=0)
            score = report.f1_macro.value
            row = {
                "epoch": epoch,
                "train_loss": total / seen,
                "val_f1_macro": score,
                "val_accuracy": report.accuracy.value,
            }
        history.append(row)
        if progress is not None:
            progress(epoch, config.epochs, total / seen, score)
        if score > best_score:
            best_score, best_state, best_epoch, stale = score, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return Fitted(model, card, tuple(names), targets, history, best_epoch, time.perf_counter() - start)


def train_classifier(
    config: TrainConfig,
    train: ImageSet,
    val: ImageSet,
    test: ImageSet | None,
    out_dir: Path,
    reproduce: str = "",
    progress=None,
) -> TrainResult:
    fitted = fit_classifier(config, train, val, test, progress)
    model, names, targets = fitted.model, fitted.names, fitted.targets
    card = fitted.card
    multilabel = card.multilabel
    val_probs = predict_probs(model, val.images, card)
    test_report = None
    thresholds: dict[str, float] = {}
    if multilabel:
        thr = choose_thresholds(val_probs, targets["val"])
        thresholds = {n: round(float(t), 6) for n, t in zip(names, thr, strict=True)}
        val_report = multilabel_report(val_probs, targets["val"], names, thr, config.bootstrap, config.seed)
        if test is not None:
            test_report = multilabel_report(
                predict_probs(model, test.images, card), targets["test"], names, thr, config.bootstrap, config.seed
            )
    else:
        val_report = classification_report(val_probs, val.labels, val.class_names, config.bootstrap, config.seed)
        if test is not None:
            test_report = classification_report(
                predict_probs(model, test.images, card), test.labels, test.class_names, config.bootstrap, config.seed
            )
    seconds = fitted.seconds
    from edgegen.classifiers.calibration import calibrate
    from edgegen.classifiers.predict import predict_logits

    calibration = calibrate(
        predict_logits(model, val.images, card), targets["val"] if multilabel else val.labels, multilabel, val.source
    )
    card = ClassifierCard(
        arch=config.arch,
        class_names=tuple(names),
        input_size=card.input_size,
        mean=card.mean,
        std=card.std,
        data={
            split: {
                "source": s.source,
                "sha256": s.content_hash(),
                "counts": s.class_counts(),
                "findings": s.finding_counts(),
            }
            for split, s in (("train", train), ("val", val), ("test", test))
            if s is not None
        },
        training={
            **config.__dict__,
            "input_size": card.input_size,
            "epochs_run": len(fitted.history),
            "best_epoch": fitted.best_epoch,
            "seconds": round(seconds, 1),
        },
        metrics={"val": val_report, "test": test_report},
        reproduce=reproduce,
        versions=_versions(),
        task=card.task,
        thresholds=thresholds,
        calibration=calibration,
    )
    save_classifier(model, card, out_dir)
    return TrainResult(
        Path(out_dir), len(fitted.history), fitted.best_epoch, val_report, test_report, seconds, fitted.history
    )


def _versions() -> dict[str, str]:
    import torchvision

    import edgegen

    return {"edgegen": edgegen.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__}
