"""`build_engines`: TensorRT engines for the components of an export folder, per device profile.

Every INT8 graph to be built is first checked against TensorRT's Q/DQ rules (on the CPU, all
of them, before TensorRT is even imported), then each engine is built or reused and recorded in
`engines/engines.json` with what it is valid for, so the runtime can pick the one that fits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.errors import ArtifactError
from edgegen.export.artifacts import ArtifactKind, ComponentArtifact, folder_path, load_manifest, verify_artifact
from edgegen.export.engine_manifest import EngineRecord, load_engine_manifest, save_engine_manifest
from edgegen.export.shape_profiles import Triple, profile_ranges, trt_input_shapes
from edgegen.export.tensorrt_build import BuiltEngine, EngineSpec, gpu_tag, shape_tag, workspace_gb
from edgegen.types import Component, Precision

# Kept importable from here (tests and older callers).
__all__ = ["BuildResult", "build_engines", "check_int8_artifacts", "select_artifacts", "trt_input_shapes"]


@dataclass
class BuildResult:
    folder: Path
    engines: dict[str, BuiltEngine] = field(default_factory=dict)
    conformance: dict[str, dict] = field(default_factory=dict)  # INT8 label → report summary
    engine_manifest: Path | None = None


def select_artifacts(
    manifest, profile, precision: Precision | None = None, wanted: Iterable[tuple[Component, Precision]] | None = None
) -> list[ComponentArtifact]:
    """The artifacts to build: `wanted` pairs, else one precision for all, else the profile's. Pure."""
    pairs = set(wanted) if wanted is not None else None
    out = []
    for art in manifest.components:
        if pairs is not None:
            if (art.component, art.precision) in pairs:
                out.append(art)
        elif art.precision is (precision or getattr(profile.precision, art.component.value)):
            out.append(art)
    if pairs is not None and (missing := pairs - {(a.component, a.precision) for a in out}):
        listed = ", ".join(sorted(f"{c.value}.{p.value}" for c, p in missing))
        raise ArtifactError(f"the export has no {listed} to build", hint="run `edgegen export` with those precisions")
    return out


def check_int8_artifacts(folder: Path, artifacts: list[ComponentArtifact]) -> dict[str, dict]:
    """TensorRT conformance of every INT8 graph to build; all are checked, then one error lists
    the failing ones (each with its violations)."""
    from edgegen.export.trt_conformance import ConformanceError, check_file

    results, failed, reports = {}, [], {}
    for art in artifacts:
        if art.actual_precision is not Precision.INT8:
            continue
        label = f"{art.component.value}.{art.precision.value}"
        report = check_file(Path(folder) / art.file)
        results[label] = report.to_manifest()
        reports[label] = report
        if not report.passed:
            scheme = (art.int8 or {}).get("scheme", "u8s8")
            failed.append(f"{label} (scheme {scheme}): {len(report.violations)} violation(s): {report.summary()}")
    if failed:
        worst = reports[next(iter(label for label in reports if not reports[label].passed))]
        raise ConformanceError(
            f"cannot build TensorRT engines from {folder}: " + " | ".join(failed),
            worst,
            hint="re-export for a TensorRT profile (`edgegen export --profile <gpu profile>`, INT8 scheme trt-s8s8) "
            "or pass a ModelOpt graph with --int8-onnx",
        )
    return results


def build_engines(
    folder: Path,
    profile_name: str,
    precision: Precision | None = None,
    optimization_level: int = 3,
    *,
    wanted: Iterable[tuple[Component, Precision]] | None = None,
    ranges: tuple[Triple, Triple] | None = None,
    gpu_index: int | None = None,
) -> BuildResult:
    """Build (or reuse) engines for the profile's precisions, `precision` for every component,
    or the `wanted` (component, precision) pairs, for the profile's shape ranges or `ranges`."""
    from edgegen.export.tensorrt_build import build_engine, require_tensorrt
    from edgegen.profiles import load_profile
    from edgegen.system.gpu import cuda_device

    folder = Path(folder)
    profile = load_profile(profile_name)
    manifest = load_manifest(folder_path(folder, ArtifactKind.MANIFEST))
    artifacts = select_artifacts(manifest, profile, precision, wanted)
    for art in artifacts:
        if (why := verify_artifact(folder, art)) is not None:
            raise ArtifactError(f"cannot build from {folder}: {why}", hint="re-run `edgegen export`")
    result = BuildResult(folder, conformance=check_int8_artifacts(folder, artifacts))
    trt = require_tensorrt()
    device = cuda_device(gpu_index)
    gtag = gpu_tag(device.name, device.compute_capability, trt.__version__)
    batch, res = ranges or profile_ranges(profile)
    timing = folder_path(folder, ArtifactKind.TIMING_CACHE, gpu_tag=gtag)
    records = load_engine_manifest(folder)
    for art in artifacts:
        shapes = trt_input_shapes(art, batch, res)
        spec = EngineSpec(
            art.sha256,
            art.actual_precision,
            shapes,
            trt.__version__,
            device.name,
            device.compute_capability,
            optimization_level,
        )
        tag = shape_tag(batch, res)
        engine = folder_path(folder, ArtifactKind.ENGINE, art.component, art.precision, tag, gtag)
        workspace = workspace_gb(profile.memory_budget_gb, _resident_bytes(folder, manifest, art, batch[2], res[2]))
        built = build_engine(folder / art.file, engine, spec, timing, workspace)
        label = f"{art.component.value}.{art.precision.value}"
        result.engines[label] = built
        file = str(engine.relative_to(folder))
        prior = next((e for e in records.engines if e.file == file and e.cache_key == built.cache_key), None)
        if built.reused and prior is not None:
            continue  # recorded when it was built
        records = records.with_record(
            EngineRecord(
                component=art.component,
                precision=art.precision,
                actual_precision=art.actual_precision,
                file=file,
                onnx_file=art.file,
                onnx_sha256=art.sha256,
                gpu_name=device.name,
                compute_capability=device.compute_capability,
                trt_version=trt.__version__,
                shape_tag=tag,
                image_batch=batch,
                resolution=res,
                shapes={k: [list(s) for s in v] for k, v in shapes.items()},
                cache_key=built.cache_key,
                optimization_level=optimization_level,
                workspace_gb=workspace,
                int8_scheme=(art.int8 or {}).get("scheme") if art.actual_precision is Precision.INT8 else None,
                built=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                seconds=round(built.seconds, 2),
            )
        )
        # Written after every engine: an interrupted build still records what it finished.
        result.engine_manifest = save_engine_manifest(folder, records)
    return result


def _resident_bytes(folder: Path, manifest, art, max_batch: int, max_side: int) -> int:
    """The engine's weights (its graph's bytes) + its activations at the profile's largest shape,
    sized on the fp32 graph (`edgegen.export.activation_memory`)."""
    from edgegen.export.activation_memory import activation_peak_bytes
    from edgegen.export.shape_profiles import needed_shapes
    from edgegen.types import Precision

    fp32 = manifest.find(art.component, Precision.FP32) or art
    try:
        return art.bytes + activation_peak_bytes(folder / fp32.file, needed_shapes(fp32, max_batch, max_side))
    except ArtifactError:
        return art.bytes
