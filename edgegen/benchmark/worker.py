"""One bench leg in its own process (so peak-memory figures do not mix):
`python -m edgegen.benchmark.worker LEG.json OUT.json`. Always writes OUT.json; a failure is
recorded there as the leg's status, with its one-line error."""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from edgegen.benchmark.legs import GenSettings, LegSpec
from edgegen.benchmark.memory import PeakRssSampler
from edgegen.benchmark.power import estimate, open_meter
from edgegen.types import Backend, Component, Precision, SchedulerName


def _prompts(gen: GenSettings, classes: list[str]) -> list[str]:
    return [gen.prompt_template.replace("{class}", c.replace("_", " ")) for c in classes]


def _quality_plan(gen: GenSettings) -> tuple[list[str], list[int], list[int]]:
    """Same classes, prompts and seeds on every leg: (prompts, seeds, labels)."""
    classes, seeds, labels = [], [], []
    for ci, name in enumerate(gen.class_names):
        for k in range(gen.quality_per_class):
            classes.append(name)
            seeds.append(gen.seed + 100_000 + ci * 10_000 + k)
            labels.append(ci)
    return _prompts(gen, classes), seeds, labels


def _sd_generator(leg: LegSpec, gen: GenSettings):
    """(load(), generate(prompts, seeds) → (images, component timings dict), release())."""
    if leg.kind == "optimum":
        return _optimum_generator(leg, gen)
    from edgegen.runtime.loader import RunConfig, open_sd_pipeline

    config = RunConfig(leg.backend, {Component(c): Precision(p) for c, p in leg.precisions.items()}, leg.threads, "cuda" if leg.backend is Backend.TORCH and _cuda() else "cpu", leg.torch_compile)
    state = {}

    def load():
        pipe, facts = open_sd_pipeline(config, SchedulerName(gen.scheduler), model=leg.model, artifacts=Path(leg.artifacts) if leg.artifacts else None)
        for runner in pipe.runners.values():
            runner.load()
        state["pipe"] = pipe

    def generate(prompts, seeds):
        pipe = state["pipe"]
        pipe._emb_cache.clear()  # time the text encoder on every call, as a first prompt would
        out = pipe(prompts, seeds, gen.steps, gen.guidance_scale, gen.size)
        t = out.timings
        return out.images, {"text_encoder_s": t.text_encoder_s, "unet_steps_s": t.unet_steps_s, "vae_decoder_s": t.vae_decoder_s}

    return load, generate, lambda: state["pipe"].release()


