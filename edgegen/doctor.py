"""`edgegen doctor`: what this machine is, what it can run, and which device profile fits it."""

from __future__ import annotations

from dataclasses import dataclass

from edgegen.profiles import DEFAULT_PROFILE, DeviceProfile, load_all_profiles
from edgegen.system.cpu import CpuInfo, detect_cpu
from edgegen.system.gpu import gpu_present
from edgegen.system.jetson import JetsonInfo, detect_jetson
from edgegen.system.nvml import GpuInfo, detect_gpus
from edgegen.system.runtimes import RuntimeStatus, probe_all, usable_backends
from edgegen.types import Backend, DeviceKind


@dataclass(frozen=True)
class DoctorReport:
    cpu: CpuInfo
    gpus: tuple[GpuInfo, ...]
    jetson: JetsonInfo | None
    runtimes: dict[str, RuntimeStatus]
    backends: dict[Backend, str | None]  # None = usable, else the reason
    suggested_profile: str
    suggestion_reason: str


def suggest_profile(
    profiles: list[DeviceProfile], cpu: CpuInfo, gpus: tuple[GpuInfo, ...], jetson: JetsonInfo | None
) -> tuple[str, str]:
    """Pick the profile whose match rules fit the machine. Pure."""

    def first(kind: DeviceKind, text: str, attr: str) -> DeviceProfile | None:
        for p in profiles:
            if p.device.kind is kind and any(s.lower() in text.lower() for s in getattr(p.device, attr)):
                return p
        return None

    if jetson is not None:
        hit = first(DeviceKind.JETSON, jetson.model, "jetson_model_contains")
        if hit:
            return hit.name, f"Jetson model '{jetson.model}'"
        return _fallback(profiles, DeviceKind.JETSON, f"Jetson '{jetson.model}' has no exact profile")
    for gpu in gpus:
        hit = first(DeviceKind.CUDA, gpu.name, "gpu_name_contains")
        if hit:
            return hit.name, f"GPU '{gpu.name}'"
    if gpus:
        return _fallback(profiles, DeviceKind.CUDA, f"GPU '{gpus[0].name}' has no exact profile")
    hit = first(DeviceKind.CPU, cpu.model, "cpu_model_contains")
    if hit:
        return hit.name, f"no NVIDIA GPU; CPU '{cpu.model}'"
    return _fallback(profiles, DeviceKind.CPU, f"no NVIDIA GPU; CPU '{cpu.model}'")


def _fallback(profiles: list[DeviceProfile], kind: DeviceKind, why: str) -> tuple[str, str]:
    same_kind = [p for p in profiles if p.device.kind is kind]
    if not same_kind:
        return DEFAULT_PROFILE, why
    # Generic profiles (no match rules) first, then the smallest memory budget: the safe start.
    best = min(
        same_kind,
        key=lambda p: (
            bool(p.device.cpu_model_contains or p.device.gpu_name_contains or p.device.jetson_model_contains),
            p.memory_budget_gb,
        ),
    )
    return best.name, f"{why}; closest safe profile"


def run_doctor() -> DoctorReport:
    cpu = detect_cpu()
    gpus = tuple(detect_gpus())
    jetson = detect_jetson()
    has_gpu = gpu_present(gpus, jetson)
    runtimes = probe_all(has_gpu)
    name, reason = suggest_profile(load_all_profiles(), cpu, gpus, jetson)
    return DoctorReport(cpu, gpus, jetson, runtimes, usable_backends(runtimes, has_gpu), name, reason)
