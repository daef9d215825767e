"""A trained classifier on disk: `model.safetensors` + `card.json`, saved atomically, loaded checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgegen.atomic import atomic_dir
from edgegen.errors import ModelError
from edgegen.schema import to_plain

WEIGHTS = "model.safetensors"
CARD = "card.json"


MULTICLASS = "multiclass"  # one softmax over class_names
MULTILABEL = "multilabel"  # one sigmoid per finding in class_names (findings.yaml names)


@dataclass(frozen=True)
class ClassifierCard:
    arch: str
    class_names: tuple[str, ...]  # classes, or findings for a multi-label model
    input_size: int
    mean: float
    std: float
    data: dict[str, Any] = field(default_factory=dict)  # sources, sha256 hashes, class counts
    training: dict[str, Any] = field(default_factory=dict)  # hyper-parameters, epochs, seed, time
    metrics: dict[str, Any] = field(default_factory=dict)  # val / test reports
    reproduce: str = ""  # the command that rebuilds this model
    versions: dict[str, str] = field(default_factory=dict)
    task: str = MULTICLASS
    thresholds: dict[str, float] = field(default_factory=dict)  # multilabel: per finding, chosen on val
    # temperature scaling fitted on real val images (edgegen.classifiers.calibration); {} = none
    calibration: dict[str, Any] = field(default_factory=dict)

    @property
    def multilabel(self) -> bool:
        return self.task == MULTILABEL


def save_classifier(model, card: ClassifierCard, out_dir: Path) -> Path:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_dir(Path(out_dir)) as tmp:
        save_file(state, str(tmp / WEIGHTS), metadata={"arch": card.arch})
        (tmp / CARD).write_text(json.dumps(to_plain(card), indent=2) + "\n")
    return Path(out_dir)


def load_card(model_dir: Path) -> ClassifierCard:
    path = Path(model_dir) / CARD
    if not path.is_file():
        raise ModelError(
            f"{model_dir} is not a classifier folder: {CARD} is missing",
            hint="train one with `edgegen train-classifier`",
        )
    return read_card(path)


def read_card(path: Path) -> ClassifierCard:
    try:
        raw = json.loads(path.read_text())
        raw["class_names"] = tuple(raw["class_names"])
        return ClassifierCard(**raw)
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ModelError(f"{path} is not a valid classifier card ({type(exc).__name__}: {exc})") from exc


def load_classifier(model_dir: Path):
    """(model in eval mode, card). Raises ModelError on missing, corrupt or mismatched weights."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from edgegen.classifiers.registry import build_classifier

    model_dir = Path(model_dir)
    card = load_card(model_dir)
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise ModelError(f"{weights} is missing")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{weights} is corrupt or not safetensors ({exc})") from exc
    model = build_classifier(card.arch, len(card.class_names))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{weights} does not match a {card.arch} with {len(card.class_names)} classes") from exc
    return model.eval(), card
