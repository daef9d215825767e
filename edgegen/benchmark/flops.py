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
