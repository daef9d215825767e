"""A study's synthetic sources: a folder read through its manifest.jsonl (edge diffusion at any
backend/precision, the GAN, a cloud folder from `edgegen dalle`), or generated on demand into the
study folder (resumable: `generate` keeps what is already there).

Each source becomes an ImageSet labelled from its manifest (class, findings) plus what it cost:
seconds per image (local) or USD per image (cloud), so the report can put utility per dollar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError
from edgegen.runtime.provenance import read_lines

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class SourceCost:
    images: int
    seconds_per_image: float | None  # generation time (local sources)
    usd_per_image: float | None  # cloud: billed; local: None (costed from the profile in the report)
    model: str
    backend: str
    precision: str


@dataclass(frozen=True)
class Source:
    name: str
    folder: Path
    data: ImageSet
    cost: SourceCost


def load_source(
    name: str, folder: Path, size: int, class_names: tuple[str, ...], finding_names: tuple[str, ...]
) -> Source:
    """Images of `folder` labelled by its manifest; classes the real set lacks are an error."""
    from edgegen.data.decode import decode_image

    folder = Path(folder)
    records = [r for r in read_lines(folder / MANIFEST) if "file" in r]
    if not records:
        raise DataError(
            f"source {name}: {folder} has no {MANIFEST}",
            hint="synthetic folders come from `edgegen generate`, `edgegen dalle` or a GAN run",
        )
    unknown = (
        sorted({r.get("class", "") for r in records} - set(class_names) - {""})
        if class_names and not finding_names
        else []
    )
    if unknown:
        raise DataError(
            f"source {name}: classes {unknown} are not classes of the real data ({', '.join(class_names)})",
            hint="generate the real set's classes, or choose --classes",
        )
    images, labels, findings, skipped, kept_records = [], [], [], 0, []
    for r in records:
        path = folder / r["file"]
        try:
            images.append(decode_image(path, size))
        except (ValueError, OSError):
            skipped += 1
            continue
        kept_records.append(r)
        cls = r.get("class", "")
        if cls in class_names:
            labels.append(class_names.index(cls))
        elif finding_names and {"normal", "abnormal"} <= set(class_names):
            labels.append(
                class_names.index("normal" if list(r.get("findings") or []) == ["no_finding"] else "abnormal")
            )
        else:
            labels.append(-1)
        row = np.zeros(len(finding_names), np.float32)
        for f in r.get("findings") or []:
            if f in finding_names:
                row[finding_names.index(f)] = 1.0
        findings.append(row)
    if not images:
        raise DataError(f"source {name}: none of the {len(records)} images in {folder} could be read")
    labels = np.asarray(labels, np.int64)
    keep = labels >= 0 if not finding_names else np.ones(len(labels), bool)
    # local sources: generation seconds per image; cloud (edgegen dalle): the request's latency
    seconds = [
        float(r.get("seconds", r.get("latency_s")))
        for r in records
        if isinstance(r.get("seconds", r.get("latency_s")), int | float)
    ]
    usd = [float(r["cost_usd"]) for r in records if isinstance(r.get("cost_usd"), int | float)]
    first = records[0]
    precisions = first.get("precisions")
    precision = (
        (precisions.get("unet") or precisions.get("generator"))
        if isinstance(precisions, dict)
        else str(first.get("precision", ""))
    )
    data = ImageSet(
        np.stack(images)[keep],
        np.where(labels[keep] < 0, 0, labels[keep]),
        class_names or ("synthetic",),
        f"{name}:{folder}",
        findings=np.stack(findings)[keep] if finding_names else None,
        finding_names=tuple(finding_names),
        patient_ids=np.array([f"{name}#{i}" for i in range(int(keep.sum()))]),
        meta={"condition": np.array([r.get("class", "") for r, ok in zip(kept_records, keep, strict=True) if ok])},
    )
    cost = SourceCost(
        len(data),
        float(np.mean(seconds)) if seconds else None,
        float(np.mean(usd)) if usd else None,
        str(first.get("model", "")),
        str(first.get("backend", "cloud" if usd else "")),
        str(precision or ""),
    )
    if skipped:
        import sys

        print(f"edgegen: warning: source {name}: skipped {skipped} unreadable image(s)", file=sys.stderr)
    return Source(name, folder, data, cost)


def _source_config(prof, spec):
    """The run config of an on-demand source: `precision` is the denoiser's (UNet, or the GAN's
    generator), every other component FP32 — as the bench's sd/<backend>/int8 legs run."""
    from dataclasses import replace

    from edgegen.cli.run import run_config
    from edgegen.types import Component, Precision

    config = run_config(prof, spec.backend, None, None)
    p = Precision(spec.precision)
    precisions = {c: (p if c in (Component.UNET, Component.GENERATOR) else Precision.FP32) for c in Component}
    return replace(config, precisions=precisions)


def _ensure_export(spec, prof, config) -> Path | None:
    """The export folder the source runs from, exporting (additively) what it lacks first."""
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT, ArtifactKind, artifact_path, load_manifest
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.models.source import resolve_model
    from edgegen.types import Backend, Component, Precision

    if config.backend is Backend.TORCH:
        return None
    source = resolve_model(spec.model)
    folder = artifact_path(DEFAULT_EXPORT_ROOT, source.name, prof.name, ArtifactKind.MANIFEST).parent
    needed = {(c, config.precisions[c]) for c in (Component.UNET, Component.GENERATOR)}
    have = set()
    if (folder / "manifest.json").is_file():
        have = {(a.component, a.precision) for a in load_manifest(folder / "manifest.json").components}
    p = config.precisions[Component.UNET]
    if not needed & have:
        export_model(
            ExportRequest(
                model=spec.model,
                profile=prof.name,
                out_root=DEFAULT_EXPORT_ROOT,
                precisions=tuple(dict.fromkeys((Precision.FP32, p))),
                classifier=None if source.family == "gan" else "default",
                openvino=config.backend is Backend.OPENVINO and p is Precision.INT8,
            )
        )
    return folder


def generate_source(
    name: str, spec, out_dir: Path, conditions: list[str] | None, findings: list[str] | None, progress=None
) -> Path:
    """Run `generate` for a source spec into out_dir (resumable; nothing is redone); exports the
    model first when the export it needs is missing."""
    from edgegen.conditions import resolve_conditions
    from edgegen.profiles import load_profile
    from edgegen.runtime.generate import GenerateSettings, generate_images, plan
    from edgegen.runtime.loader import open_pipeline

    prof = load_profile(spec.profile)
    config = _source_config(prof, spec)
    artifacts = _ensure_export(spec, prof, config)
    pipe, facts = open_pipeline(config, prof.generation.scheduler, model=spec.model, artifacts=artifacts)
    try:
        vocab = pipe.info.vocabulary()
        conds = resolve_conditions(vocab, conditions, findings, None)
        side = (
            pipe.config.resolution
            if pipe.family == "gan"
            else (pipe.info.native_resolution or prof.generation.resolution)
        )
        settings = GenerateSettings(
            spec.steps or prof.generation.steps,
            prof.generation.guidance_scale if spec.guidance is None else spec.guidance,
            prof.generation.scheduler.value,
            side,
            prof.generation.batch,
        )
        items = plan(conds, spec.per_class, vocab.template, spec.seed)
        generate_images(
            pipe, {**facts, "backend": config.backend.value, "study_source": name}, items, settings, out_dir, progress
        )
    finally:
        pipe.release()
    (out_dir / "source.json").write_text(json.dumps({"name": name, "spec": spec.__dict__}, indent=2))
    return out_dir
