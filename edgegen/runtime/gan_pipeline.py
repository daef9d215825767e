"""Generation with a GAN generator on any backend: one forward pass per batch.

Each image's latent z comes from its own seed (a CPU torch generator, as the diffusion pipeline's
initial noise does), and its condition vector from its population and findings, so the same seed
and condition give the same image on every backend and at any batch size. It answers the same
`generate(items, settings)` as the diffusion pipeline, so `edgegen generate`, `bench` and `study`
treat both families alike.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from edgegen.errors import NumericalError
from edgegen.gan.config import GanConfig, condition_vector
from edgegen.runtime.backends.base import Runner
from edgegen.runtime.pipeline import Generated, PipelineInfo, Timings
from edgegen.types import Component


def latents(seeds: list[int], z_dim: int) -> np.ndarray:
    return torch.cat([torch.randn((1, z_dim), generator=torch.Generator().manual_seed(int(s))) for s in seeds]).numpy()


def gray_to_uint8_rgb(images: np.ndarray) -> np.ndarray:
    """[-1, 1] [N, 1, H, W] → uint8 [N, H, W, 3] (the same layout the diffusion pipeline returns)."""
    gray = np.clip((images[:, 0] + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


class GanPipeline:
    family = "gan"

    def __init__(self, runner: Runner, config: GanConfig, info: PipelineInfo) -> None:
        self.runner, self.config, self.info = runner, config, info
        self.runners = {Component.GENERATOR: runner}

    def run(self, conditions: list[tuple[str, tuple[str, ...]]], seeds: list[int]) -> Generated:
        """(population, findings) per image + seeds → images."""
        start = time.perf_counter()
        z = latents(seeds, self.config.z_dim)
        c = np.stack([condition_vector(self.config, pop, findings) for pop, findings in conditions])
        out = next(iter(self.runner.run({"z": z.astype(np.float32), "c": c}).values()))
        if not np.isfinite(out).all():
            raise NumericalError(
                "NaN/Inf in the generator output", hint="try fp32 for the generator or another backend"
            )
        timings = Timings(total_s=time.perf_counter() - start)
        timings.generator_s = self.runner.last_inference_s
        return Generated(gray_to_uint8_rgb(out), timings)

    def generate(self, items, settings) -> Generated:
        return self.run([(it.population, it.findings) for it in items], [it.seed for it in items])

    def tags(self, settings) -> dict:
        return {"size": self.config.resolution, "family": "gan"}

    def release(self) -> None:
        self.runner.release()
