"""A GAN's architecture as data: resolution, latent sizes, channels per resolution, and the
condition vocabulary its condition vector is built from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgegen.errors import ModelError


@dataclass(frozen=True)
class GanConfig:
    resolution: int = 128
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    # feature channels at each resolution from 4 px up to `resolution`
    channels: dict[str, int] = field(
        default_factory=lambda: {"4": 128, "8": 128, "16": 64, "32": 32, "64": 16, "128": 8}
    )
    populations: tuple[str, ...] = ("adult", "pediatric")
    findings: tuple[str, ...] = (
        "atelectasis",
        "lung_opacity",
        "pleural_effusion",
        "enlarged_cardiac_silhouette",
        "pneumonia",
        "no_finding",
    )

    def __post_init__(self) -> None:
        if self.resolution not in (32, 64, 128, 256) or str(self.resolution) not in self.channels:
            raise ModelError(
                f"GAN resolution {self.resolution} needs a power of two in 32..256 with channels given for it"
            )

    @property
    def c_dim(self) -> int:
        return len(self.populations) + len(self.findings)

    @property
    def resolutions(self) -> list[int]:
        out, r = [], 4
        while r <= self.resolution:
            out.append(r)
            r *= 2
        return out

    def ch(self, res: int) -> int:
        return int(self.channels[str(res)])

    def to_json(self) -> str:
        return json.dumps(
            {**asdict(self), "populations": list(self.populations), "findings": list(self.findings)}, indent=2
        )

    @classmethod
    def from_file(cls, path: Path) -> GanConfig:
        try:
            raw = json.loads(Path(path).read_text())
            return cls(
                **{
                    **raw,
                    "populations": tuple(raw["populations"]),
                    "findings": tuple(raw["findings"]),
                    "channels": {str(k): int(v) for k, v in raw["channels"].items()},
                }
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is not a GAN config ({type(exc).__name__}: {exc})") from exc


# Sized for a 2-core CPU budget of about an hour of training: channels halve with each doubling of
# resolution from 128 at 8 px down to 8 at 128 px (G 0.82M parameters, ~0.27 GFLOP per 128 px image);
# the 4× wider design (2.7M, 1.1 GFLOP) trained 4× slower per step for the same hour.
GAN_PRESETS = {
    "gan-cxr-128": GanConfig(),
    "gan-cxr-64": GanConfig(resolution=64, channels={"4": 128, "8": 128, "16": 64, "32": 32, "64": 16}),
    # tests: trains a step in well under a second
    "gan-tiny": GanConfig(
        resolution=32, z_dim=16, w_dim=16, mapping_layers=2, channels={"4": 16, "8": 16, "16": 8, "32": 8}
    ),
}


def condition_vector(config: GanConfig, population: str, findings: tuple[str, ...]):
    """The generator's condition input: one-hot population + multi-hot findings (float32 [c_dim])."""
    import numpy as np

    c = np.zeros(config.c_dim, np.float32)
    if population in config.populations:
        c[config.populations.index(population)] = 1.0
    for f in findings:
        if f in config.findings:
            c[len(config.populations) + config.findings.index(f)] = 1.0
    return c
