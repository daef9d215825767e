"""Registry of SD-family architectures built from real configs with random weights.

Presets serve tests (`tiny`) and latency/memory benchmarks at real size when no weights are at
hand (`sd15`, `sd21-base`, `bk-sdm-tiny`). Each preset is a folder of diffusers configs under
`edgegen/assets/sd-configs/`; adding one means adding a folder and one `register_preset` call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgegen.assets import SD_CONFIGS_DIR
from edgegen.errors import ModelError

COMPONENT_CLASSES = {
    "unet": "UNet2DConditionModel",
    "vae": "AutoencoderKL",
    "text_encoder": "CLIPTextModel",
}


@dataclass(frozen=True)
class ModelPreset:
    name: str
    description: str
    config_folder: str  # under edgegen/assets/sd-configs
    resolution: int  # native image side in pixels
    licence: str

    @property
    def config_dir(self) -> Path:
        return SD_CONFIGS_DIR / self.config_folder


PRESETS: dict[str, ModelPreset] = {}


def register_preset(preset: ModelPreset) -> ModelPreset:
    if preset.name in PRESETS:
        raise ValueError(f"preset {preset.name!r} registered twice")
    PRESETS[preset.name] = preset
    return preset


register_preset(
    ModelPreset(
        "tiny", "SD 1.x layout scaled down to run in seconds on CPU (tests)", "tiny", 64, "Apache-2.0 (edgegen)"
    )
)
register_preset(
    ModelPreset(
        "tiny-cxr",
        "Architecture of the first embedded model (64x64 CXRs, PneumoniaMNIST; superseded by cxr-128)",
        "tiny-cxr",
        64,
        "Apache-2.0 (edgegen)",
    )
)
register_preset(
    ModelPreset(
        "cxr-128",
        "Architecture of the embedded edgegen-cxr-128 model (128x128 CXRs, population + findings prompts)",
        "cxr-128",
        128,
        "Apache-2.0 (edgegen)",
    )
)
register_preset(
    ModelPreset(
        "sd15",
        "Stable Diffusion 1.5 shapes (UNet 859.5M params)",
        "sd-v1-5",
        512,
        "CreativeML OpenRAIL-M (configs only)",
    )
)
register_preset(
    ModelPreset(
        "sd21-base",
        "Stable Diffusion 2.1-base shapes (OpenCLIP ViT-H text encoder)",
        "sd-2-1-base",
        512,
        "CreativeML OpenRAIL++-M (configs only)",
    )
)
register_preset(
    ModelPreset(
        "bk-sdm-tiny",
        "BK-SDM-Tiny: block-removed SD 1.4 UNet (~0.32B params)",
        "bk-sdm-tiny",
        512,
        "CreativeML OpenRAIL-M (configs only)",
    )
)


def get_preset(name: str) -> ModelPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"unknown preset {name!r}", hint=f"use one of: {', '.join(PRESETS)}") from None


def load_component_config(config_dir: Path, component: str) -> dict[str, Any]:
    return json.loads((config_dir / component / "config.json").read_text())


def build_component(config_dir: Path, component: str):
    """A randomly initialised component (unet, vae, text_encoder) from its config."""
    config = load_component_config(config_dir, component)
    if component == "unet":
        from diffusers import UNet2DConditionModel

        return UNet2DConditionModel.from_config(config)
    if component == "vae":
        from diffusers import AutoencoderKL

        return AutoencoderKL.from_config(config)
    if component == "text_encoder":
        from transformers import CLIPTextConfig, CLIPTextModel

        clean = {k: v for k, v in config.items() if not k.startswith("_")}
        return CLIPTextModel(CLIPTextConfig(**clean))
    raise ModelError(f"unknown component {component!r}", hint=f"use one of: {', '.join(COMPONENT_CLASSES)}")


def parameter_counts(preset: ModelPreset) -> dict[str, int]:
    """Exact parameter count per component, built on the meta device (no memory, no init time)."""
    import torch

    counts = {}
    with torch.device("meta"):
        for component in COMPONENT_CLASSES:
            module = build_component(preset.config_dir, component)
            counts[component] = sum(p.numel() for p in module.parameters())
    return counts


def build_scheduler(config_file: Path):
    """The scheduler class named in a diffusers scheduler_config.json."""
    import diffusers

    config = json.loads(config_file.read_text())
    return getattr(diffusers, config["_class_name"]).from_config(config)


def build_preset_pipeline(name: str, seed: int = 0):
    """A full StableDiffusionPipeline with random weights (deterministic for a given seed)."""
    import torch
    from diffusers import StableDiffusionPipeline

    from edgegen.models.tokenizer import build_clip_tokenizer

    preset = get_preset(name)
    torch.manual_seed(seed)
    components = {c: build_component(preset.config_dir, c).eval() for c in COMPONENT_CLASSES}
    scheduler = build_scheduler(preset.config_dir / "scheduler" / "scheduler_config.json")
    return StableDiffusionPipeline(
        **components,
        tokenizer=build_clip_tokenizer(preset.config_dir / "tokenizer"),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
