"""onnxruntime runner: CPU, CUDA or TensorRT execution provider, with tuned session options and
IO binding on GPU (inputs copied once, outputs left on the device until fetched)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.runtime.backends.base import Runner
from edgegen.runtime.backends.providers import choose_providers, tensorrt_provider_options
from edgegen.types import Backend, Precision


class OrtRunner(Runner):
    def __init__(
        self,
        onnx_path: Path,
        backend: Backend = Backend.ORT_CPU,
        precision: Precision = Precision.FP32,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.onnx_path, self.backend, self.precision, self.threads = Path(onnx_path), backend, precision, threads
        self.name = backend.value
        self.session = None
        self.providers: list[str] = []

    def _load(self) -> None:
        import onnxruntime as ort

        from edgegen.system.nvml import detect_gpus

        has_gpu = self.backend is Backend.ORT_CPU or bool(detect_gpus())
        self.providers = choose_providers(self.backend, ort.get_available_providers(), has_gpu)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        if self.threads:
            opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1  # one graph at a time: parallelism belongs inside ops
        provider_args = []
        for p in self.providers:
            if p == "TensorrtExecutionProvider":
                cache = str(self.onnx_path.parent / "engines" / "ort-trt")
                Path(cache).mkdir(parents=True, exist_ok=True)
                provider_args.append(
                    (
                        p,
                        tensorrt_provider_options(
                            cache, self.precision is not Precision.FP32, self.precision is Precision.INT8
                        ),
                    )
                )
            else:
                provider_args.append(p)
        self.session = ort.InferenceSession(str(self.onnx_path), opts, providers=provider_args)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.providers[0] == "CPUExecutionProvider":
            return dict(zip(self.output_names, self.session.run(self.output_names, inputs), strict=True))
        binding = self.session.io_binding()
        for name, value in inputs.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        return dict(zip(self.output_names, binding.copy_outputs_to_cpu(), strict=True))

    def _release(self) -> None:
        self.session = None
