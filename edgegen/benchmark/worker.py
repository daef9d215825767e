"""One bench leg in its own long-lived process: `python -m edgegen.benchmark.worker LEG.json`.

The model is loaded once; the orchestrator then sends one JSON command per line on stdin and
reads one JSON reply per line (on the original stdout; everything else the libraries print goes
to stderr). Commands: load (cold start), time (k calls at a batch size, for one round), quality
(generate the shared quality plan to an .npz), stats (peak RSS, energy), quit. A failure is a
reply with ok=false and the one-line error, never a crash of the bench. Separate processes keep
per-leg peak memory apart.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from edgegen.benchmark.legs import GenSettings, LegSpec
from edgegen.benchmark.memory import PeakRssSampler, vm_hwm_bytes
from edgegen.benchmark.power import estimate, open_meter
from edgegen.types import Backend, Component, Precision, SchedulerName


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _items(gen: GenSettings, picks: list[tuple[int, int]]):
    """PlannedImage per (condition index, seed)."""
    from edgegen.conditions import Condition
    from edgegen.runtime.generate import PlannedImage

    out = []
    for k, (ci, seed) in enumerate(picks):
        c = gen.conditions[ci % len(gen.conditions)]
        cond = Condition(c["name"], c.get("population", ""), tuple(c.get("findings", ())))
        out.append(
            PlannedImage(k, cond.name, cond.prompt(gen.prompt_template), seed, "", cond.population, cond.findings)
        )
    return out


def _classifier_test_set(card):
    """The test split of the embedded set the classifier was trained on (NIH for the findings
    classifier, Kermany for the binary one), with its labels aligned; None for other data."""
    from edgegen.data.embedded import EMBEDDED_DATASETS
    from edgegen.data.load import load_dataset

    name = str((card.data.get("train") or {}).get("source", "")).split(":")[0]
    if not name or not all(part in EMBEDDED_DATASETS for part in name.split("+")):
        return None
    names = None if card.multilabel else tuple(card.class_names)
    return load_dataset(name, "test", card.input_size, names)


class _Settings:
    """The GenerateSettings fields a pipeline's generate() reads."""

    def __init__(self, gen: GenSettings) -> None:
        self.steps, self.guidance_scale, self.scheduler, self.size = (
            gen.steps,
            gen.guidance_scale,
            gen.scheduler,
            gen.size,
        )
        self.negative_prompt, self.tiled_decode = "", False


