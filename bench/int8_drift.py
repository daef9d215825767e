"""INT8 drift vs torch FP32 on held-out real inputs, per component and INT8 scheme: the figures
the per-component INT8 tolerances (`edgegen/export/components/*.py`) are set from.

Exports the tiny preset (random weights), the embedded diffusion model and classifier, and the
embedded GAN (a GAN trained for a few steps where there is none), in both INT8 schemes (u8s8
for ORT CPU, trt-s8s8 for TensorRT), at several seeds (the seed changes calibration picks,
held-out inputs and the tiny preset's weights), with the INT8 bounds lifted so every drift is
recorded rather than refused.

    .venv/bin/python bench/int8_drift.py                 # ~15 min on 2 cores
    .venv/bin/python bench/int8_drift.py --seeds 0 --models tiny

Prints the worst drift per component beside the configured bound and writes
bench/results/int8_drift.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _gan_folder(root: Path) -> Path:
    from edgegen.data.load import load_dataset
    from edgegen.gan.train import GanTrainConfig, train_gan

    out = root / "gan-tiny"
    cfg = GanTrainConfig(preset="gan-tiny", steps=4, batch_size=4, checkpoint_every=2, r1_every=2)
    train_gan(load_dataset("kermany-128+nih-cxr14-128", "val", 32), cfg, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["tiny", "default", "gan"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "int8_drift.json")
    args = ap.parse_args()

    from edgegen.export.components import EXPORTS
    from edgegen.export.components.base import Tolerance
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.export.int8_schemes import Int8Scheme
    from edgegen.types import Precision

    bounds = {c.value: EXPORTS[c].tolerances[Precision.INT8] for c in EXPORTS}
    for cls in EXPORTS.values():  # measure, do not refuse
        cls.tolerances = {**cls.tolerances, Precision.INT8: Tolerance(float("inf"), float("inf"))}
    runs = []
    with tempfile.TemporaryDirectory(prefix="int8-drift-") as tmp:
        tmp = Path(tmp)
        for model in args.models:
            name = model
            if model == "gan":  # the embedded GAN where there is one, else one trained for a few steps
                from edgegen.errors import ModelError
                from edgegen.models.source import resolve_model

                try:
                    name = str(resolve_model("gan").path)
                except ModelError:
                    name = str(_gan_folder(tmp))
            for scheme in (Int8Scheme.CPU_U8S8, Int8Scheme.TENSORRT):
                for seed in args.seeds:
                    t = time.perf_counter()
                    request = ExportRequest(
                        model=name,
                        profile="cpu-x86",
                        out_root=tmp / f"{model}-{scheme.value}-{seed}",
                        precisions=(Precision.INT8,),
                        classifier="default" if model == "tiny" else None,  # one classifier: measured once
                        calibration_data="cxr-128" if model == "gan" else None,
                        calibration_samples=4 if model == "tiny" else 16,
                        seed=seed,
                        int8_scheme=scheme,
                    )
                    result = export_model(request)
                    for a in result.manifest.components:
                        if a.precision is not Precision.INT8:
                            continue
                        runs.append(
                            {
                                "model": model,
                                "scheme": scheme.value,
                                "seed": seed,
                                "component": a.component.value,
                                "rel_l2": max(c.rel_l2 for c in a.checks),
                                "max_abs": max(c.max_abs for c in a.checks),
                                "checks": [c.__dict__ for c in a.checks],
                            }
                        )
                    print(f"{model} {scheme.value} seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    worst = {}
    for comp in sorted({r["component"] for r in runs}):
        mine = [r for r in runs if r["component"] == comp]
        top_rel = max(mine, key=lambda r: r["rel_l2"])
        top_abs = max(mine, key=lambda r: r["max_abs"])
        bound = bounds[comp]
        worst[comp] = {
            "rel_l2": top_rel["rel_l2"],
            "rel_l2_at": f"{top_rel['model']} {top_rel['scheme']} seed {top_rel['seed']}",
            "max_abs": top_abs["max_abs"],
            "max_abs_at": f"{top_abs['model']} {top_abs['scheme']} seed {top_abs['seed']}",
            "bound": {"rel_l2": bound.rel_l2, "max_abs": bound.max_abs},
        }
        print(
            f"{comp:13s} worst rel-L2 {top_rel['rel_l2']:.3f} ({worst[comp]['rel_l2_at']}) bound {bound.rel_l2}; "
            f"worst max-abs {top_abs['max_abs']:.3f} ({worst[comp]['max_abs_at']}) bound {bound.max_abs}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"worst": worst, "runs": runs}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
