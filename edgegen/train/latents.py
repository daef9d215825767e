"""Turning CXR images into what SD trains on: VAE latents and class-prompt embeddings."""

from __future__ import annotations

import numpy as np
import torch

from edgegen.data.transforms import resize_batch


def images_to_tensor(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 [N,H,W] grayscale → float [N,3,R,R] in [-1, 1] (SD's VAE takes RGB)."""
    x = torch.from_numpy(resize_batch(images, resolution)).float().div(127.5).sub(1.0)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


@torch.no_grad()
def encode_latent_stats(vae, images: np.ndarray, resolution: int, device: torch.device, batch: int = 64):
    """(mean, std) of the VAE posterior per image, unscaled; sampling happens per training step."""
    means, stds = [], []
    for i in range(0, len(images), batch):
        x = images_to_tensor(images[i : i + batch], resolution).to(device, vae.dtype)
        dist = vae.encode(x).latent_dist
        means.append(dist.mean.float().cpu())
        stds.append(dist.std.float().cpu())
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def encode_prompts(tokenizer, text_encoder, prompts: list[str], device: torch.device) -> torch.Tensor:
    ids = tokenize(tokenizer, prompts).to(device)
    return text_encoder(ids)[0].float()


def tokenize(tokenizer, prompts: list[str]) -> torch.Tensor:
    return tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids
