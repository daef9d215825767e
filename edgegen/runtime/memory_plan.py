"""Memory plans: the peak memory a run will need, predicted before anything is loaded. Pure.

A run needs, per component (text encoder, UNet, VAE decoder, classifier, GAN generator), its
weights as the runtime holds them and its activations for the call's shapes. What a runtime
holds per byte of weights on disk, and its fixed cost (interpreter, libraries), are measured
constants per backend (`edgegen/assets/memory_model.yaml`, from `bench/memory_plan.py`).

- normal mode: every component stays loaded once used, and each session keeps its activation
  arena, so the peak is the base + every component's weights + every component's activations;
- low-memory mode: one component at a time, released after use (text embeddings cached), so
  the peak is the base + the largest single component (weights + activations).

Where the budget applies follows the device: host RAM on a CPU, GPU memory on a discrete GPU,
both together on a Jetson (its CPU and GPU share one memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field

GB = 1e9


@dataclass(frozen=True)
class ComponentNeed:
    """One component of a run: its bytes on disk and its peak activations at the run's shapes."""

    component: str  # text_encoder | unet | vae_decoder | classifier | generator
    precision: str  # fp32 | fp16 | int8 (what the runtime loads)
    weights_bytes: int
    activation_bytes: int


@dataclass(frozen=True)
class BackendMemory:
    """Measured constants of one backend (bytes resident per byte on disk, fixed cost)."""

    backend: str
    base_bytes: int  # interpreter, libraries, tokenizer: before any component is loaded
    weight_factor: dict[str, float]  # per precision: resident bytes per byte of weights on disk
    activation_factor: float  # resident bytes per byte of the liveness peak
    device: str = "host"  # where weights and activations live: host | gpu
    source: str = ""  # which measurement the constants come from
    # Low memory: measured peaks have reached the plan × this (the worst seen; 1.0 = never above).
    # Budget checks use it so that an under-prediction does not let a run through that will not fit.
    low_memory_margin: float = 1.0


@dataclass(frozen=True)
class StagePlan:
    component: str
    precision: str
    weights_bytes: int  # resident
    activation_bytes: int  # resident
    peak_bytes: int  # the process while this component runs


@dataclass(frozen=True)
class MemoryPlan:
    label: str  # e.g. "unet int8, low memory, tiled VAE decode"
    low_memory: bool
    stages: tuple[StagePlan, ...]
    base_bytes: int
    peak_bytes: int
    where: str  # "host RAM" | "GPU memory" | "unified memory"
    budget_bytes: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    margin: float = 1.0  # the backend's measured worst case over the plan in this mode

    @property
    def checked_bytes(self) -> int:
        """What the budget is checked against: the peak with the measured margin."""
        return round(self.peak_bytes * self.margin)

    @property
    def fits(self) -> bool:
        return self.budget_bytes is None or self.checked_bytes <= self.budget_bytes

    def one_line(self) -> str:
        upto = f" (up to {self.checked_bytes / GB:.1f} GB)" if self.margin > 1.0 else ""
        return f"{self.label}: {self.peak_bytes / GB:.1f} GB{upto}"


def where_budget_applies(device_kind: str, backend_device: str) -> str:
    if device_kind == "jetson":
        return "unified memory"
    return "GPU memory" if backend_device == "gpu" else "host RAM"


def plan_memory(
    needs: list[ComponentNeed],
    backend: BackendMemory,
    low_memory: bool,
    budget_gb: float | None = None,
    label: str = "",
    device_kind: str = "cpu",
    notes: tuple[str, ...] = (),
) -> MemoryPlan:
    """The peak of a run whose components run in the order given."""
    if not needs:
        raise ValueError("a memory plan needs at least one component")
    where = where_budget_applies(device_kind, backend.device)
    # On a discrete GPU the budget is GPU memory: the host-side base does not count against it.
    base = backend.base_bytes if where != "GPU memory" else 0
    resident = [
        (
            round(n.weights_bytes * backend.weight_factor.get(n.precision, backend.weight_factor["fp32"])),
            round(n.activation_bytes * backend.activation_factor),
        )
        for n in needs
    ]
    stages = []
    held = 0  # what earlier components leave behind (normal mode: everything)
    for need, (w, a) in zip(needs, resident, strict=True):
        peak = base + held + w + a
        stages.append(StagePlan(need.component, need.precision, w, a, peak))
        if not low_memory:
            held += w + a
    peak = max(s.peak_bytes for s in stages)
    budget = round(budget_gb * GB) if budget_gb is not None else None
    margin = backend.low_memory_margin if low_memory else 1.0
    label = label or describe(needs, low_memory)
    return MemoryPlan(label, low_memory, tuple(stages), base, peak, where, budget, tuple(notes), margin)


DISPLAY = {
    "text_encoder": "text encoder",
    "unet": "UNet",
    "vae_decoder": "VAE decoder",
    "classifier": "classifier",
    "generator": "generator",
}
MAIN = ("unet", "generator", "classifier")  # named always; the others only when not fp32


def describe(needs: list[ComponentNeed], low_memory: bool, extra: tuple[str, ...] = ()) -> str:
    """A short name for a variant, e.g. "UNet int8 + low memory + tiled VAE decode"."""
    parts = [f"{DISPLAY.get(n.component, n.component)} {n.precision}" for n in needs if n.component in MAIN]
    parts += [
        f"{DISPLAY.get(n.component, n.component)} {n.precision}"
        for n in needs
        if n.component not in MAIN and n.precision != "fp32"
    ]
    return " + ".join(parts + (["low memory"] if low_memory else []) + list(extra))


def fitting(plans: list[MemoryPlan]) -> list[MemoryPlan]:
    """The plans that fit their budget, smallest peak first."""
    return sorted((p for p in plans if p.fits), key=lambda p: p.checked_bytes)
