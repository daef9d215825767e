"""Loading a user's local diffusers folder (a fine-tuned SD), checked before diffusers sees it.

Only safetensors weights are loaded by default: pickle checkpoints (.bin/.ckpt/.pt) can run
arbitrary code on load, so they are refused unless the user passes `--trust-pickle`. Every
problem found in the folder is named in one error, so a user fixes it in one go. Never touches
a model hub.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgegen.errors import ModelError

REQUIRED = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
WEIGHTED = ("unet", "vae", "text_encoder")
_CONFIG_NAME = {"scheduler": "scheduler_config.json", "tokenizer": "tokenizer_config.json"}
_PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth")


@dataclass(frozen=True)
class FolderCheck:
    path: Path
    weights: dict[str, tuple[str, ...]]  # component → weight file names found
    pickle_only: tuple[str, ...]  # components whose only weights are pickle files


def check_folder(path: Path, components: tuple[str, ...] = REQUIRED) -> FolderCheck:
    """Check a diffusers folder's layout; raise one ModelError naming everything missing."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"model folder {path} does not exist", hint="pass a diffusers folder or a preset name")
    if not path.is_dir():
        raise ModelError(
            f"{path} is a file, not a diffusers model folder", hint="pass the folder that holds model_index.json"
        )
    if not (path / "model_index.json").is_file():
        raise ModelError(
            f"{path} has no model_index.json", hint="save the pipeline with save_pretrained() or point at its root"
        )
    try:
        json.loads((path / "model_index.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(
            f"{path / 'model_index.json'} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
        ) from exc
    problems: list[str] = []
    weights: dict[str, tuple[str, ...]] = {}
    pickle_only: list[str] = []
    for comp in components:
        sub = path / comp
        config = _CONFIG_NAME.get(comp, "config.json")
        if not sub.is_dir():
            problems.append(f"{comp}/ is missing")
            continue
        if not (sub / config).is_file():
            problems.append(f"{comp}/{config} is missing")
        if comp in WEIGHTED:
            files = tuple(sorted(p.name for p in sub.iterdir() if p.is_file()))
            safe = tuple(f for f in files if f.endswith(".safetensors") or f.endswith(".safetensors.index.json"))
            pickled = tuple(f for f in files if f.endswith(_PICKLE_SUFFIXES) or f.endswith(".bin.index.json"))
            if safe:
                weights[comp] = safe
            elif pickled:
                weights[comp] = pickled
                pickle_only.append(comp)
            else:
                problems.append(f"{comp}/ has no weights (*.safetensors)")
    if problems:
        raise ModelError(f"model folder {path} is incomplete: {'; '.join(problems)}")
    return FolderCheck(path, weights, tuple(pickle_only))


def load_local_pipeline(path: Path, *, trust_pickle: bool = False, dtype=None):
    """StableDiffusionPipeline from a local folder, offline, safetensors unless trusted."""
    check = check_folder(path)
    if check.pickle_only and not trust_pickle:
        raise ModelError(
            f"{', '.join(check.pickle_only)} in {check.path} only has pickle weights, which can run code when loaded",
            hint="convert them to safetensors, or pass --trust-pickle if you trust the source",
        )
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # edgegen prints its own progress; stderr is for errors
    try:
        return StableDiffusionPipeline.from_pretrained(
            str(check.path),
            local_files_only=True,
            use_safetensors=None if check.pickle_only else True,  # None: safetensors where present, pickle elsewhere
            torch_dtype=dtype or torch.float32,
            safety_checker=None,
            requires_safety_checker=False,
        )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load the pipeline in {check.path}: {first}") from exc
