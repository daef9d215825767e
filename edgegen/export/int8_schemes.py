"""INT8 quantization schemes: which one an export gets, and what each means. Pure (no onnxruntime).

Two runtimes want different INT8 graphs:

- `u8s8` (ORT on CPU): uint8 asymmetric activations (non-zero zero points), int8 symmetric
  per-channel weights, int32 biases, Q/DQ on the outputs of quantized ops too. The fastest on
  x86 (VNNI takes u8×s8), measured in bench/results/unet_latency_*.json.
- `trt-s8s8` (TensorRT, and ORT's TensorRT EP): int8 symmetric activations (zero point 0,
  the only kind TensorRT accepts: NVIDIA/TensorRT issues 4698, 2774), int8 symmetric
  per-channel weights, biases left in float (TensorRT dequantizes only int8), Q/DQ only on the
  inputs of Conv/MatMul/Gemm, where TensorRT fuses them into int8 kernels.
- `modelopt (user-supplied)`: a QDQ graph made with NVIDIA ModelOpt on the user's own GPU box
  (`edgegen export --int8-onnx unet=PATH`), held to the TensorRT rules.

A device profile whose backends include TensorRT (native or through ORT) gets `trt-s8s8`;
every other profile `u8s8`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from edgegen.types import Backend

TENSORRT_BACKENDS = (Backend.TENSORRT, Backend.ORT_TENSORRT)
# Ops TensorRT fuses with the Q/DQ pairs on their inputs into int8 kernels.
TRT_FUSIBLE_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")


class Int8Scheme(StrEnum):
    CPU_U8S8 = "u8s8"
    TENSORRT = "trt-s8s8"
    MODELOPT = "modelopt (user-supplied)"


@dataclass(frozen=True)
class SchemeOptions:
    """What `edgegen.export.int8.quantize_qdq` asks onnxruntime's quantizer for."""

    activation_type: str  # onnxruntime QuantType name: "QUInt8" | "QInt8"
    activation_symmetric: bool
    weight_symmetric: bool
    quantize_bias: bool  # int32 bias DequantizeLinear (TensorRT rejects it)
    quantize_op_outputs: bool  # Q/DQ on Conv/MatMul/Gemm outputs as well as inputs
    detach_non_fusible: bool  # rewire non-fusible readers of a DQ to the float tensor
    tensorrt_required: bool  # the graph must pass the TensorRT conformance check
    activations: str  # for the manifest
    weights: str

    def extra_options(self) -> dict:
        options = {
            "WeightSymmetric": self.weight_symmetric,
            "ActivationSymmetric": self.activation_symmetric,
            "QuantizeBias": self.quantize_bias,
        }
        if not self.quantize_op_outputs:
            options["OpTypesToExcludeOutputQuantization"] = list(TRT_FUSIBLE_OPS)
        return options


_OPTIONS = {
    Int8Scheme.CPU_U8S8: SchemeOptions(
        activation_type="QUInt8",
        activation_symmetric=False,
        weight_symmetric=True,
        quantize_bias=True,
        quantize_op_outputs=True,
        detach_non_fusible=False,
        tensorrt_required=False,
        activations="uint8 asymmetric (per tensor)",
        weights="int8 symmetric per channel",
    ),
    Int8Scheme.TENSORRT: SchemeOptions(
        activation_type="QInt8",
        activation_symmetric=True,
        weight_symmetric=True,
        quantize_bias=False,
        quantize_op_outputs=False,
        detach_non_fusible=True,
        tensorrt_required=True,
        activations="int8 symmetric, zero point 0 (per tensor)",
        weights="int8 symmetric per channel (output-channel axis)",
    ),
}


def scheme_options(scheme: Int8Scheme) -> SchemeOptions:
    """The quantizer settings of a scheme edgegen makes itself (not the user-supplied one)."""
    if scheme not in _OPTIONS:
        raise ValueError(f"edgegen does not make {scheme.value} graphs; they are supplied with --int8-onnx")
    return _OPTIONS[scheme]


def scheme_for_backends(backends: Iterable[Backend]) -> Int8Scheme:
    """TensorRT-compatible INT8 when any backend the profile may run is TensorRT, else u8s8."""
    return Int8Scheme.TENSORRT if any(b in TENSORRT_BACKENDS for b in backends) else Int8Scheme.CPU_U8S8


def scheme_for_profile(profile) -> Int8Scheme:
    return scheme_for_backends(profile.backends)


def needs_tensorrt_rules(scheme: Int8Scheme) -> bool:
    return scheme is not Int8Scheme.CPU_U8S8


def recorded_scheme(int8_info: dict | None) -> Int8Scheme | None:
    """The scheme an artifact's manifest entry records; entries written before schemes existed
    were all u8s8."""
    if int8_info is None:
        return None
    return Int8Scheme(int8_info.get("scheme", Int8Scheme.CPU_U8S8.value))
