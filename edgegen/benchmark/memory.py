"""Peak host memory of this process (and its children), sampled by a background thread."""

from __future__ import annotations

import threading

import psutil


class PeakRssSampler:
    """Context manager sampling RSS every `interval_s`; `peak_mb` is the maximum seen. On Linux
    the kernel's high-water mark of this process (VmHWM) is also read at exit, so spikes between
    samples are not missed. (Not ru_maxrss: it survives exec, so a worker would inherit the
    parent's peak.)"""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._proc = psutil.Process()

    def _sample(self) -> None:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        self.peak_bytes = max(self.peak_bytes, total)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> PeakRssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.peak_bytes = max(self.peak_bytes, vm_hwm_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def vm_hwm_bytes(status_file: str = "/proc/self/status") -> int:
    """Peak resident set size of this process from /proc (0 where unavailable)."""
    try:
        with open(status_file) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