class LegWorker:
    def __init__(self, leg: LegSpec, gen: GenSettings, watts: float, folder: Path) -> None:
        self.leg, self.gen, self.watts, self.folder = leg, gen, watts, folder
        self.pipe = None
        self.runner = self.card = self.test = None
        self.energy = {"joules": 0.0, "seconds": 0.0, "method": "estimate"}

    # --- loading -------------------------------------------------------------------------
    def _config(self):
        from edgegen.runtime.loader import RunConfig

        precisions = {Component(c): Precision(p) for c, p in self.leg.precisions.items()}
        device = "cuda" if self.leg.backend is Backend.TORCH and _cuda() else "cpu"
        return RunConfig(self.leg.backend, precisions, self.leg.threads, device, self.leg.torch_compile)

    def load(self) -> dict:
        t0 = time.perf_counter()
        if self.leg.kind == "classifier":
            return self._load_classifier(t0)
        if self.leg.kind == "optimum":
            self._load_optimum()
        else:
            from edgegen.runtime.loader import open_pipeline

            self.pipe, _ = open_pipeline(
                self._config(),
                SchedulerName(self.gen.scheduler),
                model=self.leg.model,
                artifacts=Path(self.leg.artifacts) if self.leg.artifacts else None,
            )
            for runner in self.pipe.runners.values():
                runner.load()
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        self._generate(_items(self.gen, [(0, self.gen.seed)]))
        first = time.perf_counter() - t1
        return {"load_s": load_s, "first_s": first, "cold_start_s": load_s + first}

    def _load_optimum(self) -> None:
        from optimum.onnxruntime import ORTDiffusionPipeline

        from edgegen.runtime.scheduling import make_scheduler

        pipe = ORTDiffusionPipeline.from_pretrained(self.leg.optimum_dir, provider="CPUExecutionProvider")
        pipe.scheduler = make_scheduler(SchedulerName(self.gen.scheduler), dict(pipe.scheduler.config))
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe

    def _load_classifier(self, t0: float) -> dict:
        from edgegen.classifiers.evaluate import score
        from edgegen.data.default import load_default
        from edgegen.runtime.classify import open_classifier, predict

        self.runner, self.card = open_classifier(
            self._config(), self.leg.classifier, Path(self.leg.artifacts) if self.leg.artifacts else None
        )
        self.runner.load()
        load_s = time.perf_counter() - t0
        self.test = _classifier_test_set(self.card) or load_default("test", self.card.input_size)
        t1 = time.perf_counter()
        probs, _ = predict(
            self.runner, self.card, self.test.images[: self.gen.classifier_batch], self.gen.classifier_batch
        )
        first = time.perf_counter() - t1
        probs, _ = predict(self.runner, self.card, self.test.images, self.gen.classifier_batch)
        from edgegen.schema import to_plain

        return {
            "load_s": load_s,
            "first_s": first,
            "cold_start_s": load_s + first,
            "metrics": to_plain(score(probs, self.test, self.card, bootstrap=500)),
            "n_test": len(self.test),
        }

    # --- running ---------------------------------------------------------------------------
    def _generate(self, items) -> tuple[np.ndarray, dict]:
        if self.leg.kind == "optimum":
            import torch

            gens = [torch.Generator().manual_seed(it.seed) for it in items]
            out = self.pipe(
                [it.prompt for it in items],
                num_inference_steps=self.gen.steps,
                guidance_scale=self.gen.guidance_scale,
                height=self.gen.size,
                width=self.gen.size,
                generator=gens,
                output_type="np",
            )
            return np.clip(out.images * 255 + 0.5, 0, 255).astype(np.uint8), {}
        out = self.pipe.generate(items, _Settings(self.gen))
        t = out.timings
        comps = (
            {"text_encoder_s": t.text_encoder_s, "unet_steps_s": t.unet_steps_s, "vae_decoder_s": t.vae_decoder_s}
            if self.pipe.family == "sd"
            else {"generator_s": t.generator_s}
        )
        return out.images, comps

    def time(self, batch: int, calls: int, round_index: int) -> dict:
        meter = open_meter(
            prefer_gpu=self.leg.backend in (Backend.ORT_CUDA, Backend.ORT_TENSORRT, Backend.TENSORRT) or _cuda()
        )
        if meter:
            meter.start()
        seconds, components = [], {}
        t_all = time.perf_counter()
        for k in range(calls):
            if self.leg.kind == "classifier":
                from edgegen.runtime.classify import predict

                start = (round_index * calls + k) * batch % max(1, len(self.test) - batch)
                images = self.test.images[start : start + batch]
                t = time.perf_counter()
                predict(self.runner, self.card, images, batch)
                seconds.append(time.perf_counter() - t)
                continue
            base = self.gen.seed + 1_000_000 + (round_index * 1000 + k) * batch
            items = _items(
                self.gen, [((round_index + k + j) % len(self.gen.conditions), base + j) for j in range(batch)]
            )
            if self.leg.kind == "sd":
                self.pipe._emb_cache.clear()  # time the text encoder on every call, as a new prompt would
            t = time.perf_counter()
            _, comps = self._generate(items)
            seconds.append(time.perf_counter() - t)
            for key, v in comps.items():
                components.setdefault(key, []).extend(v if isinstance(v, list) else [v])
        busy = time.perf_counter() - t_all
        reading = meter.stop() if meter else estimate(busy, self.watts)
        self.energy["joules"] += reading.joules
        self.energy["seconds"] += busy
        self.energy["method"] = reading.method
        return {"seconds": seconds, "components": components}

    def quality(self, n_per_condition: int) -> dict:
        picks = [
            (ci, self.gen.seed + 100_000 + ci * 10_000 + k)
            for ci in range(len(self.gen.conditions))
            for k in range(n_per_condition)
        ]
        items = _items(self.gen, picks)
        images = []
        for i in range(0, len(items), 8):
            imgs, _ = self._generate(items[i : i + 8])
            images.append(imgs)
        arr = np.concatenate(images)
        gray = arr.mean(axis=-1).round().astype(np.uint8) if arr.ndim == 4 else arr
        path = self.folder / "quality_images.npz"
        np.savez_compressed(
            path,
            images=gray,
            conditions=np.array([it.class_name for it in items]),
            seeds=np.array([it.seed for it in items]),
        )
        return {"file": str(path), "n": len(items)}

    def stats(self) -> dict:
        e = self.energy
        return {
            "peak_rss_mb": vm_hwm_bytes() / 2**20,
            "energy": {
                "joules": e["joules"],
                "seconds": e["seconds"],
                "method": e["method"],
                "watts": e["joules"] / e["seconds"] if e["seconds"] else None,
            },
        }

    def handle(self, cmd: dict) -> dict:
        op = cmd.get("op")
        if op == "load":
            return self.load()
        if op == "time":
            return self.time(int(cmd["batch"]), int(cmd["calls"]), int(cmd.get("round", 0)))
        if op == "quality":
            return self.quality(int(cmd["n_per_condition"]))
        if op == "stats":
            return self.stats()
        raise ValueError(f"unknown op {op!r}")


def _reply(out, obj: dict) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    leg = LegSpec(**{**spec["leg"], "backend": Backend(spec["leg"]["backend"]) if spec["leg"]["backend"] else None})
    gen = GenSettings(
        **{
            **spec["gen"],
            "conditions": tuple(spec["gen"]["conditions"]),
            "batch_sizes": tuple(spec["gen"]["batch_sizes"]),
            "gan_batch_sizes": tuple(spec["gen"]["gan_batch_sizes"]),
        }
    )
    # Replies go to the real stdout; anything a library prints goes to stderr, from Python and from
    # native code alike (onnxruntime / OpenVINO write to file descriptor 1 directly): fd 1 itself
    # is pointed at stderr, and the reply channel is a private copy of the original stdout.
    sys.stdout.flush()
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = LegWorker(leg, gen, spec["load_watts"], spec_path.parent)
    with PeakRssSampler():
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd.get("op") == "quit":
                _reply(replies, {"ok": True})
                break
            try:
                _reply(replies, {"ok": True, **worker.handle(cmd)})
            except BaseException as exc:  # noqa: BLE001 - a failed leg is data, not a crash of the bench
                from edgegen.errors import EdgegenError

                error = (
                    exc.one_line()
                    if isinstance(exc, EdgegenError)
                    else f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                )
                _reply(replies, {"ok": False, "error": error, "traceback": traceback.format_exc()[-2000:]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
