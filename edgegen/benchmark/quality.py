"""Image quality of each generating leg, through the quality module: KID, precision/recall and
detectability AUROC per condition against held-out real images, each beside the real-vs-real
floor (shared by all legs), conditioning fidelity, memorization, and SSIM/PSNR against the same
family's torch FP32 images of the same seeds (how far a runtime or precision moves the pixels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgegen.schema import to_plain


def ssim_psnr(images: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and PSNR (dB) of uint8 grayscale [N, H, W] images against a reference set."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    a = torch.from_numpy(images).unsqueeze(1).float() / 255.0
    b = torch.from_numpy(reference).unsqueeze(1).float() / 255.0
    return float(structural_similarity_index_measure(a, b, data_range=1.0)), float(
        peak_signal_noise_ratio(a, b, data_range=1.0)
    )


def load_leg_images(path: Path, conditions: tuple[dict, ...]):
    from edgegen.conditions import Condition
    from edgegen.quality.sources import ImagePool

    data = np.load(path)
    by_name = {
        c["name"]: Condition(c["name"], c.get("population", ""), tuple(c.get("findings", ()))) for c in conditions
    }
    return ImagePool(data["images"], [by_name[str(n)] for n in data["conditions"]], str(path)), data["seeds"]


def leg_quality(
    path: Path,
    conditions: tuple[dict, ...],
    real_held,
    train,
    net,
    classifiers,
    floor_cache: dict,
    reference: np.ndarray | None,
    bootstrap: int = 100,
) -> dict:
    from edgegen.quality.assess import assess_quality

    pool, _ = load_leg_images(path, conditions)
    result = assess_quality(pool, real_held, train, net, classifiers, bootstrap=bootstrap, floor_cache=floor_cache)
    out = {"features": result.features.describe(), "conditions": {}, "seconds": round(result.seconds, 1)}
    for q in result.conditions:
        if q.skipped:
            out["conditions"][q.condition] = {"skipped": q.skipped}
            continue
        out["conditions"][q.condition] = {
            "n": q.n,
            "kid": to_plain(q.kid),
            "kid_floor": to_plain(q.kid_floor),
            "precision": to_plain(q.prdc.precision),
            "recall": to_plain(q.prdc.recall),
            "precision_floor": to_plain(q.prdc_floor.precision),
            "recall_floor": to_plain(q.prdc_floor.recall),
            "detectability": to_plain(q.detectability.auroc),
            "detectability_floor": to_plain(q.detectability_floor.auroc),
            "diversity_ratio": to_plain(q.diversity.ratio),
            "fidelity": [to_plain(f) for f in q.fidelity],
        }
    if result.memorization is not None:
        out["near_copies_pixel"] = to_plain(result.memorization.pixel.near_copies)
        out["near_copies_floor_pixel"] = to_plain(result.memorization.pixel.floor)
    if reference is not None and reference.shape == pool.images.shape:
        out["ssim_vs_reference"], out["psnr_vs_reference_db"] = ssim_psnr(pool.images, reference)
    return out


def pooled(quality: dict, key: str) -> float | None:
    """Mean of a metric's point values over the conditions scored (for plots and headlines)."""
    vals = [c[key]["value"] for c in (quality or {}).get("conditions", {}).values() if isinstance(c.get(key), dict)]
    return float(np.mean(vals)) if vals else None
