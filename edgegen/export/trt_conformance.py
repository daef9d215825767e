"""Does an INT8 Q/DQ graph follow TensorRT's explicit-quantization rules? Checked on the CPU with
onnx alone, at export (TensorRT scheme and user-supplied graphs) and by `edgegen build` before
any engine is built, so a graph TensorRT would refuse (or run slowly, unfused) fails in seconds
on any machine instead of minutes into a build on the GPU box.

Rules (each violation names its node):
  q-not-int8           a QuantizeLinear produces something other than int8 (uint8: no zero point,
                       or a uint8 one)
  nonzero-zero-point   a Q or DQ zero point is not all zeros (TensorRT: "Non-zero zero point is
                       not supported")
  dq-not-int8          a DequantizeLinear reads something other than int8 (int32 biases, uint8)
  q-not-into-dq        a QuantizeLinear output is read by anything but a DequantizeLinear
  dq-without-q         a DequantizeLinear of a computed tensor that no QuantizeLinear produced
  dq-into-q            a DequantizeLinear feeds a QuantizeLinear (a requantization chain)
  dq-into-non-fusible  a DequantizeLinear feeds an op TensorRT does not fuse with it
                       (anything but Conv/ConvTranspose/MatMul/Gemm), or a graph output
  half-quantized       a Conv/MatMul/Gemm with one data input quantized and the other float
  quantized-bias       a Conv/Gemm bias comes through a DequantizeLinear
  weight-axis          per-channel weight scales not along the weight's output-channel axis
  no-qdq               no quantized op at all: not an INT8 graph
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from edgegen.errors import ValidationError
from edgegen.export.int8_schemes import TRT_FUSIBLE_OPS
from edgegen.export.qdq_graph import GraphIndex, attribute, quantized_type

_INT8 = onnx.TensorProto.INT8
_TYPE_NAMES = {v: k.lower() for k, v in onnx.TensorProto.DataType.items()}


@dataclass(frozen=True)
class Violation:
    rule: str
    node: str
    detail: str


@dataclass(frozen=True)
class ConformanceReport:
    violations: tuple[Violation, ...]
    quantized_ops: int  # fusible ops with both data inputs through Q/DQ
    q_nodes: int
    dq_nodes: int

    @property
    def passed(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(v.rule for v in self.violations).items()))

    def summary(self, examples: int = 2) -> str:
        """One line: each broken rule with its count and the first few nodes."""
        parts = []
        for rule, count in self.counts().items():
            nodes = list(dict.fromkeys(v.node for v in self.violations if v.rule == rule))
            more_nodes = len(nodes) - examples
            nodes = nodes[:examples]
            more = f", +{more_nodes} more" if more_nodes > 0 else ""
            parts.append(f"{rule} ×{count} ({', '.join(nodes)}{more})")
        return "; ".join(parts)

    def to_manifest(self) -> dict:
        return {"passed": self.passed, "violations": len(self.violations), "rules": self.counts()}


class ConformanceError(ValidationError):
    """An INT8 graph breaks TensorRT's Q/DQ rules; `report` lists every violation."""

    def __init__(self, message: str, report: ConformanceReport, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


def _name(node: onnx.NodeProto) -> str:
    return node.name or f"{node.op_type}->{node.output[0]}"


def _type_name(elem: int | None) -> str:
    return "unknown" if elem is None else _TYPE_NAMES.get(elem, str(elem))


def _weight_axis(op: onnx.NodeProto, rank: int) -> int:
    """The output-channel axis of the weight input (input 1) of a fusible op."""
    if op.op_type == "Conv":
        return 0
    if op.op_type == "ConvTranspose":
        return 1
    if op.op_type == "Gemm":
        return 0 if attribute(op, "transB", 0) else 1
    return rank - 1  # MatMul [.., K, N]: per column


def check_graph(model: onnx.ModelProto, base_dir: str = "") -> ConformanceReport:
    """`base_dir`: where the external-data files of a graph loaded without its weights are."""
    index = GraphIndex(model, base_dir)
    out: list[Violation] = []
    nodes = list(model.graph.node)
    qs = [n for n in nodes if n.op_type == "QuantizeLinear"]
    dqs = [n for n in nodes if n.op_type == "DequantizeLinear"]

    def zero_point_ok(node: onnx.NodeProto) -> None:
        if len(node.input) < 3 or not node.input[2]:
            return
        zp = index.value(node.input[2])
        if zp is None:
            out.append(Violation("nonzero-zero-point", _name(node), "zero point is computed, not a constant"))
        elif np.any(zp != 0):
            out.append(Violation("nonzero-zero-point", _name(node), f"zero point {zp.ravel()[:4].tolist()}"))

    for q in qs:
        elem = quantized_type(index, q)
        if elem != _INT8:
            out.append(Violation("q-not-int8", _name(q), f"produces {_type_name(elem)}"))
        zero_point_ok(q)
        for reader, _ in index.readers.get(q.output[0], []):
            if reader.op_type != "DequantizeLinear":
                out.append(Violation("q-not-into-dq", _name(q), f"read by {reader.op_type} {_name(reader)}"))
        if q.output[0] in index.graph_outputs:
            out.append(Violation("q-not-into-dq", _name(q), "is a graph output"))

    for dq in dqs:
        src = dq.input[0]
        elem = index.elem_type(src)
        producer = index.producer.get(src)
        if not index.is_constant(src) and (producer is None or producer.op_type != "QuantizeLinear"):
            out.append(Violation("dq-without-q", _name(dq), f"reads {src!r}, which no QuantizeLinear produced"))
        elif elem != _INT8:
            out.append(Violation("dq-not-int8", _name(dq), f"reads {_type_name(elem)}"))
        zero_point_ok(dq)
        for reader, i in index.readers.get(dq.output[0], []):
            if reader.op_type == "QuantizeLinear":
                out.append(Violation("dq-into-q", _name(dq), f"feeds QuantizeLinear {_name(reader)}"))
            elif reader.op_type not in TRT_FUSIBLE_OPS:
                out.append(Violation("dq-into-non-fusible", _name(dq), f"feeds {reader.op_type} {_name(reader)}"))
            elif i == 2:
                out.append(Violation("quantized-bias", _name(reader), f"bias through {_name(dq)}"))
        if dq.output[0] in index.graph_outputs:
            out.append(Violation("dq-into-non-fusible", _name(dq), "is a graph output"))

    quantized = 0
    for op in nodes:
        if op.op_type not in TRT_FUSIBLE_OPS or len(op.input) < 2:
            continue
        through = [_dq_of(index, name) for name in op.input[:2]]
        if all(through):
            quantized += 1
            _check_weight_axis(index, op, through[1], out)
        elif any(through):
            which = "input" if through[1] else "weight"
            out.append(Violation("half-quantized", _name(op), f"its {which} is float, the other through Q/DQ"))
    if quantized == 0:
        out.append(Violation("no-qdq", "(graph)", "no Conv/MatMul/Gemm runs on Q/DQ inputs"))
    return ConformanceReport(tuple(out), quantized, len(qs), len(dqs))


def _dq_of(index: GraphIndex, name: str) -> onnx.NodeProto | None:
    node = index.producer.get(name)
    return node if node is not None and node.op_type == "DequantizeLinear" else None


def _check_weight_axis(index: GraphIndex, op: onnx.NodeProto, dq: onnx.NodeProto, out: list[Violation]) -> None:
    scale = index.tensor(dq.input[1])
    weight = index.tensor(dq.input[0])
    if weight is None:  # float weight through Q→DQ: the Q's input is the initializer
        q = index.producer.get(dq.input[0])
        weight = index.tensor(q.input[0]) if q is not None else None
    if scale is None or weight is None or int(np.prod(scale.dims, dtype=np.int64)) <= 1:
        return  # per-tensor, or an activation×activation MatMul
    rank = len(weight.dims)
    axis = int(attribute(dq, "axis", 1))
    axis = axis + rank if axis < 0 else axis
    want = _weight_axis(op, rank)
    if axis != want:
        out.append(Violation("weight-axis", _name(dq), f"per-channel axis {axis}, {op.op_type} needs {want}"))


def check_file(path: Path) -> ConformanceReport:
    """Weights are not loaded; the few constants the rules read (zero points, scales) are read from
    the external-data file when they are stored there."""
    return check_graph(onnx.load(str(path), load_external_data=False), str(Path(path).parent))


def require_conformant(report: ConformanceReport, label: str) -> ConformanceReport:
    if not report.passed:
        raise ConformanceError(
            f"{label} breaks TensorRT's INT8 Q/DQ rules: {len(report.violations)} violation(s): {report.summary()}",
            report,
            hint="export with a TensorRT profile (scheme trt-s8s8), or quantize with ModelOpt and pass --int8-onnx",
        )
    return report
