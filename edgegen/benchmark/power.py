"""Energy meters: NVML power integral (NVIDIA GPUs), tegrastats (Jetson), RAPL (Intel CPUs), or
an estimate from the profile's watts × time, always labelled with how it was obtained."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

RAPL_DIR = Path("/sys/class/powercap")


@dataclass(frozen=True)
class EnergyReading:
    joules: float
    seconds: float
    method: str  # "nvml" | "tegrastats" | "rapl" | "estimate"
    peak_gpu_mem_mb: float | None = None

    @property
    def watts(self) -> float:
        return self.joules / self.seconds if self.seconds > 0 else 0.0


class _Sampler:
    """Integrates instantaneous power (W) sampled by a thread (trapezoid rule)."""

    method = "sampled"

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def read_watts(self) -> float:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.read_watts()))
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> EnergyReading:
        self._stop.set()
        self._thread.join()
        return EnergyReading(
            integrate(self.samples),
            self.samples[-1][0] - self.samples[0][0] if len(self.samples) > 1 else 0.0,
            self.method,
        )


def integrate(samples: list[tuple[float, float]]) -> float:
    """Trapezoid integral of (time s, power W) samples → joules. Pure."""
    return float(sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(samples, samples[1:], strict=False)))


class NvmlMeter(_Sampler):
    method = "nvml"

    def __init__(self, index: int = 0, interval_s: float = 0.05, nvml=None) -> None:
        super().__init__(interval_s)
        if nvml is None:  # `nvml`: an object with pynvml's functions (tests pass a recorded playback)
            import pynvml as nvml

        nvml.nvmlInit()
        self._nvml = nvml
        self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
        self.peak_mem = 0

    def read_watts(self) -> float:
        self.peak_mem = max(self.peak_mem, self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used)
        return self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0

    def stop(self) -> EnergyReading:
        r = super().stop()
        return EnergyReading(r.joules, r.seconds, "nvml", self.peak_mem / 2**20)


_TEGRA_POWER = re.compile(r"\b(VDD_IN|POM_5V_IN)\s+(\d+)mW")


def parse_tegrastats_watts(line: str) -> float | None:
    """Board input power from one tegrastats line ('VDD_IN 5234mW/5100mW' on Orin). Pure."""
    m = _TEGRA_POWER.search(line)
    return int(m.group(2)) / 1000.0 if m else None


class TegrastatsMeter:
    method = "tegrastats"

    def __init__(self, interval_ms: int = 50) -> None:
        self.interval_ms = interval_ms
        self.samples: list[tuple[float, float]] = []

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["tegrastats", "--interval", str(self.interval_ms)], stdout=subprocess.PIPE, text=True
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            watts = parse_tegrastats_watts(line)
            if watts is not None:
                self.samples.append((time.perf_counter(), watts))

    def stop(self) -> EnergyReading:
        self._proc.terminate()
        self._proc.wait()
        self._thread.join(timeout=1)
        seconds = self.samples[-1][0] - self.samples[0][0] if len(self.samples) > 1 else 0.0
        return EnergyReading(integrate(self.samples), seconds, "tegrastats")


class RaplMeter:
    """Intel RAPL package energy counters (microjoules, wrapping at max_energy_range_uj)."""

    method = "rapl"

    def __init__(self, root: Path = RAPL_DIR) -> None:
        self.zones = sorted(p for p in root.glob("intel-rapl:*") if ":" in p.name and p.name.count(":") == 1)

    def _read(self) -> list[int]:
        return [int((z / "energy_uj").read_text()) for z in self.zones]

    def start(self) -> None:
        self._t0, self._e0 = time.perf_counter(), self._read()

    def stop(self) -> EnergyReading:
        e1, t1 = self._read(), time.perf_counter()
        total = 0
        for zone, a, b in zip(self.zones, self._e0, e1, strict=True):
            wrap = int((zone / "max_energy_range_uj").read_text())
            total += b - a if b >= a else b + wrap - a
        return EnergyReading(total / 1e6, t1 - self._t0, "rapl")


def rapl_readable(root: Path = RAPL_DIR) -> bool:
    try:
        return any(int((z / "energy_uj").read_text()) >= 0 for z in root.glob("intel-rapl:*"))
    except (OSError, ValueError):
        return False


def open_meter(prefer_gpu: bool):
    """The best meter this machine offers, or None (the caller then estimates)."""
    import shutil

    if prefer_gpu:
        try:
            return NvmlMeter()
        except Exception:  # noqa: BLE001 - no pynvml or no driver: fall through
            pass
    if shutil.which("tegrastats") and Path("/etc/nv_tegra_release").exists():
        return TegrastatsMeter()
    if rapl_readable():
        return RaplMeter()
    return None


def estimate(seconds: float, watts: float) -> EnergyReading:
    return EnergyReading(watts * seconds, seconds, "estimate")


# What each meter measures. Only a whole-device meter may stand in for the device's power in a cost
# figure; a partial one (CPU package, GPU board) is reported beside the profile's whole-device watts.
WHOLE_DEVICE_METERS = ("tegrastats",)
