"""CheXpert / MIMIC-CXR-JPG style CSVs: a path column and one column per finding, valued 1
(positive), 0 (negative), -1 (uncertain) or blank (not mentioned).

Columns are checked against edgegen/assets/findings.yaml: a finding column the mapping does not
know, or a value outside {1, 0, -1, blank}, is an error naming the file, column and value (a typo
must not become an all-negative label). Uncertain labels follow the policy (ones/zeros/ignore).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgegen.data.decode import decode_many
from edgegen.data.findings import NO_FINDING, UncertainPolicy, load_findings_map
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError

PATH_COLUMNS = ("Path", "path", "file", "filename")
_VALUES = {"1": 1.0, "1.0": 1.0, "0": 0.0, "0.0": 0.0, "-1": -1.0, "-1.0": -1.0, "": np.nan}


def looks_like_findings_csv(header: list[str]) -> bool:
    fmap = load_findings_map()
    known = fmap.source_columns("chexpert") | fmap.source_columns("nih")
    return "label" not in header and any(h in known for h in header)


def label_vocabulary(csv_path: Path, header: list[str], fmap) -> str:
    """'nih' or 'chexpert', from the columns only one of them has (Atelectasis, Cardiomegaly and
    No Finding are in both; Effusion / Infiltration are NIH's, Pleural Effusion / Lung Opacity
    CheXpert's). A CSV with columns exclusive to each is refused: its labels would be ambiguous."""
    nih, chexpert = fmap.source_columns("nih"), fmap.source_columns("chexpert")
    nih_only = [c for c in header if c in nih and c not in chexpert]
    chexpert_only = [c for c in header if c in chexpert and c not in nih]
    if nih_only and chexpert_only:
        raise DataError(
            f"{csv_path}: columns {nih_only[0]!r} (NIH) and {chexpert_only[0]!r} (CheXpert) mix two label vocabularies",
            hint="use one vocabulary's column names",
        )
    return "nih" if nih_only else "chexpert"


def load_findings_csv(
    csv_path: Path, size: int, policy: UncertainPolicy = UncertainPolicy.ZEROS, findings_map: str | None = None
) -> ImageSet:
    csv_path = Path(csv_path).expanduser()
    fmap = load_findings_map(findings_map)
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"CSV {csv_path} does not exist") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: not a readable CSV ({exc})") from exc
    path_col = next((c for c in PATH_COLUMNS if c in header), None)
    if path_col is None:
        raise DataError(f"{csv_path}: no path column", hint=f"name one of {', '.join(PATH_COLUMNS)}")
    vocab = label_vocabulary(csv_path, header, fmap)
    finding_cols = [c for c in header if c in fmap.source_columns(vocab)]
    unknown = [c for c in header if c != path_col and c not in finding_cols and c not in fmap.metadata_columns]
    if unknown:
        raise DataError(
            f"{csv_path}: column {unknown[0]!r} is neither a finding in {fmap.path} nor known metadata",
            hint="rename it, drop it, or add it to the findings map (--findings-map)",
        )
    if not rows:
        raise DataError(f"{csv_path}: no rows")
    columns: dict[str, np.ndarray] = {}
    for col in finding_cols:
        values = np.empty(len(rows), np.float32)
        for i, row in enumerate(rows):
            raw = (row.get(col) or "").strip()
            if raw not in _VALUES:
                raise DataError(f"{csv_path}: line {i + 2}, column {col!r}: value {raw!r} is not 1, 0, -1 or blank")
            values[i] = _VALUES[raw]
        columns[col] = values
    findings, names = fmap.combine(columns, vocab, policy)
    if not names:
        raise DataError(
            f"{csv_path}: none of its columns feeds a mapped finding", hint=f"mapped: {', '.join(fmap.names)}"
        )
    items = []
    for i, row in enumerate(rows):
        p = Path((row[path_col] or "").strip())
        items.append((p if p.is_absolute() else csv_path.parent / p, i))
    images, kept, skipped = decode_many(items, size)
    findings = findings[kept]
    normal = (
        findings[:, names.index(NO_FINDING)]
        if NO_FINDING in names
        else (np.nansum(findings, axis=1) == 0).astype(np.float32)
    )
    labels = (normal != 1).astype(np.int64)
    patients = None
    pid_col = next((c for c in ("patient_id", "Patient ID", "subject_id") if c in header), None)
    if pid_col:
        patients = np.array([f"{csv_path.stem}:{rows[i][pid_col]}" for i in kept])
    return ImageSet(images, labels, ("normal", "abnormal"), str(csv_path), skipped, findings, names, patients)
