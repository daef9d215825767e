"""Is there an NVIDIA GPU here, and which one does CUDA run on? One answer for doctor, the ORT
backend, the CLI's backend choice, `edgegen build` and engine selection.

NVML (`nvidia-ml-py`) sees discrete and laptop GPUs but is absent on Jetson, whose integrated
GPU is found from L4T's files instead; torch names the device CUDA actually runs on, the name
engines are built for and matched against.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgegen.system.jetson import detect_jetson
from edgegen.system.nvml import detect_gpus


def gpu_present(gpus, jetson) -> bool:
    """NVML saw a GPU, or this is a Jetson (no NVML there). Pure."""
    return bool(gpus) or jetson is not None


def nvidia_gpu_visible() -> bool:
    return gpu_present(detect_gpus(), detect_jetson())


@dataclass(frozen=True)
class CudaDevice:
    index: int
    name: str
    compute_capability: str  # "8.9"


def cuda_device(index: int | None = None) -> CudaDevice | None:
    """The CUDA device torch runs on (the current one unless `index`), or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    i = torch.cuda.current_device() if index is None else index
    major, minor = torch.cuda.get_device_capability(i)
    return CudaDevice(i, torch.cuda.get_device_name(i), f"{major}.{minor}")
