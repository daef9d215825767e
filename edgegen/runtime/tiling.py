"""Tiled VAE decoding: decode overlapping latent tiles and blend them, so peak memory follows the
tile size instead of the image size (8 GB devices at high resolution)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _ramp(n: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    w = np.ones(n, np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if not first:
            w[:overlap] = ramp
        if not last:
            w[-overlap:] = ramp[::-1]
    return w


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, size) with tiles of `tile` overlapping by `overlap`. Pure."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def decode_tiled(
    decode: Callable[[np.ndarray], np.ndarray], latent: np.ndarray, factor: int, tile: int = 32, overlap: int = 8
) -> np.ndarray:
    """latent [B,C,h,w] → image [B,3,h*f,w*f], decoding tile×tile latent patches."""
    b, _, h, w = latent.shape
    out = np.zeros((b, 3, h * factor, w * factor), np.float32)
    weight = np.zeros((1, 1, h * factor, w * factor), np.float32)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    for yi, y in enumerate(ys):
        for xi, x in enumerate(xs):
            th, tw = min(tile, h), min(tile, w)
            patch = decode(np.ascontiguousarray(latent[:, :, y : y + th, x : x + tw]))
            wy = _ramp(th * factor, overlap * factor, yi == 0, yi == len(ys) - 1)
            wx = _ramp(tw * factor, overlap * factor, xi == 0, xi == len(xs) - 1)
            mask = (wy[:, None] * wx[None, :])[None, None]
            sl = (slice(None), slice(None), slice(y * factor, (y + th) * factor), slice(x * factor, (x + tw) * factor))
            out[sl] += patch * mask
            weight[sl] += mask
    return out / np.maximum(weight, 1e-8)
