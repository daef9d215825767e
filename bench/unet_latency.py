"""UNet latency on this CPU: torch eager vs ONNX Runtime FP32 vs ONNX Runtime INT8 (QDQ), with
drift vs torch, measured in interleaved rounds in one process (the machine is noisy: compare
the ratios, not the absolute seconds across runs).

    .venv/bin/python bench/unet_latency.py --model default --size 64
    .venv/bin/python bench/unet_latency.py --model bk-sdm-tiny --size 256 --rounds 3

Prints a table and writes bench/results/unet_latency_<model>_<size>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5, help="UNet calls per variant per round")
    ap.add_argument("--calibration-samples", type=int, default=16)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()

    from edgegen.benchmark.memory import PeakRssSampler
    from edgegen.benchmark.stats import summarize
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT
    from edgegen.export.components import EXPORTS
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.export.validate import rel_l2
    from edgegen.models.source import resolve_model
    from edgegen.runtime.backends.ort_backend import OrtRunner
    from edgegen.runtime.backends.torch_backend import TorchRunner
    from edgegen.types import Backend, Component, Precision

    t = time.perf_counter()
    with PeakRssSampler() as rss:
        result = export_model(
            ExportRequest(
                model=args.model,
                profile="cpu-x86",
                out_root=DEFAULT_EXPORT_ROOT,
                precisions=(Precision.INT8,),
                components=(Component.UNET,),
                classifier=None,
                image_size=args.size,
                calibration_samples=args.calibration_samples,
            )
        )
    export_s = time.perf_counter() - t
    folder = result.folder
    pipe = resolve_model(args.model).load_pipeline()
    spec = EXPORTS[Component.UNET](pipe)
    # Held-out real inputs (noised latents of real CXRs + prompt embeddings), CFG batch of 2.
    from edgegen.data.load import load_dataset
    from edgegen.export.calibration import sd_calibration

    inputs = sd_calibration(pipe, Component.UNET, load_dataset("default", "val", args.size), args.size, 4, seed=777)
    runners = {
        "torch eager fp32": TorchRunner(spec),
        "onnxruntime fp32": OrtRunner(folder / "unet.fp32.onnx", Backend.ORT_CPU, Precision.FP32),
        "onnxruntime int8 (QDQ)": OrtRunner(folder / "unet.int8.onnx", Backend.ORT_CPU, Precision.INT8),
    }
    for r in runners.values():
        r.load()
    ref = [runners["torch eager fp32"].run(x)["noise_pred"] for x in inputs]
    drift = {
        name: float(np.median([rel_l2(r.run(x)["noise_pred"], y) for x, y in zip(inputs, ref, strict=True)]))
        for name, r in runners.items()
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for rnd in range(args.rounds):
        for name in order[rnd % len(order) :] + order[: rnd % len(order)]:  # rotate to spread drift in machine speed
            for k in range(args.calls):
                runners[name].run(inputs[k % len(inputs)])
                times[name].append(runners[name].last_inference_s)
    flops = None
    try:
        from edgegen.benchmark.flops import unet_flops

        flops = unet_flops(pipe.unet.eval(), 2, args.size // 8, int(pipe.tokenizer.model_max_length))
    except Exception:  # noqa: BLE001 - FLOPs are a bonus column
        pass
    base = summarize(times["torch eager fp32"]).median
    rows = []
    for name in runners:
        s = summarize(times[name])
        rows.append(
            {
                "variant": name,
                "median_s": s.median,
                "p90_s": s.p90,
                "min_s": s.min,
                "max_s": s.max,
                "n": s.n,
                "speedup_vs_torch": base / s.median,
                "rel_l2_vs_torch": drift[name],
                "gflops_per_s": flops / s.median / 1e9 if flops else None,
            }
        )
    out = {
        "model": args.model,
        "image_size": args.size,
        "latent": args.size // 8,
        "unet_batch": 2,
        "unet_params": sum(p.numel() for p in pipe.unet.parameters()),
        "unet_gflop_per_call": flops / 1e9 if flops else None,
        "export_s": export_s,
        "export_peak_rss_mb": rss.peak_mb,
        "exported": result.exported,
        "reused": result.reused,
        "int8": result.manifest.find(Component.UNET, Precision.INT8).int8,
        "rounds": args.rounds,
        "calls_per_round": args.calls,
        "machine": platform.processor() or platform.machine(),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"unet_latency_{resolve_model(args.model).name}_{args.size}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"{args.model} UNet ({out['unet_params'] / 1e6:.1f}M params), {args.size}px → "
        f"{args.size // 8}² latents, batch 2, {out['unet_gflop_per_call'] or 0:.2f} GFLOP/call"
    )
    print(f"{'variant':26s} {'median s':>9s} {'p90 s':>8s} {'× torch':>8s} {'rel-L2':>9s} {'GFLOP/s':>8s}")
    for r in rows:
        print(
            f"{r['variant']:26s} {r['median_s']:9.4f} {r['p90_s']:8.4f} "
            f"{r['speedup_vs_torch']:8.2f} {r['rel_l2_vs_torch']:9.2e} {r['gflops_per_s'] or 0:8.1f}"
        )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
