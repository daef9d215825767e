"""What a MODEL argument names: a preset (random weights) or a local diffusers folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from edgegen.errors import ModelError
from edgegen.models.local import check_folder, load_local_pipeline
from edgegen.models.presets import PRESETS, build_preset_pipeline


@dataclass(frozen=True)
class ModelSource:
    name: str
    kind: str  # "preset" | "embedded" | "folder" | "gan"
    path: Path | None
    trust_pickle: bool = False

    @property
    def family(self) -> str:
        return "gan" if self.kind == "gan" else "sd"

    def load_pipeline(self, seed: int = 0):
        """A diffusers pipeline, or for a GAN the (generator, card) pair."""
        if self.kind == "preset":
            return build_preset_pipeline(self.name, seed=seed)
        if self.kind == "gan":
            from edgegen.gan.folder import load_gan

            return load_gan(self.path)
        return load_local_pipeline(self.path, trust_pickle=self.trust_pickle)

    @property
    def native_resolution(self) -> int | None:
        """The image side the model was built for, read from its configs (no weights loaded): a
        GAN's resolution, or a SD UNet's latent sample size × the VAE's downsampling factor."""
        try:
            if self.kind == "gan":
                from edgegen.gan.folder import CONFIG

                return int(json.loads((self.path / CONFIG).read_text())["resolution"])
            root = PRESETS[self.name].config_dir if self.kind == "preset" else self.path
            unet = json.loads((root / "unet" / "config.json").read_text())
            vae = json.loads((root / "vae" / "config.json").read_text())
            return int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
        except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError):
            return None

    def fingerprint(self) -> str:
        """A stable hash of what defines the model: configs for presets, file bytes (weights,
        configs, tokenizer; not documentation) for folders."""
        h = hashlib.sha256()
        if self.kind == "preset":
            cfg_dir = PRESETS[self.name].config_dir
            for p in sorted(cfg_dir.rglob("*.json")):
                h.update(p.relative_to(cfg_dir).as_posix().encode())
                h.update(p.read_bytes())
            return h.hexdigest()
        for p in sorted(self.path.rglob("*")):
            # Documentation (model cards) does not change what the model computes.
            if p.is_file() and (p.suffix.lower() not in (".md", ".txt") or p.name == "merges.txt"):
                h.update(p.relative_to(self.path).as_posix().encode())
                with p.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
        return h.hexdigest()


def resolve_model(spec: str, *, trust_pickle: bool = False) -> ModelSource:
    """A preset name, an embedded model ('default', 'gan', their names), or the path of a local
    diffusers or GAN folder (checked, not loaded)."""
    from edgegen.gan.folder import is_gan_folder
    from edgegen.models.embedded import DEFAULT_GAN, DEFAULT_MODEL, EMBEDDED_MODELS

    if spec in PRESETS:
        return ModelSource(spec, "preset", None)
    name = {"default": DEFAULT_MODEL, "gan": DEFAULT_GAN}.get(spec, spec)
    if name in EMBEDDED_MODELS:
        if is_gan_folder(EMBEDDED_MODELS[name]):
            return ModelSource(name, "gan", EMBEDDED_MODELS[name])
        check_folder(EMBEDDED_MODELS[name])
        return ModelSource(name, "embedded", EMBEDDED_MODELS[name])
    if spec == "gan":
        raise ModelError(
            "no embedded GAN in this installation", hint="train one with `edgegen train-gan` and pass its folder"
        )
    path = Path(spec).expanduser()
    if path.is_dir() and is_gan_folder(path):
        return ModelSource(path.name, "gan", path.resolve())
    if not path.exists() and "/" not in spec and not spec.startswith("."):
        raise ModelError(
            f"{spec!r} is neither a preset nor an existing folder",
            hint=f"use a preset ({', '.join(PRESETS)}) or a path",
        )
    check_folder(path)
    try:
        name = json.loads((path / "model_index.json").read_text()).get("_name_or_path") or path.name
    except (OSError, json.JSONDecodeError):
        name = path.name
    return ModelSource(Path(str(name)).name or path.name, "folder", path.resolve(), trust_pickle)
