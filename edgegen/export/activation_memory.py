"""Peak activation memory of an ONNX graph at concrete input shapes.

onnxruntime's symbolic shape inference gives every intermediate tensor its size at those shapes
(ONNX's own inference loses the attention reshapes), and a liveness scan in node order gives the
most bytes alive at once: what a runtime's memory planner must hold for that call, before any
fusion. Only the graph's structure is analysed: weights in external data are never loaded, and a
graph that embeds its weights (a < 2 GB export) is read in a child process with its initializers
stripped before inference, so the plan never raises the peak memory of the run it plans.
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


# A graph file bigger than this embeds its weights: analysed in a child process (measured
# 2026-12-03: a 1.3 GB BK-SDM-Tiny UNet parsed and inferred in-process raised `edgegen generate`'s
# peak RSS from 4.2 to 5.3 GB, above the low-memory run it was planning).
IN_PROCESS_MAX_BYTES = 64 << 20
_STRIP_MIN_BYTES = 256 << 10  # smaller initializers (biases, shape constants) stay: inference reads some


def strip_weights(model) -> int:
    """Mark every initializer of more than 256 KB as external data without a file, as
    `onnx.load(..., load_external_data=False)` leaves them: dims and type stay (all shape inference
    needs), the bytes go. Returns the bytes dropped."""
    from onnx import TensorProto

    dropped = 0
    for tensor in model.graph.initializer:
        if len(tensor.raw_data) > _STRIP_MIN_BYTES:
            dropped += len(tensor.raw_data)
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "stripped"
    return dropped


def load_small_external(model, folder: Path) -> int:
    """Read the values of the small initializers a graph keeps in external data (an export past
    2 GB moves every initializer there, shape constants included, which shape inference reads);
    the big ones stay on disk. Returns how many were read."""
    from onnx import TensorProto
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    read = 0
    for tensor in model.graph.initializer:
        size = int(np.prod(tensor.dims, dtype=np.int64)) * _ELEMENT_BYTES.get(tensor.data_type, 4)
        if uses_external_data(tensor) and size <= _STRIP_MIN_BYTES:
            load_external_data_for_tensor(tensor, str(folder))
            tensor.data_location = TensorProto.DEFAULT
            del tensor.external_data[:]
            read += 1
    return read


def _graph(path: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]):
    """The graph's structure with the small external initializers read and the inputs fixed."""
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
        load_small_external(model, Path(path).parent)
    except Exception as exc:  # noqa: BLE001 - any parse failure is an unreadable artifact
        raise ArtifactError(f"{path}: not a readable ONNX graph ({type(exc).__name__})") from exc
    _fix_inputs(model, dict(shapes))
    return model


def _peak(path: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[int, int]:
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    model = _graph(path, shapes)
    stripped = strip_weights(model) > 0
    try:
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True, guess_output_rank=True)
    except Exception:  # noqa: BLE001 - an op read a stripped weight's values: infer on the whole graph
        if not stripped:
            raise
        inferred = SymbolicShapeInference.infer_shapes(_graph(path, shapes), auto_merge=True, guess_output_rank=True)
    sizes = tensor_sizes(inferred)
    produced = [o for n in inferred.graph.node for o in n.output if o]
    unknown = sum(1 for o in produced if o not in sizes)
    nodes = [(list(n.input), list(n.output)) for n in inferred.graph.node]
    return live_peak(nodes, sizes, {o.name for o in inferred.graph.output}), unknown


_CHILD = """
import json, sys
from edgegen.errors import ArtifactError
from edgegen.export.activation_memory import _peak
shapes = tuple((name, tuple(dims)) for name, dims in json.loads(sys.argv[2]))
try:
    print(json.dumps({"peak": _peak(sys.argv[1], shapes)}))
except ArtifactError as exc:
    print(json.dumps({"error": str(exc)}))
"""


@lru_cache(maxsize=64)
def _cached_peak(path: str, mtime: int, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[int, int]:
    if Path(path).stat().st_size <= IN_PROCESS_MAX_BYTES:
        return _peak(path, shapes)
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path, json.dumps(shapes)], capture_output=True, text=True, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ArtifactError(f"{path}: the graph analysis failed in its child process ({tail})")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise ArtifactError(answer["error"])
    return tuple(answer["peak"])


CACHE_FILE = ".activation_peaks.json"  # beside the graphs: one entry per (file, mtime, shapes)


def _read_cache(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, entry: str, peak: int) -> None:
    """Best effort and atomic: a read-only export folder just goes without a cache."""
    import json
    import os
    import tempfile

    cache = _read_cache(path) | {entry: peak}
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".activation-", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    except OSError:
        return


def activation_peak_bytes(path: Path, shapes: dict[str, tuple[int, ...]]) -> int:
    """Peak live intermediate bytes of the graph at `path` for one call with these input shapes
    (cached in the graph's folder: a graph analysed once is not parsed again by later runs)."""
    path = Path(path)
    key = tuple(sorted((k, tuple(int(d) for d in v)) for k, v in shapes.items()))
    mtime = path.stat().st_mtime_ns
    entry = f"{path.name}|{mtime}|{key}"
    cached = _read_cache(path.parent / CACHE_FILE).get(entry)
    if isinstance(cached, int):
        return cached
    peak, _unknown = _cached_peak(str(path), mtime, key)
    _write_cache(path.parent / CACHE_FILE, entry, peak)
    return peak
