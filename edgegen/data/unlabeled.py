"""Images to classify: labeled sets (any loader) or a flat folder of unlabeled images/DICOMs."""

from __future__ import annotations

from pathlib import Path

from edgegen.data.decode import IMAGE_SUFFIXES, decode_many
from edgegen.errors import DataError


def load_for_classification(spec: str, split: str, size: int, class_names: tuple[str, ...]):
    """(uint8 images, names, the labeled ImageSet or None, skipped files)."""
    from edgegen.data.load import load_dataset

    path = Path(spec).expanduser()
    flat = path.is_dir() and not any(p.is_dir() for p in path.iterdir())
    if flat:
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        images, _, skipped = decode_many([(p, -1) for p in files], size)
        if len(images) == 0:
            raise DataError(f"{path}: no readable images", hint=f"supported: {', '.join(IMAGE_SUFFIXES)}")
        bad = {s.path for s in skipped}
        return images, [p.name for p in files if str(p) not in bad], None, skipped
    data = load_dataset(spec, split, size)
    names = [f"{data.source}#{i}" for i in range(len(data))]
    return data.images, names, data, list(data.skipped)
