"""Reading and tidying Q/DQ graphs: who produces and who reads each tensor, constant values and
quantized types, and the one rewrite the TensorRT scheme needs. Pure onnx, no runtime.

onnxruntime's quantizer replaces a quantized tensor for *every* reader, so a residual Add, a
Shape or a Concat that reads the same activation as a Conv ends up reading its DequantizeLinear.
TensorRT cannot fuse those pairs (it runs them as separate, slow layers) and the skip path picks
up quantization error; `detach_non_fusible_readers` points such readers back at the float tensor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

# QuantizeLinear without a zero point produces uint8 (ONNX spec), unless opset 21's output_dtype says otherwise.
_DEFAULT_Q_TYPE = onnx.TensorProto.UINT8


@dataclass
class GraphIndex:
    model: onnx.ModelProto
    # Where the graph's external-data files are: a graph loaded without its weights still reads
    # its constants from there (onnxruntime's quantizer stores zero points of >256 channels externally).
    base_dir: str = ""

    def __post_init__(self) -> None:
        graph = self.model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.constants = {}
        for node in graph.node:
            if node.op_type == "Constant":
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.constants[node.output[0]] = value
        self.producer = {o: n for n in graph.node for o in n.output}
        self.readers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name:
                    self.readers[name].append((node, i))
        self.graph_outputs = {o.name for o in graph.output}

    def is_constant(self, name: str) -> bool:
        return name in self.initializers or name in self.constants

    def tensor(self, name: str) -> onnx.TensorProto | None:
        return self.initializers.get(name) or self.constants.get(name)

    def value(self, name: str) -> np.ndarray | None:
        """A constant's values (small tensors: zero points, scales), or None when computed."""
        proto = self.tensor(name)
        return None if proto is None else numpy_helper.to_array(proto, base_dir=self.base_dir)

    def elem_type(self, name: str) -> int | None:
        proto = self.tensor(name)
        if proto is not None:
            return proto.data_type
        node = self.producer.get(name)
        if node is not None and node.op_type == "QuantizeLinear":
            return quantized_type(self, node)
        return None


def attribute(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def quantized_type(index: GraphIndex, q: onnx.NodeProto) -> int:
    """The element type a QuantizeLinear produces: its zero point's, else output_dtype, else uint8."""
    if len(q.input) > 2 and q.input[2]:
        zp = index.tensor(q.input[2])
        if zp is not None:
            return zp.data_type
    return int(attribute(q, "output_dtype", 0)) or _DEFAULT_Q_TYPE


def detach_non_fusible_readers(model: onnx.ModelProto, fusible: tuple[str, ...]) -> int:
    """Rewire every non-fusible reader of an activation DequantizeLinear to the tensor its
    QuantizeLinear quantized, then drop Q/DQ nodes nobody reads any more. Returns how many
    inputs were rewired. Graph outputs are left alone."""
    index = GraphIndex(model)
    rewired = 0
    for dq in [n for n in model.graph.node if n.op_type == "DequantizeLinear"]:
        q = index.producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            continue  # a weight DQ (int8 initializer): only its own op reads it
        source = q.input[0]
        for reader, i in index.readers.get(dq.output[0], []):
            if reader.op_type not in fusible:
                reader.input[i] = source
                rewired += 1
    if rewired:
        _drop_unread_qdq(model)
    return rewired


def _drop_unread_qdq(model: onnx.ModelProto) -> None:
    while True:
        index = GraphIndex(model)
        dead = [
            n
            for n in model.graph.node
            if n.op_type in ("QuantizeLinear", "DequantizeLinear")
            and not any(index.readers.get(o) or o in index.graph_outputs for o in n.output)
        ]
        if not dead:
            return
        names = {id(n) for n in dead}
        kept = [n for n in model.graph.node if id(n) not in names]
        del model.graph.node[:]
        model.graph.node.extend(kept)
        used = {i for n in model.graph.node for i in n.input}
        orphans = [t for t in model.graph.initializer if t.name not in used]
        for t in orphans:
            model.graph.initializer.remove(t)
