"""`edgegen plan`: the memory a generate run will need, before anything is loaded."""

from __future__ import annotations

from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, ProfileOption, console, print_json, table
from edgegen.cli.run import ArtifactsOption, BackendOption, PrecisionOption


def plan_cmd(
    model: Annotated[str, typer.Option(help="'default', 'gan', a preset or a model folder.")] = "default",
    artifacts: ArtifactsOption = None,
    profile: ProfileOption = "cpu-x86",
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    size: Annotated[
        int | None, typer.Option("--size", "--resolution", help="Image side (default: the model's own).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per call (default: the profile's).")] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale (default: the profile's).")] = None,
    low_memory: Annotated[
        bool | None, typer.Option("--low-memory/--no-low-memory", help="Default: the profile's.")
    ] = None,
    tiled_decode: bool = False,
    json_out: JsonOption = False,
) -> None:
    """Predict a generate run's peak memory from its export and profile, and list variants that fit."""
    from edgegen.cli.run import default_artifacts, default_size, run_config
    from edgegen.profiles import load_profile
    from edgegen.runtime.memory_needs import GenerateShape, check_generate
    from edgegen.types import Backend

    prof = load_profile(profile)
    config = run_config(prof, backend, precision, None)
    folder = default_artifacts(model, prof.name, artifacts, True)
    if config.backend is Backend.TORCH and artifacts is None:
        config_note = "torch holds the whole pipeline: planned from the export's graphs, low memory has no effect"
    else:
        config_note = ""
    shape = GenerateShape(
        batch_size or prof.generation.batch,
        size or default_size(model, folder, prof),
        (prof.generation.guidance_scale if guidance is None else guidance) > 1.0,
    )
    low = prof.low_memory if low_memory is None else low_memory
    check = check_generate(folder, config.backend, config.precisions, shape, low, tiled_decode, prof, enforce=False)
    plan = check.plan
    if json_out:
        print_json({"plan": plan, "fits": plan.fits, "alternatives_that_fit": check.alternatives})
        return
    gb = lambda b: f"{b / 1e9:.2f}"  # noqa: E731
    rows = [
        [s.component, s.precision, gb(s.weights_bytes), gb(s.activation_bytes), gb(s.peak_bytes)] for s in plan.stages
    ]
    console.print(
        table(
            f"{plan.label} on {config.backend.value}, {shape.size} px ({plan.where})",
            ["component", "precision", "weights GB", "activations GB", "process peak GB"],
            rows,
        )
    )
    budget = prof.memory_budget_gb
    verdict = "fits" if plan.fits else "does NOT fit"
    console.print(
        f"predicted peak {plan.peak_bytes / 1e9:.2f} GB (fixed cost {plan.base_bytes / 1e9:.2f} GB) "
        + (
            f"checked as up to {plan.checked_bytes / 1e9:.2f} GB (low-memory runs on this backend measured "
            f"up to {plan.margin - 1:.0%} above their plans) "
            if plan.margin > 1.0
            else ""
        )
        + f"{verdict} profile {prof.name}'s budget of {budget:g} GB"
    )
    for note in (*plan.notes, config_note):
        if note:
            console.print(f"note: {note}")
    if check.alternatives:
        console.print(
            table(
                "variants that fit (smallest first)",
                ["variant", "checked peak GB"],
                [[p.label, gb(p.checked_bytes)] for p in check.alternatives[:8]],
            )
        )
    else:
        console.print("no variant fits this budget")
