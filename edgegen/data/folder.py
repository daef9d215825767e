"""An image folder with one sub-folder per class (`root/normal/*.png`, `root/pneumonia/*.dcm`)."""

from __future__ import annotations

from pathlib import Path

from edgegen.data.decode import IMAGE_SUFFIXES, decode_many
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError


def load_image_folder(root: Path, size: int, class_names: tuple[str, ...] | None = None) -> ImageSet:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist", hint="pass a folder with one sub-folder per class")
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise DataError(
            f"{root} has no class sub-folders, so its images are unlabeled", hint="put images in root/<class>/"
        )
    if class_names is not None:
        missing = [c for c in class_names if c not in classes]
        if missing:
            raise DataError(f"{root} has no sub-folder for class(es) {missing}", hint=f"found: {list(classes)}")
        classes = class_names
    items = [
        (p, label)
        for label, name in enumerate(classes)
        for p in sorted((root / name).rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    images, labels, skipped = decode_many(items, size)
    return ImageSet(images, labels, classes, str(root), skipped)
