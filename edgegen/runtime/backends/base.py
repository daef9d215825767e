"""The protocol every backend's runner follows (after Polygraphy's runners).

A runner owns one component (text encoder, UNet, ...) on one backend: `load()` builds the
session/engine, `run()` maps named numpy inputs to named numpy outputs, `last_inference_s`
times the last call, `release()` frees it. Runners are context managers.

A `DeviceRunner` can also take torch tensors already on its GPU and leave its outputs there
(`run_device`), so a caller keeps data on the device between calls (the UNet loop); where its
`io_device()` is None (a CPU session) callers use `run()` as before.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np


class Runner(ABC):
    name: str = "runner"

    def __init__(self) -> None:
        self.last_inference_s = 0.0
        self.loaded = False

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _release(self) -> None:  # noqa: B027 - optional hook
        pass

    def load(self) -> Runner:
        if not self.loaded:
            self._load()
            self.loaded = True
        return self

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.loaded:
            self.load()
        start = time.perf_counter()
        out = self._infer(inputs)
        self.last_inference_s = time.perf_counter() - start
        return out

    def release(self) -> None:
        if self.loaded:
            self._release()
            self.loaded = False
            return_freed_memory()

    def __enter__(self) -> Runner:
        return self.load()

    def __exit__(self, *exc) -> None:
        self.release()


class DeviceRunner(Runner):
    """A runner that can keep inputs and outputs on a GPU as torch tensors."""

    @abstractmethod
    def io_device(self) -> str | None:
        """The torch device `run_device` takes and returns tensors on ("cuda:0"), or None when
        this runner (as loaded) runs on the CPU. Valid after `load()`."""

    @abstractmethod
    def _infer_device(self, inputs: dict) -> dict: ...

    def run_device(self, inputs: dict) -> dict:
        """Named torch tensors on `io_device()` → named torch tensors there. Outputs may be
        buffers the runner reuses: valid until its next call (copy what must outlive it). The
        call has finished on the GPU when it returns, so `last_inference_s` is its real time."""
        if not self.loaded:
            self.load()
        if self.io_device() is None:
            raise TypeError(f"{self.name} runs on the CPU here: use run()")
        start = time.perf_counter()
        out = self._infer_device(inputs)
        self.last_inference_s = time.perf_counter() - start
        return out


def return_freed_memory() -> None:
    """Give memory freed by a released session back to the system: glibc keeps freed heap pages
    for reuse, so without a trim the process's RSS would not fall between low-memory stages."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc (macOS, musl): nothing to trim
