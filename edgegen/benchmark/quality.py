"""Image quality of a leg: SSIM/PSNR against the reference leg's images of the same seeds,
FID/KID against real images of the same class, and label fidelity through the classifier.

FID/KID use torchmetrics with a feature extractor that works offline: the domain classifier's
penultimate layer by default (Inception only when its weights are on disk); the report says
which, since values from different extractors are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Fidelity:
    per_class: dict[str, float]  # share of images the classifier labels as the class asked for
    overall: float
    n_per_class: int


@dataclass(frozen=True)
class QualityReport:
    ssim_vs_reference: float | None
    psnr_vs_reference_db: float | None
    fid: dict[str, float]  # per class
    kid: dict[str, float]  # per class (mean over subsets)
    feature_extractor: str
    label_fidelity: Fidelity | None
    n_images: int


class ClassifierFeatures(torch.nn.Module):
    """uint8 RGB [N,3,H,W] (torchmetrics' input) → the classifier's penultimate features."""

    def __init__(self, model, card) -> None:
        super().__init__()
        from edgegen.classifiers.registry import penultimate

        self.model, self.card = model.eval(), card
        self.head = penultimate(model)
        self.num_features = self.head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from edgegen.data.torch_dataset import to_model_input

        gray = x.float().mean(dim=1).round().clamp(0, 255).to(torch.uint8).numpy()
        captured = []
        hook = self.head.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0].flatten(1)))
        try:
            with torch.no_grad():
                self.model(to_model_input(gray, self.card.input_size, self.card.mean, self.card.std))
        finally:
            hook.remove()
        return captured[0].double()


def ssim_psnr(images: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    a = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    b = torch.from_numpy(reference).permute(0, 3, 1, 2).float() / 255.0
    return float(structural_similarity_index_measure(a, b, data_range=1.0)), float(peak_signal_noise_ratio(a, b, data_range=1.0))


def label_fidelity(generated: np.ndarray, labels: np.ndarray, model, card, class_names: tuple[str, ...]) -> Fidelity:
    from edgegen.classifiers.predict import predict_probs

    gray = generated.mean(axis=-1).round().astype(np.uint8)
    pred = predict_probs(model, gray, card).argmax(axis=1)
    # Map the generator's class indices to the classifier's (names must match).
    target = np.array([card.class_names.index(class_names[i]) for i in labels])
    per = {name: float((pred[labels == i] == target[labels == i]).mean()) for i, name in enumerate(class_names) if (labels == i).any()}
    return Fidelity(per, float((pred == target).mean()), int(np.bincount(labels).max()))


class QualityScorer:
    """Holds the real images' features per class once; scores any number of legs against them."""

    def __init__(self, class_names: tuple[str, ...], real_by_class: dict[str, np.ndarray], classifier) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        self.class_names = class_names
        self.model, self.card = classifier
        self.features = ClassifierFeatures(self.model, self.card)
        self.metrics: dict[str, tuple] = {}
        for name in class_names:
            if name not in real_by_class:
                continue
            real = torch.from_numpy(np.repeat(real_by_class[name][:, None], 3, axis=1))
            fid = FrechetInceptionDistance(feature=self.features, normalize=False, reset_real_features=False)
            kid = KernelInceptionDistance(feature=self.features, subset_size=2, normalize=False, reset_real_features=False)
            fid.update(real, real=True)
            kid.update(real, real=True)
            self.metrics[name] = (fid, kid, len(real))

    def _fid_kid(self, name: str, fake_images: np.ndarray) -> tuple[float, float]:
        fid, kid, n_real = self.metrics[name]
        fake = torch.from_numpy(fake_images).permute(0, 3, 1, 2).contiguous()
        kid.subset_size = max(2, min(50, len(fake), n_real))
        fid.reset()
        kid.reset()
        fid.update(fake, real=False)
        kid.update(fake, real=False)
        kid_mean, _ = kid.compute()
        return float(fid.compute()), float(kid_mean)

    def score(self, generated: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> QualityReport:
        ssim = psnr = None
        if reference is not None and reference.shape == generated.shape:
            ssim, psnr = ssim_psnr(generated, reference)
        fid, kid = {}, {}
        for i, name in enumerate(self.class_names):
            if name in self.metrics and (labels == i).sum() >= 2:
                fid[name], kid[name] = self._fid_kid(name, generated[labels == i])
        known = all(n in self.card.class_names for n in self.class_names)
        fidelity = label_fidelity(generated, labels, self.model, self.card, self.class_names) if known else None
        extractor = f"classifier penultimate layer ({self.card.arch}, {self.features.num_features}-d)"
        return QualityReport(ssim, psnr, fid, kid, extractor, fidelity, len(generated))
