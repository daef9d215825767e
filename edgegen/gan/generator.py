"""The generator: mapping network (z ⊕ condition embedding → w) and a synthesis network from a
learned 4×4 constant up to the output resolution, each block two modulated 3×3 convolutions with
per-pixel noise, and skip connections through 1×1 to-image layers (StyleGAN2's "skip" design).
Output: one channel in [-1, 1] (grayscale CXR).

Noise: random during training; at inference a fixed per-layer noise buffer ('const' noise mode),
so a (z, condition) pair gives the same image in torch, ONNX, OpenVINO and TensorRT.
"""

from __future__ import annotations

import torch
from torch import nn

from edgegen.gan.config import GanConfig
from edgegen.gan.layers import EqualLinear, ModulatedConv, lrelu, upsample


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.embed = EqualLinear(config.c_dim, config.z_dim)
        dims = [config.z_dim * 2] + [config.w_dim] * config.mapping_layers
        self.layers = nn.ModuleList(EqualLinear(a, b, lr_mul=0.01) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = torch.cat([_normalize(z), _normalize(self.embed(c))], dim=1)
        for layer in self.layers:
            x = lrelu(layer(x))
        return x


class SynthesisLayer(nn.Module):
    def __init__(self, cin: int, cout: int, res: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(cin, cout, 3, w_dim)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("const_noise", torch.randn(1, 1, res, res))
        self.random_noise = True  # training; switched off for inference and export

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w)
        noise = (
            torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            if self.random_noise
            else self.const_noise
        )
        x = x + noise * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToImage(nn.Module):
    def __init__(self, cin: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv(cin, 1, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    def __init__(self, cin: int, cout: int, res: int, w_dim: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv0 = None if first else SynthesisLayer(cin, cout, res, w_dim)
        self.conv1 = SynthesisLayer(cout if not first else cin, cout, res, w_dim)
        self.to_image = ToImage(cout, w_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.first:
            x = self.conv0(upsample(x), w)
        x = self.conv1(x, w)
        y = self.to_image(x, w)
        img = y if img is None else upsample(img) + y
        return x, img


class Generator(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.mapping = MappingNetwork(config)
        res = config.resolutions
        self.const = nn.Parameter(torch.randn(1, config.ch(4), 4, 4))
        self.blocks = nn.ModuleList(
            SynthesisBlock(config.ch(r if i == 0 else res[i - 1]), config.ch(r), r, config.w_dim, i == 0)
            for i, r in enumerate(res)
        )

    def set_random_noise(self, on: bool) -> Generator:
        for m in self.modules():
            if isinstance(m, SynthesisLayer):
                m.random_noise = on
        return self

    def synthesize(self, w: torch.Tensor) -> torch.Tensor:
        x, img = self.const.expand(w.shape[0], -1, -1, -1), None
        for block in self.blocks:
            x, img = block(x, img, w)
        return img

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """z [B, z_dim], c [B, c_dim] → images [B, 1, R, R], about [-1, 1]."""
        return self.synthesize(self.mapping(z, c))
