"""TensorRT engines from exported ONNX: optimization profiles, precision flags, timing cache,
and an engine cache keyed by everything that makes an engine valid.

The pure parts (shape tags, cache keys, flag selection, profile shapes) need no GPU and are
unit-tested; `build_engine` imports tensorrt lazily and runs only on an NVIDIA machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from edgegen.errors import BackendUnavailableError
from edgegen.types import Precision


@dataclass(frozen=True)
class EngineSpec:
    onnx_sha256: str
    precision: Precision  # the ONNX's actual precision (an INT8 engine is built from the QDQ graph)
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]  # input → min/opt/max
    trt_version: str
    gpu_name: str
    compute_capability: str
    optimization_level: int = 3

    def cache_key(self) -> str:
        blob = json.dumps(
            {
                "onnx": self.onnx_sha256,
                "precision": self.precision.value,
                "shapes": {k: [list(s) for s in v] for k, v in sorted(self.shapes.items())},
                "trt": self.trt_version,
                "gpu": self.gpu_name,
                "cc": self.compute_capability,
                "level": self.optimization_level,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


def shape_tag(image_batch: tuple[int, int, int], resolution: tuple[int, int, int]) -> str:
    """'b1-1-2_r256-512-768': the profile an engine was built for, readable in its file name."""
    return "b{}-{}-{}_r{}-{}-{}".format(*image_batch, *resolution)


def gpu_tag(gpu_name: str, compute_capability: str, trt_version: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-")
    return f"{slug}_sm{compute_capability.replace('.', '')}_trt{trt_version}"


def workspace_gb(memory_budget_gb: float, resident_bytes: int = 0) -> float:
    """Builder workspace from the memory plan: half of what the profile's budget leaves beside the
    engine's weights and its activations at the largest shape (`resident_bytes`), at most 4 GB
    and at least 0.25 GB (tactics that want more are skipped; an 8 GB Jetson cannot lend 4 GB to
    the builder beside a SD 1.5 UNet)."""
    free = memory_budget_gb - resident_bytes / 1e9
    return round(min(4.0, max(0.25, free / 2)), 2)


def builder_flags(precision: Precision) -> tuple[str, ...]:
    """TensorRT BuilderFlag names for an ONNX of this precision.

    FP16 graphs need FP16. QDQ (INT8) graphs need INT8 for the quantized layers and FP16 so the
    layers left in float (attention, norms) may also run in half precision, as TensorRT's
    explicit-quantization guide recommends. FP32 sets nothing (TF32 stays TensorRT's default).
    """
    if precision is Precision.FP16:
        return ("FP16",)
    if precision is Precision.INT8:
        return ("INT8", "FP16")
    return ()


@dataclass(frozen=True)
class BuiltEngine:
    path: Path
    cache_key: str
    reused: bool
    seconds: float


def require_tensorrt():
    """Import tensorrt and check for a GPU, or explain in one line why not and what to use."""
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailableError(
            "tensorrt not installed",
            hint=(
                "on an NVIDIA machine run `make gpu` (JetPack ships it on "
                "Jetson); the exported ONNX runs without it: use --backend ort-cpu"
            ),
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            "no CUDA device visible, so TensorRT cannot build engines", hint="use --backend ort-cpu or openvino"
        )
    return trt


def build_engine(
    onnx_path: Path, engine_path: Path, spec: EngineSpec, timing_cache: Path, workspace_gb: float = 4.0
) -> BuiltEngine:
    """Build (or reuse) one engine; the engine and timing cache are written atomically."""
    import time

    from edgegen.atomic import atomic_write_bytes

    key = spec.cache_key()
    key_file = engine_path.with_suffix(".key")
    if engine_path.is_file() and key_file.is_file() and key_file.read_text().strip() == key:
        return BuiltEngine(engine_path, key, True, 0.0)
    trt = require_tensorrt()
    start = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH") and int(trt.__version__.split(".")[0]) < 10:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):  # resolves external data beside the file
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        from edgegen.errors import ArtifactError

        raise ArtifactError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    config.builder_optimization_level = spec.optimization_level
    for flag in builder_flags(spec.precision):
        config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in spec.shapes.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        from edgegen.errors import ArtifactError

        raise ArtifactError(f"TensorRT failed to build an engine from {onnx_path.name} (see the TensorRT log above)")
    atomic_write_bytes(engine_path, bytes(serialized))
    atomic_write_bytes(key_file, key.encode())
    atomic_write_bytes(timing_cache, bytes(config.get_timing_cache().serialize()))
    return BuiltEngine(engine_path, key, False, time.perf_counter() - start)
