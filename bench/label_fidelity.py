"""Label fidelity of the embedded model: generate N images per class (torch backend, the model's
own prompts, the cpu-x86 profile's steps/guidance) and ask the default classifier which class
each shows. Writes bench/results/label_fidelity.json.

    .venv/bin/python bench/label_fidelity.py --n 100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    args = ap.parse_args()

    from edgegen.benchmark.quality import QualityScorer
    from edgegen.classifiers.card import load_classifier
    from edgegen.data.default import load_default
    from edgegen.models.embedded import resolve_classifier_dir
    from edgegen.profiles import load_profile
    from edgegen.runtime.loader import RunConfig, open_sd_pipeline
    from edgegen.types import Backend, Component, Precision

    profile = load_profile("cpu-x86")
    steps = args.steps or profile.generation.steps
    guidance = profile.generation.guidance_scale if args.guidance is None else args.guidance
    pipe, facts = open_sd_pipeline(
        RunConfig(Backend.TORCH, {c: Precision.FP32 for c in Component}), profile.generation.scheduler, model=args.model
    )
    classes = pipe.info.class_names
    t = time.perf_counter()
    images, labels = [], []
    for ci, name in enumerate(classes):
        prompt = pipe.info.prompt_template.replace("{class}", name)
        for start in range(0, args.n, 16):
            seeds = [ci * 100_000 + s for s in range(start, min(args.n, start + 16))]
            images.append(pipe([prompt] * len(seeds), seeds, steps, guidance, profile.generation.resolution).images)
            labels += [ci] * len(seeds)
    gen_s = time.perf_counter() - t
    images, labels = np.concatenate(images), np.asarray(labels)
    clf = load_classifier(resolve_classifier_dir("default"))
    test = load_default("test", profile.generation.resolution)
    scorer = QualityScorer(classes, {n: test.of_class(n).images for n in classes}, clf)
    q = scorer.score(images, labels, None)
    real = scorer.score(
        np.repeat(load_default("val", profile.generation.resolution).images[..., None], 3, -1),
        load_default("val", profile.generation.resolution).labels,
        None,
    )
    out = {
        "model": facts["model"],
        "model_sha256": facts["model_sha256"],
        "n_per_class": args.n,
        "steps": steps,
        "guidance": guidance,
        "scheduler": profile.generation.scheduler.value,
        "size": profile.generation.resolution,
        "generation_s": round(gen_s, 1),
        "label_fidelity": q.label_fidelity.per_class,
        "label_fidelity_overall": q.label_fidelity.overall,
        "fid": q.fid,
        "kid": q.kid,
        "feature_extractor": q.feature_extractor,
        "reference_real_val": {
            "label_fidelity": real.label_fidelity.per_class,
            "fid": real.fid,
            "kid": real.kid,
            "n": real.n_images,
        },
    }
    path = Path(__file__).parent / "results" / "label_fidelity.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
