"""`engines/engines.json`: what every TensorRT engine in an export folder was built for (GPU,
compute capability, TensorRT version, shape profile, source ONNX hash, precision), written by
`edgegen build` and read by the runtime to pick the engine that fits the machine it runs on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from edgegen.errors import ArtifactError
from edgegen.export.artifacts import ArtifactKind, folder_path
from edgegen.types import Component, Precision

ENGINE_MANIFEST_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class EngineRecord:
    component: Component
    precision: Precision  # the artifact's precision (what runs ask for)
    actual_precision: Precision  # the ONNX's (after an FP16 → FP32 fallback)
    file: str  # relative to the export folder
    onnx_file: str
    onnx_sha256: str
    gpu_name: str
    compute_capability: str
    trt_version: str
    shape_tag: str
    image_batch: tuple[int, ...]  # images per call min/opt/max
    resolution: tuple[int, ...]  # image side min/opt/max
    shapes: dict[str, list[list[int]]]  # input → [min, opt, max] shapes
    cache_key: str
    optimization_level: int
    workspace_gb: float
    int8_scheme: str | None = None
    built: str = ""  # UTC time
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.component.value}.{self.precision.value}"


@dataclass
class EngineManifest:
    engines: list[EngineRecord] = field(default_factory=list)
    schema_version: int = ENGINE_MANIFEST_SCHEMA_VERSION

    def with_record(self, record: EngineRecord) -> EngineManifest:
        """A copy where `record` replaces any earlier record of the same engine file."""
        return replace(self, engines=[e for e in self.engines if e.file != record.file] + [record])


def engine_manifest_path(folder: Path) -> Path:
    return folder_path(folder, ArtifactKind.ENGINE_MANIFEST)


def load_engine_manifest(folder: Path) -> EngineManifest:
    """The folder's engine manifest; an empty one where `edgegen build` never ran."""
    from edgegen.atomic import read_versioned_json
    from edgegen.schema import SchemaViolation, load_dataclass

    path = engine_manifest_path(folder)
    if not path.is_file():
        return EngineManifest()
    raw = read_versioned_json(path, "engine manifest", ENGINE_MANIFEST_SCHEMA_VERSION, "edgegen build")
    try:
        return load_dataclass(EngineManifest, raw)
    except SchemaViolation as exc:
        raise ArtifactError(f"{path}: {exc}", hint="re-run `edgegen build`") from exc


def save_engine_manifest(folder: Path, manifest: EngineManifest) -> Path:
    from edgegen.atomic import atomic_write_json

    path = engine_manifest_path(folder)
    atomic_write_json(path, manifest)
    return path
