"""`edgegen train-gan`: train the conditional GAN on CXRs (resumable, safetensors only)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, warn


def train_gan_cmd(
    out: Annotated[
        Path,
        typer.Option(help="Output GAN folder (written only when training completes; a checkpoint beside it resumes)."),
    ],
    data: Annotated[
        str,
        typer.Option(
            help=(
                "An embedded set (default = kermany-128, nih-cxr14-128, "
                "cxr-128; join with +), a class-folder, a .csv or a .npz."
            )
        ),
    ] = "cxr-128",
    preset: Annotated[str, typer.Option(help="Architecture: gan-cxr-128, gan-cxr-64 or gan-tiny.")] = "gan-cxr-128",
    steps: Annotated[int, typer.Option(help="Generator steps (kimg = steps × batch / 1000).")] = 3000,
    batch_size: int = 16,
    lr: float = 0.0025,
    r1_gamma: Annotated[float, typer.Option(help="R1 penalty weight on real images.")] = 0.2,
    r1_every: Annotated[int, typer.Option(help="Lazy R1: apply it every k steps.")] = 16,
    ema_kimg: Annotated[float, typer.Option(help="Generator EMA half-life, thousands of images.")] = 5.0,
    augment: Annotated[
        bool, typer.Option(help="DiffAugment (brightness, contrast, translation, cutout) before the discriminator.")
    ] = True,
    checkpoint_every: int = 200,
    save_fp16: Annotated[
        bool, typer.Option(help="Store weights in fp16 (half the size; loaded back as fp32).")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: int = 0,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint beside --out.")] = True,
    json_out: JsonOption = False,
) -> None:
    """Train a class- and finding-conditional StyleGAN2-style GAN on CXRs; resumable bit-exactly."""
    from edgegen.cli.progress import step_progress
    from edgegen.data.load import load_dataset
    from edgegen.gan.train import GanTrainConfig, train_gan

    config = GanTrainConfig(
        preset, steps, batch_size, lr, r1_gamma, r1_every, ema_kimg, augment, checkpoint_every, seed, device
    )
    dataset = load_dataset(data, "train", config.gan.resolution)
    if dataset.skipped:
        warn(dataset.skipped_summary())
    reproduce = "edgegen " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with step_progress("GAN", enabled=not json_out) as bar:
        result = train_gan(dataset, config, out, resume, bar, reproduce, save_fp16)
    if json_out:
        print_json(result)
        return
    resumed = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
    console.print(
        f"GAN ({result.generator_params:,} generator params): {result.steps} steps, "
        f"{result.kimg:.0f} kimg{resumed}, {result.seconds:.0f} s → {result.out_dir}"
    )
