"""The datasets shipped inside the package, addressable by name (no download ever).

| name           | what                                                             | licence   |
|----------------|------------------------------------------------------------------|-----------|
| kermany-128    | pediatric normal/pneumonia, 1,564 images, 128 px (+64 px)         | CC BY 4.0 |
| nih-cxr14-128  | adult, 15 NIH findings multi-hot, 1,604 images, 128 px (+64 px)   | NIH terms |
| pneumoniamnist | PneumoniaMNIST (MedMNIST v2), 28 px, normal/pneumonia             | CC BY 4.0 |
| cxr-128        | kermany-128 + nih-cxr14-128 (what the v2 generator trains on)     |           |

`default` is kermany-128. Attribution and processing: edgegen/assets/data/chest-xray-128/
SOURCE.txt and LICENSE.txt, edgegen/assets/data/pneumoniamnist.SOURCE.txt. Kermany's images are
the same children as PneumoniaMNIST's train split: never train on one and test on the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edgegen.assets import ASSETS_DIR
from edgegen.data.imageset import ImageSet, merge

CXR128_DIR = ASSETS_DIR / "data" / "chest-xray-128"
DEFAULT_DATASET = "kermany-128"


@dataclass(frozen=True)
class EmbeddedDataset:
    name: str
    description: str
    attribution: str
    load: Callable[[str, int], ImageSet]  # (split, size) → ImageSet
    native_size: int


def _kermany(split: str, size: int) -> ImageSet:
    from edgegen.data.cxr128 import load_cxr128

    return load_cxr128(CXR128_DIR / "kermany-128.npz", split, size, "kermany-128", "pediatric")


def _nih(split: str, size: int) -> ImageSet:
    from edgegen.data.cxr128 import load_cxr128

    return load_cxr128(CXR128_DIR / "nih-cxr14-128.npz", split, size, "nih-cxr14-128", "adult")


def _pneumoniamnist(split: str, size: int) -> ImageSet:
    from edgegen.data.default import load_pneumoniamnist

    return load_pneumoniamnist(split, size)


def _both(split: str, size: int) -> ImageSet:
    return merge([_kermany(split, size), _nih(split, size)], f"cxr-128:{split}")


KERMANY_ATTRIBUTION = (
    "Kermany et al., Cell 2018 (Mendeley Data doi:10.17632/rscbjbr9sj.2), "
    "CC BY 4.0; 128 px subset (see chest-xray-128/SOURCE.txt)"
)
NIH_ATTRIBUTION = (
    "NIH Clinical Center, ChestX-ray14 (Wang et al., CVPR 2017), "
    "https://nihcc.app.box.com/v/ChestXray-NIHCC; 128 px subset"
)
EMBEDDED_DATASETS = {
    d.name: d
    for d in (
        EmbeddedDataset(
            "kermany-128", "pediatric normal/pneumonia, patient-disjoint splits", KERMANY_ATTRIBUTION, _kermany, 128
        ),
        EmbeddedDataset(
            "nih-cxr14-128", "adult multi-label NIH findings, patient-disjoint splits", NIH_ATTRIBUTION, _nih, 128
        ),
        EmbeddedDataset(
            "pneumoniamnist",
            "PneumoniaMNIST 28 px normal/pneumonia (MedMNIST v2)",
            "MedMNIST v2 (Yang et al. 2023), Kermany et al. 2018, CC BY 4.0",
            _pneumoniamnist,
            28,
        ),
        EmbeddedDataset(
            "cxr-128",
            "kermany-128 + nih-cxr14-128 (population and findings per image)",
            f"{KERMANY_ATTRIBUTION}; {NIH_ATTRIBUTION}",
            _both,
            128,
        ),
    )
}
