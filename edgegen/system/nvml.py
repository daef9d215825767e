"""NVIDIA GPUs through NVML (nvidia-ml-py, imported lazily; absent or driverless → no GPUs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_gb: float
    compute_capability: str
    driver: str
    power_limit_w: float | None


def gpu_from_raw(raw: dict[str, Any]) -> GpuInfo:
    """Pure conversion of the values NVML returns (bytes names, byte counts, milliwatts)."""
    name = raw["name"].decode() if isinstance(raw["name"], bytes) else str(raw["name"])
    driver = raw["driver"].decode() if isinstance(raw["driver"], bytes) else str(raw["driver"])
    major, minor = raw["cc"]
    limit_mw = raw.get("power_limit_mw")
    return GpuInfo(
        index=int(raw["index"]),
        name=name,
        memory_gb=round(raw["memory_total"] / 2**30, 1),
        compute_capability=f"{major}.{minor}",
        driver=driver,
        power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
    )


def query_raw() -> list[dict[str, Any]]:
    """Raw NVML readings for every GPU; [] when NVML or a driver is missing."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        out = []
        driver = pynvml.nvmlSystemGetDriverVersion()
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            try:
                limit = pynvml.nvmlDeviceGetEnforcedPowerLimit(h)
            except pynvml.NVMLError:
                limit = None  # Jetson and some laptops do not expose it
            out.append(
                {
                    "index": i,
                    "name": pynvml.nvmlDeviceGetName(h),
                    "memory_total": pynvml.nvmlDeviceGetMemoryInfo(h).total,
                    "cc": pynvml.nvmlDeviceGetCudaComputeCapability(h),
                    "driver": driver,
                    "power_limit_mw": limit,
                }
            )
        return out
    finally:
        pynvml.nvmlShutdown()


def detect_gpus() -> list[GpuInfo]:
    return [gpu_from_raw(r) for r in query_raw()]
