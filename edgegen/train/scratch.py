"""A tiny SD trained from scratch on CPU: first the VAE on the CXRs, then the UNet.

The text encoder keeps its seeded random weights: frozen, it still maps each class prompt to a
fixed, distinct embedding that the UNet learns to condition on (training it too is an option of
the UNet stage). After the VAE stage the latent scaling factor is set from the data, as SD's
0.18215 was, so the UNet sees unit-variance latents.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgegen.data.imageset import ImageSet
from edgegen.train.finetune import FinetuneConfig, FinetuneResult, finetune_pipeline, pick_device
from edgegen.train.latents import encode_latent_stats, images_to_tensor


@dataclass(frozen=True)
class VaeTrainConfig:
    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    kl_weight: float = 1e-4
    seed: int = 0
    # Train on random crops of this side (the VAE is convolutional, so it decodes full images
    # afterwards): at 128 px, 64 px crops make a step ~4× cheaper on a CPU. None: whole images.
    crop: int | None = None


@dataclass(frozen=True)
class VaeResult:
    steps: int
    recon_mse: float  # on the first 256 training images, [-1, 1] pixel scale
    psnr_db: float
    scaling_factor: float
    seconds: float


def train_vae(
    vae,
    data: ImageSet,
    resolution: int,
    config: VaeTrainConfig,
    device: torch.device,
    progress: Callable | None = None,
    checkpoint: Path | None = None,
    checkpoint_every: int = 200,
) -> VaeResult:
    """Train the VAE; with `checkpoint`, resumable bit-exactly from the last saved step."""
    import hashlib
    from dataclasses import asdict

    from edgegen.train.checkpoint import load_checkpoint, save_checkpoint

    gen = torch.Generator().manual_seed(config.seed)
    images = images_to_tensor(data.images, resolution)
    vae.to(device).train().requires_grad_(True)
    opt = torch.optim.AdamW(vae.parameters(), lr=config.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    fingerprint = hashlib.sha256(
        json.dumps({"vae": asdict(config), "data": data.content_hash(), "res": resolution}, sort_keys=True).encode()
    ).hexdigest()
    first = 1
    if checkpoint is not None and (found := load_checkpoint(checkpoint, fingerprint)) is not None:
        done, state = found
        vae.load_state_dict(state["vae"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        first = done + 1
    start = time.perf_counter()
    crop = config.crop if config.crop and config.crop < resolution else None
    for step in range(first, config.steps + 1):
        idx = torch.randint(0, len(images), (config.batch_size,), generator=gen)
        x = images[idx]
        if crop:
            top, left = torch.randint(0, resolution - crop + 1, (2,), generator=gen).tolist()
            x = x[:, :, top : top + crop, left : left + crop]
        x = x.to(device)
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen).to(device)
        recon = vae.decode(z).sample
        rec = torch.nn.functional.mse_loss(recon, x) + 0.5 * torch.nn.functional.l1_loss(recon, x)
        loss = rec + config.kl_weight * posterior.kl().mean() / z[0].numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if progress is not None:
            progress(step, config.steps, loss.item())
        if checkpoint is not None and step % checkpoint_every == 0 and step < config.steps:
            save_checkpoint(
                checkpoint,
                step,
                fingerprint,
                {"vae": vae.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state()},
            )
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        x = images[:256].to(device)
        mse = torch.nn.functional.mse_loss(vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1), x).item()
    mean, _ = encode_latent_stats(vae, data.images, resolution, device)
    scaling = float(1.0 / mean.std())
    vae.register_to_config(scaling_factor=scaling)
    psnr = float(10 * np.log10(4.0 / max(mse, 1e-12)))  # peak-to-peak 2 on the [-1, 1] scale
    return VaeResult(config.steps, mse, psnr, scaling, time.perf_counter() - start)


def train_from_scratch(
    pipe,
    data: ImageSet,
    vae_config: VaeTrainConfig,
    unet_config: FinetuneConfig,
    out_dir: Path,
    model_hash: str,
    resume: bool = True,
    vae_progress: Callable | None = None,
    unet_progress: Callable | None = None,
    save_fp16: bool = False,
) -> tuple[VaeResult | None, FinetuneResult]:
    """Train the VAE (unless a finished VAE stage is found beside out_dir), then the UNet."""
    from diffusers import AutoencoderKL

    from edgegen.atomic import atomic_dir
    from edgegen.train.checkpoint import checkpoint_dir

    device = pick_device(unet_config.device)
    stage = checkpoint_dir(out_dir).with_name(checkpoint_dir(out_dir).name + "-vae")
    vae_result = None
    if resume and (stage / "config.json").is_file():
        pipe.vae = AutoencoderKL.from_pretrained(stage, local_files_only=True)
        vae_card = json.loads((stage / "edgegen_vae.json").read_text())
    else:
        vae_ckpt = stage.with_name(stage.name + "-partial")
        if not resume:
            import shutil

            shutil.rmtree(vae_ckpt, ignore_errors=True)
        vae_result = train_vae(
            pipe.vae,
            data,
            unet_config.resolution,
            vae_config,
            device,
            vae_progress,
            vae_ckpt,
            unet_config.checkpoint_every,
        )
        pipe.vae.to("cpu")
        with atomic_dir(stage) as tmp:
            pipe.vae.save_pretrained(tmp, safe_serialization=True)
            vae_card = {"vae_training": {**vae_config.__dict__, **vae_result.__dict__}}
            (tmp / "edgegen_vae.json").write_text(json.dumps(vae_card, indent=2))
        import shutil

        shutil.rmtree(vae_ckpt, ignore_errors=True)
    result = finetune_pipeline(pipe, data, unet_config, out_dir, model_hash, resume, unet_progress, vae_card, save_fp16)
    import shutil

    shutil.rmtree(stage, ignore_errors=True)
    return vae_result, result
