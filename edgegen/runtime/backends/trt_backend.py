"""Native TensorRT runner over an engine from `edgegen build`, with torch CUDA tensors as buffers
(no pycuda needed). Shapes are set per call within the engine's optimization profile.
(CUDA-graph capture of the enqueue for static shapes is not implemented yet.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.runtime.backends.base import Runner

_TORCH_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "INT8": "int8",
}


class TrtRunner(Runner):
    name = "trt"

    def __init__(self, engine_path: Path) -> None:
        super().__init__()
        self.engine_path = Path(engine_path)
        self.engine = self.context = self.stream = None

    def _load(self) -> None:
        import torch

        from edgegen.export.tensorrt_build import require_tensorrt

        trt = require_tensorrt()
        logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(logger).deserialize_cuda_engine(self.engine_path.read_bytes())
        if self.engine is None:
            from edgegen.errors import ArtifactError

            raise ArtifactError(
                f"{self.engine_path} is not a TensorRT engine for this GPU/TensorRT version",
                hint="rebuild with `edgegen build`",
            )
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: getattr(torch, _TORCH_DTYPES[self.engine.get_tensor_dtype(n).name]) for n in names}

    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        key = tuple((n, inputs[n].shape) for n in self.inputs)
        bufs = {}
        for name in self.inputs:
            t = torch.from_numpy(np.ascontiguousarray(inputs[name])).to("cuda", self.dtypes[name])
            bufs[name] = t
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
        for name in self.outputs:
            out = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=self.dtypes[name], device="cuda")
            bufs[name] = out
            self.context.set_tensor_address(name, out.data_ptr())
        with torch.cuda.stream(self.stream):
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                from edgegen.errors import NumericalError

                raise NumericalError(f"TensorRT enqueue failed for {self.engine_path.name} at shapes {key}")
        self.stream.synchronize()
        return {n: bufs[n].float().cpu().numpy() for n in self.outputs}

    def _release(self) -> None:
        self.context = self.engine = None
