"""`ImageSet`: decoded grayscale images, class labels, optional multi-label findings, patient IDs
and per-image metadata (view, population), plus what was skipped while loading."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from edgegen.errors import DataError


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # uint8 [N, H, W]
    labels: np.ndarray  # int64 [N], index into class_names
    class_names: tuple[str, ...]
    source: str  # where it came from, for cards and reports
    skipped: tuple[Skipped, ...] = field(default=())
    # Multi-label findings (edgegen/assets/findings.yaml names): float32 [N, F], 1 present,
    # 0 absent, NaN unknown / uncertain-ignored (masked in losses and metrics).
    findings: np.ndarray | None = None
    finding_names: tuple[str, ...] = ()
    patient_ids: np.ndarray | None = None  # str [N]; prefixed by dataset, so sets merge disjointly
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # per-image: "population", "view", ...

    def __post_init__(self) -> None:
        if len(self.images) == 0:
            raise DataError(
                f"{self.source}: no usable images" + _skipped_note(self.skipped),
                hint="check the path and the file formats",
            )
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DataError(
                f"{self.source}: images must be uint8 [N, H, W], got {self.images.dtype} {self.images.shape}"
            )
        if len(self.labels) != len(self.images):
            raise DataError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.class_names) < 2 and self.findings is None:
            raise DataError(
                f"{self.source}: needs at least two classes, found {list(self.class_names)}",
                hint="one sub-folder or label value per class",
            )
        if self.findings is not None and self.findings.shape != (len(self.images), len(self.finding_names)):
            raise DataError(
                f"{self.source}: findings {self.findings.shape} do not match "
                f"{len(self.images)} images × {len(self.finding_names)} names"
            )
        for key, values in [("patient_ids", self.patient_ids), *self.meta.items()]:
            if values is not None and len(values) != len(self.images):
                raise DataError(f"{self.source}: {key} has {len(values)} entries for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def is_multilabel(self) -> bool:
        return self.findings is not None and len(self.finding_names) > 0

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def finding_counts(self) -> dict[str, dict[str, int]]:
        """Per finding: positives, negatives and unknown (NaN) counts."""
        if not self.is_multilabel:
            return {}
        f = self.findings
        return {
            n: {
                "positive": int(np.nansum(f[:, i] == 1)),
                "negative": int(np.nansum(f[:, i] == 0)),
                "unknown": int(np.isnan(f[:, i]).sum()),
            }
            for i, n in enumerate(self.finding_names)
        }

    def content_hash(self) -> str:
        """sha256 over pixels, labels, class names and findings: identifies the data in model cards."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(self.labels.astype(np.int64).tobytes())
        h.update("\0".join(self.class_names).encode())
        if self.is_multilabel:
            h.update(np.nan_to_num(self.findings, nan=-9.0).astype(np.float32).tobytes())
            h.update("\0".join(self.finding_names).encode())
        return h.hexdigest()

    def subset(self, index: np.ndarray, source: str | None = None) -> ImageSet:
        index = np.asarray(index)
        return ImageSet(
            self.images[index],
            self.labels[index],
            self.class_names,
            source or self.source,
            self.skipped,
            None if self.findings is None else self.findings[index],
            self.finding_names,
            None if self.patient_ids is None else self.patient_ids[index],
            {k: v[index] for k, v in self.meta.items()},
        )

    def of_class(self, name: str) -> ImageSet:
        idx = self.class_names.index(name)
        return self.subset(np.flatnonzero(self.labels == idx), f"{self.source}[{name}]")

    def with_finding(self, name: str) -> ImageSet:
        """Images where finding `name` is present."""
        if name not in self.finding_names:
            raise DataError(
                f"{self.source} has no finding {name!r}", hint=f"it has: {', '.join(self.finding_names) or 'none'}"
            )
        col = self.findings[:, self.finding_names.index(name)]
        return self.subset(np.flatnonzero(col == 1), f"{self.source}[{name}]")

    def skipped_summary(self, first: int = 3) -> str:
        return _skipped_note(self.skipped, first).strip(" ;")


def _skipped_note(skipped: tuple[Skipped, ...], first: int = 3) -> str:
    if not skipped:
        return ""
    shown = ", ".join(f"{s.path} ({s.reason})" for s in skipped[:first])
    more = f" and {len(skipped) - first} more" if len(skipped) > first else ""
    return f"; skipped {len(skipped)} unreadable file(s): {shown}{more}"


def merge(sets: list[ImageSet], source: str) -> ImageSet:
    """Concatenate sets with the same image size, aligning class and finding names by name.

    A finding that one set lacks is unknown (NaN) for its images, not negative; metadata keys
    that only some sets have are filled with "".
    """
    names: list[str] = []
    for s in sets:
        names += [n for n in s.class_names if n not in names]
    sizes = {s.size for s in sets}
    if len(sizes) != 1:
        raise DataError(f"cannot merge image sets of sizes {sorted(sizes)}", hint="load them with the same --size")
    labels = [np.array([names.index(s.class_names[i]) for i in s.labels], dtype=np.int64) for s in sets]
    finding_names: list[str] = []
    for s in sets:
        finding_names += [n for n in s.finding_names if n not in finding_names]
    findings = None
    if finding_names:
        blocks = []
        for s in sets:
            block = np.full((len(s), len(finding_names)), np.nan, np.float32)
            for j, n in enumerate(s.finding_names):
                block[:, finding_names.index(n)] = s.findings[:, j]
            blocks.append(block)
        findings = np.concatenate(blocks)
    patients = None
    if any(s.patient_ids is not None for s in sets):
        patients = np.concatenate(
            [
                s.patient_ids.astype(str)
                if s.patient_ids is not None
                else np.array([f"{s.source}#{i}" for i in range(len(s))])
                for s in sets
            ]
        )
    keys = sorted({k for s in sets for k in s.meta})
    meta = {
        k: np.concatenate(
            [s.meta[k].astype(str) if k in s.meta else np.full(len(s), "", dtype=object).astype(str) for s in sets]
        )
        for k in keys
    }
    return ImageSet(
        np.concatenate([s.images for s in sets]),
        np.concatenate(labels),
        tuple(names),
        source,
        tuple(sk for s in sets for sk in s.skipped),
        findings,
        tuple(finding_names),
        patients,
        meta,
    )
