"""The models shipped inside the package, addressable by name (no download ever)."""

from __future__ import annotations

from pathlib import Path

from edgegen.assets import ASSETS_DIR
from edgegen.errors import ModelError

MODELS_DIR = ASSETS_DIR / "models"
DEFAULT_MODEL = "edgegen-cxr-128"  # 128 px SD pipeline trained on NIH + Kermany (population + findings)
DEFAULT_CLASSIFIER = "cxr-classifier"  # pediatric normal / pneumonia
FINDINGS_CLASSIFIER = "cxr-findings"  # multi-label: the four reader-study findings (NIH)
FEATURES = "cxr-features"  # the quality module's feature network
DEFAULT_GAN = "edgegen-gan-cxr-128"  # `--model gan`
EMBEDDED_MODELS = {name: MODELS_DIR / name for name in (DEFAULT_MODEL, DEFAULT_GAN) if (MODELS_DIR / name).is_dir()}
EMBEDDED_CLASSIFIERS = {
    name: MODELS_DIR / name
    for name in (DEFAULT_CLASSIFIER, FINDINGS_CLASSIFIER, FEATURES)
    if (MODELS_DIR / name).is_dir()
}


def resolve_classifier_dir(spec: str) -> Path:
    """'default', an embedded classifier's name, or a folder with model.safetensors + card.json."""
    name = DEFAULT_CLASSIFIER if spec == "default" else spec
    if name in EMBEDDED_CLASSIFIERS:
        return EMBEDDED_CLASSIFIERS[name]
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"classifier {spec!r} not found",
            hint=f"use 'default', {', '.join(EMBEDDED_CLASSIFIERS)} or a folder made by `edgegen train-classifier`",
        )
    return path
