"""The models shipped inside the package, addressable by name (no download ever)."""

from __future__ import annotations

from pathlib import Path

from edgegen.assets import ASSETS_DIR
from edgegen.errors import ModelError

MODELS_DIR = ASSETS_DIR / "models"
DEFAULT_MODEL = "edgegen-tiny-cxr"  # a 64×64 SD pipeline trained on PneumoniaMNIST
DEFAULT_CLASSIFIER = "cxr-classifier"  # mobilenet_v3_small trained on PneumoniaMNIST
EMBEDDED_MODELS = {DEFAULT_MODEL: MODELS_DIR / DEFAULT_MODEL}
EMBEDDED_CLASSIFIERS = {DEFAULT_CLASSIFIER: MODELS_DIR / DEFAULT_CLASSIFIER}


def resolve_classifier_dir(spec: str) -> Path:
    """'default', an embedded classifier's name, or a folder with model.safetensors + card.json."""
    if spec in ("default", DEFAULT_CLASSIFIER):
        return EMBEDDED_CLASSIFIERS[DEFAULT_CLASSIFIER]
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelError(f"classifier {spec!r} not found", hint="use 'default' or a folder made by `edgegen train-classifier`")
    return path
