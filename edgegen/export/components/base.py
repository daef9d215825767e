"""The interface every exportable component answers (after TensorRT demo/Diffusion's classes).

Names, dynamic axes, a sample input at any (batch, image side), validation tolerances per
precision, the ops that must stay fp32 in FP16 graphs, and the TensorRT min/opt/max shapes.
Adding a component means adding one subclass decorated with `register_export`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from edgegen.types import Component, Precision


@dataclass(frozen=True)
class Tolerance:
    rel_l2: float  # ‖onnx − torch‖ / ‖torch‖ over each output
    max_abs: float


# INT8 is judged on held-out real inputs (not the calibration samples). Its bounds are per
# component (`int8_tolerance` below), set from the worst drift measured by bench/int8_drift.py
# over the tiny preset (random weights), the embedded models, both INT8 schemes and three seeds,
# with ~1.5x margin; a graph beyond them is broken (wrong scales, clipped ranges), not noisy.
DEFAULT_TOLERANCES = {
    Precision.FP32: Tolerance(1e-3, 1e-2),
    Precision.FP16: Tolerance(2e-2, 1e-1),
}


def with_int8(rel_l2: float, max_abs: float) -> dict[Precision, Tolerance]:
    return {**DEFAULT_TOLERANCES, Precision.INT8: Tolerance(rel_l2, max_abs)}


EXPORTS: dict[Component, type[ComponentExport]] = {}


def register_export(cls: type[ComponentExport]) -> type[ComponentExport]:
    if cls.component in EXPORTS:
        raise ValueError(f"{cls.component} registered twice")
    EXPORTS[cls.component] = cls
    return cls


class ComponentExport(ABC):
    component: Component
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    opset: int = 17
    tolerances: dict[Precision, Tolerance] = with_int8(0.5, 2.0)  # components set their own INT8 bound
    # Op types kept in fp32 inside FP16 graphs (softmax/normalisation accumulate, exp overflows).
    fp16_op_block_list: tuple[str, ...] = ()
    # Op types worth quantizing to INT8 on this component (weights are constant initializers).
    int8_op_types: tuple[str, ...] = ("Conv", "MatMul", "Gemm")
    # Component batch per image batch: the UNet and text encoder run cond + uncond in one call.
    batch_multiplier: int = 1

    def __init__(self, owner) -> None:
        self.owner = owner  # the diffusers pipeline, or the classifier module (with its card)

    @abstractmethod
    def module(self):
        """A torch.nn.Module whose forward takes the inputs in `input_names` order."""

    @abstractmethod
    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """Axis names per input/output for torch.onnx.export."""

    @abstractmethod
    def input_shapes(self, batch: int, image_size: int) -> dict[str, tuple[int, ...]]:
        """The concrete input shapes for a batch of images of `image_size` pixels."""

    @abstractmethod
    def sample_inputs(self, batch: int, image_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Random inputs of the right dtype and range."""

    @classmethod
    def component_batches(cls, image_batch: tuple[int, int, int]) -> tuple[int, int, int]:
        """(min, opt, max) batch of this component for a range of images per call. Pure."""
        return tuple(b * cls.batch_multiplier for b in image_batch)  # type: ignore[return-value]

    def spatial_divisors(self) -> dict[str, int]:
        """Per input: image side ÷ this input's spatial side (8 for SD latents, 1 for pixels)."""
        return {name: 1 for name in self.input_names}
