"""The discriminator: residual blocks from the image resolution down to 4×4, a minibatch
standard-deviation feature, and a projection head for the condition (Miyato & Koyama 2018):
score = linear(h) + ⟨embed(c), h⟩. Regularised with lazy R1 (training), not spectral norm."""

from __future__ import annotations

import math

import torch
from torch import nn

from edgegen.gan.config import GanConfig
from edgegen.gan.layers import EqualConv, EqualLinear, downsample, lrelu


class DiscriminatorBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv0 = EqualConv(cin, cin, 3)
        self.conv1 = EqualConv(cin, cout, 3)
        self.skip = EqualConv(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = downsample(self.skip(x))
        x = lrelu(self.conv0(x))
        x = downsample(lrelu(self.conv1(x)))
        return (x + y) / math.sqrt(2.0)


class Discriminator(nn.Module):
    def __init__(self, config: GanConfig, mbstd_group: int = 4) -> None:
        super().__init__()
        res = list(reversed(config.resolutions))  # 128, 64, ..., 4
        self.from_image = EqualConv(1, config.ch(res[0]), 1)
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(config.ch(r), config.ch(res[i + 1])) for i, r in enumerate(res[:-1])
        )
        c4 = config.ch(4)
        self.mbstd_group = mbstd_group
        self.conv = EqualConv(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, 1)
        self.embed = EqualLinear(config.c_dim, c4)

    def _mbstd(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.mbstd_group, b)
        while b % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # [B/g]
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = lrelu(self.from_image(img))
        for block in self.blocks:
            x = block(x)
        x = lrelu(self.conv(self._mbstd(x)))
        h = lrelu(self.fc(x.flatten(1)))
        proj = (self.embed(c) * h).sum(dim=1, keepdim=True) / math.sqrt(h.shape[1])
        return self.out(h) + proj