def _optimum_generator(leg: LegSpec, gen: GenSettings):
    import torch

    state = {}

    def load():
        from optimum.onnxruntime import ORTDiffusionPipeline

        from edgegen.runtime.scheduling import make_scheduler

        pipe = ORTDiffusionPipeline.from_pretrained(leg.optimum_dir, provider="CPUExecutionProvider")
        pipe.scheduler = make_scheduler(SchedulerName(gen.scheduler), dict(pipe.scheduler.config))
        pipe.set_progress_bar_config(disable=True)
        state["pipe"] = pipe

    def generate(prompts, seeds):
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        out = state["pipe"](prompts, num_inference_steps=gen.steps, guidance_scale=gen.guidance_scale, height=gen.size, width=gen.size, generator=gens, output_type="np")
        return (np.clip(out.images * 255 + 0.5, 0, 255)).astype(np.uint8), {}

    return load, generate, lambda: state.clear()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run_sd_leg(leg: LegSpec, gen: GenSettings, out_dir: Path, watts: float) -> dict:
    load, generate, release = _sd_generator(leg, gen)
    classes = list(gen.class_names)
    result: dict = {"component_s": {"text_encoder_s": [], "unet_step_s": [], "vae_decoder_s": []}}
    with PeakRssSampler() as rss:
        t0 = time.perf_counter()
        load()
        result["load_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        generate(_prompts(gen, classes[:1]), [gen.seed])
        result["first_image_s"] = time.perf_counter() - t1
        result["cold_start_s"] = result["load_s"] + result["first_image_s"]
        meter = open_meter(prefer_gpu=leg.backend in (Backend.ORT_CUDA, Backend.ORT_TENSORRT, Backend.TENSORRT) or _cuda())
        if meter:
            meter.start()
        e2e = []
        for i in range(gen.warm_runs):
            cls = classes[i % len(classes)]
            t = time.perf_counter()
            _, comps = generate(_prompts(gen, [cls]), [gen.seed + 1 + i])
            e2e.append(time.perf_counter() - t)
            if comps:
                result["component_s"]["text_encoder_s"].append(comps["text_encoder_s"])
                result["component_s"]["unet_step_s"] += comps["unet_steps_s"]
                result["component_s"]["vae_decoder_s"].append(comps["vae_decoder_s"])
        warm_total = sum(e2e)
        energy = meter.stop() if meter else estimate(warm_total, watts)
        result["e2e_s"] = e2e
        result["energy"] = {"joules_per_image": energy.joules / max(1, len(e2e)) if meter else watts * (warm_total / len(e2e)), "method": energy.method, "watts": energy.watts if meter else watts, "peak_gpu_mem_mb": energy.peak_gpu_mem_mb}
        throughput = {}
        for b in gen.batch_sizes:
            # One untimed call per batch size first: new shapes trigger recompiles (torch.compile)
            # and allocator growth that a steady-state throughput figure should not include.
            generate(_prompts(gen, [classes[j % len(classes)] for j in range(b)]), [gen.seed + 500 * b + j for j in range(b)])
            t = time.perf_counter()
            reps = 2
            for r in range(reps):
                generate(_prompts(gen, [classes[(r + j) % len(classes)] for j in range(b)]), [gen.seed + 1000 * b + r * b + j for j in range(b)])
            throughput[str(b)] = b * reps / (time.perf_counter() - t)
        result["images_per_s"] = throughput
        prompts, seeds, labels = _quality_plan(gen)
        images = []
        step = 8
        for i in range(0, len(prompts), step):
            imgs, _ = generate(prompts[i : i + step], seeds[i : i + step])
            images.append(imgs)
        release()
    result["peak_rss_mb"] = rss.peak_mb
    np.savez_compressed(out_dir / "images.npz", images=np.concatenate(images), labels=np.asarray(labels), seeds=np.asarray(seeds))
    result["images_file"] = "images.npz"
    return result


def run_classifier_leg(leg: LegSpec, out_dir: Path, repeats: int = 3) -> dict:
    from edgegen.classifiers.metrics import classification_report
    from edgegen.data.default import load_default
    from edgegen.runtime.classify import open_classifier, predict
    from edgegen.runtime.loader import RunConfig

    config = RunConfig(leg.backend, {Component.CLASSIFIER: Precision(leg.precisions["classifier"])}, leg.threads, "cuda" if leg.backend is Backend.TORCH and _cuda() else "cpu")
    with PeakRssSampler() as rss:
        t0 = time.perf_counter()
        runner, card = open_classifier(config, leg.classifier, Path(leg.artifacts) if leg.artifacts else None)
        runner.load()
        test = load_default("test", card.input_size)
        load_s = time.perf_counter() - t0
        probs, _ = predict(runner, card, test.images)  # warm-up pass, also the accuracy pass
        passes = []
        for _ in range(repeats):
            t = time.perf_counter()
            predict(runner, card, test.images)
            passes.append(time.perf_counter() - t)
        runner.release()
    report = classification_report(probs, test.labels, card.class_names, bootstrap=200)
    from edgegen.schema import to_plain

    return {"load_s": load_s, "pass_s": passes, "n_images": len(test), "images_per_s": {"64": len(test) / float(np.median(passes))}, "metrics": to_plain(report), "peak_rss_mb": rss.peak_mb}


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    leg = LegSpec(**{**spec["leg"], "backend": Backend(spec["leg"]["backend"]) if spec["leg"]["backend"] else None})
    gen = GenSettings(**{**spec["gen"], "class_names": tuple(spec["gen"]["class_names"]), "batch_sizes": tuple(spec["gen"]["batch_sizes"])})
    out: dict = {"name": leg.name, "status": "ok"}
    try:
        if leg.kind == "classifier":
            out.update(run_classifier_leg(leg, out_path.parent))
        else:
            out.update(run_sd_leg(leg, gen, out_path.parent, spec["load_watts"]))
    except BaseException as exc:  # noqa: BLE001 - a failed leg is data, not a crash of the bench
        from edgegen.errors import EdgegenError

        out["status"] = "failed"
        out["error"] = exc.one_line() if isinstance(exc, EdgegenError) else f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        out["traceback"] = traceback.format_exc()[-2000:]
    out_path.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
