"""The protocol every backend's runner follows (after Polygraphy's runners).

A runner owns one component (text encoder, UNet, ...) on one backend: `load()` builds the
session/engine, `run()` maps named numpy inputs to named numpy outputs, `last_inference_s`
times the last call, `release()` frees it. Runners are context managers.
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

    def __enter__(self) -> Runner:
        return self.load()

    def __exit__(self, *exc) -> None:
        self.release()
