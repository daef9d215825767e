"""Which TensorRT engine of an export folder runs here. Pure: the engine records, the GPU, the
TensorRT version and the shapes come in as values, so it is tested with fake manifests.

An engine runs only on the GPU model (and compute capability) and TensorRT version it was built
with, from the ONNX it was built from, for shapes inside its profile. The one that fits is
chosen; none fitting is a one-line error naming what is there and what is needed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edgegen.errors import ArtifactError
from edgegen.export.engine_manifest import EngineRecord
from edgegen.export.shape_profiles import covers
from edgegen.types import Component, Precision


@dataclass(frozen=True)
class ShapeNeed:
    """What a run will feed: images per call and image side (the runtime's view of shapes)."""

    image_batch: int
    image_size: int


@dataclass(frozen=True)
class EngineNeed:
    component: Component
    precision: Precision
    onnx_sha256: str
    gpu_name: str
    compute_capability: str
    trt_version: str
    input_shapes: dict[str, tuple[int, ...]] | None = None  # None: any shape the engine takes

    def describe(self) -> str:
        shapes = (
            ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in sorted(self.input_shapes.items()))
            if self.input_shapes
            else "any shape"
        )
        return (
            f"{self.gpu_name} (sm{self.compute_capability}), TensorRT {self.trt_version}, "
            f"onnx {self.onnx_sha256[:8]}, {shapes}"
        )


def _same_gpu(a: str, b: str) -> bool:
    def slug(name: str) -> str:
        return re.sub(r"[^a-z0-9]+", "", name.lower())

    return slug(a) == slug(b)


def mismatch(record: EngineRecord, need: EngineNeed) -> str | None:
    """Why this engine cannot serve the need (the first reason), or None when it can."""
    if record.component is not need.component or record.precision is not need.precision:
        return f"is {record.label}"
    if not _same_gpu(record.gpu_name, need.gpu_name):
        return f"built for {record.gpu_name}"
    if record.compute_capability != need.compute_capability:
        return f"built for sm{record.compute_capability}"
    if record.trt_version != need.trt_version:
        return f"built with TensorRT {record.trt_version}"
    if record.onnx_sha256 != need.onnx_sha256:
        return f"built from an older {record.onnx_file} ({record.onnx_sha256[:8]})"
    if need.input_shapes is not None and not covers(record.shapes, need.input_shapes):
        return f"profile {record.shape_tag} does not cover the shapes"
    return None


def _volume(shape: list[int]) -> float:
    return float(math.prod(shape))


def _rank(record: EngineRecord, need: EngineNeed) -> tuple:
    if need.input_shapes:
        # The opt shape is what TensorRT tuned kernels for: closest to the need first, then the
        # narrowest profile (less memory reserved for shapes never run).
        distance = sum(
            abs(math.log(_volume(record.shapes[k][1]) / max(_volume(list(v)), 1.0)))
            for k, v in need.input_shapes.items()
        )
        spread = sum(_volume(hi) - _volume(lo) for lo, _, hi in record.shapes.values())
        return (distance, spread)
    # No shapes known yet: the widest profile runs the most.
    return (-sum(_volume(t[2]) for t in record.shapes.values()),)


def select_engine(records: list[EngineRecord], need: EngineNeed, where: str = "") -> EngineRecord:
    fitting = [r for r in records if mismatch(r, need) is None]
    if fitting:
        newest_first = sorted(fitting, key=lambda r: r.built, reverse=True)  # ties go to the newest build
        return min(newest_first, key=lambda r: _rank(r, need))
    label = f"{need.component.value}.{need.precision.value}"
    same = [r for r in records if r.component is need.component and r.precision is need.precision]
    have = "; ".join(f"{r.file.rsplit('/', 1)[-1]} {mismatch(r, need)}" for r in same) or "none built"
    raise ArtifactError(
        f"no TensorRT engine for {label}{' in ' + where if where else ''} fits: need {need.describe()}; have: {have}",
        hint="run `edgegen build` on this machine (with a profile whose shapes cover the run)",
    )
