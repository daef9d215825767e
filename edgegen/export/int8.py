"""INT8: explicit QDQ graphs calibrated on real data, in the scheme the device profile needs.

Which ops are quantized is per component (`ComponentExport.int8_op_types`): convolutions and the
weight MatMuls/Gemms. MatMuls between two activations (attention's Q·Kᵀ and P·V) stay float:
quantizing them costs accuracy and, on CPU, time spent re-quantizing. The scheme
(`edgegen.export.int8_schemes`) decides the types: u8s8 for ORT on CPU (what VNNI takes), int8
symmetric activations with Q/DQ only where TensorRT fuses them for TensorRT.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgegen.export.int8_schemes import TRT_FUSIBLE_OPS, Int8Scheme, scheme_options
from edgegen.export.minmax_calibration import stream_minmax, write_calibration_cache
from edgegen.export.onnx_io import TWO_GB, onnx_size, save_model


def _external_files(path: Path) -> list[str]:
    """The external-data files an ONNX graph's initializers point at (empty: weights inline)."""
    model = onnx.load(str(path), load_external_data=False)
    files = set()
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            files |= {e.value for e in t.external_data if e.key == "location"}
    return sorted(files)


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
def _removed_after(path: Path):
    try:
        yield
    finally:
        Path(path).unlink(missing_ok=True)


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
    src: Path,
    dst: Path,
    op_types: Iterable[str],
    samples: Iterable[dict[str, np.ndarray]],
    workdir: Path,
    scheme: Int8Scheme = Int8Scheme.CPU_U8S8,
) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    options = scheme_options(scheme)
    named = workdir / "named.onnx"
    if _external_files(src):
        # Weights stay on disk: the graph is renamed without loading them, and the renamed copy
        # sits beside the original so that it reads the same external-data file (onnx refuses
        # links to it), so this step never holds SD 1.5's 3.4 GB.
        model = onnx.load(str(src), load_external_data=False)
        _name_nodes(model)
        named = Path(src).parent / f".{workdir.name}.named.onnx"
        onnx.save_model(model, str(named))
        large = True
    else:
        model = onnx.load(str(src))
        _name_nodes(model)
        large = onnx_size(model) >= TWO_GB
        onnx.save_model(
            model, str(named), save_as_external_data=large, all_tensors_to_one_file=True, location="named.onnx.data"
        )
    op_types = tuple(op_types)
    excluded = activation_matmuls(model)
    candidates = [n.name for n in model.graph.node if n.op_type in op_types and n.name not in excluded]
    del model  # quantize_static loads its own copy
    quantized = workdir / "quantized.onnx" if options.detach_non_fusible else dst
    with _quiet_root_logger(), _removed_after(named):  # quantize_static logs a hint on the root logger
        # Ranges first, streamed over one session that is closed before the quantizer loads the
        # model; quantize_static then reads them from its calibration cache instead of calibrating.
        ranges, count = stream_minmax(named, op_types, samples)
        cache = write_calibration_cache(ranges, workdir / "ranges.json")
        del ranges
        quantize_static(
            str(named),
            str(quantized),
            None,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types),
            per_channel=True,
            activation_type=getattr(QuantType, options.activation_type),
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            use_external_data_format=large,
            calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=str(cache),
            extra_options=options.extra_options(),
        )
    rewired = 0
    if options.detach_non_fusible:
        from edgegen.export.qdq_graph import detach_non_fusible_readers

        graph = onnx.load(str(quantized))
        rewired = detach_non_fusible_readers(graph, TRT_FUSIBLE_OPS)
        save_model(graph, dst)  # past 2 GB: weights in <dst>.data beside it
    return {
        "scheme": scheme.value,
        "format": "QDQ",
        "activations": options.activations,
        "weights": options.weights,
        "biases": "int32 (quantized)" if options.quantize_bias else "float",
        "op_types": list(op_types),
        "nodes_quantized": len(candidates),
        "nodes_excluded_activation_matmul": len(excluded),
        "readers_detached_from_qdq": rewired,
        "calibration_method": "MinMax (streamed: one session, running min/max)",
        "calibration_samples": count,
    }
