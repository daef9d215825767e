"""One module per exportable component, all answering the `ComponentExport` interface."""

from edgegen.export.components import classifier, generator, text_encoder, unet, vae  # noqa: F401  (registers them)
from edgegen.export.components.base import EXPORTS, ComponentExport, register_export

__all__ = ["EXPORTS", "ComponentExport", "register_export"]
