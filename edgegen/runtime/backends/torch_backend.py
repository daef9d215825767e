"""torch (eager) runner: the component's torch module, the reference every other backend is
compared with. CUDA when asked and present; fp16 autocast only for fp16 on CUDA. On CUDA it
also takes and returns device tensors (`run_device`), so the UNet loop stays on the GPU."""

from __future__ import annotations

import numpy as np

from edgegen.runtime.backends.base import DeviceRunner


class TorchRunner(DeviceRunner):
    name = "torch"

    def __init__(
        self, spec, device: str = "cpu", half: bool = False, threads: int | None = None, compile: bool = False
    ) -> None:
        super().__init__()
        self.spec, self.device, self.half, self.threads, self.compile = spec, device, half, threads, compile
        self.name = "torch-compile" if compile else "torch"
        self.module = None

    def _load(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        self.module = self.spec.module().to(self.device)
        if self.half and self.device.startswith("cuda"):
            self.module = self.module.half()
        if self.compile:
            # Inductor; compiles on the first call of each new shape (seen: 100+ s for an 18M
            # UNet on 2 cores), which the bench's cold start includes.
            self.module = torch.compile(self.module, dynamic=False)

    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = []
        for name in self.spec.input_names:
            t = torch.from_numpy(np.ascontiguousarray(inputs[name])).to(self.device)
            if self.half and t.is_floating_point() and self.device.startswith("cuda"):
                t = t.half()
            args.append(t)
        with torch.inference_mode():
            out = self.module(*args)
        outs = out if isinstance(out, tuple | list) else (out,)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return {n: o.float().cpu().numpy() for n, o in zip(self.spec.output_names, outs, strict=True)}

    def io_device(self) -> str | None:
        return self.device if self.device.startswith("cuda") else None

    def _infer_device(self, inputs: dict) -> dict:
        import torch

        args = []
        for name in self.spec.input_names:
            t = inputs[name].to(self.device)
            args.append(t.half() if self.half and t.is_floating_point() else t)
        with torch.inference_mode():
            out = self.module(*args)
        outs = out if isinstance(out, tuple | list) else (out,)
        torch.cuda.synchronize()
        return dict(zip(self.spec.output_names, outs, strict=True))

    def _release(self) -> None:
        self.module = None
