"""Real-data calibration inputs for INT8, per component.

UNet: real CXRs through the VAE encoder, noised by the training scheduler at timesteps across
the schedule, each paired with its own prompt in the model's template (its class, or its
population + findings for the v2 models) and the empty prompt, as classifier-free guidance
batches them. Text encoder: those prompts. VAE decoder: latents of real CXRs. VAE encoder and
classifier: the real images themselves.

Samples are produced lazily (`iter_sd_calibration`), the VAE encoding a few images at a time, so
calibrating a SD 1.5-size UNet at 512 px never holds more than one small batch of pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from edgegen.data.imageset import ImageSet
from edgegen.data.torch_dataset import to_model_input
from edgegen.train.latents import images_to_tensor, tokenize
from edgegen.train.prompts import DEFAULT_TEMPLATE
from edgegen.types import Component


def _pick_indices(data: ImageSet, n: int, seed: int) -> np.ndarray:
    """n image indices, alternating classes, so every class shapes the activation ranges."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(data.labels == c)) for c in range(len(data.class_names))]
    per_class = [p for p in per_class if len(p)]
    return np.array(
        [per_class[i % len(per_class)][i // len(per_class) % len(per_class[i % len(per_class)])] for i in range(n)]
    )


def _pick(data: ImageSet, n: int, seed: int) -> np.ndarray:
    return data.images[_pick_indices(data, n, seed)]


def image_prompts(data: ImageSet, template: str) -> list[str]:
    """Each image's prompt in the model's template: its class, or its population + findings."""
    from edgegen.conditions import training_conditioning

    return training_conditioning(data, template or DEFAULT_TEMPLATE)[1]


@torch.no_grad()
def iter_sd_calibration(
    pipe,
    component: Component,
    data: ImageSet,
    image_size: int,
    n: int,
    seed: int = 0,
    template: str = DEFAULT_TEMPLATE,
    encode_batch: int = 2,
) -> Iterator[dict[str, np.ndarray]]:
    """Calibration (or held-out check) inputs for one SD component, one sample at a time."""
    from diffusers import DDPMScheduler

    idx = _pick_indices(data, n, seed)
    prompts = image_prompts(data, template)
    picked_prompts = [prompts[i] for i in idx]
    if component is Component.TEXT_ENCODER:
        unique = list(dict.fromkeys(picked_prompts)) + [""]
        for i in range(len(unique)):
            yield {"input_ids": tokenize(pipe.tokenizer, unique[i : i + 1]).numpy()}
        return
    if component not in (Component.VAE_ENCODER, Component.VAE_DECODER, Component.UNET):
        raise ValueError(f"{component} is not a Stable Diffusion component")
    scale = float(pipe.vae.config.scaling_factor)
    if component is Component.UNET:
        emb_cache: dict[str, torch.Tensor] = {}

        def embed(prompt: str) -> torch.Tensor:
            if prompt not in emb_cache:
                emb_cache[prompt] = pipe.text_encoder(tokenize(pipe.tokenizer, [prompt]))[0]
            return emb_cache[prompt]

        sched = DDPMScheduler.from_config(pipe.scheduler.config)
        gen = torch.Generator().manual_seed(seed)
        timesteps = torch.linspace(sched.config.num_train_timesteps - 1, 0, n).round().long()
    for start in range(0, n, encode_batch):
        chunk = idx[start : start + encode_batch]
        pixels = images_to_tensor(data.images[chunk], image_size)
        if component is Component.VAE_ENCODER:
            for j in range(len(chunk)):
                yield {"images": pixels[j : j + 1].numpy()}
            continue
        latents = pipe.vae.encode(pixels).latent_dist.mean * scale
        for j in range(len(chunk)):
            if component is Component.VAE_DECODER:
                yield {"latent": latents[j : j + 1].numpy()}
                continue
            i = start + j
            noise = torch.randn(latents[j : j + 1].shape, generator=gen)
            noisy = sched.add_noise(latents[j : j + 1], noise, timesteps[i : i + 1])
            yield {
                "sample": torch.cat([noisy, noisy]).numpy(),
                "timestep": torch.full((2,), float(timesteps[i])).numpy(),
                "encoder_hidden_states": torch.cat([embed(""), embed(picked_prompts[i])]).numpy(),
            }


def sd_calibration(
    pipe, component: Component, data: ImageSet, image_size: int, n: int, seed: int = 0, template: str = DEFAULT_TEMPLATE
) -> list[dict[str, np.ndarray]]:
    """`iter_sd_calibration` as a list (small models, and the held-out checks)."""
    return list(iter_sd_calibration(pipe, component, data, image_size, n, seed, template))


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
