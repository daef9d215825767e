"""Device profiles: schema, loading and validation.

A profile says how edgegen should run on one kind of device: backend preference, per-component
precision, default generation settings, TensorRT shape ranges, memory budget, and the power,
hardware and electricity figures the cost model needs (each with a dated source). Profiles are
YAML data in the repository's `profiles/` folder; a user may pass the path of their own file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from edgegen.errors import ProfileError
from edgegen.schema import RuleError, SchemaViolation, load_dataclass
from edgegen.types import Backend, DeviceKind, Precision, SchedulerName

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
DEFAULT_PROFILE = "cpu-x86"
_DATED = re.compile(r"\b(19|20)\d\d-(0[1-9]|1[0-2])(-\d\d)?\b")


def _need(cond: bool, field_name: str, problem: str, fix: str) -> None:
    if not cond:
        raise RuleError(field_name, problem, fix)


def _need_dated(source: str, field_name: str = "source") -> None:
    _need(
        bool(_DATED.search(source)),
        field_name,
        "has no date",
        "cite where the figure comes from with a YYYY-MM(-DD) date",
    )


@dataclass(frozen=True)
class DeviceMatch:
    """How `edgegen doctor` recognises this device."""

    kind: DeviceKind
    gpu_name_contains: tuple[str, ...] = ()
    jetson_model_contains: tuple[str, ...] = ()
    cpu_model_contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentPrecisions:
    text_encoder: Precision
    unet: Precision
    vae_decoder: Precision
    vae_encoder: Precision
    classifier: Precision
    generator: Precision = Precision.FP32  # GAN generator (optional in user profiles)


@dataclass(frozen=True)
class GenerationDefaults:
    resolution: int
    steps: int
    batch: int
    guidance_scale: float
    scheduler: SchedulerName

    def __post_init__(self) -> None:
        _need(
            self.resolution % 8 == 0 and self.resolution >= 64,
            "resolution",
            f"{self.resolution} is not a multiple of 8 ≥ 64",
            "use e.g. 512",
        )
        _need(self.steps >= 1, "steps", "must be ≥ 1", "use e.g. 20")
        _need(self.batch >= 1, "batch", "must be ≥ 1", "use e.g. 1")


@dataclass(frozen=True)
class DimRange:
    min: int
    opt: int
    max: int

    def __post_init__(self) -> None:
        _need(
            0 < self.min <= self.opt <= self.max,
            "min",
            f"needs 0 < min ≤ opt ≤ max, got {self.min}/{self.opt}/{self.max}",
            "reorder the three values",
        )


@dataclass(frozen=True)
class ShapeRanges:
    """Min/opt/max batch and image side for TensorRT optimization profiles."""

    batch: DimRange
    resolution: DimRange

    def __post_init__(self) -> None:
        for v in (self.resolution.min, self.resolution.opt, self.resolution.max):
            _need(
                v % 8 == 0,
                "resolution",
                f"{v} is not a multiple of 8",
                "image sides must be multiples of 8 (the VAE downsamples by 8)",
            )


@dataclass(frozen=True)
class PowerDraw:
    idle_w: float
    load_w: float
    source: str

    def __post_init__(self) -> None:
        _need(0 <= self.idle_w <= self.load_w, "idle_w", "needs 0 ≤ idle_w ≤ load_w", "check the two figures")
        _need_dated(self.source)


@dataclass(frozen=True)
class HardwareCost:
    price_usd: float
    lifetime_years: float
    utilization: float  # share of the lifetime the box spends generating
    source: str

    def __post_init__(self) -> None:
        _need(self.price_usd >= 0, "price_usd", "must be ≥ 0", "use the purchase price in USD")
        _need(self.lifetime_years > 0, "lifetime_years", "must be > 0", "use e.g. 3")
        _need(0 < self.utilization <= 1, "utilization", "must be in (0, 1]", "use e.g. 0.5 for 12 h/day")
        _need_dated(self.source)


@dataclass(frozen=True)
class Electricity:
    usd_per_kwh: float
    source: str

    def __post_init__(self) -> None:
        _need(self.usd_per_kwh >= 0, "usd_per_kwh", "must be ≥ 0", "use e.g. 0.17")
        _need_dated(self.source)


@dataclass(frozen=True)
class ReferenceSpeed:
    """A measured or published generation speed, for cost estimates without a local bench."""

    seconds_per_image: float
    source: str

    def __post_init__(self) -> None:
        _need(self.seconds_per_image > 0, "seconds_per_image", "must be > 0", "use the measured seconds per image")
        _need_dated(self.source)


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    device: DeviceMatch
    backends: tuple[Backend, ...]
    precision: ComponentPrecisions
    generation: GenerationDefaults
    shapes: ShapeRanges
    memory_budget_gb: float
    power: PowerDraw
    hardware: HardwareCost
    electricity: Electricity
    low_memory: bool = False
    threads: int | None = None
    reference_speed: ReferenceSpeed | None = None
    notes: str = ""
    path: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _need(len(self.backends) > 0, "backends", "is empty", "list at least one backend, e.g. [ort-cpu, torch]")
        _need(
            len(set(self.backends)) == len(self.backends),
            "backends",
            "lists a backend twice",
            "keep each once, in preference order",
        )
        _need(self.memory_budget_gb > 0, "memory_budget_gb", "must be > 0", "use the memory edgegen may use, in GB")
        _need(self.threads is None or self.threads >= 1, "threads", "must be ≥ 1", "leave it out to use all cores")
        lo, hi = self.shapes.resolution.min, self.shapes.resolution.max
        _need(
            lo <= self.generation.resolution <= hi,
            "generation.resolution",
            f"{self.generation.resolution} is outside shapes.resolution [{lo}, {hi}]",
            "widen shapes.resolution or change the default",
        )


def profile_names(directory: Path | None = None) -> list[str]:
    d = _profiles_dir(directory)
    return sorted(p.stem for p in d.glob("*.yaml"))


def _profiles_dir(directory: Path | None) -> Path:
    if directory is not None:
        return directory
    return Path(os.environ.get("EDGEGEN_PROFILES_DIR", PROFILES_DIR))


def resolve_profile_path(name_or_path: str | Path, directory: Path | None = None) -> Path:
    """A profile name (`jetson-orin-nano-8gb`) or the path of a user's YAML file."""
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if text.endswith((".yaml", ".yml")) or candidate.is_file():
        if not candidate.is_file():
            raise ProfileError(f"profile file {candidate} does not exist", hint="check the path")
        return candidate
    path = _profiles_dir(directory) / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(profile_names(directory)) or "none"
        raise ProfileError(f"unknown profile {text!r}", hint=f"use one of: {known}, or the path of a YAML file")
    return path


def load_profile(name_or_path: str | Path, directory: Path | None = None) -> DeviceProfile:
    path = resolve_profile_path(name_or_path, directory)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ProfileError(f"{path}: not valid YAML{at}", hint="fix the syntax") from exc
    if isinstance(data, dict):
        data = {**data}
        data.setdefault("name", path.stem)
    try:
        profile = load_dataclass(DeviceProfile, data)
    except SchemaViolation as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    return _with_path(profile, path)


def _with_path(profile: DeviceProfile, path: Path) -> DeviceProfile:
    from dataclasses import replace

    return replace(profile, path=str(path))


def load_all_profiles(directory: Path | None = None) -> list[DeviceProfile]:
    return [load_profile(n, directory) for n in profile_names(directory)]
