"""DiffAugment (Zhao et al., NeurIPS 2020) for grayscale CXRs: the same random, differentiable
augmentation on real and generated images before the discriminator, so a small training set does
not let the discriminator memorise it. Brightness, contrast, translation (zero-padded) and cutout;
no flips (anatomy is lateralised) and no colour (grayscale)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(
    x: torch.Tensor, generator: torch.Generator, translation: float = 0.125, cutout: float = 0.25
) -> torch.Tensor:
    b, _, h, w = x.shape
    dev = x.device
    x = x + (torch.rand(b, 1, 1, 1, generator=generator).to(dev) - 0.5) * 0.5  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, generator=generator).to(dev) * 0.5 + 0.75) + mean  # contrast
    if translation:
        sx, sy = int(w * translation + 0.5), int(h * translation + 0.5)
        tx = torch.randint(-sx, sx + 1, (b,), generator=generator)
        ty = torch.randint(-sy, sy + 1, (b,), generator=generator)
        padded = F.pad(x, (sx, sx, sy, sy))
        x = torch.stack(
            [
                padded[i, :, sy + int(ty[i]) : sy + int(ty[i]) + h, sx + int(tx[i]) : sx + int(tx[i]) + w]
                for i in range(b)
            ]
        )
    if cutout:
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        oy = torch.randint(0, h - ch + 1, (b,), generator=generator)
        ox = torch.randint(0, w - cw + 1, (b,), generator=generator)
        mask = torch.ones(b, 1, h, w, device=dev)
        for i in range(b):
            mask[i, :, int(oy[i]) : int(oy[i]) + ch, int(ox[i]) : int(ox[i]) + cw] = 0
        x = x * mask
    return x
