"""Peak activation memory of an ONNX graph at concrete input shapes.

onnxruntime's symbolic shape inference gives every intermediate tensor its size at those shapes
(ONNX's own inference loses the attention reshapes), and a liveness scan in node order gives the
most bytes alive at once: what a runtime's memory planner must hold for that call, before any
fusion. Only the graph's structure is read; weights (external data) are never loaded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from edgegen.errors import ArtifactError

_ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # TensorProto types


def _fix_inputs(model, shapes: dict[str, tuple[int, ...]]) -> None:
    for value in model.graph.input:
        if value.name not in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(shapes[value.name]):
            raise ArtifactError(f"input {value.name}: rank {len(dims)}, asked for shape {shapes[value.name]}")
        for dim, size in zip(dims, shapes[value.name], strict=True):
            dim.ClearField("dim_param")
            dim.dim_value = int(size)


def tensor_sizes(model) -> dict[str, int]:
    """Bytes of every intermediate and output tensor whose shape is fully known."""
    sizes = {}
    for value in list(model.graph.value_info) + list(model.graph.output):
        t = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if any(d is None for d in dims):
            continue
        sizes[value.name] = int(np.prod(dims, dtype=np.int64)) * _ELEMENT_BYTES.get(t.elem_type, 4)
    return sizes


def live_peak(nodes: list[tuple[list[str], list[str]]], sizes: dict[str, int], outputs: set[str]) -> int:
    """The most bytes alive at once when `nodes` ((inputs, outputs) in execution order) run: a
    tensor is alive from the node that writes it until the last node that reads it (graph
    outputs until the end). Pure, for tests on hand-made graphs."""
    last_use: dict[str, int] = {}
    for i, (inputs, _) in enumerate(nodes):
        for name in inputs:
            last_use[name] = i
    live = peak = 0
    alive: set[str] = set()
    for i, (inputs, outs) in enumerate(nodes):
        for name in outs:
            if name in sizes and name not in alive:
                alive.add(name)
                live += sizes[name]
        peak = max(peak, live)
        for name in set(inputs) | set(outs):
            if name in alive and name not in outputs and last_use.get(name, i) <= i:
                alive.discard(name)
                live -= sizes[name]
    return peak


@lru_cache(maxsize=64)
def _cached_peak(path: str, mtime: float, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[int, int]:
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is an unreadable artifact
        raise ArtifactError(f"{path}: not a readable ONNX graph ({type(exc).__name__})") from exc
    _fix_inputs(model, dict(shapes))
    inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True, guess_output_rank=True)
    sizes = tensor_sizes(inferred)
    produced = [o for n in inferred.graph.node for o in n.output if o]
    unknown = sum(1 for o in produced if o not in sizes)
    nodes = [(list(n.input), list(n.output)) for n in inferred.graph.node]
    return live_peak(nodes, sizes, {o.name for o in inferred.graph.output}), unknown


def activation_peak_bytes(path: Path, shapes: dict[str, tuple[int, ...]]) -> int:
    """Peak live intermediate bytes of the graph at `path` for one call with these input shapes."""
    path = Path(path)
    key = tuple(sorted((k, tuple(int(d) for d in v)) for k, v in shapes.items()))
    peak, _unknown = _cached_peak(str(path), path.stat().st_mtime, key)
    return peak
