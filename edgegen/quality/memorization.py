"""Memorization / privacy: is any synthetic image a near-copy of a training image?

For every synthetic image, its nearest training image in pixel space (normalised correlation of
64 px thumbnails: 1.0 is a pixel copy up to brightness/contrast) and in feature space (cosine of
the semantic features). The near-copy threshold is calibrated on the real training data, on two
references, and is the higher of the two:
- repeat scans: the 95th percentile, over training images with another image of their patient, of
  the similarity to that nearest same-patient image (as close as a patient's own repeat scan);
- other patients: the 99th percentile of each training image's similarity to its nearest
  training image of another patient (closer than 99% of real CXRs ever come to someone else's).
Chest X-rays are alike at 64 px: measured on kermany-128, the median same-patient similarity
(0.66) is below the median nearest-other-patient one (0.81), so a median same-patient threshold
flags 98% of unseen real images. The floor: the share of held-out real images (other patients,
not used for the threshold) above the threshold — a few percent by construction.
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
    # the distributions themselves (for the report's histogram): each synthetic image's, and each
    # held-out real image's, similarity to its nearest training image
    synthetic_similarities: list[float] = field(default_factory=list)
    floor_similarities: list[float] = field(default_factory=list)


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


def other_patient_similarity(vectors: np.ndarray, patients: np.ndarray | None, chunk: int = 512) -> np.ndarray:
    """For each training image: the highest similarity to a training image of another patient."""
    groups = np.asarray(patients).astype(str) if patients is not None else np.arange(len(vectors)).astype(str)
    out = []
    for i in range(0, len(vectors), chunk):
        s = vectors[i : i + chunk] @ vectors.T
        s[groups[i : i + chunk, None] == groups[None, :]] = -np.inf  # itself and its own patient
        out.append(s.max(axis=1))
    return np.concatenate(out) if out else np.array([])


def near_copy_threshold(train: np.ndarray, patients, fallback: float) -> tuple[float, str]:
    same = same_patient_similarity(train, patients)
    other = other_patient_similarity(train, patients)
    parts = []
    if len(same) >= 5:
        parts.append((float(np.percentile(same, 95)), f"p95 of {len(same)} same-patient repeat-scan similarities"))
    if len(other) >= 20:
        parts.append(
            (float(np.percentile(other, 99)), f"p99 of {len(other)} nearest-other-patient similarities (training set)")
        )
    if not parts:
        return fallback, f"fixed {fallback} (too few training images to calibrate on)"
    threshold, _ = max(parts)
    return threshold, "the higher of: " + "; ".join(f"{why} = {v:.3f}" for v, why in parts)


def _space(
    name: str, synth: np.ndarray, train: np.ndarray, held_out: np.ndarray | None, patients, fallback: float, top: int
) -> SpaceResult:
    nn_idx, nn_sim = _nearest(synth, train)
    threshold, source = near_copy_threshold(train, patients, fallback)
    flags = nn_sim >= threshold
    floor, real_sim = None, np.array([])
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
        np.round(nn_sim, 4).tolist(),
        np.round(real_sim, 4).tolist(),
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
