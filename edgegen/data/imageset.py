"""`ImageSet`: decoded grayscale images, labels and class names, plus what was skipped."""

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

    def __post_init__(self) -> None:
        if len(self.images) == 0:
            raise DataError(f"{self.source}: no usable images" + _skipped_note(self.skipped), hint="check the path and the file formats")
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DataError(f"{self.source}: images must be uint8 [N, H, W], got {self.images.dtype} {self.images.shape}")
        if len(self.labels) != len(self.images):
            raise DataError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.class_names) < 2:
            raise DataError(f"{self.source}: needs at least two classes, found {list(self.class_names)}", hint="one sub-folder or label value per class")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def content_hash(self) -> str:
        """sha256 over pixels, labels and class names: identifies the data in model cards."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(self.labels.astype(np.int64).tobytes())
        h.update("\0".join(self.class_names).encode())
        return h.hexdigest()

    def subset(self, index: np.ndarray, source: str | None = None) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index], self.class_names, source or self.source, self.skipped)

    def of_class(self, name: str) -> ImageSet:
        idx = self.class_names.index(name)
        return self.subset(np.flatnonzero(self.labels == idx), f"{self.source}[{name}]")

    def skipped_summary(self, first: int = 3) -> str:
        return _skipped_note(self.skipped, first).strip(" ;")


def _skipped_note(skipped: tuple[Skipped, ...], first: int = 3) -> str:
    if not skipped:
        return ""
    shown = ", ".join(f"{s.path} ({s.reason})" for s in skipped[:first])
    more = f" and {len(skipped) - first} more" if len(skipped) > first else ""
    return f"; skipped {len(skipped)} unreadable file(s): {shown}{more}"


def merge(sets: list[ImageSet], source: str) -> ImageSet:
    """Concatenate sets with the same image size, aligning class names by name."""
    names: list[str] = []
    for s in sets:
        names += [n for n in s.class_names if n not in names]
    sizes = {s.size for s in sets}
    if len(sizes) != 1:
        raise DataError(f"cannot merge image sets of sizes {sorted(sizes)}", hint="load them with the same --size")
    labels = [np.array([names.index(s.class_names[i]) for i in s.labels], dtype=np.int64) for s in sets]
    return ImageSet(
        np.concatenate([s.images for s in sets]),
        np.concatenate(labels),
        tuple(names),
        source,
        tuple(sk for s in sets for sk in s.skipped),
    )
