"""`edgegen models list|show|check`."""

from __future__ import annotations

from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table

app = typer.Typer(help="Model presets and local diffusers folders.", no_args_is_help=True)


@app.command("list")
def list_models(json_out: JsonOption = False) -> None:
    """List the SD-family presets (random weights, exact shapes)."""
    from edgegen.models.presets import PRESETS

    if json_out:
        print_json(
            [
                {"name": p.name, "description": p.description, "resolution": p.resolution, "licence": p.licence}
                for p in PRESETS.values()
            ]
        )
        return
    console.print(
        table(
            "Model presets",
            ["name", "resolution", "description"],
            [[p.name, p.resolution, p.description] for p in PRESETS.values()],
        )
    )


@app.command("show")
def show_model(name: Annotated[str, typer.Argument(help="Preset name.")], json_out: JsonOption = False) -> None:
    """Show a preset's exact parameter count per component (counted on the meta device)."""
    from edgegen.models.presets import get_preset, parameter_counts

    preset = get_preset(name)
    counts = parameter_counts(preset)
    if json_out:
        print_json(
            {
                "name": preset.name,
                "description": preset.description,
                "resolution": preset.resolution,
                "parameters": counts,
                "config_dir": preset.config_dir,
            }
        )
        return
    rows = [[c, f"{n:,}", f"{n / 1e6:.1f}M"] for c, n in counts.items()]
    console.print(table(f"{preset.name}: {preset.description}", ["component", "parameters", ""], rows))


@app.command("check")
def check_model(
    path: Annotated[str, typer.Argument(help="A local diffusers folder.")],
    trust_pickle: Annotated[bool, typer.Option(help="Accept pickle (.bin/.ckpt) weights.")] = False,
    load: Annotated[bool, typer.Option(help="Also load the pipeline in diffusers.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Check a local diffusers folder: layout, weights format, and optionally that it loads."""
    from pathlib import Path

    from edgegen.models.local import check_folder, load_local_pipeline

    check = check_folder(Path(path))
    if load or check.pickle_only:
        load_local_pipeline(Path(path), trust_pickle=trust_pickle)
    if json_out:
        print_json({"path": check.path, "weights": check.weights, "pickle_only": check.pickle_only, "loaded": load})
        return
    for comp, files in check.weights.items():
        console.print(f"{comp}: {', '.join(files)}")
    console.print(f"{check.path}: ok" + (" (loaded)" if load else ""))
