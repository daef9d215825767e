"""Resumable training state: one checkpoint folder beside the output, replaced atomically."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgegen.atomic import atomic_dir
from edgegen.errors import ModelError

STATE = "state.pt"
META = "meta.json"


def checkpoint_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    return out_dir.with_name(f"{out_dir.name}.checkpoint")


def save_checkpoint(path: Path, step: int, fingerprint: str, state: dict[str, Any]) -> None:
    rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    with atomic_dir(path) as tmp:
        torch.save({**state, "rng": rng}, tmp / STATE)
        (tmp / META).write_text(json.dumps({"step": step, "fingerprint": fingerprint}))


def load_checkpoint(path: Path, fingerprint: str) -> tuple[int, dict[str, Any]] | None:
    """(step, state) of a checkpoint made with the same settings, or None if there is none."""
    if not (path / META).is_file() or not (path / STATE).is_file():
        return None
    meta = json.loads((path / META).read_text())
    if meta.get("fingerprint") != fingerprint:
        raise ModelError(
            f"checkpoint {path} was made with different settings",
            hint="rerun with the original settings, pass --no-resume, or delete the checkpoint folder",
        )
    state = torch.load(path / STATE, map_location="cpu", weights_only=False)  # our own file
    rng = state.pop("rng")
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    return int(meta["step"]), state
