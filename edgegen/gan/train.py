"""Train the conditional GAN, resumable bit-exactly: non-saturating logistic loss, lazy R1 on the
discriminator, DiffAugment on everything the discriminator sees, EMA of the generator.

Conditions are sampled from the training set's own distribution (a random training image's
population + findings vector), so rare combinations are seen as often as in the data. The saved
generator is the EMA copy, with constant noise, in a folder `edgegen generate --model` reads.
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
import torch.nn.functional as F

from edgegen.data.imageset import ImageSet
from edgegen.errors import UsageError
from edgegen.gan.config import GAN_PRESETS, GanConfig, condition_vector
from edgegen.train.checkpoint import checkpoint_dir, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class GanTrainConfig:
    preset: str = "gan-cxr-128"
    steps: int = 3000
    batch_size: int = 16
    lr: float = 0.0025
    r1_gamma: float = 0.2
    r1_every: int = 16
    ema_kimg: float = 5.0  # EMA half-life in thousands of images
    augment: bool = True
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.preset not in GAN_PRESETS:
            raise UsageError(f"unknown GAN preset {self.preset!r}", hint=f"use one of: {', '.join(GAN_PRESETS)}")
        if min(self.steps, self.batch_size, self.r1_every, self.checkpoint_every) < 1:
            raise UsageError("--steps, --batch-size, --r1-every and --checkpoint-every must be ≥ 1")
        if self.batch_size < 2:
            raise UsageError("--batch-size must be ≥ 2 (the minibatch-stddev layer needs a group)")

    @property
    def gan(self) -> GanConfig:
        return GAN_PRESETS[self.preset]

    def fingerprint(self, data_hash: str) -> str:
        relevant = {k: v for k, v in asdict(self).items() if k not in ("steps", "checkpoint_every", "device")}
        return hashlib.sha256(json.dumps({"config": relevant, "data": data_hash}, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class GanTrainResult:
    out_dir: Path
    steps: int
    resumed_from: int
    kimg: float
    seconds: float
    generator_params: int
    loss_curve: list[dict[str, float]] = field(default_factory=list)  # mean losses per 100 steps


def _conditions(data: ImageSet, config: GanConfig) -> np.ndarray:
    from edgegen.conditions import image_conditions

    return np.stack([condition_vector(config, c.population, c.findings) for c in image_conditions(data)])


def _images(data: ImageSet, resolution: int) -> torch.Tensor:
    from edgegen.data.transforms import resize_batch

    return torch.from_numpy(resize_batch(data.images, resolution)).float().div(127.5).sub(1.0).unsqueeze(1)


def train_gan(
    data: ImageSet,
    config: GanTrainConfig,
    out_dir: Path,
    resume: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    reproduce: str = "",
    save_fp16: bool = False,
) -> GanTrainResult:
    from dataclasses import replace

    from edgegen.conditions import FINDINGS_TEMPLATE, training_conditioning, with_class_findings
    from edgegen.data.findings import load_findings_map
    from edgegen.gan.augment import diff_augment
    from edgegen.gan.discriminator import Discriminator
    from edgegen.gan.folder import save_gan
    from edgegen.gan.generator import Generator
    from edgegen.train.finetune import pick_device

    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    data = with_class_findings(data)  # a class-only set conditions on its classes' findings
    # The condition vector covers every finding of the active findings map (a user's map adds slots).
    gcfg = replace(config.gan, findings=tuple(dict.fromkeys((*config.gan.findings, *load_findings_map().names))))
    reals = _images(data, gcfg.resolution)
    conds = torch.from_numpy(_conditions(data, gcfg))
    G, D = Generator(gcfg).to(device), Discriminator(gcfg).to(device)
    G_ema = Generator(gcfg).to(device).eval().requires_grad_(False)
    G_ema.load_state_dict(G.state_dict())
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.0, 0.99), eps=1e-8)
    # Lazy R1: the discriminator's Adam is rescaled as in StyleGAN2 for a regulariser every k steps.
    ratio = config.r1_every / (config.r1_every + 1)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
    gen = torch.Generator().manual_seed(config.seed)
    fingerprint = config.fingerprint(data.content_hash())
    ckpt = checkpoint_dir(out_dir)
    start = 0
    spent = {"wall_s": 0.0, "cpu_s": 0.0}  # over every part of a resumed training
    resumed_log: list[dict[str, float]] = []
    if not resume:
        shutil.rmtree(ckpt, ignore_errors=True)
    elif (found := load_checkpoint(ckpt, fingerprint)) is not None:
        start, state = found
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["gen"])
        spent = state.get("spent", spent)
        resumed_log = state.get("log", [])
    beta = 0.5 ** (config.batch_size / max(config.ema_kimg * 1000.0, 1e-8))
    aug = (lambda x: diff_augment(x, gen)) if config.augment else (lambda x: x)  # noqa: E731
    b = config.batch_size
    log: list[dict[str, float]] = list(resumed_log)
    window: list[tuple[float, float]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(start + 1, config.steps + 1):
        # Discriminator: real vs fake (+ lazy R1 on reals)
        idx = torch.randint(0, len(reals), (b,), generator=gen)
        real, c_real = reals[idx].to(device), conds[idx].to(device)
        c_fake = conds[torch.randint(0, len(conds), (b,), generator=gen)].to(device)
        z = torch.randn(b, gcfg.z_dim, generator=gen).to(device)
        with torch.no_grad():
            fake = G(z, c_fake)
        r1 = step % config.r1_every == 0
        real_in = real.detach().requires_grad_(r1)
        d_real = D(aug(real_in), c_real)
        loss_d = F.softplus(D(aug(fake), c_fake)).mean() + F.softplus(-d_real).mean()
        if r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            loss_d = loss_d + grad.square().sum(dim=(1, 2, 3)).mean() * (config.r1_gamma / 2) * config.r1_every
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # Generator: fool the discriminator
        z = torch.randn(b, gcfg.z_dim, generator=gen).to(device)
        c_fake = conds[torch.randint(0, len(conds), (b,), generator=gen)].to(device)
        loss_g = F.softplus(-D(aug(G(z, c_fake)), c_fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - beta)
            for b_ema, buf in zip(G_ema.buffers(), G.buffers(), strict=True):
                b_ema.copy_(buf)
        last = (loss_d.item(), loss_g.item())
        window.append(last)
        if step % 100 == 0:
            log.append(
                {
                    "step": step,
                    "loss_d": round(float(np.mean([w[0] for w in window])), 4),
                    "loss_g": round(float(np.mean([w[1] for w in window])), 4),
                }
            )
            window.clear()
        if progress is not None:
            progress(step, config.steps, f"D {last[0]:.3f} G {last[1]:.3f}")
        if step % config.checkpoint_every == 0 and step < config.steps:
            state = {
                "G": G.state_dict(),
                "D": D.state_dict(),
                "G_ema": G_ema.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "gen": gen.get_state(),
                "log": log,
                "spent": {
                    "wall_s": spent["wall_s"] + time.perf_counter() - t0,
                    "cpu_s": spent["cpu_s"] + time.process_time() - c0,
                },
            }
            save_checkpoint(ckpt, step, fingerprint, state)
    seconds = time.perf_counter() - t0
    total = {
        "wall_s": round(spent["wall_s"] + seconds, 1),
        "cpu_s": round(spent["cpu_s"] + time.process_time() - c0, 1),
    }
    vocab, _ = training_conditioning(data, FINDINGS_TEMPLATE)
    kimg = config.steps * b / 1000.0
    card = {
        "family": "gan",
        "architecture": (
            "StyleGAN2-style (mapping network, modulated/demodulated convs, "
            "skip to-image), projection discriminator, lazy R1, DiffAugment, EMA"
        ),
        "training": {
            **asdict(config),
            "kimg": kimg,
            "resumed_from": start,
            "seconds_this_run": round(seconds, 1),
            # every part of a resumed run: wall time, and process CPU time (meaningful on a shared box)
            "seconds_total": total,
        },
        "loss_curve": log,
        "data": {
            "source": data.source,
            "sha256": data.content_hash(),
            "counts": data.class_counts(),
            "findings": data.finding_counts(),
        },
        "conditioning": vocab.to_dict(),
        "reproduce": reproduce,
        "generator_params": sum(p.numel() for p in G_ema.parameters()),
    }
    save_gan(G_ema.cpu().set_random_noise(False), card, out_dir, fp16=save_fp16)
    shutil.rmtree(ckpt, ignore_errors=True)
    return GanTrainResult(Path(out_dir), config.steps, start, kimg, seconds, card["generator_params"], log)
