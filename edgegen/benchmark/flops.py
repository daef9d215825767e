"""FLOPs of one UNet call, counted by torch's FlopCounterMode (not estimated from params)."""

from __future__ import annotations


def unet_flops(unet, batch: int, latent_side: int, seq_len: int) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cfg = unet.config
    sample = torch.zeros(batch, cfg.in_channels, latent_side, latent_side)
    t = torch.full((batch,), 500.0)
    ctx = torch.zeros(batch, seq_len, cfg.cross_attention_dim)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        unet(sample, t, ctx)
    return int(counter.get_total_flops())


def source_unet(source):
    """The model's UNet architecture with fresh weights: FLOPs depend on shapes, not values, so
    the text encoder, VAE and weight files need not be loaded."""
    import json

    from diffusers import UNet2DConditionModel

    from edgegen.models.presets import PRESETS

    folder = PRESETS[source.name].config_dir if source.kind == "preset" else source.path
    return UNet2DConditionModel.from_config(json.loads((folder / "unet" / "config.json").read_text())).eval()
