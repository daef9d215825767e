"""A CSV manifest with `path,label` columns (paths relative to the CSV's folder or absolute)."""

from __future__ import annotations

import csv
from pathlib import Path

from edgegen.data.decode import decode_many
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError


def load_csv_manifest(csv_path: Path, size: int, class_names: tuple[str, ...] | None = None) -> ImageSet:
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise DataError(f"CSV manifest {csv_path} does not exist")
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: not a readable CSV ({exc})") from exc
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise DataError(
            f"{csv_path}: needs a header with 'path' and 'label' columns", hint="e.g. path,label then img1.png,normal"
        )
    unlabeled = [i + 2 for i, r in enumerate(rows) if not (r.get("label") or "").strip()]
    if unlabeled:
        raise DataError(
            f"{csv_path}: {len(unlabeled)} row(s) have no label (first at line {unlabeled[0]})", hint="label every row"
        )
    classes = class_names or tuple(sorted({r["label"].strip() for r in rows}))
    unknown = sorted({r["label"].strip() for r in rows} - set(classes))
    if unknown:
        raise DataError(f"{csv_path}: labels {unknown} are not among the classes {list(classes)}")
    items = []
    for r in rows:
        p = Path(r["path"].strip())
        items.append((p if p.is_absolute() else csv_path.parent / p, classes.index(r["label"].strip())))
    images, labels, skipped = decode_many(items, size)
    return ImageSet(images, labels, classes, str(csv_path), skipped)
