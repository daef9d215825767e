"""The embedded default dataset (kermany-128: pediatric normal/pneumonia at 128 px) and the
vendored PneumoniaMNIST, kept for comparison with earlier results.

PneumoniaMNIST: real pediatric chest X-rays (Kermany et al., Cell 2018) via MedMNIST v2 (Yang et
al., Scientific Data 2023), 28×28, normal / pneumonia. This redistributed copy keeps the official
val (524) and test (624) splits, but its train split was reduced by its redistributor to 3,882
images (388 normal / 3,494 pneumonia; official 4,708). See edgegen/assets/data/pneumoniamnist.SOURCE.txt.
"""

from __future__ import annotations

from edgegen.assets import ASSETS_DIR
from edgegen.data.imageset import ImageSet
from edgegen.data.medmnist import load_medmnist

PNEUMONIAMNIST_PATH = ASSETS_DIR / "data" / "pneumoniamnist.npz"
DEFAULT_CLASSES = ("normal", "pneumonia")
ATTRIBUTION = (
    "PneumoniaMNIST (MedMNIST v2, Yang et al. 2023; Kermany et al. 2018), CC BY 4.0; "
    "train split reduced to 3,882 images by its redistributor"
)


def load_pneumoniamnist(split: str, size: int = 64) -> ImageSet:
    return load_medmnist(PNEUMONIAMNIST_PATH, split, size, DEFAULT_CLASSES)


def load_default(split: str, size: int = 128) -> ImageSet:
    """The default dataset (kermany-128) at `size` pixels."""
    from edgegen.data.embedded import DEFAULT_DATASET, EMBEDDED_DATASETS

    return EMBEDDED_DATASETS[DEFAULT_DATASET].load(split, size)
