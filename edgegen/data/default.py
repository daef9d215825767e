"""The embedded default dataset: PneumoniaMNIST, vendored in the package (CC BY 4.0).

Real pediatric chest X-rays (Kermany et al., Cell 2018) via MedMNIST v2 (Yang et al., Scientific
Data 2023), 28×28, normal / pneumonia. This redistributed copy keeps the official val (524) and
test (624) splits, but its train split was reduced by its redistributor to 3,882 images (388
normal / 3,494 pneumonia; official 4,708). See edgegen/assets/data/pneumoniamnist.SOURCE.txt.
"""

from __future__ import annotations

from edgegen.assets import ASSETS_DIR
from edgegen.data.imageset import ImageSet
from edgegen.data.medmnist import load_medmnist

DEFAULT_DATASET_PATH = ASSETS_DIR / "data" / "pneumoniamnist.npz"
DEFAULT_CLASSES = ("normal", "pneumonia")
ATTRIBUTION = (
    "PneumoniaMNIST (MedMNIST v2, Yang et al. 2023; Kermany et al. 2018), CC BY 4.0; "
    "train split reduced to 3,882 images by its redistributor"
)


def load_default(split: str, size: int = 64) -> ImageSet:
    return load_medmnist(DEFAULT_DATASET_PATH, split, size, DEFAULT_CLASSES)
