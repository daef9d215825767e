"""Native TensorRT runner over an engine from `edgegen build`, with torch CUDA tensors as buffers
(no pycuda needed).

Every copy and the enqueue run on the runner's own CUDA stream, in order (the stream orders
them; callers' tensors are handed over with stream waits), and the host waits for that stream
only. Buffers are kept per input-shape set: a denoising loop at one shape allocates once. With
`cuda_graph=True` the enqueue of a shape that repeats is captured once as a CUDA graph and
replayed (static shapes, e.g. the UNet at a fixed batch and size): far fewer launches per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgegen.errors import ArtifactError, NumericalError
from edgegen.runtime.backends.base import DeviceRunner

_TORCH_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "BF16": "bfloat16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "INT8": "int8",
    "UINT8": "uint8",
}

ShapeKey = tuple[tuple[str, tuple[int, ...]], ...]


def outside_profile(
    shapes: dict[str, tuple[int, ...]], profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
) -> list[str]:
    """Inputs whose shape the engine's optimization profile does not admit, described. Pure."""
    bad = []
    for name, shape in shapes.items():
        lo, _, hi = profile[name]
        if len(shape) != len(lo) or any(not (a <= s <= b) for a, s, b in zip(lo, shape, hi, strict=True)):
            fmt = lambda s: "x".join(map(str, s))  # noqa: E731
            bad.append(f"{name} {fmt(shape)} (engine takes {fmt(lo)} … {fmt(hi)})")
    return bad


@dataclass
class _Slot:
    """Device buffers (and the captured graph) of one input-shape set."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]
    host: dict[str, Any] = field(default_factory=dict)  # pinned fp32 copies of the outputs
    graph: Any = None
    runs: int = 0


class TrtRunner(DeviceRunner):
    name = "trt"

    def __init__(self, engine_path: Path, cuda_graph: bool = False, device: str | None = None) -> None:
        super().__init__()
        self.engine_path, self.cuda_graph, self.device_name = Path(engine_path), cuda_graph, device
        self.engine = self.context = self.stream = None
        self._slots: dict[ShapeKey, _Slot] = {}
        self._current: ShapeKey | None = None

    def _load(self) -> None:
        import torch

        from edgegen.export.tensorrt_build import require_tensorrt

        trt = require_tensorrt()
        self.device = torch.device(self.device_name or f"cuda:{torch.cuda.current_device()}")
        logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):
            self.engine = trt.Runtime(logger).deserialize_cuda_engine(self.engine_path.read_bytes())
            if self.engine is None:
                raise ArtifactError(
                    f"{self.engine_path} is not a TensorRT engine for this GPU/TensorRT version",
                    hint="rebuild with `edgegen build`",
                )
            self.context = self.engine.create_execution_context()
            self.stream = torch.cuda.Stream(self.device)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: getattr(torch, _TORCH_DTYPES[self.engine.get_tensor_dtype(n).name]) for n in names}
        self.profile = {
            n: tuple(tuple(int(d) for d in s) for s in self.engine.get_tensor_profile_shape(n, 0)) for n in self.inputs
        }

    def io_device(self) -> str | None:
        return str(self.device)

    # --- buffers and enqueue -------------------------------------------------------------
    def _slot(self, shapes: dict[str, tuple[int, ...]]) -> _Slot:
        import torch

        key = tuple((n, tuple(shapes[n])) for n in self.inputs)
        slot = self._slots.get(key)
        if slot is None:
            if bad := outside_profile({n: tuple(shapes[n]) for n in self.inputs}, self.profile):
                raise ArtifactError(
                    f"{self.engine_path.name} cannot run these shapes: {'; '.join(bad)}",
                    hint="rebuild with `edgegen build --profile P` whose shapes cover this batch and size",
                )
            for n in self.inputs:
                self.context.set_input_shape(n, key[self.inputs.index(n)][1])
            with torch.cuda.device(self.device):
                ins = {n: torch.empty(s, dtype=self.dtypes[n], device=self.device) for n, s in key}
                outs = {
                    n: torch.empty(tuple(self.context.get_tensor_shape(n)), dtype=self.dtypes[n], device=self.device)
                    for n in self.outputs
                }
            slot = self._slots[key] = _Slot(ins, outs)
            self._current = key
        if self._current != key:
            for n, s in key:
                self.context.set_input_shape(n, s)
            self._current = key
            slot.runs = 0  # the context changed shape: flush once before replaying its graph
        return slot

    def _enqueue(self, slot: _Slot) -> None:
        import torch

        if slot.graph is not None and slot.runs > 0:
            slot.graph.replay()  # replays on the stream it was captured on: self.stream
            slot.runs += 1
            return
        for n, t in {**slot.inputs, **slot.outputs}.items():
            self.context.set_tensor_address(n, t.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise NumericalError(f"TensorRT enqueue failed for {self.engine_path.name} at shapes {self._current}")
        slot.runs += 1
        if self.cuda_graph and slot.graph is None:
            # TensorRT does shape-dependent setup on the first enqueue after a shape change;
            # that one ran above, so the capture below holds only the kernels.
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                self.context.execute_async_v3(self.stream.cuda_stream)
            slot.graph = graph

    # --- the two entry points ------------------------------------------------------------
    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        slot = self._slot({n: np.shape(inputs[n]) for n in self.inputs})
        with torch.cuda.stream(self.stream):
            for n in self.inputs:
                slot.inputs[n].copy_(torch.from_numpy(np.ascontiguousarray(inputs[n])), non_blocking=True)
            self._enqueue(slot)
            for n in self.outputs:
                host = slot.host.get(n)
                if host is None:
                    host = slot.host[n] = torch.empty(slot.outputs[n].shape, dtype=torch.float32, pin_memory=True)
                host.copy_(slot.outputs[n], non_blocking=True)
        self.stream.synchronize()
        return {n: slot.host[n].numpy().copy() for n in self.outputs}

    def _infer_device(self, inputs: dict) -> dict:
        import torch

        slot = self._slot({n: tuple(inputs[n].shape) for n in self.inputs})
        caller = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(caller)  # the caller's kernels that produced the inputs come first
        with torch.cuda.stream(self.stream):
            for n in self.inputs:
                inputs[n].record_stream(self.stream)  # not recycled before this stream is done with it
                slot.inputs[n].copy_(inputs[n], non_blocking=True)
            self._enqueue(slot)
        caller.wait_stream(self.stream)
        self.stream.synchronize()
        return dict(slot.outputs)

    def _release(self) -> None:
        self._slots.clear()
        self._current = None
        self.context = self.engine = None
