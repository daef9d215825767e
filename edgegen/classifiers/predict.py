"""Batched torch inference of a classifier on uint8 grayscale images."""

from __future__ import annotations

import numpy as np
import torch

from edgegen.classifiers.card import ClassifierCard
from edgegen.data.torch_dataset import to_model_input


@torch.inference_mode()
def predict_probs(model, images: np.ndarray, card: ClassifierCard, batch_size: int = 256) -> np.ndarray:
    """Probabilities [N, classes] for uint8 [N, H, W] images: softmax, or one sigmoid per finding
    for a multi-label model."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_input(images[start : start + batch_size], card.input_size, card.mean, card.std)
        logits = model(x).float()
        out.append((torch.sigmoid(logits) if card.multilabel else torch.softmax(logits, dim=1)).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(card.class_names)), np.float32)


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
