"""Pixel transforms shared by every loader: grayscale, intensity scaling, square resize."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric 2-D array to uint8 (constant images become mid-grey)."""
    values = values.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.full(values.shape, 128, dtype=np.uint8)
    return np.round((values - lo) / (hi - lo) * 255.0).astype(np.uint8)


def grayscale(image: Image.Image) -> np.ndarray:
    """Any PIL image → uint8 [H, W] (16-bit PNGs are scaled, not clipped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return to_uint8(np.asarray(image))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def center_square_resize(gray: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square, then resize to size×size (bicubic down, bilinear up)."""
    h, w = gray.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = gray[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(crop)
    resample = Image.Resampling.BICUBIC if side > size else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(crop).resize((size, size), resample), dtype=np.uint8)


def resize_batch(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return np.stack([center_square_resize(im, size) for im in images])
