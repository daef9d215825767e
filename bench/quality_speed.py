"""The quality module's full metric set on 1,000 synthetic vs 1,000 real images, timed (issue 12's
target: ≤ 60 s on this 2-core CPU).

Stand-ins with a known answer: the "synthetic" images are 1,000 real training CXRs with mild noise,
the real side 2,000 other patients' images (1,000 reference + 1,000 for the real-vs-real floor), and
the memorization bank is those same 1,000 training images — so every synthetic image must be flagged
as a near-copy, and detectability must be well above chance (the noise is visible to the features).

    .venv/bin/python bench/quality_speed.py [--bootstrap 200]

Prints the timings and writes bench/results/quality_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "quality_speed.json")
    args = ap.parse_args()

    from edgegen.conditions import Condition
    from edgegen.data.imageset import merge
    from edgegen.data.load import load_dataset
    from edgegen.quality.assess import Classifiers, assess_quality
    from edgegen.quality.features import FeatureNetwork
    from edgegen.quality.sources import ImagePool

    t0 = time.perf_counter()
    every = merge([load_dataset("cxr-128", s, 128) for s in ("train", "val", "test")], "cxr-128:all")
    rng = np.random.default_rng(0)
    patients = np.unique(every.patient_ids)
    rng.shuffle(patients)
    # whole patients to one side: synthetic stand-ins (and the memorization bank) vs real
    chosen, count = [], 0
    for p in patients:
        if count >= args.n:
            break
        chosen.append(p)
        count += int((every.patient_ids == p).sum())
    bank_idx = np.flatnonzero(np.isin(every.patient_ids, chosen))[: args.n]
    real_idx = np.setdiff1d(np.flatnonzero(~np.isin(every.patient_ids, chosen)), [])[: 2 * args.n]
    bank, real = every.subset(bank_idx, "bank"), every.subset(real_idx, "real")
    noisy = np.clip(bank.images.astype(np.int16) + rng.integers(-6, 7, bank.images.shape), 0, 255).astype(np.uint8)
    pool = ImagePool(noisy, [Condition("all")] * len(noisy), "noisy copies of real training images")
    load_s = time.perf_counter() - t0

    net = FeatureNetwork()
    t1 = time.perf_counter()
    net.extract(noisy), net.extract(real.images), net.extract(bank.images)
    features_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    result = assess_quality(pool, real, bank, net, Classifiers(), bootstrap=args.bootstrap)
    metrics_s = time.perf_counter() - t2
    (q,) = result.conditions
    out = {
        "what": "quality module, full metric set (KID, FID, PRDC, detectability, diversity, memorization) "
        "with their real-vs-real floors",
        "n_synthetic": len(noisy),
        "n_real": len(real),
        "n_a_side": q.n,
        "bootstrap": args.bootstrap,
        "seconds": {
            "load_data": round(load_s, 2),
            "features": round(features_s, 2),
            "metrics": round(metrics_s, 2),
            "total_features_and_metrics": round(features_s + metrics_s, 2),
        },
        "target_s": 60,
        "meets_target": features_s + metrics_s <= 60,
        "sanity": {
            "near_copies_pixel": result.memorization.pixel.near_copies.value,
            "near_copies_floor_pixel": getattr(result.memorization.pixel.floor, "value", None),
            "detectability_auroc": q.detectability.auroc.value,
            "detectability_floor": q.detectability_floor.auroc.value,
            "kid": q.kid.value,
            "kid_floor": q.kid_floor.value,
            "fid": q.fid.value if q.fid else None,
            "fid_floor": q.fid_floor.value if q.fid_floor else None,
        },
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus_usable": len(os.sched_getaffinity(0))},
        "features": result.features.describe(),
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
