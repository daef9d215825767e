"""`edgegen finetune`: fine-tune a SD pipeline on CXR classes, or train a tiny one from scratch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, warn


def finetune_cmd(
    model: Annotated[str, typer.Argument(help="A preset name or a local diffusers folder.")],
    out: Annotated[Path, typer.Option(help="Output diffusers folder (written only when training completes).")],
    data: Annotated[
        str,
        typer.Option(
            help=(
                "An embedded set (default = kermany-128, nih-cxr14-128, cxr-128, "
                "pneumoniamnist; join with +), a class-folder, a .csv or a .npz."
            )
        ),
    ] = "default",
    from_scratch: Annotated[
        bool, typer.Option(help="Train the VAE first, then the UNet (tiny presets on CPU).")
    ] = False,
    resolution: Annotated[int, typer.Option("--resolution", "--size", help="Image side in pixels (64 or 128).")] = 64,
    max_steps: int = 1000,
    batch_size: int = 16,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    lr: float = 1e-4,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank on the UNet attention; 0 trains the full UNet.")] = 0,
    lora_alpha: float | None = None,
    ema_decay: Annotated[
        float | None, typer.Option(help="Keep an EMA of the weights (e.g. 0.999) and save it.")
    ] = None,
    cond_dropout: Annotated[float, typer.Option(help="Share of prompts dropped, for classifier-free guidance.")] = 0.1,
    prompt_template: Annotated[
        str | None,
        typer.Option(
            help=(
                "Prompt with {class}, or {population} + {findings}; "
                "default: findings when the data has them, else the class."
            )
        ),
    ] = None,
    snr_gamma: Annotated[
        float | None, typer.Option(help="Min-SNR-γ loss weighting (e.g. 5): faster convergence from scratch.")
    ] = None,
    vae_crop: Annotated[
        int | None, typer.Option(help="--from-scratch: train the VAE on random crops of this side (cheaper).")
    ] = None,
    train_text_encoder: bool = False,
    checkpoint_every: int = 200,
    vae_steps: Annotated[int, typer.Option(help="--from-scratch: VAE training steps.")] = 2000,
    vae_batch_size: Annotated[int, typer.Option(help="--from-scratch: VAE batch size.")] = 16,
    save_fp16: Annotated[
        bool, typer.Option(help="Store weights in fp16 (half the size; loaded back as fp32).")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: int = 0,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint beside --out.")] = True,
    trust_pickle: bool = False,
    label_column: int | None = None,
    json_out: JsonOption = False,
) -> None:
    """Fine-tune a Stable Diffusion UNet on CXR class prompts (full or LoRA, EMA, resumable)."""
    from edgegen.cli.progress import step_progress
    from edgegen.data.load import load_dataset
    from edgegen.errors import UsageError
    from edgegen.models.source import resolve_model
    from edgegen.train.finetune import FinetuneConfig, finetune_pipeline
    from edgegen.train.scratch import VaeTrainConfig, train_from_scratch

    source = resolve_model(model, trust_pickle=trust_pickle)
    if from_scratch and source.kind != "preset":
        raise UsageError(
            "--from-scratch builds a preset's architecture with fresh weights", hint="pass a preset name, e.g. tiny-cxr"
        )
    dataset = load_dataset(data, "train", resolution, label_column=label_column)
    if dataset.skipped:
        warn(f"{dataset.skipped_summary()}")
    from edgegen.conditions import CLASS_TEMPLATE, FINDINGS_TEMPLATE

    template = prompt_template or (FINDINGS_TEMPLATE if dataset.is_multilabel else CLASS_TEMPLATE)
    config = FinetuneConfig(
        resolution,
        max_steps,
        batch_size,
        grad_accum,
        lr,
        min(50, max_steps // 10),
        lora_rank,
        lora_alpha,
        ema_decay,
        cond_dropout,
        template,
        True,
        train_text_encoder,
        checkpoint_every,
        seed,
        device,
        snr_gamma,
    )
    pipe = source.load_pipeline(seed=seed)
    with (
        step_progress("UNet", enabled=not json_out) as unet_bar,
        step_progress("VAE", enabled=not json_out and from_scratch) as vae_bar,
    ):
        unet_cb = lambda s, n, loss: unet_bar(s, n, f"loss {loss:.4f}")  # noqa: E731
        if from_scratch:
            vae_cb = lambda s, n, loss: vae_bar(s, n, f"loss {loss:.4f}")  # noqa: E731
            vae_result, result = train_from_scratch(
                pipe,
                dataset,
                VaeTrainConfig(vae_steps, vae_batch_size, 1e-3, 1e-4, seed, vae_crop),
                config,
                out,
                source.fingerprint(),
                resume,
                vae_cb,
                unet_cb,
                save_fp16,
            )
        else:
            vae_result = None
            result = finetune_pipeline(
                pipe, dataset, config, out, source.fingerprint(), resume, unet_cb, save_fp16=save_fp16
            )
    if json_out:
        print_json({"vae": vae_result, "unet": result})
        return
    if vae_result is not None:
        console.print(
            f"VAE: {vae_result.steps} steps, reconstruction PSNR "
            f"{vae_result.psnr_db:.1f} dB, latent scale {vae_result.scaling_factor:.4f}"
        )
    resumed = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
    console.print(
        f"UNet ({result.mode}, {result.trainable_params:,} trainable params): {result.steps} "
        f"steps{resumed}, final loss {result.final_loss:.4f}, {result.seconds:.0f} s"
    )
    console.print(f"saved {result.out_dir}")
