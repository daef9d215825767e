"""`create_study`: load the real and synthetic sources, pick a balanced blinded set and write the
study folder in one atomic step (a failure leaves nothing behind).

Every image is decoded to pixels and re-encoded as a plain PNG (see `blinding.plain_png`), so
no provenance chunk, EXIF block or DICOM tag reaches the served bytes; all images share one size
so resolution tells nothing either. The answer key goes to key.json (mode 0600), which the server
never serves.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_dir, atomic_write_json
from edgegen.errors import UsageError
from edgegen.reader.blinding import Candidate, Pick, plain_png, plan_study, question_finding
from edgegen.reader.layout import REAL, SCHEMA_VERSION, SYNTHETIC, KeyEntry, StudyImage, StudyInfo, StudyLayout

SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
DETAIL_KEYS = ("model", "backend", "precision", "seed", "steps", "scheduler", "guidance", "prompt", "sha256")


@dataclass(frozen=True)
class SyntheticSource:
    name: str
    folder: Path


@dataclass(frozen=True)
class CreateRequest:
    study: Path
    real: str  # an embedded dataset spec (default, kermany-128, nih-cxr14-128...) or a folder
    synthetic: tuple[SyntheticSource, ...]
    per_source: int = 50
    real_n: int | None = None  # default: per_source × number of synthetic sources
    findings: bool = False
    second_trial: bool = False
    size: int = 128
    split: str = "test"
    seed: int = 0
    readers: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreatedStudy:
    study: Path
    n_images: int
    counts: dict[str, int]
    finding_questions: dict[str, int]
    admin_token: str
    reader_tokens: dict[str, str]
    skipped: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoadedSource:
    name: str
    truth: str
    images: np.ndarray
    candidates: list[Candidate]
    entries: list[KeyEntry]
    described_as: str
    skipped: int


def parse_synthetic(specs: list[str]) -> tuple[SyntheticSource, ...]:
    """NAME=DIR pairs → sources; malformed, reserved or duplicate names are usage errors."""
    out: list[SyntheticSource] = []
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not folder.strip():
            raise UsageError(f"--synthetic {spec!r} is not NAME=DIR", hint="e.g. --synthetic fp32=synth/fp32")
        if not SOURCE_NAME.fullmatch(name):
            raise UsageError(f"source name {name!r} must be 1-40 letters, digits, '.', '_' or '-'")
        if name.lower() == REAL:
            raise UsageError("'real' is reserved for the --real images", hint="name the synthetic source otherwise")
        if any(s.name == name for s in out):
            raise UsageError(f"source name {name!r} is given twice", hint="each --synthetic needs its own NAME")
        out.append(SyntheticSource(name, Path(folder).expanduser()))
    if not out:
        raise UsageError(
            "no --synthetic NAME=DIR given", hint="a study compares real images with at least one synthetic source"
        )
    return tuple(out)


def _details(record: dict) -> dict[str, str]:
    return {k: str(record[k]) for k in DETAIL_KEYS if k in record}


def load_real(spec: str, split: str, size: int) -> LoadedSource:
    from edgegen.data.load import is_split_aware, load_dataset
    from edgegen.quality.sources import load_image_pool, pool_from_imageset

    path = Path(spec).expanduser()
    if path.is_dir():
        pool = load_image_pool(path, size)
        origins = pool.files
        described = str(path)
    else:
        data = load_dataset(spec, split, size)
        pool = pool_from_imageset(data)
        origins = [f"{spec}:{split if is_split_aware(spec) else 'all'}#{i}" for i in range(len(data))]
        described = data.source
    return _as_source(REAL, REAL, pool, origins, [{}] * len(pool.images), described)


def load_synthetic(source: SyntheticSource, size: int) -> LoadedSource:
    from edgegen.quality.sources import load_image_pool

    pool = load_image_pool(source.folder, size)
    records = pool.records or [{}] * len(pool.images)
    return _as_source(source.name, SYNTHETIC, pool, pool.files, records, str(source.folder))


def _as_source(name: str, truth: str, pool, origins: list[str], records: list[dict], described: str) -> LoadedSource:
    candidates = [Candidate(name, i, c.name, tuple(c.findings)) for i, c in enumerate(pool.conditions)]
    entries = [
        KeyEntry(
            truth,
            name,
            c.name,
            c.population,
            list(c.findings),
            origins[i] if i < len(origins) else f"#{i}",
            _details(records[i]),
        )
        for i, c in enumerate(pool.conditions)
    ]
    return LoadedSource(name, truth, pool.images, candidates, entries, described, len(pool.skipped))


def _check_request(req: CreateRequest) -> None:
    if req.study.exists():
        raise UsageError(f"{req.study} already exists", hint="a study folder is written once; choose a new path")
    if req.per_source < 1 or (req.real_n is not None and req.real_n < 1):
        raise UsageError("--per-source and --real-n must be at least 1")
    if not 16 <= req.size <= 2048:
        raise UsageError(f"--size {req.size} is outside 16-2048 px")
    if req.split not in ("train", "val", "test"):
        raise UsageError(f"unknown --split {req.split!r}", hint="use train, val or test")


def create_study(req: CreateRequest) -> CreatedStudy:
    """Validate everything, load every source, then write the study folder atomically."""
    from edgegen.data.findings import load_findings_map
    from edgegen.reader.store import Store

    _check_request(req)
    sources = [load_real(req.real, req.split, req.size), *(load_synthetic(s, req.size) for s in req.synthetic)]
    by_name = {s.name: s for s in sources}
    counts = {
        REAL: req.real_n or req.per_source * len(req.synthetic),
        **{s.name: req.per_source for s in req.synthetic},
    }
    picks = plan_study({s.name: s.candidates for s in sources}, counts, req.seed)
    fmap = load_findings_map()
    questions = {
        p.image_id: question_finding(p.candidate.class_name, p.candidate.findings, fmap) if req.findings else None
        for p in picks
    }
    info = StudyInfo(
        req.study.name,
        dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        req.size,
        req.seed,
        req.second_trial,
        req.findings,
        [StudyImage(i, questions[i]) for i in sorted(questions)],
    )
    with atomic_dir(req.study) as tmp:
        layout = StudyLayout(tmp)
        layout.images.mkdir()
        for p in picks:
            layout.image(p.image_id).write_bytes(plain_png(by_name[p.candidate.source].images[p.candidate.index]))
        atomic_write_json(layout.study_json, info)
        _write_key(layout, picks, by_name)
        store = Store.create(layout.database)
        admin = store.set_admin_token()
        reader_tokens = {name: store.add_reader(name) for name in req.readers}
        store.close()
    per_source = {name: sum(p.candidate.source == name for p in picks) for name in counts}
    asked = {
        name: sum(p.candidate.source == name and questions[p.image_id] is not None for p in picks) for name in counts
    }
    return CreatedStudy(
        req.study,
        len(picks),
        per_source,
        asked,
        admin,
        reader_tokens,
        sum(s.skipped for s in sources),
        _warnings(req, per_source, asked, sources),
    )


def _write_key(layout: StudyLayout, picks: list[Pick], by_name: dict[str, LoadedSource]) -> None:
    key = {
        "schema_version": SCHEMA_VERSION,
        "sources": {
            name: {"truth": s.truth, "from": s.described_as, "images": sum(p.candidate.source == name for p in picks)}
            for name, s in by_name.items()
        },
        "images": {
            p.image_id: by_name[p.candidate.source].entries[p.candidate.index]
            for p in sorted(picks, key=lambda p: p.image_id)
        },
    }
    atomic_write_json(layout.key_json, key)
    os.chmod(layout.key_json, 0o600)


def _warnings(
    req: CreateRequest, counts: dict[str, int], asked: dict[str, int], sources: list[LoadedSource]
) -> list[str]:
    out = []
    skipped = sum(s.skipped for s in sources)
    if skipped:
        out.append(f"skipped {skipped} unreadable or non-image file(s) while loading the sources")
    if req.findings:
        real_rate = asked[REAL] / max(counts[REAL], 1)
        synth = sum(v for k, v in asked.items() if k != REAL) / max(sum(v for k, v in counts.items() if k != REAL), 1)
        if abs(real_rate - synth) > 0.2:
            out.append(
                f"the finding question is asked of {real_rate:.0%} of real and "
                f"{synth:.0%} of synthetic images: the question itself hints at the source"
            )
    return out
