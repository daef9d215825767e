"""FP16 graphs: weights and most ops in half precision, fp32 kept where fp16 is known to break.

Uses onnxruntime.transformers' converter (onnxconverter-common's leaves a bad Cast in the UNet
time projection). I/O stays fp32 so every runtime feeds the same tensors.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from edgegen.export.onnx_io import TWO_GB, onnx_size, save_model


def convert_fp16(src: Path, dst: Path, keep_fp32_ops: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """Write the FP16 graph; returns (external data file name or None, notes)."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(src))
    large = onnx_size(model) >= TWO_GB
    blocked = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(keep_fp32_ops))
    half = convert_float_to_float16(model, keep_io_types=True, op_block_list=blocked, disable_shape_infer=large)
    _unique_node_names(half)
    _topological_sort(half)
    data = save_model(half, dst)
    return data, [
        "fp16 (onnxruntime.transformers.float16), fp32 kept for: "
        f"{', '.join(sorted(keep_fp32_ops)) or 'none'}; fp32 I/O"
    ]


def _unique_node_names(model: onnx.ModelProto) -> None:
    """The converter names the fp32 Cast of a shared initializer once per consumer; ORT rejects
    graphs with duplicate node names, so number the repeats."""
    seen: dict[str, int] = {}
    for node in model.graph.node:
        if node.name in seen:
            seen[node.name] += 1
            node.name = f"{node.name}_{seen[node.name]}"
        else:
            seen[node.name] = 0


def _topological_sort(model: onnx.ModelProto) -> None:
    """The converter appends its Cast nodes at the end; ONNX requires producers before consumers."""
    graph = model.graph
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            raise ValueError("fp16 graph has a cycle or a dangling input")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    del graph.node[:]
    graph.node.extend(ordered)
