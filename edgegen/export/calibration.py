"""Real-data calibration inputs for INT8, per component.

UNet: real CXRs through the VAE encoder, noised by the training scheduler at timesteps across
the schedule, paired with class-prompt and empty-prompt embeddings as classifier-free guidance
batches them. Text encoder: the class prompts. VAE decoder: latents of real CXRs. VAE encoder
and classifier: the real images themselves.
"""

from __future__ import annotations

import numpy as np
import torch

from edgegen.data.imageset import ImageSet
from edgegen.data.torch_dataset import to_model_input
from edgegen.train.latents import images_to_tensor, tokenize
from edgegen.train.prompts import DEFAULT_TEMPLATE, class_prompt
from edgegen.types import Component


def _pick(data: ImageSet, n: int, seed: int) -> np.ndarray:
    """n images, alternating classes, so every class shapes the activation ranges."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(data.labels == c)) for c in range(len(data.class_names))]
    picked = [per_class[i % len(per_class)][i // len(per_class) % len(per_class[i % len(per_class)])] for i in range(n)]
    return data.images[np.array(picked)]


@torch.no_grad()
def sd_calibration(
    pipe, component: Component, data: ImageSet, image_size: int, n: int, seed: int = 0, template: str = DEFAULT_TEMPLATE
) -> list[dict[str, np.ndarray]]:
    from diffusers import DDPMScheduler

    images = _pick(data, n, seed)
    prompts = [class_prompt(template, c) for c in data.class_names]
    ids = tokenize(pipe.tokenizer, prompts + [""])
    if component is Component.TEXT_ENCODER:
        return [{"input_ids": ids[i : i + 1].numpy()} for i in range(len(ids))]
    pixels = images_to_tensor(images, image_size)
    if component is Component.VAE_ENCODER:
        return [{"images": pixels[i : i + 1].numpy()} for i in range(n)]
    scale = float(pipe.vae.config.scaling_factor)
    latents = pipe.vae.encode(pixels).latent_dist.mean * scale
    if component is Component.VAE_DECODER:
        return [{"latent": latents[i : i + 1].numpy()} for i in range(n)]
    if component is Component.UNET:
        emb = pipe.text_encoder(ids)[0]
        uncond = emb[-1:]
        sched = DDPMScheduler.from_config(pipe.scheduler.config)
        gen = torch.Generator().manual_seed(seed)
        timesteps = torch.linspace(sched.config.num_train_timesteps - 1, 0, n).round().long()
        out = []
        for i in range(n):
            noise = torch.randn(latents[i : i + 1].shape, generator=gen)
            noisy = sched.add_noise(latents[i : i + 1], noise, timesteps[i : i + 1])
            cond = emb[i % len(prompts) : i % len(prompts) + 1]
            out.append(
                {
                    "sample": torch.cat([noisy, noisy]).numpy(),
                    "timestep": torch.full((2,), float(timesteps[i])).numpy(),
                    "encoder_hidden_states": torch.cat([uncond, cond]).numpy(),
                }
            )
        return out
    raise ValueError(f"{component} is not a Stable Diffusion component")


def classifier_calibration(card, data: ImageSet, n: int, seed: int = 0, batch: int = 8) -> list[dict[str, np.ndarray]]:
    images = _pick(data, n, seed)
    x = to_model_input(images, card.input_size, card.mean, card.std).numpy()
    return [{"images": x[i : i + batch]} for i in range(0, n, batch)]


def gan_calibration(config, card: dict, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """GAN generator inputs as generation draws them: z ~ N(0, I) and condition vectors cycling
    through the conditions the model was trained on (its named classes and each finding in the
    population where it was seen most)."""
    from edgegen.conditions import Conditioning
    from edgegen.gan.config import condition_vector

    vocab = Conditioning.from_dict(card.get("conditioning"))
    conds = [(spec.get("population", ""), tuple(spec.get("findings", ()))) for spec in vocab.classes.values()]
    conds += [(vocab.finding_populations.get(f, ""), (f,)) for f in vocab.findings]
    conds = conds or [("", ())]
    rng = np.random.default_rng(seed)
    return [
        {
            "z": rng.standard_normal((1, config.z_dim)).astype(np.float32),
            "c": condition_vector(config, *conds[i % len(conds)])[None],
        }
        for i in range(n)
    ]
