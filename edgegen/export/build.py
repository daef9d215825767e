"""`build_engines`: TensorRT engines for every component of an export folder, per device profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgegen.errors import ArtifactError
from edgegen.export.artifacts import ArtifactKind, ComponentArtifact, artifact_path, load_manifest, verify_artifact
from edgegen.export.components import EXPORTS
from edgegen.export.tensorrt_build import BuiltEngine, EngineSpec, build_engine, gpu_tag, require_tensorrt, shape_tag
from edgegen.types import Precision


def trt_input_shapes(
    artifact: ComponentArtifact, image_batch: tuple[int, int, int], resolution: tuple[int, int, int]
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """min/opt/max per input from the manifest's recorded dims. Pure: 'batch' becomes the
    component batch, 'height'/'width' the image side ÷ the input's spatial divisor."""
    batches = EXPORTS[artifact.component].component_batches(image_batch)
    shapes = {}
    for name, dims in artifact.inputs.items():
        divisor = artifact.spatial_divisors.get(name, 1)
        triple = []
        for b, side in zip(batches, resolution, strict=True):
            shape = []
            for d in dims:
                if d == "batch":
                    shape.append(b)
                elif d in ("height", "width"):
                    shape.append(side // divisor)
                elif isinstance(d, int) and d > 0:
                    shape.append(d)
                else:
                    raise ArtifactError(f"{artifact.file}: input {name} has an unknown dynamic axis {d!r}")
            triple.append(tuple(shape))
        shapes[name] = tuple(triple)
    return shapes


@dataclass
class BuildResult:
    folder: Path
    engines: dict[str, BuiltEngine] = field(default_factory=dict)


def build_engines(
    folder: Path, profile_name: str, precision: Precision | None = None, optimization_level: int = 3
) -> BuildResult:
    from edgegen.profiles import load_profile
    from edgegen.system.nvml import detect_gpus

    trt = require_tensorrt()
    profile = load_profile(profile_name)
    manifest = load_manifest(Path(folder) / "manifest.json")
    gpus = detect_gpus()
    import torch

    gpu_name = gpus[0].name if gpus else torch.cuda.get_device_name(0)
    cc = gpus[0].compute_capability if gpus else "{}.{}".format(*torch.cuda.get_device_capability(0))
    gtag = gpu_tag(gpu_name, cc, trt.__version__)
    batch = (profile.shapes.batch.min, profile.shapes.batch.opt, profile.shapes.batch.max)
    res = (profile.shapes.resolution.min, profile.shapes.resolution.opt, profile.shapes.resolution.max)
    root = Path(folder).parent.parent
    result = BuildResult(Path(folder))
    timing = artifact_path(root, manifest.model, manifest.profile, ArtifactKind.TIMING_CACHE, gpu_tag=gtag)
    for art in manifest.components:
        wanted = precision or getattr(profile.precision, art.component.value)
        if art.precision is not wanted:
            continue
        if (why := verify_artifact(folder, art)) is not None:
            raise ArtifactError(f"cannot build from {folder}: {why}", hint="re-run `edgegen export`")
        shapes = trt_input_shapes(art, batch, res)
        spec = EngineSpec(art.sha256, art.actual_precision, shapes, trt.__version__, gpu_name, cc, optimization_level)
        engine = artifact_path(
            root,
            manifest.model,
            manifest.profile,
            ArtifactKind.ENGINE,
            art.component,
            art.precision,
            shape_tag(batch, res),
            gtag,
        )
        result.engines[f"{art.component.value}.{art.precision.value}"] = build_engine(
            Path(folder) / art.file, engine, spec, timing
        )
    return result
