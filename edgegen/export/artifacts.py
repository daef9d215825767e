"""Where every exported file lives, and the export manifest that describes them.

`artifact_path` is the one function that names files: ONNX graphs, their external data,
TensorRT engines (named after their shape profile and GPU), the timing cache and the manifest.

    <root>/<model>/<profile>/manifest.json
    <root>/<model>/<profile>/<component>.<precision>.onnx[.data]
    <root>/<model>/<profile>/<component>.<precision>.openvino.xml/.bin   (NNCF INT8 IR)
    <root>/<model>/<profile>/engines/<component>.<precision>.<shape-tag>.<gpu-tag>.plan
    <root>/<model>/<profile>/engines/timing.<gpu-tag>.cache
    <root>/<model>/<profile>/engines/engines.json        (what each engine was built for)
    <root>/<model>/<profile>/engines/ort-trt/            (ORT TensorRT EP engine + timing caches)

INT8 graphs keep the name `<component>.int8.onnx` whatever their scheme: a folder belongs to one
device profile, the profile decides the scheme, and the manifest records it per artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from edgegen.errors import ArtifactError
from edgegen.hashing import sha256_file
from edgegen.types import Component, Precision

DEFAULT_EXPORT_ROOT = Path(__file__).resolve().parents[2] / "export"
MANIFEST_SCHEMA_VERSION = 1


class ArtifactKind(StrEnum):
    ONNX = "onnx"
    ONNX_DATA = "onnx-data"
    OPENVINO_IR = "openvino-ir"
    ENGINE = "engine"
    TIMING_CACHE = "timing-cache"
    ENGINE_MANIFEST = "engine-manifest"
    ORT_TRT_CACHE = "ort-trt-cache"
    MANIFEST = "manifest"


def artifact_path(
    root: Path,
    model: str,
    profile: str,
    kind: ArtifactKind,
    component: Component | None = None,
    precision: Precision | None = None,
    shape_tag: str | None = None,
    gpu_tag: str | None = None,
) -> Path:
    return folder_path(Path(root) / _safe(model) / _safe(profile), kind, component, precision, shape_tag, gpu_tag)


def folder_path(
    base: Path,
    kind: ArtifactKind,
    component: Component | None = None,
    precision: Precision | None = None,
    shape_tag: str | None = None,
    gpu_tag: str | None = None,
) -> Path:
    """The same names inside an export folder already known (one that may have been moved)."""
    base = Path(base)
    if kind is ArtifactKind.MANIFEST:
        return base / "manifest.json"
    if kind is ArtifactKind.TIMING_CACHE:
        return base / "engines" / f"timing.{gpu_tag}.cache"
    if kind is ArtifactKind.ENGINE_MANIFEST:
        return base / "engines" / "engines.json"
    if kind is ArtifactKind.ORT_TRT_CACHE:
        return base / "engines" / "ort-trt"
    if component is None or precision is None:
        raise ValueError(f"{kind.value} paths need a component and a precision")
    stem = f"{component.value}.{precision.value}"
    if kind is ArtifactKind.ONNX:
        return base / f"{stem}.onnx"
    if kind is ArtifactKind.ONNX_DATA:
        return base / f"{stem}.onnx.data"
    if kind is ArtifactKind.OPENVINO_IR:
        return base / f"{stem}.openvino.xml"
    if kind is ArtifactKind.ENGINE:
        if not shape_tag or not gpu_tag:
            raise ValueError("engine paths need a shape tag and a GPU tag")
        return base / "engines" / f"{stem}.{shape_tag}.{gpu_tag}.plan"
    raise ValueError(f"unknown artifact kind {kind}")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


@dataclass(frozen=True)
class Check:
    """One validation comparison of an ONNX output against the torch fp32 model."""

    output: str
    batch: int
    image_size: int
    max_abs: float
    rel_l2: float
    finite: bool
    passed: bool


@dataclass
class ComponentArtifact:
    component: Component
    precision: Precision  # the precision asked for
    file: str  # relative to the manifest's folder
    sha256: str
    bytes: int
    external_data: str | None
    opset: int
    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]
    checks: list[Check]
    actual_precision: Precision  # differs from `precision` after a fallback
    spatial_divisors: dict[str, int] = field(default_factory=dict)  # image side ÷ input side
    notes: list[str] = field(default_factory=list)  # optimisations applied, fallbacks, quantization
    int8: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def max_rel_l2(self) -> float:
        return max((c.rel_l2 for c in self.checks), default=float("nan"))


@dataclass
class ExportManifest:
    model: str
    model_kind: str
    source_sha256: str
    profile: str
    settings_sha256: str
    tool_versions: dict[str, str]
    components: list[ComponentArtifact]
    created: str
    classifier: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None  # PipelineInfo fields: what runtimes need besides graphs
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def find(self, component: Component, precision: Precision) -> ComponentArtifact | None:
        for c in self.components:
            if c.component is component and c.precision is precision:
                return c
        return None


def load_manifest(path: Path) -> ExportManifest:
    from edgegen.atomic import read_versioned_json
    from edgegen.schema import SchemaViolation, load_dataclass

    raw = read_versioned_json(path, "export manifest", MANIFEST_SCHEMA_VERSION, "edgegen export")
    try:
        return load_dataclass(ExportManifest, raw)
    except SchemaViolation as exc:
        raise ArtifactError(f"{path}: {exc}") from exc


def verify_artifact(folder: Path, artifact: ComponentArtifact) -> str | None:
    """None when the file (and its external data) exist and match the manifest hash, else why."""
    path = Path(folder) / artifact.file
    if not path.is_file():
        return f"{artifact.file} is missing"
    if artifact.external_data and not (Path(folder) / artifact.external_data).is_file():
        return f"{artifact.external_data} is missing"
    if sha256_file(path) != artifact.sha256:
        return f"{artifact.file} does not match its recorded sha256"
    return None
