"""A GAN generator: latent z [B, z_dim] + condition vector c [B, c_dim] → image [B, 1, R, R]
in about [-1, 1]. One forward pass per image (no denoising loop). Constant noise, so the graph is
deterministic and every backend can be compared with torch."""

from __future__ import annotations

import numpy as np

from edgegen.export.components.base import ComponentExport, register_export, with_int8
from edgegen.types import Component


@register_export
class GeneratorExport(ComponentExport):
    """`owner` is a `edgegen.gan.generator.Generator` (eval mode, constant noise)."""

    component = Component.GENERATOR
    input_names = ("z", "c")
    output_names = ("images",)
    # INT8 worst measured on the embedded GAN (bench/results/int8_drift.json, 3 seeds × 2 schemes):
    # rel-L2 0.078 (trt-s8s8), max-abs 0.29 (u8s8) on [-1, 1] images; a GAN trained for 4 steps
    # drifted to 0.377 / 2.18. The bound keeps a ~3× margin on the trained model.
    tolerances = with_int8(0.3, 1.0)
    # Demodulation sums squared weights × styles and takes a reciprocal square root: fp32.
    fp16_op_block_list = ("Sqrt", "Reciprocal", "ReduceMean", "Pow")
    int8_op_types = ("Conv", "MatMul", "Gemm")

    @classmethod
    def component_batches(cls, image_batch):
        # One pass per image: throughput comes from large batches (bench runs 1 and 64).
        return (1, max(image_batch[1], 16), max(image_batch[2], 64))

    def module(self):
        return self.owner.eval().set_random_noise(False)

    def dynamic_axes(self):
        return {"z": {0: "batch"}, "c": {0: "batch"}, "images": {0: "batch"}}

    def input_shapes(self, batch, image_size):
        cfg = self.owner.config
        return {"z": (batch, cfg.z_dim), "c": (batch, cfg.c_dim)}

    def sample_inputs(self, batch, image_size, rng):
        cfg = self.owner.config
        c = np.zeros((batch, cfg.c_dim), np.float32)
        npop = len(cfg.populations)
        c[np.arange(batch), rng.integers(0, npop, batch)] = 1.0
        c[:, npop:] = rng.random((batch, cfg.c_dim - npop)) < 0.3
        return {"z": rng.standard_normal((batch, cfg.z_dim)).astype(np.float32), "c": c}
