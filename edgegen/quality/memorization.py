"""Memorization / privacy: is any synthetic image a near-copy of a training image?

For every synthetic image, its nearest training image in pixel space (normalised correlation of
64 px thumbnails: 1.0 is a pixel copy up to brightness/contrast) and in feature space (cosine of
the semantic features). The near-copy threshold is calibrated on real data: the median
similarity between two different radiographs of the same training patient, i.e. a synthetic image
above it is as close to a training image as a repeat scan of that patient. The floor: the share of
held-out real images (other patients) above the same threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgegen.classifiers.metrics import Estimate

THUMB = 64


@dataclass(frozen=True)
class NearestPair:
    synthetic_index: int
    train_index: int
    similarity: float


@dataclass(frozen=True)
class SpaceResult:
    space: str  # "pixel" | "feature"
    threshold: float
    threshold_from: str
    synthetic_quantiles: dict[str, float]  # of each synthetic image's nearest-train similarity
    near_copies: Estimate  # share of synthetic images above the threshold (Wilson 95% CI)
    near_copy_indices: list[int]
    floor: Estimate | None  # share of held-out real images above the threshold
    closest: list[NearestPair] = field(default_factory=list)


@dataclass(frozen=True)
class Memorization:
    pixel: SpaceResult
    feature: SpaceResult
    n_synthetic: int
    n_train: int


def thumbnails(images: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm float vectors of 64 px thumbnails: dot products are correlations."""
    from edgegen.data.transforms import resize_batch

    x = resize_batch(images, THUMB).reshape(len(images), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def unit(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def _nearest(query: np.ndarray, bank: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    idx, sim = [], []
    for i in range(0, len(query), chunk):
        s = query[i : i + chunk] @ bank.T
        j = s.argmax(axis=1)
        idx.append(j)
        sim.append(s[np.arange(len(j)), j])
    return np.concatenate(idx), np.concatenate(sim)


def same_patient_similarity(vectors: np.ndarray, patients: np.ndarray | None) -> np.ndarray:
    """For each image with another image of its patient: the highest similarity to those."""
    if patients is None:
        return np.array([])
    out = []
    patients = np.asarray(patients).astype(str)
    for p in np.unique(patients):
        members = np.flatnonzero(patients == p)
        if len(members) < 2:
            continue
        s = vectors[members] @ vectors[members].T
        np.fill_diagonal(s, -np.inf)
        out.extend(s.max(axis=1).tolist())
    return np.asarray(out)


def _share(flags: np.ndarray) -> Estimate:
    from statsmodels.stats.proportion import proportion_confint

    k, n = int(flags.sum()), len(flags)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return Estimate(round(k / n, 6), round(float(lo), 6), round(float(hi), 6))


def _space(
    name: str, synth: np.ndarray, train: np.ndarray, held_out: np.ndarray | None, patients, fallback: float, top: int
) -> SpaceResult:
    nn_idx, nn_sim = _nearest(synth, train)
    same = same_patient_similarity(train, patients)
    if len(same) >= 5:
        threshold, source = (
            float(np.median(same)),
            f"median, over {len(same)} training images with another image of "
            "their patient, of the similarity to that nearest same-patient image",
        )
    else:
        threshold, source = fallback, f"fixed {fallback} (fewer than 5 same-patient pairs to calibrate on)"
    flags = nn_sim >= threshold
    floor = None
    if held_out is not None and len(held_out):
        _, real_sim = _nearest(held_out, train)
        floor = _share(real_sim >= threshold)
    order = np.argsort(-nn_sim)[:top]
    q = np.percentile(nn_sim, [5, 50, 95, 100])
    return SpaceResult(
        name,
        round(threshold, 6),
        source,
        {
            "p5": round(float(q[0]), 6),
            "median": round(float(q[1]), 6),
            "p95": round(float(q[2]), 6),
            "max": round(float(q[3]), 6),
        },
        _share(flags),
        np.flatnonzero(flags).tolist(),
        floor,
        [NearestPair(int(i), int(nn_idx[i]), round(float(nn_sim[i]), 6)) for i in order],
    )


def memorization(
    synthetic_images: np.ndarray,
    synthetic_features: np.ndarray,
    train_images: np.ndarray,
    train_features: np.ndarray,
    train_patients: np.ndarray | None = None,
    held_out_images: np.ndarray | None = None,
    held_out_features: np.ndarray | None = None,
    top: int = 8,
) -> Memorization:
    pix = _space(
        "pixel",
        thumbnails(synthetic_images),
        thumbnails(train_images),
        thumbnails(held_out_images) if held_out_images is not None else None,
        train_patients,
        0.95,
        top,
    )
    feat = _space(
        "feature",
        unit(synthetic_features),
        unit(train_features),
        unit(held_out_features) if held_out_features is not None else None,
        train_patients,
        0.99,
        top,
    )
    return Memorization(pix, feat, len(synthetic_images), len(train_images))
