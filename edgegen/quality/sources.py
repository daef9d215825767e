"""Images to judge, with the condition each was made for.

A synthetic folder from `edgegen generate`, `edgegen dalle` or `train-gan`/GAN generation holds
`<condition>/<image>.png` and a `manifest.jsonl` whose lines record each file's class,
population and findings; a user's folder of class sub-folders works without a manifest (the
sub-folder is the condition); a flat folder is one condition, "all". Unreadable and non-image
files are reported and skipped. Pure I/O and bookkeeping: no models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgegen.conditions import Condition
from edgegen.data.decode import IMAGE_SUFFIXES, decode_image
from edgegen.data.imageset import ImageSet, Skipped
from edgegen.errors import DataError

MANIFEST = "manifest.jsonl"
ALL = "all"  # the one condition of a flat folder


@dataclass
class ImagePool:
    """Images [N, H, W] uint8 with one Condition each (and optional patient groups)."""

    images: np.ndarray
    conditions: list[Condition]
    source: str
    skipped: list[Skipped] = field(default_factory=list)
    groups: np.ndarray | None = None
    records: list[dict] = field(default_factory=list)  # manifest lines per image, when known
    files: list[str] = field(default_factory=list)  # path per image, relative to the folder, when known

    def names(self) -> list[str]:
        return list(dict.fromkeys(c.name for c in self.conditions))

    def of(self, name: str) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.conditions) if c.name == name], dtype=np.int64)

    def condition(self, name: str) -> Condition:
        return next(c for c in self.conditions if c.name == name)


def _manifest_records(folder: Path) -> dict[str, dict]:
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run
        if isinstance(rec, dict) and "file" in rec:
            out[rec["file"]] = rec
    return out


def load_image_pool(
    folder: Path, size: int, wanted: list[str] | None = None, require_manifest: bool = False
) -> ImagePool:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    records = _manifest_records(folder)
    if require_manifest and not records:
        raise DataError(
            f"{folder} has no {MANIFEST}",
            hint="synthetic folders come from `edgegen generate`, `edgegen dalle` or a GAN run",
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST and not p.name.startswith("."))
    images, conds, skipped, recs, rels = [], [], [], [], []
    for p in files:
        rel = p.relative_to(folder).as_posix()
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            if p.suffix.lower() not in (".json", ".jsonl", ".txt", ".md", ".csv"):
                skipped.append(Skipped(str(p), f"not an image ({p.suffix or 'no suffix'})"))
            continue
        if p.suffix.lower() in (".dcm", ".dicom") and rel.rsplit(".", 1)[0] + ".png" in records:
            continue  # the DICOM twin of a generated PNG
        rec = records.get(rel, {})
        name = rec.get("class") or (p.parent.name if p.parent != folder else ALL)
        if wanted and name not in wanted:
            continue
        try:
            images.append(decode_image(p, size))
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(str(p), str(exc)))
            continue
        conds.append(Condition(name, rec.get("population", ""), tuple(rec.get("findings", ()))))
        recs.append(rec)
        rels.append(rel)
    if not images:
        raise DataError(
            f"{folder}: no readable images" + (f" of {wanted}" if wanted else ""),
            hint=f"supported: {', '.join(IMAGE_SUFFIXES)}",
        )
    return ImagePool(np.stack(images), conds, str(folder), skipped, None, recs, rels)


def synthetic_pool(spec: str | Path, size: int, wanted: list[str] | None = None, split: str = "test") -> ImagePool:
    """A folder of images (see load_image_pool), or any DATA spec the loaders read (an embedded
    set, a .csv, a .npz) as a pool labelled by class."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_image_pool(path, size, wanted)
    from edgegen.data.load import load_dataset

    pool = pool_from_imageset(load_dataset(str(spec), split, size))
    if wanted:
        keep = [i for i, c in enumerate(pool.conditions) if c.name in wanted]
        if not keep:
            raise DataError(f"{spec}: no images of {wanted}")
        pool = ImagePool(
            pool.images[keep],
            [pool.conditions[i] for i in keep],
            pool.source,
            pool.skipped,
            None if pool.groups is None else pool.groups[keep],
        )
    return pool


def pool_from_imageset(data: ImageSet) -> ImagePool:
    """A real set as a pool: each image's condition is its class (population from metadata)."""
    pops = data.meta.get("population") if data.meta else None
    conds = []
    for i in range(len(data)):
        findings = ()
        if data.is_multilabel:
            findings = tuple(n for j, n in enumerate(data.finding_names) if data.findings[i, j] == 1)
        conds.append(Condition(data.class_names[data.labels[i]], str(pops[i]) if pops is not None else "", findings))
    return ImagePool(data.images, conds, data.source, list(data.skipped), data.patient_ids)


def match_real(real: ImageSet, cond: Condition) -> tuple[np.ndarray, str]:
    """Indices of the real images that show `cond` (its class, else all its findings), in its
    population when both sides know populations; with how they were matched."""
    keep = np.ones(len(real), bool)
    how = []
    if cond.population and real.meta and "population" in real.meta:
        keep &= real.meta["population"] == cond.population
        how.append(f"population {cond.population}")
    if cond.name == ALL and not cond.findings:  # a flat folder: judged against every real image
        how.insert(0, "all real images")
    elif cond.name in real.class_names:
        keep &= real.labels == real.class_names.index(cond.name)
        how.insert(0, f"class {cond.name}")
    elif cond.findings and real.is_multilabel and all(f in real.finding_names for f in cond.findings):
        for f in cond.findings:
            keep &= real.findings[:, real.finding_names.index(f)] == 1
        how.insert(0, "findings " + "+".join(cond.findings))
    else:
        return np.array([], dtype=np.int64), f"no real images of {cond.name!r} in {real.source}"
    return np.flatnonzero(keep), ", ".join(how)
