"""Conditioning fidelity that cannot saturate: the mean probability a classifier trained on real
CXRs gives the intended class or finding, on synthetic images and on real images of that class
(the reference: what real images of the class score), plus the share it calls as intended.

A mean probability moves with every image, unlike a thresholded "label fidelity" that a weak
classifier pins at 100%; with the real reference beside it, 0.62 vs real 0.90 reads as "the
classifier is far less sure these show the finding than it is for real ones". Probabilities are
temperature-calibrated on real validation images where the card carries a calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgegen.classifiers.metrics import Estimate


@dataclass(frozen=True)
class ConditionFidelity:
    target: str  # the class or finding scored
    classifier: str
    synthetic_mean_prob: Estimate
    real_mean_prob: Estimate | None
    synthetic_called: float  # share called as intended (argmax, or prob ≥ the card's threshold)
    real_called: float | None
    n_synthetic: int
    n_real: int


def _mean_ci(x: np.ndarray, seed: int, rounds: int = 500) -> Estimate:
    rng = np.random.default_rng(seed)
    boots = [float(x[rng.integers(0, len(x), len(x))].mean()) for _ in range(rounds)]
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return Estimate(round(float(x.mean()), 6), round(float(lo), 6), round(float(hi), 6))


def condition_fidelity(
    model, card, target: str, synthetic: np.ndarray, real: np.ndarray | None, seed: int = 0
) -> ConditionFidelity:
    """`target` must be one of the classifier's classes (or findings, for a multi-label one)."""
    from edgegen.classifiers.calibration import apply_temperature
    from edgegen.classifiers.predict import predict_logits

    j = card.class_names.index(target)
    temps = (card.calibration or {}).get("temperatures")

    def scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = predict_logits(model, images, card).astype(np.float64)
        raw = apply_temperature(logits, [1.0] * logits.shape[1], card.multilabel)
        # "called": the card's own decision rule (thresholds were chosen on uncalibrated outputs)
        called = raw[:, j] >= card.thresholds.get(target, 0.5) if card.multilabel else raw.argmax(axis=1) == j
        p = apply_temperature(logits, temps, card.multilabel) if temps else raw
        return p[:, j], called

    ps, cs = scores(synthetic)
    pr, cr = scores(real) if real is not None and len(real) else (None, None)
    calibrated = "calibrated" if (card.calibration or {}).get("temperatures") else "uncalibrated"
    name = (
        f"{card.arch} ({'multi-label' if card.multilabel else 'classes'}: {', '.join(card.class_names)}; {calibrated})"
    )
    return ConditionFidelity(
        target,
        name,
        _mean_ci(ps, seed),
        _mean_ci(pr, seed) if pr is not None else None,
        round(float(cs.mean()), 6),
        round(float(cr.mean()), 6) if cr is not None else None,
        len(ps),
        0 if pr is None else len(pr),
    )
