"""A trained GAN on disk: `generator.safetensors` (the EMA generator), `config.json` (GanConfig) and
`edgegen_gan.json` (training card: data, conditioning vocabulary, settings, reproduce command).
Saved atomically; loaded with checks; safetensors only (no pickle)."""

from __future__ import annotations

import json
from pathlib import Path

from edgegen.atomic import atomic_dir
from edgegen.errors import ModelError
from edgegen.gan.config import GanConfig

WEIGHTS = "generator.safetensors"
CONFIG = "config.json"
CARD = "edgegen_gan.json"


def is_gan_folder(path: Path) -> bool:
    return (Path(path) / CARD).is_file() and (Path(path) / CONFIG).is_file()


def save_gan(generator, card: dict, out_dir: Path, fp16: bool = False) -> Path:
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if fp16 else torch.float32
    state = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in generator.state_dict().items()
    }
    with atomic_dir(Path(out_dir)) as tmp:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "edgegen-gan", "dtype": str(dtype)})
        (tmp / CONFIG).write_text(generator.config.to_json() + "\n")
        (tmp / CARD).write_text(
            json.dumps({**card, "stored_dtype": "float16" if fp16 else "float32"}, indent=2, default=str) + "\n"
        )
    return Path(out_dir)


def load_card(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / CARD).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder} is not a GAN folder ({CARD}: {type(exc).__name__})") from exc


def load_gan(folder: Path):
    """(Generator in eval mode with constant noise, its card). Weights load as fp32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from edgegen.gan.generator import Generator

    folder = Path(folder)
    if not is_gan_folder(folder):
        raise ModelError(
            f"{folder} is not a GAN folder: {CONFIG} and {CARD} are needed", hint="train one with `edgegen train-gan`"
        )
    weights = folder / WEIGHTS
    if not weights.is_file():
        pickles = [p.name for p in folder.glob("*.pt*")] + [p.name for p in folder.glob("*.bin")]
        hint = "edgegen loads safetensors only" + (f"; found pickle file(s) {pickles}" if pickles else "")
        raise ModelError(f"{weights} is missing", hint=hint)
    config = GanConfig.from_file(folder / CONFIG)
    generator = Generator(config)
    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
        generator.load_state_dict(state)
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ModelError(f"{weights} is corrupt or does not match {CONFIG} ({type(exc).__name__})") from exc
    return generator.eval().requires_grad_(False).set_random_noise(False), load_card(folder)
