"""Fine-tune a diffusers SD pipeline's UNet on CXR classes (full or LoRA), resumable.

Noise-prediction (or v-prediction) loss on VAE latents of the training images, each paired with
its class prompt; the prompt is dropped to "" with probability `cond_dropout` so the model also
learns the unconditional branch that classifier-free guidance needs. Optional EMA of the
trained weights. LoRA adapters are fused into the UNet at the end, so the saved folder is a
plain diffusers pipeline that loads anywhere.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from edgegen.atomic import atomic_dir
from edgegen.data.imageset import ImageSet
from edgegen.errors import UsageError
from edgegen.train.checkpoint import checkpoint_dir, load_checkpoint, save_checkpoint
from edgegen.train.latents import encode_latent_stats, encode_prompts, tokenize
from edgegen.train.prompts import DEFAULT_TEMPLATE

TRAINING_CARD = "edgegen_training.json"


@dataclass(frozen=True)
class FinetuneConfig:
    resolution: int = 64
    max_steps: int = 1000
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-4
    lr_warmup: int = 50
    lora_rank: int = 0  # 0: full fine-tune of the UNet
    lora_alpha: float | None = None
    ema_decay: float | None = None  # e.g. 0.999; None: no EMA
    cond_dropout: float = 0.1
    prompt_template: str = DEFAULT_TEMPLATE
    class_balanced: bool = True  # equal draws per (population, class) group
    train_text_encoder: bool = False
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "auto"
    # Min-SNR-γ loss weighting (Hang et al., ICCV 2023): down-weights the easy low-noise timesteps,
    # which converges several times faster from scratch. None: plain MSE.
    snr_gamma: float | None = None

    def __post_init__(self) -> None:
        if self.resolution % 8:
            raise UsageError(f"--resolution {self.resolution} is not a multiple of 8")
        if self.lora_rank and self.train_text_encoder:
            raise UsageError(
                "--lora-rank and --train-text-encoder cannot be combined", hint="LoRA adapts the UNet only"
            )
        if min(self.max_steps, self.batch_size, self.grad_accum) < 1:
            raise UsageError("--max-steps, --batch-size and --grad-accum must be ≥ 1")
        if self.snr_gamma is not None and self.snr_gamma <= 0:
            raise UsageError(f"--snr-gamma {self.snr_gamma} must be > 0")

    def fingerprint(self, data_hash: str, model_hash: str) -> str:
        """What a checkpoint must match to be resumed (max_steps may grow, so it is left out)."""
        relevant = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("max_steps", "checkpoint_every", "device") and not (k == "snr_gamma" and v is None)
        }
        blob = json.dumps({"config": relevant, "data": data_hash, "model": model_hash}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class FinetuneResult:
    out_dir: Path
    steps: int
    resumed_from: int
    mode: str  # "full" | "lora"
    trainable_params: int
    final_loss: float
    seconds: float
    loss_curve: list[float] = field(default_factory=list)  # mean loss per 50 steps


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from edgegen.errors import BackendUnavailableError

        raise BackendUnavailableError("--device cuda asked for, but torch sees no CUDA device", hint="use --device cpu")
    return torch.device(name)


def _batch_indices(
    groups: np.ndarray, n_classes: int, batch: int, balanced: bool, gen: torch.Generator
) -> torch.Tensor:
    if not balanced:
        return torch.randint(0, len(groups), (batch,), generator=gen)
    by_class = [np.flatnonzero(groups == c) for c in range(n_classes)]
    classes = torch.randint(0, n_classes, (batch,), generator=gen).tolist()
    return torch.tensor([by_class[c][torch.randint(0, len(by_class[c]), (1,), generator=gen).item()] for c in classes])


def _groups(data: ImageSet) -> tuple[np.ndarray, int]:
    """Sampling groups for balanced batches: (population, class) pairs."""
    pops = data.meta.get("population") if data.meta else None
    keys = [f"{pops[i] if pops is not None else ''}/{data.labels[i]}" for i in range(len(data))]
    names = sorted(set(keys))
    return np.array([names.index(k) for k in keys]), len(names)


def _min_snr_weight(scheduler, t: torch.Tensor, gamma: float, prediction: str) -> torch.Tensor:
    alphas = scheduler.alphas_cumprod.to(t.device)[t]
    snr = alphas / (1 - alphas)
    weight = torch.clamp(snr, max=gamma) / snr
    return weight if prediction == "epsilon" else torch.clamp(snr, max=gamma) / (snr + 1)


def finetune_pipeline(
    pipe,
    data: ImageSet,
    config: FinetuneConfig,
    out_dir: Path,
    model_hash: str,
    resume: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
    extra_card: dict | None = None,
    save_fp16: bool = False,
) -> FinetuneResult:
    from diffusers import DDPMScheduler, DPMSolverMultistepScheduler
    from diffusers.optimization import get_constant_schedule_with_warmup

    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for m in (unet, vae, text_encoder):
        m.to(device)
    vae.requires_grad_(False).eval()
    text_encoder.requires_grad_(config.train_text_encoder)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    prediction = noise_scheduler.config.prediction_type

    # Data → latent posterior stats (sampled each step) and per-image prompts: the class, or the
    # population + findings (see edgegen.conditions); "" is the unconditional prompt.
    from edgegen.conditions import training_conditioning

    vocab, image_prompts = training_conditioning(data, config.prompt_template)
    lat_mean, lat_std = encode_latent_stats(vae, data.images, config.resolution, device)
    scale = float(vae.config.scaling_factor)
    prompts = list(dict.fromkeys(image_prompts)) + [""]
    prompt_of_image = np.array([prompts.index(p) for p in image_prompts])
    groups, n_groups = _groups(data)
    prompt_ids = tokenize(tokenizer, prompts).to(device)
    cached_emb = None if config.train_text_encoder else encode_prompts(tokenizer, text_encoder, prompts, device)
    uncond = len(prompts) - 1

    mode = "lora" if config.lora_rank else "full"
    if config.lora_rank:
        from peft import LoraConfig

        unet.requires_grad_(False)
        unet.add_adapter(
            LoraConfig(
                r=config.lora_rank,
                lora_alpha=config.lora_alpha or config.lora_rank,
                init_lora_weights="gaussian",
                target_modules=["to_k", "to_q", "to_v", "to_out.0"],
            )
        )
    else:
        unet.requires_grad_(True)
    unet.train()
    params = [p for p in unet.parameters() if p.requires_grad]
    if config.train_text_encoder:
        text_encoder.train()
        params += list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
    lr_sched = get_constant_schedule_with_warmup(optimizer, config.lr_warmup)
    ema = None
    if config.ema_decay:
        from diffusers.training_utils import EMAModel

        ema = EMAModel(params, decay=config.ema_decay)

    fingerprint = config.fingerprint(data.content_hash(), model_hash)
    ckpt_path = checkpoint_dir(out_dir)
    start_step = 0
    if not resume:
        shutil.rmtree(ckpt_path, ignore_errors=True)
    elif (found := load_checkpoint(ckpt_path, fingerprint)) is not None:
        start_step, state = found
        with torch.no_grad():
            for p, saved in zip(params, state["params"], strict=True):
                p.copy_(saved.to(device))
        optimizer.load_state_dict(state["optimizer"])
        lr_sched.load_state_dict(state["lr_sched"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
    gen = torch.Generator().manual_seed(config.seed)
    spent = {"wall_s": 0.0, "cpu_s": 0.0}  # over every part of a resumed training
    curve: list[float] = []
    if start_step:
        gen.set_state(state["gen"])  # the resumed run draws exactly what the uninterrupted one would
        spent = state.get("spent", spent)
        curve = list(state.get("curve", []))
    t0, c0 = time.perf_counter(), time.process_time()

    def checkpoint(step: int) -> None:
        state = {
            "params": [p.detach().cpu().clone() for p in params],
            "optimizer": optimizer.state_dict(),
            "lr_sched": lr_sched.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "gen": gen.get_state(),
            "curve": curve,
            "spent": {
                "wall_s": spent["wall_s"] + time.perf_counter() - t0,
                "cpu_s": spent["cpu_s"] + time.process_time() - c0,
            },
        }
        save_checkpoint(ckpt_path, step, fingerprint, state)

    losses: list[float] = []
    started = time.perf_counter()
    step = start_step
    while step < config.max_steps:
        total = 0.0
        for _ in range(config.grad_accum):
            idx = _batch_indices(groups, n_groups, config.batch_size, config.class_balanced, gen)
            eps = torch.randn(lat_mean[idx].shape, generator=gen)
            latents = ((lat_mean[idx] + lat_std[idx] * eps) * scale).to(device)
            noise = torch.randn(latents.shape, generator=gen).to(device)
            t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(idx),), generator=gen).to(device)
            drop = torch.rand(len(idx), generator=gen) < config.cond_dropout
            chosen = torch.as_tensor(prompt_of_image[idx])
            which = torch.where(drop, torch.full_like(chosen, uncond), chosen).to(device)
            emb = cached_emb[which] if cached_emb is not None else text_encoder(prompt_ids[which])[0]
            noisy = noise_scheduler.add_noise(latents, noise, t)
            target = noise if prediction == "epsilon" else noise_scheduler.get_velocity(latents, noise, t)
            pred = unet(noisy, t, encoder_hidden_states=emb).sample
            per_sample = torch.nn.functional.mse_loss(pred.float(), target.float(), reduction="none").mean(
                dim=(1, 2, 3)
            )
            if config.snr_gamma is not None:
                per_sample = per_sample * _min_snr_weight(noise_scheduler, t, config.snr_gamma, prediction)
            loss = per_sample.mean() / config.grad_accum
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        lr_sched.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(params)
        step += 1
        losses.append(total)
        if step % 50 == 0:
            curve.append(round(float(np.mean(losses[-50:])), 5))
        if progress is not None:
            progress(step, config.max_steps, total)
        if step % config.checkpoint_every == 0 and step < config.max_steps:
            checkpoint(step)

    if ema is not None:
        ema.copy_to(params)
    unet.eval()
    text_encoder.eval()
    if config.lora_rank:
        unet.fuse_lora()
        unet.unload_lora()
    final_loss = float(np.mean(losses[-50:])) if losses else float("nan")
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    card = {
        "config": asdict(config),
        "mode": mode,
        "steps": step,
        "resumed_from": start_step,
        "final_loss": final_loss,
        "class_names": list(vocab.class_names),
        "prompts": prompts[:-1],
        "conditioning": vocab.to_dict(),
        "data": {
            "source": data.source,
            "sha256": data.content_hash(),
            "counts": data.class_counts(),
            "findings": data.finding_counts(),
        },
        "base_model_sha256": model_hash,
        "loss_curve_per_50_steps": curve,
        # every part of a resumed run: wall time, and process CPU time (meaningful on a shared box)
        "seconds": {
            "this_run": round(time.perf_counter() - t0, 1),
            "total_wall": round(spent["wall_s"] + time.perf_counter() - t0, 1),
            "total_cpu": round(spent["cpu_s"] + time.process_time() - c0, 1),
        },
        **(extra_card or {}),
    }
    # fp16 storage halves the folder (the embedded model must stay small); loaders upcast to fp32.
    pipe.to("cpu", torch.float16 if save_fp16 else torch.float32)
    card["stored_dtype"] = "float16" if save_fp16 else "float32"
    with atomic_dir(Path(out_dir)) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
        (tmp / TRAINING_CARD).write_text(json.dumps(card, indent=2, default=str) + "\n")
    shutil.rmtree(ckpt_path, ignore_errors=True)
    return FinetuneResult(
        Path(out_dir),
        step,
        start_step,
        mode,
        sum(p.numel() for p in params),
        final_loss,
        time.perf_counter() - started,
        curve,
    )
