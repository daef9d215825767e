"""onnxruntime runner: CPU, CUDA or TensorRT execution provider, with tuned session options.

On the CPU, `run()` is plain `session.run`. On a GPU, `run()` binds the numpy inputs and copies
the outputs back (one component call: text encoder, VAE), and `run_device()` binds torch CUDA
tensors in place and writes the outputs into device buffers kept per input shape, so the UNet
loop never leaves the GPU. The TensorRT EP gets the device profile's shape ranges as its
optimization profile and keeps engine and timing caches in the export folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.runtime.backends.base import DeviceRunner
from edgegen.runtime.backends.providers import choose_providers, tensorrt_provider_options
from edgegen.types import Backend, Precision


class OrtRunner(DeviceRunner):
    def __init__(
        self,
        onnx_path: Path,
        backend: Backend = Backend.ORT_CPU,
        precision: Precision = Precision.FP32,
        threads: int | None = None,
        trt_shapes: dict | None = None,
        cache_dir: Path | None = None,
        low_memory: bool = False,
    ) -> None:
        super().__init__()
        # Low memory: no CPU arena (freed activations go back to the system instead of staying
        # reserved for the next call), so a released session leaves nothing behind.
        self.low_memory = low_memory
        self.onnx_path, self.backend, self.precision, self.threads = Path(onnx_path), backend, precision, threads
        self.trt_shapes = trt_shapes  # input → (min, opt, max) shapes for the TensorRT EP's profile
        self.cache_dir = Path(cache_dir) if cache_dir else self.onnx_path.parent / "engines" / "ort-trt"
        self.name = backend.value
        self.session = None
        self.providers: list[str] = []
        self._device_outputs: dict[tuple, dict] = {}

    def _load(self) -> None:
        import onnxruntime as ort

        from edgegen.system.gpu import nvidia_gpu_visible

        has_gpu = self.backend is Backend.ORT_CPU or nvidia_gpu_visible()  # Jetson: no NVML, still a GPU
        self.providers = choose_providers(self.backend, ort.get_available_providers(), has_gpu)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1  # one graph at a time: parallelism belongs inside ops
        if self.low_memory:
            opts.enable_cpu_mem_arena = False
        self.device_id = 0
        provider_args = []
        for p in self.providers:
            if p == "TensorrtExecutionProvider":
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                options = tensorrt_provider_options(
                    str(self.cache_dir),
                    self.precision is not Precision.FP32,
                    self.precision is Precision.INT8,
                    self.trt_shapes,
                )
                provider_args.append((p, options))
            elif p == "CUDAExecutionProvider":
                provider_args.append((p, {"device_id": str(self.device_id)}))
            else:
                provider_args.append(p)
        self.session = ort.InferenceSession(str(self.onnx_path), opts, providers=provider_args)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def io_device(self) -> str | None:
        return None if self.providers[0] == "CPUExecutionProvider" else f"cuda:{self.device_id}"

    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.providers[0] == "CPUExecutionProvider":
            return dict(zip(self.output_names, self.session.run(self.output_names, inputs), strict=True))
        binding = self.session.io_binding()
        for name, value in inputs.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            binding.bind_output(name, "cuda", self.device_id)
        self.session.run_with_iobinding(binding)
        return dict(zip(self.output_names, binding.copy_outputs_to_cpu(), strict=True))

    def _infer_device(self, inputs: dict) -> dict:
        import torch

        tensors = {k: v.contiguous() for k, v in inputs.items()}
        device = next(iter(tensors.values())).device
        key = tuple(sorted((k, tuple(v.shape), str(v.dtype)) for k, v in tensors.items()))
        binding = self.session.io_binding()
        for name, t in tensors.items():
            binding.bind_input(name, "cuda", self.device_id, _numpy_dtype(t), tuple(t.shape), t.data_ptr())
        # ORT runs on its own CUDA stream: let the kernels that wrote the inputs finish first.
        torch.cuda.current_stream(device).synchronize()
        outs = self._device_outputs.get(key)
        if outs is None:
            # First call at these shapes: ORT allocates, we learn the output shapes and keep
            # device buffers of our own for every later call.
            for name in self.output_names:
                binding.bind_output(name, "cuda", self.device_id)
            self.session.run_with_iobinding(binding)
            host = binding.copy_outputs_to_cpu()
            outs = {
                n: torch.from_numpy(np.ascontiguousarray(h)).to(device)
                for n, h in zip(self.output_names, host, strict=True)
            }
            self._device_outputs[key] = outs
            return dict(outs)
        for name, buf in outs.items():
            binding.bind_output(name, "cuda", self.device_id, _numpy_dtype(buf), tuple(buf.shape), buf.data_ptr())
        self.session.run_with_iobinding(binding)  # returns once the outputs are written
        return dict(outs)

    def _release(self) -> None:
        self._device_outputs.clear()
        self.session = None


def _numpy_dtype(tensor) -> type:
    import torch

    return {
        torch.float32: np.float32,
        torch.float16: np.float16,
        torch.int64: np.int64,
        torch.int32: np.int32,
        torch.bool: np.bool_,
    }[tensor.dtype]
