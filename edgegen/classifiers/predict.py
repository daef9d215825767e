"""Batched torch inference of a classifier on uint8 grayscale images."""

from __future__ import annotations

import numpy as np
import torch

from edgegen.classifiers.card import ClassifierCard
from edgegen.data.torch_dataset import to_model_input


@torch.inference_mode()
def predict_logits(model, images: np.ndarray, card: ClassifierCard, batch_size: int = 256) -> np.ndarray:
    """Raw logits [N, classes] for uint8 [N, H, W] images."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_input(images[start : start + batch_size], card.input_size, card.mean, card.std)
        out.append(model(x).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(card.class_names)), np.float32)


def predict_probs(
    model, images: np.ndarray, card: ClassifierCard, batch_size: int = 256, calibrated: bool = False
) -> np.ndarray:
    """Probabilities [N, classes]: softmax, or one sigmoid per finding for a multi-label model;
    `calibrated`: with the card's temperatures (fitted on real val images) when it has them."""
    logits = predict_logits(model, images, card, batch_size)
    temps = (card.calibration or {}).get("temperatures") if calibrated else None
    if temps:
        from edgegen.classifiers.calibration import apply_temperature

        return apply_temperature(logits, temps, card.multilabel).astype(np.float32)
    t = torch.from_numpy(logits)
    return (torch.sigmoid(t) if card.multilabel else torch.softmax(t, dim=1)).numpy()


@torch.inference_mode()
def extract_features(model, images: np.ndarray, card: ClassifierCard, batch_size: int = 256) -> torch.Tensor:
    """Penultimate-layer features (the input of the last linear layer), e.g. for FID/KID."""
    from edgegen.classifiers.registry import penultimate

    captured: list[torch.Tensor] = []
    hook = penultimate(model).register_forward_hook(
        lambda _m, inputs, _o: captured.append(inputs[0].detach().flatten(1))
    )
    try:
        predict_probs(model, images, card, batch_size)
    finally:
        hook.remove()
    return torch.cat(captured)
