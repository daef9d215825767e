"""What runs inside a Ray actor: a worker that loads its pipeline (or classifier, or study data)
once, on its first call, then serves shards. Plain classes, no ray import: the pool wraps them
with `ray.remote`, and tests can run them in-process.

Workers never write to the output folder. They return what they made (encoded PNGs with their
manifest lines, probabilities, a unit's record) and the driver commits it, so a shard retried
after an actor death cannot write anything twice, and the output folder need not be visible to
the workers at all.

Loading is lazy rather than in `__init__` because Ray drops the exception of a failed actor
constructor (the caller only sees "actor died"); raised from a method, a typed edgegen error
(a missing export, a bad model) reaches the driver intact and is not retried.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PipelineSpec:
    """How a worker opens its generation pipeline (the arguments of `open_pipeline`)."""

    config: object  # edgegen.runtime.loader.RunConfig
    scheduler: object  # SchedulerName
    model: str | None = None
    artifacts: Path | None = None
    low_memory: bool = False


@dataclass(frozen=True)
class PipelineDescription:
    """What the driver needs from a loaded pipeline to plan a run, without loading one itself."""

    info: object  # edgegen.runtime.pipeline.PipelineInfo
    family: str
    resolution: int | None  # a GAN's fixed image side; None for diffusion
    facts: dict  # provenance facts, incl. the backend


@dataclass
class ShardOutput:
    images: list  # edgegen.runtime.generate.RenderedImage
    facts: dict
    unet_steps_s: list[float] = field(default_factory=list)
    seconds: float = 0.0


class GenerateWorker:
    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.pipe = None
        self.facts: dict = {}

    def _load(self):
        if self.pipe is None:
            from edgegen.runtime.loader import open_pipeline

            s = self.spec
            self.pipe, facts = open_pipeline(
                s.config, s.scheduler, model=s.model, artifacts=s.artifacts, low_memory=s.low_memory
            )
            self.facts = {**facts, "backend": s.config.backend.value}
        return self.pipe

    def describe(self) -> PipelineDescription:
        pipe = self._load()
        resolution = pipe.config.resolution if pipe.family == "gan" else None
        return PipelineDescription(pipe.info, pipe.family, resolution, self.facts)

    def generate(self, items: tuple, settings) -> ShardOutput:
        """Render the shard's images batch by batch, exactly as `generate_images` batches them."""
        from edgegen.runtime.generate import render

        pipe = self._load()
        start = time.perf_counter()
        out = ShardOutput([], self.facts)
        tags = pipe.tags(settings)
        for i in range(0, len(items), settings.batch_size):
            batch = list(items[i : i + settings.batch_size])
            result = pipe.generate(batch, settings)
            out.unet_steps_s += result.timings.unet_steps_s
            share = result.timings.total_s / len(batch)
            out.images += [
                render(it, image, self.facts, tags, settings, share)
                for it, image in zip(batch, result.images, strict=True)
            ]
        out.seconds = time.perf_counter() - start
        return out


class ClassifyWorker:
    def __init__(self, config, classifier: str | None, artifacts: Path | None) -> None:
        self.config, self.classifier, self.artifacts = config, classifier, artifacts
        self.runner = None
        self.card = None

    def _load(self):
        if self.runner is None:
            from edgegen.runtime.classify import open_classifier

            self.runner, self.card = open_classifier(self.config, self.classifier, self.artifacts)
        return self.runner, self.card

    def describe(self):
        return self._load()[1]

    def predict(self, images: np.ndarray, start: int, stop: int, batch_size: int) -> tuple[np.ndarray, float]:
        """Probabilities of images[start:stop] (`images` arrives from the object store, once per node)."""
        from edgegen.runtime.classify import predict

        runner, card = self._load()
        return predict(runner, card, images[start:stop], batch_size)


class StudyWorker:
    """Trains study units on the study's data, which reaches it once through the object store."""

    def __init__(self, state, threads: int | None) -> None:
        self.state, self.threads = state, threads

    def describe(self) -> int:
        return len(self.state.units)

    def train(self, unit) -> tuple[dict, np.ndarray]:
        import torch

        from edgegen.study.runner import train_unit

        if self.threads:
            torch.set_num_threads(self.threads)
        return train_unit(self.state, unit)
