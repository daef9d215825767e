"""StyleGAN2 building blocks with equalized learning rate: weights are stored N(0, 1) and scaled
by 1/sqrt(fan_in) at run time, so Adam's per-parameter step is the same for every layer.

Modulation is applied to activations (x·s, conv, ·demod) rather than to per-sample weights
(grouped convolution): the same maths (StyleGAN2's non-fused path), plain Conv ops that ONNX
Runtime, OpenVINO and TensorRT run fast, and any batch size in one graph.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(cin)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


class ModulatedConv(nn.Module):
    """3×3 (or 1×1) convolution modulated by a style per sample, optionally demodulated."""

    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.demodulate = demodulate
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.affine(w)  # [B, cin]
        weight = self.weight * self.scale
        x = x * style[:, :, None, None]
        x = F.conv2d(x, weight, padding=self.pad)
        if self.demodulate:
            # 1/sqrt(sum over (cin, k, k) of (w·s)²) per sample and output channel
            dcoef = torch.rsqrt((style.square() @ weight.square().sum(dim=(2, 3)).t()) + 1e-8)  # [B, cout]
            x = x * dcoef[:, :, None, None]
        return x


def upsample(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def downsample(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)
