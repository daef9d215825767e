"""Blinding: which images enter a study, under which opaque IDs, and as which bytes.

Pure (numpy, Pillow on in-memory bytes): a seeded, class-stratified pick per source; random IDs
that carry no order or source; plain 8-bit grayscale PNGs with no ancillary chunk at all, so no
provenance text, EXIF or colour profile survives; and the finding a reader is asked about.
"""

from __future__ import annotations

import io
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgegen.errors import ArtifactError, DataError, UsageError
from edgegen.reader.layout import IMAGE_ID

PLAIN_CHUNKS = ("IHDR", "IDAT", "IEND")


@dataclass(frozen=True)
class Candidate:
    """One image a source offers: its position in the loaded pool and what it shows."""

    source: str
    index: int
    class_name: str
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pick:
    image_id: str
    candidate: Candidate


def stratified_pick(candidates: list[Candidate], n: int, rng: np.random.Generator) -> list[Candidate]:
    """`n` candidates, classes taking turns (in random order) so that each is represented as
    evenly as its numbers allow; within a class, a random order."""
    if n > len(candidates):
        source = candidates[0].source if candidates else "?"
        raise DataError(
            f"source {source!r} has {len(candidates)} usable images, fewer than the {n} asked for",
            hint=f"lower --per-source / --real-n to at most {len(candidates)}",
        )
    classes = sorted({c.class_name for c in candidates})
    queues = {
        k: [candidates[i] for i in rng.permutation([j for j, c in enumerate(candidates) if c.class_name == k])]
        for k in classes
    }
    order = [classes[i] for i in rng.permutation(len(classes))]
    out: list[Candidate] = []
    while len(out) < n:
        for k in order:
            if queues[k] and len(out) < n:
                out.append(queues[k].pop())
    return out


def new_image_id() -> str:
    return secrets.token_hex(8)


def plan_study(
    sources: dict[str, list[Candidate]], counts: dict[str, int], seed: int, new_id: Callable[[], str] = new_image_id
) -> list[Pick]:
    """Pick `counts[source]` images of each source (deterministic in `seed`), give each a fresh
    random ID and return them in a seeded shuffled order."""
    if set(counts) != set(sources):
        raise UsageError(f"counts for {sorted(counts)} do not match sources {sorted(sources)}")
    rng = np.random.default_rng(seed)
    chosen = [c for name in sources for c in stratified_pick(sources[name], counts[name], rng)]
    ids: set[str] = set()
    picks = []
    for c in (chosen[i] for i in rng.permutation(len(chosen))):
        image_id = new_id()
        while image_id in ids:
            image_id = new_id()
        if not IMAGE_ID.fullmatch(image_id):
            raise ValueError(f"image ID {image_id!r} does not have the opaque ID shape")
        ids.add(image_id)
        picks.append(Pick(image_id, c))
    return picks


def png_chunk_types(data: bytes) -> list[str]:
    """The chunk types of a PNG, in order (raises ArtifactError when it is not one)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ArtifactError("not a PNG file")
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append(kind.decode("latin-1"))
        pos += 12 + length
    return out


def plain_png(gray: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG with IHDR, IDAT and IEND only; raises if anything else got in."""
    from PIL import Image

    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a uint8 [H, W] image, got {gray.dtype} {gray.shape}")
    buf = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buf, format="PNG", compress_level=6)
    data = buf.getvalue()
    extra = sorted(set(png_chunk_types(data)) - set(PLAIN_CHUNKS))
    if extra:
        raise ArtifactError(f"re-encoded PNG still carries chunks {extra}")
    return data


def png_has_text(data: bytes) -> bool:
    """True when the PNG carries any text or EXIF chunk (tEXt, zTXt, iTXt, eXIf)."""
    return any(t in ("tEXt", "zTXt", "iTXt", "eXIf") for t in png_chunk_types(data))


def question_finding(class_name: str, findings: tuple[str, ...], fmap) -> str | None:
    """The finding a reader is asked about: a reader-study finding the image is labelled with
    (findings.yaml order), else its first known finding, else its class when the class is a
    finding; never "no finding"."""
    from edgegen.data.findings import NO_FINDING

    known = []
    for name in [*findings, class_name]:
        try:
            resolved = fmap.resolve(name)
        except UsageError:
            continue
        if resolved != NO_FINDING and resolved not in known:
            known.append(resolved)
    if not known:
        return None
    study = [f for f in fmap.reader_study if f in known]
    return study[0] if study else known[0]
