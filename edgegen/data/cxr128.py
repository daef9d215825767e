"""The chest-xray-128 `.npz` layout (edgegen/assets/data/chest-xray-128/SOURCE.txt): `images`
(128 px) and `images_64`, a patient-disjoint `split`, `patient_id`, and either NIH multi-hot
`labels` + `label_names` or a binary `label` + `label_names` (Kermany).

Findings are mapped through edgegen/assets/findings.yaml ("nih" vocabulary); the raw labels stay
available in `meta["finding_labels"]`. Population is per dataset: NIH is read as adult (its
median age is 48; 109 of the 1,604 images are of patients under 18), Kermany as pediatric.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from edgegen.data.imageset import ImageSet
from edgegen.data.transforms import resize_batch
from edgegen.errors import DataError

SPLITS = ("train", "val", "test", "all")
# Per-image keys kept as metadata (name in ImageSet.meta): Kermany's bacterial/viral subtype, NIH's
# age / sex / follow-up number / official NIH split, and each set's original file name.
META_KEYS = {
    "subtype": "subtype",
    "patient_age": "age",
    "patient_gender": "sex",
    "follow_up": "follow_up",
    "nih_official_split": "official_split",
    "kaggle_split": "official_split",
    "image_index": "file_name",
    "filename": "file_name",
}
REQUIRED = ("images", "split", "patient_id", "label_names")


def is_cxr128(keys: set[str]) -> bool:
    return {"images", "split"} <= keys


def _check_keys(path: Path, keys: set[str]) -> None:
    missing = [k for k in REQUIRED if k not in keys]
    if not ({"labels"} & keys or {"label"} & keys):
        missing.append("labels (multi-hot) or label (binary)")
    if missing:
        raise DataError(
            f"{path}: not a chest-xray-128 .npz, missing key(s) {', '.join(missing)}", hint=f"found {sorted(keys)}"
        )


def load_cxr128(
    path: Path, split: str, size: int, name: str, population: str, class_names: tuple[str, ...] | None = None
) -> ImageSet:
    from edgegen.data.findings import UncertainPolicy, load_findings_map

    path = Path(path)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}", hint=f"use one of {SPLITS}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            _check_keys(path, keys)
            splits = npz["split"].astype(str)
            pick = np.flatnonzero(splits == split) if split != "all" else np.arange(len(splits))
            use_64 = size == 64 and "images_64" in keys
            images = (npz["images_64"] if use_64 else npz["images"])[pick]
            label_names = tuple(str(n) for n in npz["label_names"])
            patients = np.array([f"{name}:{p}" for p in npz["patient_id"][pick]])
            view = npz["view_position"][pick].astype(str) if "view_position" in keys else np.full(len(pick), "unknown")
            raw = {k: npz[k][pick] for k in ("labels", "label", "finding_labels") if k in keys}
            extra = {as_name: npz[key][pick].astype(str) for key, as_name in META_KEYS.items() if key in keys}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__})") from exc
    if len(pick) == 0:
        raise DataError(f"{path}: no images in split {split!r}")
    images = resize_batch(images.astype(np.uint8), size)
    fmap = load_findings_map()
    meta = {"population": np.full(len(pick), population), "view": view, **extra}
    if "labels" in raw:  # NIH multi-hot
        multi = raw["labels"].astype(np.float32)
        columns = {n: multi[:, i] for i, n in enumerate(label_names)}
        findings, finding_names = fmap.combine(columns, "nih", UncertainPolicy.ZEROS)
        no_finding = (
            multi[:, label_names.index("No Finding")]
            if "No Finding" in label_names
            else (multi.sum(1) == 0).astype(np.float32)
        )
        labels = (no_finding == 0).astype(np.int64)
        names = class_names or ("normal", "abnormal")
        if "finding_labels" in raw:
            meta["finding_labels"] = raw["finding_labels"].astype(str)
    else:  # Kermany binary
        labels = raw["label"].astype(np.int64)
        names = class_names or tuple(n.lower() for n in label_names)
        findings = np.stack([(labels == 1), (labels == 0)], axis=1).astype(np.float32)
        finding_names = ("pneumonia", "no_finding")
    if labels.max() >= len(names):
        raise DataError(f"{path}: label {int(labels.max())} has no class name", hint=f"names given: {list(names)}")
    return ImageSet(images, labels, tuple(names), f"{name}:{split}", (), findings, finding_names, patients, meta)
