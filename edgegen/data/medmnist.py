"""MedMNIST `.npz` files (train/val/test `_images` and `_labels` keys), e.g. PneumoniaMNIST.

Multi-label sets such as ChestMNIST (14 findings per image) become a binary task on one finding
with `label_column` (e.g. ChestMNIST column 6 = pneumonia → classes "no-pneumonia"/"pneumonia").
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from edgegen.data.imageset import ImageSet
from edgegen.data.transforms import resize_batch
from edgegen.errors import DataError

SPLITS = ("train", "val", "test")
# Label names per MedMNIST dataset (from the MedMNIST v2 INFO table).
KNOWN_CLASSES = {
    "pneumoniamnist": ("normal", "pneumonia"),
}
CHESTMNIST_FINDINGS = (
    "atelectasis",
    "cardiomegaly",
    "effusion",
    "infiltration",
    "mass",
    "nodule",
    "pneumonia",
    "pneumothorax",
    "consolidation",
    "edema",
    "emphysema",
    "fibrosis",
    "pleural",
    "hernia",
)


def load_medmnist(
    path: Path,
    split: str,
    size: int,
    class_names: tuple[str, ...] | None = None,
    label_column: int | None = None,
) -> ImageSet:
    path = Path(path).expanduser()
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}", hint=f"use one of {SPLITS}")
    if not path.is_file():
        raise DataError(f"MedMNIST file {path} does not exist")
    try:
        with np.load(path) as npz:
            keys = set(npz.files)
            if f"{split}_images" not in keys or f"{split}_labels" not in keys:
                raise DataError(f"{path}: no {split}_images/{split}_labels arrays", hint=f"found {sorted(keys)}")
            images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__})") from exc
    if images.ndim == 4:  # RGB MedMNIST variants: average to grayscale
        images = images.mean(axis=-1).round().astype(np.uint8)
    labels = labels.reshape(len(labels), -1)
    if labels.shape[1] > 1:
        if label_column is None:
            raise DataError(
                f"{path} is multi-label ({labels.shape[1]} columns)", hint="choose one finding with --label-column K"
            )
        finding = CHESTMNIST_FINDINGS[label_column] if labels.shape[1] == 14 else f"label{label_column}"
        labels = labels[:, label_column : label_column + 1]
        class_names = class_names or (f"no-{finding}", finding)
    labels = labels[:, 0].astype(np.int64)
    n_classes = int(labels.max()) + 1
    if class_names is None:
        stem = path.stem.split("_")[0].lower()
        class_names = KNOWN_CLASSES.get(stem, tuple(f"class{i}" for i in range(n_classes)))
    if n_classes > len(class_names):
        raise DataError(f"{path}: label {n_classes - 1} has no class name", hint=f"names given: {list(class_names)}")
    return ImageSet(resize_batch(images.astype(np.uint8), size), labels, tuple(class_names), f"{path.name}:{split}")
