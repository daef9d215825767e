"""Image fidelity for the precision tests: PSNR and SSIM of uint8 images against a reference."""

from __future__ import annotations

import numpy as np
import torch


def fidelity(images: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of uint8 [N, H, W, C] images against the reference of the same seeds."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    a = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    b = torch.from_numpy(reference).permute(0, 3, 1, 2).float() / 255.0
    psnr = float(peak_signal_noise_ratio(a, b, data_range=1.0))
    return psnr, float(structural_similarity_index_measure(a, b, data_range=1.0))


def gray_like(images: np.ndarray) -> np.ndarray:
    """The negative control: one flat gray at the images' mean level."""
    return np.full_like(images, int(round(float(images.mean()))))
