"""Resolve a DATA argument to an ImageSet: an embedded dataset name (`default`, `kermany-128`,
`nih-cxr14-128`, `pneumoniamnist`, `cxr-128`), several joined with `+`, a class folder, a CSV
(`path,label`, or CheXpert-style finding columns), or an `.npz` (chest-xray-128 or MedMNIST)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgegen.data.csv_manifest import load_csv_manifest
from edgegen.data.default import DEFAULT_CLASSES
from edgegen.data.findings import UncertainPolicy
from edgegen.data.folder import load_image_folder
from edgegen.data.imageset import ImageSet, merge
from edgegen.errors import DataError

DEFAULT = "default"


def _embedded(spec: str):
    from edgegen.data.embedded import DEFAULT_DATASET, EMBEDDED_DATASETS

    return EMBEDDED_DATASETS.get(DEFAULT_DATASET if spec == DEFAULT else spec)


def load_dataset(
    spec: str,
    split: str,
    size: int,
    class_names: tuple[str, ...] | None = None,
    label_column: int | None = None,
    uncertain: UncertainPolicy = UncertainPolicy.ZEROS,
) -> ImageSet:
    """`split` applies to split-aware sources (embedded, .npz); folders and CSVs are one pool."""
    if "+" in spec and not Path(spec).expanduser().exists():
        parts = [load_dataset(s, split, size, None, label_column, uncertain) for s in spec.split("+")]
        return _aligned(merge(parts, f"{spec}:{split}"), class_names)
    embedded = _embedded(spec)
    if embedded is not None:
        return _aligned(embedded.load(split, size), class_names)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".npz":
        return _load_npz(path, split, size, class_names, label_column)
    if path.suffix.lower() == ".csv":
        return _load_csv(path, size, class_names, uncertain)
    if path.is_dir():
        return load_image_folder(path, size, class_names)
    from edgegen.data.embedded import EMBEDDED_DATASETS

    raise DataError(
        f"dataset {spec!r} not found",
        hint=f"use {', '.join(['default', *EMBEDDED_DATASETS])}, a folder of class sub-folders, a .csv or a .npz",
    )


def _aligned(data: ImageSet, class_names: tuple[str, ...] | None) -> ImageSet:
    """Re-index labels to `class_names` (e.g. a val split that must match train's order)."""
    if class_names is None or tuple(class_names) == data.class_names:
        return data
    unknown = [n for n in data.class_names if n not in class_names and (data.labels == data.class_names.index(n)).any()]
    if unknown:
        raise DataError(f"{data.source}: classes {unknown} are not among {list(class_names)}")
    labels = np.array([class_names.index(data.class_names[i]) for i in data.labels], dtype=np.int64)
    return ImageSet(
        data.images,
        labels,
        tuple(class_names),
        data.source,
        data.skipped,
        data.findings,
        data.finding_names,
        data.patient_ids,
        data.meta,
    )


def _load_npz(path: Path, split: str, size: int, class_names, label_column) -> ImageSet:
    import zipfile

    from edgegen.data.cxr128 import is_cxr128, load_cxr128
    from edgegen.data.medmnist import load_medmnist

    if not path.is_file():
        raise DataError(f".npz file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__})") from exc
    if is_cxr128(keys):
        return _aligned(load_cxr128(path, split, size, path.stem, "unknown"), class_names)
    if any(k.endswith("_images") for k in keys):
        return load_medmnist(path, split, size, class_names, label_column)
    raise DataError(
        f"{path}: unknown .npz layout (keys {sorted(keys)})",
        hint=(
            "expected chest-xray-128 keys (images, split, patient_id, labels/label, "
            "label_names) or MedMNIST keys (train_images, train_labels, ...)"
        ),
    )


def _load_csv(path: Path, size: int, class_names, uncertain: UncertainPolicy) -> ImageSet:
    from edgegen.data.findings_csv import load_findings_csv, looks_like_findings_csv

    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except FileNotFoundError:
        raise DataError(f"CSV manifest {path} does not exist") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable CSV ({exc})") from exc
    if looks_like_findings_csv(header):
        return load_findings_csv(path, size, uncertain)
    return load_csv_manifest(path, size, class_names)


def is_split_aware(spec: str) -> bool:
    if "+" in spec and not Path(spec).expanduser().exists():
        return all(is_split_aware(s) for s in spec.split("+"))
    return _embedded(spec) is not None or spec.lower().endswith(".npz")


def stratified_split(data: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """(rest, held_out): `fraction` of each class held out, at least one image per class; whole
    patients go to one side when patient IDs are known (no patient in both)."""
    rng = np.random.default_rng(seed)
    groups = data.patient_ids if data.patient_ids is not None else np.arange(len(data)).astype(str)
    held = []
    for c in range(len(data.class_names)):
        idx = np.flatnonzero(data.labels == c)
        if len(idx) < 2:
            raise DataError(f"{data.source}: class {data.class_names[c]!r} has {len(idx)} image(s); need ≥ 2 to split")
        patients = rng.permutation(np.unique(groups[idx]))
        want = max(1, round(len(idx) * fraction))
        chosen, count = [], 0
        for p in patients:
            if count >= want:
                break
            chosen.append(p)
            count += int((groups[idx] == p).sum())
        held.append(idx[np.isin(groups[idx], chosen)])
    held_idx = np.sort(np.concatenate(held))
    held_patients = set(groups[held_idx])
    rest_idx = np.array(
        [i for i in range(len(data)) if i not in set(held_idx) and groups[i] not in held_patients], dtype=np.int64
    )
    return data.subset(rest_idx, f"{data.source}(train)"), data.subset(held_idx, f"{data.source}(held-out)")


def mix_real_synthetic(real: ImageSet, synthetic: ImageSet, synthetic_fraction: float, seed: int) -> ImageSet:
    """A training set where `synthetic_fraction` of the images are synthetic (1.0: synthetic only).

    All real images are kept for fractions < 1; synthetic images are sampled without
    replacement, so the fraction is capped by how many synthetic images there are.
    """
    if not 0.0 <= synthetic_fraction <= 1.0:
        raise DataError(f"synthetic fraction {synthetic_fraction} is outside [0, 1]")
    if synthetic_fraction == 0.0:
        return real
    if synthetic_fraction == 1.0:
        return merge([synthetic], f"synthetic:{synthetic.source}")
    wanted = round(len(real) * synthetic_fraction / (1.0 - synthetic_fraction))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(synthetic))[: min(wanted, len(synthetic))])
    return merge([real, synthetic.subset(pick)], f"hybrid:{real.source}+{synthetic.source}")


__all__ = ["DEFAULT", "DEFAULT_CLASSES", "load_dataset", "is_split_aware", "stratified_split", "mix_real_synthetic"]
