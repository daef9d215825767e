"""Registry of classifier architectures (torchvision), each with a frozen config.

Every architecture takes 1-channel (grayscale) input and N classes; weights are random at build
time (no hub) and come from a trained checkpoint. Adding one means one `register` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edgegen.errors import ModelError


@dataclass(frozen=True)
class ArchConfig:
    name: str
    input_size: int  # default square input side (pixels)
    mean: float  # grayscale normalisation
    std: float
    family: str
    build: Callable[[int], object]  # num_classes → nn.Module with 1-channel input


ARCHITECTURES: dict[str, ArchConfig] = {}


def register(config: ArchConfig) -> ArchConfig:
    if config.name in ARCHITECTURES:
        raise ValueError(f"architecture {config.name!r} registered twice")
    ARCHITECTURES[config.name] = config
    return config


def _first_conv_to_gray(conv):
    """Replace a 3-channel stem conv by a 1-channel one of the same geometry."""
    import torch.nn as nn

    return nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)


def _resnet18(num_classes: int):
    from torchvision.models import resnet18

    m = resnet18(weights=None, num_classes=num_classes)
    m.conv1 = _first_conv_to_gray(m.conv1)
    return m


def _densenet121(num_classes: int):
    from torchvision.models import densenet121

    m = densenet121(weights=None, num_classes=num_classes)
    m.features.conv0 = _first_conv_to_gray(m.features.conv0)
    return m


def _faster_batchnorm(model):
    """torchvision's MobileNet/EfficientNet use BN momentum 0.01 (tuned for long ImageNet runs);
    on a few thousand CXRs the running statistics then lag the weights for whole epochs and the
    eval-mode model predicts one class. 0.1 (PyTorch's default) tracks them."""
    import torch.nn as nn

    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.1
    return model


def _mobilenet_v3_small(num_classes: int):
    from torchvision.models import mobilenet_v3_small

    m = mobilenet_v3_small(weights=None, num_classes=num_classes)
    m.features[0][0] = _first_conv_to_gray(m.features[0][0])
    return _faster_batchnorm(m)


def _efficientnet_b0(num_classes: int):
    from torchvision.models import efficientnet_b0

    m = efficientnet_b0(weights=None, num_classes=num_classes)
    m.features[0][0] = _first_conv_to_gray(m.features[0][0])
    return _faster_batchnorm(m)


# ImageNet's grey-level statistics (mean/std of the RGB means) suit CXRs scaled to [0, 1].
_MEAN, _STD = 0.449, 0.226
register(ArchConfig("resnet18", 224, _MEAN, _STD, "resnet", _resnet18))
register(ArchConfig("densenet121", 224, _MEAN, _STD, "densenet (CheXNet)", _densenet121))
register(ArchConfig("mobilenet_v3_small", 224, _MEAN, _STD, "mobilenet", _mobilenet_v3_small))
register(ArchConfig("efficientnet_b0", 224, _MEAN, _STD, "efficientnet", _efficientnet_b0))


def _cxr_resnet_small(num_classes: int):
    from edgegen.classifiers.cxrnet import build_cxr_resnet_small

    return build_cxr_resnet_small(num_classes)


register(ArchConfig("cxr_resnet_small", 128, _MEAN, _STD, "compact resnet (edgegen)", _cxr_resnet_small))


def _cxr_cnn_small(num_classes: int):
    from edgegen.classifiers.cxrnet import build_cxr_cnn_small

    return build_cxr_cnn_small(num_classes)


register(ArchConfig("cxr_cnn_small", 64, _MEAN, _STD, "plain small CNN for studies (edgegen)", _cxr_cnn_small))


def get_arch(name: str) -> ArchConfig:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ModelError(
            f"unknown classifier architecture {name!r}", hint=f"use one of: {', '.join(ARCHITECTURES)}"
        ) from None


def build_classifier(name: str, num_classes: int):
    return get_arch(name).build(num_classes)


def penultimate(model) -> object:
    """The module whose output is the feature vector before the final linear layer."""
    import torch.nn as nn

    for attr in ("fc", "classifier"):
        head = getattr(model, attr, None)
        if isinstance(head, nn.Linear):
            return head
        if isinstance(head, nn.Sequential):
            return head[-1]
    raise ModelError(f"cannot find the final linear layer of {type(model).__name__}")
