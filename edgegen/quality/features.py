"""The CXR feature network: an embedded classifier trained on real chest X-rays (NIH + Kermany,
multi-label findings + population) whose features every quality metric uses.

Two views of an image: `semantic` (the 256-d input of the final linear layer: anatomy, findings)
for KID / FID / PRDC / diversity / nearest neighbours, and `multiscale` (each residual stage
average-pooled and concatenated, 480-d: texture, sharpness and noise live in the early stages)
for detectability. Every result names the network by its weights' sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

DEFAULT_FEATURES = "cxr-features"


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    sha256: str
    arch: str
    semantic_dim: int
    multiscale_dim: int
    input_size: int
    trained_on: str

    def describe(self) -> str:
        return (
            f"{self.name} ({self.arch}, sha256 {self.sha256[:12]}; semantic {self.semantic_dim}-d, "
            f"multiscale {self.multiscale_dim}-d; trained on {self.trained_on})"
        )


class FeatureNetwork:
    def __init__(self, spec: str = DEFAULT_FEATURES, batch_size: int = 128) -> None:
        from edgegen.classifiers.card import load_classifier
        from edgegen.hashing import sha256_file
        from edgegen.models.embedded import resolve_classifier_dir

        self.folder = resolve_classifier_dir(spec)
        self.model, self.card = load_classifier(self.folder)
        self.batch_size = batch_size
        self._sha = sha256_file(Path(self.folder) / "model.safetensors")
        self._name = Path(self.folder).name

    @cached_property
    def info(self) -> FeatureInfo:
        probe = self._run(np.zeros((1, 8, 8), np.uint8))
        train = (self.card.data or {}).get("train", {}).get("source", "unknown")
        return FeatureInfo(
            self._name, self._sha, self.card.arch, probe[0].shape[1], probe[1].shape[1], self.card.input_size, train
        )

    @torch.inference_mode()
    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from edgegen.classifiers.registry import penultimate
        from edgegen.data.torch_dataset import to_model_input

        head = penultimate(self.model)
        sem, multi = [], []
        for i in range(0, len(images), self.batch_size):
            x = to_model_input(images[i : i + self.batch_size], self.card.input_size, self.card.mean, self.card.std)
            captured: list[torch.Tensor] = []
            hook = head.register_forward_hook(
                lambda _m, inputs, _o, captured=captured: captured.append(inputs[0].flatten(1))
            )
            try:
                if hasattr(self.model, "stage_outputs"):
                    stages = self.model.stage_outputs(x)
                    self.model.fc(torch.flatten(self.model.pool(stages[-1]), 1))
                    multi.append(torch.cat([s.mean(dim=(2, 3)) for s in stages], dim=1).numpy())
                else:
                    self.model(x)
            finally:
                hook.remove()
            sem.append(captured[0].numpy())
            if not hasattr(self.model, "stage_outputs"):
                multi.append(captured[0].numpy())
        return np.concatenate(sem).astype(np.float64), np.concatenate(multi).astype(np.float64)

    def extract(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(semantic [N, D], multiscale [N, M]) for uint8 grayscale [N, H, W] images; the same
        pixels are computed once (a bench scores many legs against one real set)."""
        import hashlib

        key = hashlib.sha1(np.ascontiguousarray(images).tobytes()).hexdigest() + str(images.shape)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = self._run(images)
        return cache[key]


def to_gray(images: np.ndarray) -> np.ndarray:
    """uint8 [N,H,W] or [N,H,W,3] → uint8 [N,H,W]."""
    if images.ndim == 4:
        return images.mean(axis=-1).round().astype(np.uint8)
    return images
