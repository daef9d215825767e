"""INT8: explicit QDQ graphs calibrated on real data, one file for ORT on CPU and TensorRT on GPU.

Which ops are quantized is per component (`ComponentExport.int8_op_types`): convolutions and the
weight MatMuls/Gemms. MatMuls between two activations (attention's Q·Kᵀ and P·V) stay float:
quantizing them costs accuracy and, on CPU, time spent re-quantizing. Activations are uint8
asymmetric, weights int8 symmetric per channel (U8S8: what VNNI instructions take).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgegen.export.onnx_io import TWO_GB, onnx_size


class _Reader:
    """onnxruntime CalibrationDataReader over a list of input dicts (kept at batch 1-2: the
    calibrator holds every intermediate tensor, measured at 13.6 GB on an 18M-param UNet)."""

    def __init__(self, samples: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(samples)

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # pragma: no cover - not used by MinMax
        raise NotImplementedError


def activation_matmuls(model: onnx.ModelProto) -> list[str]:
    """MatMul nodes whose inputs are both computed (no weight initializer or Constant)."""
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and not any(i in constants for i in n.input)]


def _name_nodes(model: onnx.ModelProto) -> None:
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_qdq(
    src: Path, dst: Path, op_types: Iterable[str], samples: list[dict[str, np.ndarray]], workdir: Path
) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(src))
    _name_nodes(model)
    large = onnx_size(model) >= TWO_GB
    named = workdir / "named.onnx"
    onnx.save_model(
        model, str(named), save_as_external_data=large, all_tensors_to_one_file=True, location="named.onnx.data"
    )
    op_types = tuple(op_types)
    excluded = activation_matmuls(model)
    candidates = [n.name for n in model.graph.node if n.op_type in op_types and n.name not in excluded]
    with _quiet_root_logger():  # quantize_static logs a pre-processing hint on the root logger
        quantize_static(
            str(named),
            str(dst),
            _Reader(samples),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            use_external_data_format=large,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
    return {
        "format": "QDQ",
        "activations": "uint8 asymmetric (per tensor)",
        "weights": "int8 symmetric per channel",
        "op_types": list(op_types),
        "nodes_quantized": len(candidates),
        "nodes_excluded_activation_matmul": len(excluded),
        "calibration_method": "MinMax",
        "calibration_samples": len(samples),
    }
