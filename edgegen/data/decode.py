"""Decode one image file (PNG/JPEG/TIFF/BMP or DICOM) to uint8 grayscale at a square size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from edgegen.data.dicom import is_dicom, read_dicom_pixels
from edgegen.data.imageset import Skipped
from edgegen.data.transforms import center_square_resize, grayscale

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


def decode_image(path: Path, size: int) -> np.ndarray:
    """Raise ValueError with a short reason when the file cannot be used."""
    if is_dicom(path):
        gray = read_dicom_pixels(path)
    else:
        try:
            with Image.open(path) as im:
                im.load()
                gray = grayscale(im)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ValueError(f"not a readable image ({type(exc).__name__})") from exc
    if min(gray.shape) < 8:
        raise ValueError(f"image is only {gray.shape[1]}x{gray.shape[0]} px")
    return center_square_resize(gray, size)


def decode_many(items: list[tuple[Path, int]], size: int) -> tuple[np.ndarray, np.ndarray, tuple[Skipped, ...]]:
    """Decode (path, label) pairs; unreadable files are collected, not raised."""
    images, labels, skipped = [], [], []
    for path, label in items:
        try:
            images.append(decode_image(path, size))
            labels.append(label)
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(str(path), str(exc)))
    arr = np.stack(images) if images else np.zeros((0, size, size), np.uint8)
    return arr, np.asarray(labels, dtype=np.int64), tuple(skipped)
