"""What a generate / classify run will hold in memory, read from its export: weight bytes per
component and precision (the manifest), activation peaks at the run's shapes (the fp32 graphs,
`edgegen.export.activation_memory`), and the backend's measured constants
(`edgegen/assets/memory_model.yaml`). `edgegen.runtime.memory_plan` does the arithmetic.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgegen.errors import ArtifactError
from edgegen.export.artifacts import ExportManifest
from edgegen.runtime.memory_plan import BackendMemory, ComponentNeed, MemoryPlan, describe, plan_memory
from edgegen.types import Backend, Component, Precision

MODEL_FILE = Path(__file__).resolve().parents[1] / "assets" / "memory_model.yaml"
# Tiled decoding works on 32×32-latent tiles (edgegen.runtime.tiling).
TILE_LATENT = 32
# Bytes per byte of the fp32 file when a precision has not been exported yet (an estimate).
ESTIMATED_SHRINK = {Precision.FP16: 0.5, Precision.INT8: 0.26}


@lru_cache(maxsize=1)
def _model_table() -> dict:
    import yaml

    return yaml.safe_load(MODEL_FILE.read_text())


def backend_memory(backend: Backend) -> BackendMemory:
    table = _model_table()
    raw = table["backends"].get(backend.value)
    source = (raw or {}).get("source", "")
    if raw is None:
        other = table["fallback"][backend.value]
        raw = table["backends"][other]
        source = f"{other}'s figures, not measured for {backend.value}"
    return constants_from_entry(backend.value, raw, source)


def constants_from_entry(backend: str, raw: dict, source: str = "") -> BackendMemory:
    """One backend's entry of memory_model.yaml as the plan's constants."""
    return BackendMemory(
        backend,
        int(raw["base_mb"] * 2**20),
        {k: float(v) for k, v in raw["weight_factor"].items()},
        float(raw["activation_factor"]),
        raw.get("device", "host"),
        source,
        float(raw.get("low_memory_margin", 1.0)),
    )


@dataclass(frozen=True)
class GenerateShape:
    batch: int  # images per call
    size: int  # image side in pixels
    guided: bool  # classifier-free guidance doubles the UNet batch (run in two halves in low memory)


def _weights(folder: Path, manifest: ExportManifest, component: Component, precision: Precision) -> tuple[int, str]:
    art = manifest.find(component, precision)
    if art is not None:
        return art.bytes, ""
    fp32 = manifest.find(component, Precision.FP32)
    if fp32 is None:
        raise ArtifactError(f"{folder}: no {component.value} in the export")
    note = f"{component.value} {precision.value} not exported: its size is estimated"
    return round(fp32.bytes * ESTIMATED_SHRINK.get(precision, 1.0)), note


def _activations(folder: Path, manifest: ExportManifest, component: Component, calls_batch: int, side: int) -> int:
    """Peak activations of one call with `calls_batch` rows (not images: the text encoder and UNet
    batch uncond + cond rows together), scaled from the one-image shapes (every layer works per
    row, so activations grow linearly with the batch)."""
    from edgegen.export.activation_memory import activation_peak_bytes
    from edgegen.export.components import EXPORTS
    from edgegen.export.shape_profiles import needed_shapes

    art = manifest.find(component, Precision.FP32)
    if art is None:
        raise ArtifactError(f"{folder}: no fp32 {component.value} graph to size activations from")
    rows = EXPORTS[component].batch_multiplier
    return round(activation_peak_bytes(folder / art.file, needed_shapes(art, 1, side)) * calls_batch / rows)


def generate_needs(
    folder: Path,
    manifest: ExportManifest,
    precisions: dict[Component, Precision],
    shape: GenerateShape,
    low_memory: bool,
    tiled_decode: bool,
) -> tuple[list[ComponentNeed], list[str]]:
    """Text encoder → UNet → VAE decoder of a diffusion run (or the generator of a GAN)."""
    notes: list[str] = []
    needs = []
    if manifest.model_kind == "gan":
        p = precisions.get(Component.GENERATOR, Precision.FP32)
        w, note = _weights(folder, manifest, Component.GENERATOR, p)
        notes += [note] if note else []
        act = _activations(folder, manifest, Component.GENERATOR, shape.batch, shape.size)
        return [ComponentNeed("generator", p.value, w, act)], notes
    factor = int((manifest.pipeline or {}).get("vae_scale_factor", 8))
    # Guidance doubles the UNet rows (uncond + cond); low memory runs the two halves one after the
    # other, so each call holds the image batch alone.
    unet_rows = shape.batch * (2 if shape.guided and not low_memory else 1)
    calls = [
        # the prompts and the negative prompt in one call: at most batch + 1 distinct texts
        (Component.TEXT_ENCODER, shape.batch + (1 if shape.guided else 0), shape.size),
        (Component.UNET, unet_rows, shape.size),
        (Component.VAE_DECODER, shape.batch, min(shape.size, TILE_LATENT * factor) if tiled_decode else shape.size),
    ]
    for component, rows, side in calls:
        p = precisions.get(component, Precision.FP32)
        w, note = _weights(folder, manifest, component, p)
        notes += [note] if note else []
        needs.append(ComponentNeed(component.value, p.value, w, _activations(folder, manifest, component, rows, side)))
    return needs, notes


def classify_needs(
    folder: Path, manifest: ExportManifest, precision: Precision, batch: int, size: int
) -> tuple[list[ComponentNeed], list[str]]:
    w, note = _weights(folder, manifest, Component.CLASSIFIER, precision)
    act = _activations(folder, manifest, Component.CLASSIFIER, batch, size)
    return [ComponentNeed("classifier", precision.value, w, act)], [note] if note else []


def plan_generate(
    folder: Path,
    manifest: ExportManifest,
    backend: Backend,
    precisions: dict[Component, Precision],
    shape: GenerateShape,
    low_memory: bool,
    tiled_decode: bool,
    budget_gb: float | None,
    device_kind: str,
) -> MemoryPlan:
    needs, notes = generate_needs(folder, manifest, precisions, shape, low_memory, tiled_decode)
    constants = backend_memory(backend)
    if not constants.source.startswith("bench/"):
        notes.append(f"{backend.value} memory figures: {constants.source}")
    extra = tuple(x for x, on in (("tiled VAE decode", tiled_decode), (f"batch {shape.batch}", shape.batch > 1)) if on)
    return plan_memory(
        needs,
        constants,
        low_memory,
        budget_gb,
        describe(needs, low_memory, extra),
        device_kind,
        tuple(notes),
    )


def generate_alternatives(
    folder: Path,
    manifest: ExportManifest,
    backend: Backend,
    precisions: dict[Component, Precision],
    shape: GenerateShape,
    budget_gb: float | None,
    device_kind: str,
) -> list[MemoryPlan]:
    """The same run under every lever that lowers memory: UNet precision, low memory, tiled
    decode, one image per call."""
    out = []
    unet_options = [Precision.FP32, Precision.FP16, Precision.INT8] if manifest.model_kind != "gan" else [None]
    for unet_p, low, tiled, batch in itertools.product(unet_options, (False, True), (False, True), {shape.batch, 1}):
        if manifest.model_kind == "gan" and (low or tiled):
            continue
        chosen = dict(precisions)
        if unet_p is not None:
            chosen[Component.UNET] = unet_p
        try:
            out.append(
                plan_generate(
                    folder,
                    manifest,
                    backend,
                    chosen,
                    GenerateShape(batch, shape.size, shape.guided),
                    low,
                    tiled,
                    budget_gb,
                    device_kind,
                )
            )
        except ArtifactError:
            continue
    return out


@dataclass(frozen=True)
class MemoryCheck:
    plan: MemoryPlan
    alternatives: tuple[MemoryPlan, ...]  # variants that fit, smallest peak first


def check_generate(
    folder: Path | None,
    backend: Backend,
    precisions: dict[Component, Precision],
    shape: GenerateShape,
    low_memory: bool,
    tiled_decode: bool,
    profile,
    enforce: bool = True,
) -> MemoryCheck | None:
    """The plan of a generate run on an export folder, checked against the profile's budget before
    anything is loaded: over budget raises MemoryBudgetError naming the smallest variant that
    fits. None where there is nothing to plan from (the torch backend without an export)."""
    from edgegen.errors import MemoryBudgetError
    from edgegen.export.artifacts import load_manifest
    from edgegen.runtime.memory_plan import fitting

    if folder is None or not (Path(folder) / "manifest.json").is_file():
        return None
    folder = Path(folder)
    manifest = load_manifest(folder / "manifest.json")
    low = low_memory and backend is not Backend.TORCH  # torch holds the whole diffusers pipeline
    args = (folder, manifest, backend, precisions)
    plan = plan_generate(*args, shape, low, tiled_decode, profile.memory_budget_gb, profile.device.kind)
    alternatives = tuple(fitting(generate_alternatives(*args, shape, profile.memory_budget_gb, profile.device.kind)))
    if enforce and not plan.fits:
        budget = profile.memory_budget_gb
        raise MemoryBudgetError(
            f"this run needs about {plan.peak_bytes / 1e9:.1f} GB"
            + (f" (up to {plan.checked_bytes / 1e9:.1f} GB)" if plan.margin > 1.0 else "")
            + f" of {plan.where} ({plan.label}); "
            f"profile {profile.name} allows {budget:g} GB",
            hint=(
                f"what would fit: {alternatives[0].one_line()}"
                if alternatives
                else "nothing fits this budget: generate smaller images or use a bigger device profile"
            ),
        )
    return MemoryCheck(plan, alternatives)


def host_bytes(plan: MemoryPlan, backend: Backend) -> int:
    """What the plan puts in host RAM: all of it on a CPU or a Jetson, the fixed cost on a discrete
    GPU (weights and activations live in GPU memory there); with the low-memory margin where measured."""
    return plan.checked_bytes if plan.where != "GPU memory" else backend_memory(backend).base_bytes


def check_classify(
    folder: Path | None, backend: Backend, precision: Precision, batch: int, profile, enforce: bool = True
) -> MemoryPlan | None:
    """The plan of a classify run on an export folder (one component: the classifier at its input
    size and the batch), checked against the profile's budget before loading; None without one."""
    from edgegen.errors import MemoryBudgetError
    from edgegen.export.artifacts import load_manifest

    if folder is None or not (Path(folder) / "classifier_card.json").is_file():
        return None
    folder = Path(folder)
    manifest = load_manifest(folder / "manifest.json")
    if manifest.find(Component.CLASSIFIER, Precision.FP32) is None:
        return None
    size = int(json.loads((folder / "classifier_card.json").read_text())["input_size"])
    needs, notes = classify_needs(folder, manifest, precision, batch, size)
    plan = plan_memory(
        needs, backend_memory(backend), False, profile.memory_budget_gb, "", profile.device.kind, tuple(notes)
    )
    if enforce and not plan.fits:
        raise MemoryBudgetError(
            f"classifying in batches of {batch} needs about {plan.peak_bytes / 1e9:.1f} GB of {plan.where}; "
            f"profile {profile.name} allows {profile.memory_budget_gb:g} GB",
            hint="a smaller --batch-size",
        )
    return plan
