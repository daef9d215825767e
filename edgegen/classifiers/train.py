"""Train a classifier on real, synthetic or hybrid CXR data, with early stopping on validation.

Returns a `TrainResult`; the model and its card (architecture, classes, preprocessing, data
hashes, metrics with bootstrap CIs, the reproducing command) are saved atomically.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgegen.classifiers.card import ClassifierCard, save_classifier
from edgegen.classifiers.metrics import MetricsReport, classification_report
from edgegen.classifiers.predict import predict_probs
from edgegen.classifiers.registry import build_classifier, get_arch
from edgegen.data.imageset import ImageSet
from edgegen.data.torch_dataset import ImageTensorDataset
from edgegen.errors import DataError


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "mobilenet_v3_small"
    input_size: int | None = None  # None: the architecture's default
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without a better val macro-F1 before stopping
    class_weighting: bool = True
    augment: bool = True
    seed: int = 0
    bootstrap: int = 500


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    epochs_run: int
    best_epoch: int
    val: MetricsReport
    test: MetricsReport | None
    seconds: float
    history: list[dict[str, float]]


def _class_weights(data: ImageSet) -> torch.Tensor:
    counts = np.bincount(data.labels, minlength=len(data.class_names)).astype(np.float64)
    if (counts == 0).any():
        missing = [n for n, c in zip(data.class_names, counts, strict=True) if c == 0]
        raise DataError(f"{data.source}: no training images for class(es) {missing}")
    w = counts.sum() / (len(counts) * counts)
    return torch.tensor(w, dtype=torch.float32)


def train_classifier(
    config: TrainConfig,
    train: ImageSet,
    val: ImageSet,
    test: ImageSet | None,
    out_dir: Path,
    reproduce: str = "",
    progress=None,
) -> TrainResult:
    if train.class_names != val.class_names or (test is not None and test.class_names != train.class_names):
        raise DataError(f"class names differ between splits: {train.class_names} / {val.class_names}")
    arch = get_arch(config.arch)
    size = config.input_size or arch.input_size
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    model = build_classifier(config.arch, len(train.class_names))
    card = ClassifierCard(config.arch, train.class_names, size, arch.mean, arch.std)
    loader = torch.utils.data.DataLoader(
        ImageTensorDataset(train, size, arch.mean, arch.std, augment=config.augment),
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )
    weight = _class_weights(train) if config.class_weighting else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    # Cosine decay from the start: early stopping then compares epochs at a falling, not peaking, LR.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs * len(loader))
    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
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
        val_report = classification_report(predict_probs(model, val.images, card), val.labels, val.class_names, bootstrap=0)
        f1 = val_report.f1_macro.value
        history.append({"epoch": epoch, "train_loss": total / seen, "val_f1_macro": f1, "val_accuracy": val_report.accuracy.value})
        if progress is not None:
            progress(epoch, config.epochs, total / seen, f1)
        if f1 > best_f1:
            best_f1, best_state, best_epoch, stale = f1, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    val_report = classification_report(predict_probs(model, val.images, card), val.labels, val.class_names, config.bootstrap, config.seed)
    test_report = None
    if test is not None:
        test_report = classification_report(predict_probs(model, test.images, card), test.labels, test.class_names, config.bootstrap, config.seed)
    seconds = time.perf_counter() - start
    card = ClassifierCard(
        arch=config.arch,
        class_names=train.class_names,
        input_size=size,
        mean=arch.mean,
        std=arch.std,
        data={
            split: {"source": s.source, "sha256": s.content_hash(), "counts": s.class_counts()}
            for split, s in (("train", train), ("val", val), ("test", test))
            if s is not None
        },
        training={**config.__dict__, "input_size": size, "epochs_run": len(history), "best_epoch": best_epoch, "seconds": round(seconds, 1)},
        metrics={"val": val_report, "test": test_report},
        reproduce=reproduce,
        versions=_versions(),
    )
    save_classifier(model, card, out_dir)
    return TrainResult(Path(out_dir), len(history), best_epoch, val_report, test_report, seconds, history)


def _versions() -> dict[str, str]:
    import torchvision

    import edgegen

    return {"edgegen": edgegen.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__}
