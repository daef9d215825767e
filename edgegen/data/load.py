"""Resolve a DATA argument to an ImageSet: `default`, a class folder, a CSV, or a MedMNIST .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.data.csv_manifest import load_csv_manifest
from edgegen.data.default import DEFAULT_CLASSES, load_default
from edgegen.data.folder import load_image_folder
from edgegen.data.imageset import ImageSet, merge
from edgegen.data.medmnist import load_medmnist
from edgegen.errors import DataError

DEFAULT = "default"


def load_dataset(
    spec: str,
    split: str,
    size: int,
    class_names: tuple[str, ...] | None = None,
    label_column: int | None = None,
) -> ImageSet:
    """`split` applies to split-aware sources (default, .npz); folders and CSVs are one pool."""
    if spec == DEFAULT:
        return load_default(split, size)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".npz":
        return load_medmnist(path, split, size, class_names, label_column)
    if path.suffix.lower() == ".csv":
        return load_csv_manifest(path, size, class_names)
    if path.is_dir():
        return load_image_folder(path, size, class_names)
    raise DataError(f"dataset {spec!r} not found", hint="use 'default', a folder of class sub-folders, a .csv or a .npz")


def is_split_aware(spec: str) -> bool:
    return spec == DEFAULT or spec.lower().endswith(".npz")


def stratified_split(data: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """(rest, held_out): `fraction` of each class held out, at least one image per class."""
    rng = np.random.default_rng(seed)
    held = []
    for c in range(len(data.class_names)):
        idx = rng.permutation(np.flatnonzero(data.labels == c))
        if len(idx) < 2:
            raise DataError(f"{data.source}: class {data.class_names[c]!r} has {len(idx)} image(s); need ≥ 2 to split")
        held.append(idx[: max(1, round(len(idx) * fraction))])
    held_idx = np.sort(np.concatenate(held))
    rest_idx = np.setdiff1d(np.arange(len(data)), held_idx)
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
