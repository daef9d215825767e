"""`generate_images`: N images per class, written with provenance, resumable after any crash.

Every image has a planned file name and seed. A re-run keeps each image that is on disk with the
sha256 its manifest line records (for the same settings) and generates only the rest; the
manifest is compacted first, so it ends with exactly one line per image. `resume`, `render` and
`commit` are the pieces `edgegen.distributed` reuses: workers render, the one driver commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.atomic import atomic_write_bytes
from edgegen.errors import UsageError
from edgegen.hashing import sha256_bytes
from edgegen.runtime.provenance import append_line, dicom_bytes, png_bytes, read_lines, rewrite_lines

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class PlannedImage:
    index: int
    class_name: str  # the condition's name: a class, a finding, or findings joined with '+'
    prompt: str
    seed: int
    file: str  # relative to the output folder
    population: str = ""
    findings: tuple[str, ...] = ()

    def tags(self) -> dict:
        """What the PNG chunks and the manifest record about the condition."""
        out = {"class": self.class_name, "prompt": self.prompt, "seed": self.seed}
        if self.population:
            out["population"] = self.population
        if self.findings:
            out["findings"] = list(self.findings)
        return out


@dataclass(frozen=True)
class GenerateSettings:
    steps: int
    guidance_scale: float
    scheduler: str
    size: int
    batch_size: int = 1
    negative_prompt: str = ""
    dicom: bool = False
    tiled_decode: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise UsageError(f"--steps {self.steps} must be ≥ 1")
        if self.guidance_scale < 0:
            raise UsageError(f"--guidance {self.guidance_scale} must be ≥ 0")
        if self.batch_size < 1 or self.size < 8:
            raise UsageError(f"--batch-size {self.batch_size} must be ≥ 1 and --size {self.size} ≥ 8")


@dataclass
class GenerateResult:
    out_dir: Path
    generated: int
    skipped: int
    seconds: float
    images_per_s: float
    unet_step_s: list[float] = field(default_factory=list)


def plan(conditions: list, per_class: int, template: str, seed: int) -> list[PlannedImage]:
    """`per_class` images per condition (a class name, or an `edgegen.conditions.Condition`),
    each with its own seed (seed + its index) and file name."""
    from edgegen.conditions import Condition

    if "{class}" not in template and "{findings}" not in template:
        raise UsageError(f"prompt template {template!r} has neither a {{class}} nor a {{findings}} placeholder")
    if per_class < 1 or not conditions:
        raise UsageError("nothing to generate", hint="pass --class NAME and --n N ≥ 1 (or --per-class N)")
    out = []
    for ci, cond in enumerate(conditions):
        cond = cond if isinstance(cond, Condition) else Condition(str(cond))
        safe = cond.safe_name
        for k in range(per_class):
            index = ci * per_class + k
            out.append(
                PlannedImage(
                    index,
                    cond.name,
                    cond.prompt(template),
                    seed + index,
                    f"{safe}/{safe}_{k:05d}_s{seed + index}.png",
                    cond.population,
                    cond.findings,
                )
            )
    return out


def run_key(facts: dict, settings: GenerateSettings, prompt: str) -> str:
    blob = json.dumps({"facts": facts, "settings": settings.__dict__, "prompt": prompt}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderedImage:
    """One generated image, ready to commit: its PNG (and DICOM) bytes and its manifest line."""

    file: str
    png: bytes
    record: dict
    dicom: bytes | None = None


def resume(
    out_dir: Path, facts: dict, items: list[PlannedImage], settings: GenerateSettings
) -> tuple[dict[str, dict], list[PlannedImage]]:
    """(the manifest lines kept, by file; the images still to generate). An image is kept when its
    file is on disk with the sha256 its line records, for the same settings; the manifest is
    compacted to the kept lines (and lines of files not planned here)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.rglob(".*.tmp"):  # a killed writer's half-written temp file (one writer per folder)
        stale.unlink(missing_ok=True)
    manifest = out_dir / MANIFEST
    wanted = {it.file: it for it in items}
    keep: dict[str, dict] = {}
    records = read_lines(manifest)
    for rec in records:
        it = wanted.get(rec.get("file"))
        path = out_dir / rec.get("file", "")
        if (
            it
            and rec.get("run_key") == run_key(facts, settings, it.prompt)
            and path.is_file()
            and sha256_bytes(path.read_bytes()) == rec.get("sha256")
        ):
            keep[rec["file"]] = rec  # the last valid line per file wins
    others = [r for r in records if r.get("file") not in wanted]
    rewrite_lines(manifest, others + [keep[f] for f in sorted(keep)])
    return keep, [it for it in items if it.file not in keep]


def render(
    it: PlannedImage, image, facts: dict, pipe_tags: dict, settings: GenerateSettings, seconds: float
) -> RenderedImage:
    """Encode one image with its provenance tags; no file is touched (a Ray worker renders, the
    driver commits)."""
    tags = {**facts, **it.tags(), **pipe_tags}
    data = png_bytes(image, tags)
    digest = sha256_bytes(data)
    record = {
        **tags,
        "seconds": round(seconds, 6),  # generation time per image (batch share)
        "file": it.file,
        "sha256": digest,
        "run_key": run_key(facts, settings, it.prompt),
        "synthetic": True,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    dicom = None
    if settings.dicom:
        dicom = dicom_bytes(image, {**tags, "sha256": digest})
        record["dicom"] = str(Path(it.file).with_suffix(".dcm"))
    return RenderedImage(it.file, data, record, dicom)


def commit(out_dir: Path, rendered: RenderedImage) -> None:
    """Image file(s) first, atomically, then the manifest line: a crash between the two leaves an
    image that `resume` regenerates, never a line without its image."""
    out_dir = Path(out_dir)
    atomic_write_bytes(out_dir / rendered.file, rendered.png)
    if rendered.dicom is not None:
        atomic_write_bytes(out_dir / rendered.record["dicom"], rendered.dicom)
    append_line(out_dir / MANIFEST, rendered.record)


def generate_images(
    pipe,
    facts: dict,
    items: list[PlannedImage],
    settings: GenerateSettings,
    out_dir: Path,
    progress: Callable[[int, int, float], None] | None = None,
) -> GenerateResult:
    """`pipe`: a diffusion (Text2ImagePipeline) or GAN (GanPipeline) pipeline."""
    out_dir = Path(out_dir)
    keep, todo = resume(out_dir, facts, items, settings)
    start = time.perf_counter()
    done = 0
    step_times: list[float] = []
    for i in range(0, len(todo), settings.batch_size):
        batch = todo[i : i + settings.batch_size]
        result = pipe.generate(batch, settings)
        step_times += result.timings.unet_steps_s
        share = result.timings.total_s / len(batch)
        for it, image in zip(batch, result.images, strict=True):
            commit(out_dir, render(it, image, facts, pipe.tags(settings), settings, share))
            done += 1
        if progress:
            elapsed = time.perf_counter() - start
            progress(len(keep) + done, len(items), done / elapsed if elapsed > 0 else 0.0)
    seconds = time.perf_counter() - start
    return GenerateResult(
        out_dir, done, len(keep), seconds, done / seconds if seconds > 0 and done else 0.0, step_times
    )
