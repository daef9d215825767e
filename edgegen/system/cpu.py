"""CPU model, cores, memory and the instruction-set features that decide CPU precision paths."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import psutil

# Features that change which precision pays off on CPU: VNNI makes INT8 dot products fast;
# without avx512_bf16/AMX, bf16 is emulated and slower than fp32.
INTERESTING_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)


@dataclass(frozen=True)
class CpuInfo:
    model: str
    arch: str
    physical_cores: int
    logical_cores: int
    memory_gb: float
    features: tuple[str, ...]


def parse_cpuinfo(text: str) -> tuple[str, tuple[str, ...]]:
    """(model name, interesting flags) from /proc/cpuinfo text (x86 or ARM layout)."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if not model and key in ("model name", "hardware", "cpu model"):
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(value.split())
    return model, tuple(f for f in INTERESTING_FLAGS if f in flags)


def detect_cpu(cpuinfo_path: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    text = cpuinfo_path.read_text(errors="replace") if cpuinfo_path.is_file() else ""
    model, features = parse_cpuinfo(text)
    return CpuInfo(
        model=model or platform.processor() or "unknown",
        arch=platform.machine(),
        physical_cores=psutil.cpu_count(logical=False) or 1,
        logical_cores=psutil.cpu_count(logical=True) or 1,
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        features=features,
    )
