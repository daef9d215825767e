"""A CXR classifier: normalised 1-channel images → class logits."""

from __future__ import annotations

import numpy as np

from edgegen.export.components.base import ComponentExport, register_export
from edgegen.types import Component


@register_export
class ClassifierExport(ComponentExport):
    """`owner` is a (model, card) pair from `edgegen.classifiers.card.load_classifier`."""

    component = Component.CLASSIFIER
    input_names = ("images",)
    output_names = ("logits",)
    fp16_op_block_list = ("Softmax",)
    int8_op_types = ("Conv", "MatMul", "Gemm")

    @classmethod
    def component_batches(cls, image_batch):
        # Classification runs over whole datasets: profile for large batches, not per-image.
        return (1, max(image_batch[1], 16), max(image_batch[2], 64))

    def module(self):
        return self.owner[0].eval()

    def dynamic_axes(self):
        return {"images": {0: "batch"}, "logits": {0: "batch"}}

    def input_shapes(self, batch, image_size):
        side = self.owner[1].input_size  # classifiers run at their trained input size
        return {"images": (batch, 1, side, side)}

    def sample_inputs(self, batch, image_size, rng):
        return {"images": rng.standard_normal(self.input_shapes(batch, image_size)["images"]).astype(np.float32)}
