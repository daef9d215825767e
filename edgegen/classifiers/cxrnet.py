"""edgegen's own small classifier architectures for 1-channel CXRs.

`cxr_resnet_small`: a compact ResNet for 128 px chest X-rays (~1.2M parameters, 5 MB).

Four residual stages (32, 64, 128, 256 channels at 64, 32, 16, 8 px), global average pooling, one
linear head (`fc`, input 256-d). It is small enough to train on a 2-core CPU in minutes and to
ship in the package as the quality module's feature network; `stages` exposes the four stage
outputs so quality metrics can pool features at several scales (texture and blur live in the
early ones, anatomy and findings in the late ones).
"""

from __future__ import annotations

import torch
from torch import nn


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (
            None
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.skip is None else self.skip(x)))


class CxrResNetSmall(nn.Module):
    widths = (32, 64, 128, 256)

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True))
        cins = (32, *self.widths[:-1])
        self.stages = nn.ModuleList(
            _Block(cin, cout, 1 if i == 0 else 2) for i, (cin, cout) in enumerate(zip(cins, self.widths, strict=True))
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.widths[-1], num_classes)

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], self.stem(x)
        for stage in self.stages:
            h = stage(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.stage_outputs(x)[-1]), 1))


def build_cxr_resnet_small(num_classes: int) -> CxrResNetSmall:
    return CxrResNetSmall(num_classes)


class CxrCnnSmall(nn.Module):
    """A plain 4-stage CNN (16, 32, 64, 128 channels, two 3×3 convolutions each) for many quick
    trainings, e.g. every unit of a study (~15M multiply-adds per 64 px image)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        layers, cin = [], 1
        for cout in (16, 32, 64, 128):
            layers += [
                nn.Conv2d(cin, cout, 3, 2, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def build_cxr_cnn_small(num_classes: int) -> CxrCnnSmall:
    return CxrCnnSmall(num_classes)
