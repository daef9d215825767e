"""Validation: run the exported graph in ONNX Runtime against the torch model, at several shapes,
on fresh random inputs; collect every mismatch, then raise one typed error listing them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.errors import ValidationError
from edgegen.export.artifacts import Check
from edgegen.export.components.base import ComponentExport
from edgegen.types import Precision


def rel_l2(got: np.ndarray, ref: np.ndarray) -> float:
    denom = float(np.linalg.norm(ref.astype(np.float64)))
    diff = float(np.linalg.norm(got.astype(np.float64) - ref.astype(np.float64)))
    return diff / denom if denom > 0 else diff


def cpu_session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Reference:
    """Inputs at one validation shape and the torch model's outputs for them, computed once, so
    the torch model can be released before a big graph is quantized."""

    batch: int
    image_size: int
    inputs: dict[str, np.ndarray]
    outputs: tuple[np.ndarray, ...]


def torch_references(
    spec: ComponentExport,
    shapes: list[tuple[int, int]],
    seed: int = 0,
    make_inputs: Callable[[int, int, int], dict[str, np.ndarray]] | None = None,
) -> list[Reference]:
    import torch

    module = spec.module()
    rng = np.random.default_rng(seed)
    out = []
    for batch, image_size in shapes:
        inputs = make_inputs(batch, image_size, seed) if make_inputs else spec.sample_inputs(batch, image_size, rng)
        with torch.no_grad():
            ref = module(*(torch.from_numpy(inputs[n]) for n in spec.input_names))
        refs = ref if isinstance(ref, tuple | list) else (ref,)
        out.append(Reference(batch, image_size, inputs, tuple(r.float().numpy() for r in refs)))
    return out


def run_checks(
    spec: ComponentExport,
    onnx_path: Path,
    precision: Precision,
    shapes: list[tuple[int, int]],
    seed: int = 0,
    make_inputs: Callable[[int, int, int], dict[str, np.ndarray]] | None = None,
    session=None,
    references: list[Reference] | None = None,
) -> list[Check]:
    """Compare at each (batch, image size). `make_inputs(batch, size, seed)` replaces the random
    sample inputs, e.g. with held-out real data for INT8, whose ranges were calibrated on it.
    `session` (anything with ORT's `run(output_names, inputs)`) replaces the ORT CPU session.
    `references` (from `torch_references`) replace running the torch model here."""
    references = references or torch_references(spec, shapes, seed, make_inputs)
    session = session or cpu_session(onnx_path)
    tol = spec.tolerances[precision]
    checks = []
    for ref in references:
        batch, image_size, inputs, refs = ref.batch, ref.image_size, ref.inputs, ref.outputs
        got = session.run(list(spec.output_names), inputs)
        for name, r, g in zip(spec.output_names, refs, got, strict=True):
            g = np.asarray(g, dtype=np.float32)
            finite = bool(np.isfinite(g).all())
            if g.shape != r.shape:
                checks.append(Check(name, batch, image_size, float("inf"), float("inf"), finite, False))
                continue
            err_abs = float(np.abs(g - r).max()) if finite else float("inf")
            err_rel = rel_l2(g, r) if finite else float("inf")
            ok = finite and err_rel <= tol.rel_l2 and err_abs <= tol.max_abs
            checks.append(Check(name, batch, image_size, round(err_abs, 8), round(err_rel, 8), finite, ok))
    return checks


def raise_on_failures(component: str, precision: Precision, checks: list[Check], tol_note: str = "") -> None:
    failed = [c for c in checks if not c.passed]
    if failed:
        listed = "; ".join(
            f"{c.output} at batch {c.batch}, {c.image_size}px: "
            + ("non-finite values" if not c.finite else f"rel-L2 {c.rel_l2:.2e}, max-abs {c.max_abs:.2e}")
            for c in failed
        )
        raise ValidationError(f"{component} {precision.value} ONNX disagrees with torch: {listed}{tol_note}")


class RunnerSession:
    """Adapts a runtime `Runner` to ORT's `run(output_names, inputs)` for `run_checks`."""

    def __init__(self, runner) -> None:
        self.runner = runner.load()

    def run(self, names, inputs):
        out = self.runner.run(inputs)
        return [out[n] for n in names]
