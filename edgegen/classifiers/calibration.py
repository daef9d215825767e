"""Temperature scaling (Guo et al., ICML 2017): one temperature per softmax classifier, or one per
finding of a multi-label one, fitted on real validation images so that a probability of 0.8
means "right 80% of the time". Ranking (AUROC, argmax) is unchanged; only the probabilities move.
The quality module's conditioning fidelity reads calibrated probabilities. Pure numpy + scipy.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_softmax, softmax

T_RANGE = (0.05, 20.0)


def _softmax_nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    return float(-log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels].mean())


def _bce(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    p = np.clip(expit(logits / t), 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the softmax NLL of integer `labels`."""
    res = minimize_scalar(lambda t: _softmax_nll(logits, labels, t), bounds=T_RANGE, method="bounded")
    return float(res.x)


def fit_temperatures(logits: np.ndarray, targets: np.ndarray) -> list[float]:
    """One temperature per column of a multi-label model; NaN targets are left out; a column with
    only one class among its known targets keeps temperature 1."""
    out = []
    for j in range(logits.shape[1]):
        known = ~np.isnan(targets[:, j])
        y, z = targets[known, j], logits[known, j]
        if len(np.unique(y)) < 2:
            out.append(1.0)
            continue
        res = minimize_scalar(lambda t, z=z, y=y: _bce(z, y, t), bounds=T_RANGE, method="bounded")
        out.append(float(res.x))
    return out


def apply_temperature(logits: np.ndarray, temperatures: list[float], multilabel: bool) -> np.ndarray:
    t = np.asarray(temperatures, dtype=np.float64)
    return expit(logits / t) if multilabel else softmax(logits / t[0], axis=1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.mean() * abs(float(correct[m].mean()) - float(confidence[m].mean()))
    return float(total)


def calibrate(logits: np.ndarray, targets: np.ndarray, multilabel: bool, fitted_on: str) -> dict:
    """The card's `calibration` entry: temperatures, where they were fitted, ECE before and after."""
    if multilabel:
        temps = fit_temperatures(logits, targets)
        known = ~np.isnan(targets)

        def ece(p):
            return expected_calibration_error(p[known], targets[known].astype(bool))

        before, after = ece(expit(logits)), ece(apply_temperature(logits, temps, True))
    else:
        temps = [fit_temperature(logits, targets.astype(np.int64))]

        def ece(p):
            return expected_calibration_error(p.max(axis=1), p.argmax(axis=1) == targets)

        before, after = ece(softmax(logits, axis=1)), ece(apply_temperature(logits, temps, False))
    return {
        "method": "temperature scaling (per finding)" if multilabel else "temperature scaling",
        "temperatures": [round(t, 6) for t in temps],
        "fitted_on": fitted_on,
        "ece_before": round(before, 6),
        "ece_after": round(after, 6),
    }
