"""`edgegen profiles list|show|validate`."""

from __future__ import annotations

from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table

app = typer.Typer(help="Device profiles: list, show and validate them.", no_args_is_help=True)


@app.command("list")
def list_profiles(json_out: JsonOption = False) -> None:
    """List the bundled device profiles."""
    from edgegen.profiles import load_all_profiles

    profiles = load_all_profiles()
    if json_out:
        print_json(
            [
                {
                    "name": p.name,
                    "description": p.description,
                    "kind": p.device.kind,
                    "backends": p.backends,
                    "path": p.path,
                }
                for p in profiles
            ]
        )
        return
    rows = [
        [
            p.name,
            p.device.kind.value,
            ", ".join(b.value for b in p.backends),
            f"U:{p.precision.unet.value}",
            f"{p.memory_budget_gb:g}",
            p.description,
        ]
        for p in profiles
    ]
    console.print(
        table(
            "Device profiles",
            ["name", "kind", "backends (preferred first)", "precision", "mem GB", "description"],
            rows,
        )
    )


@app.command("show")
def show_profile(
    name: Annotated[str, typer.Argument(help="Profile name or path of a YAML file.")],
    json_out: JsonOption = False,
) -> None:
    """Show one profile in full (validated)."""
    from edgegen.profiles import load_profile
    from edgegen.schema import to_plain

    profile = load_profile(name)
    if json_out:
        print_json(profile)
        return
    import yaml

    console.print(f"[bold]{profile.name}[/] ({profile.path})")
    console.print(yaml.safe_dump(to_plain(profile), sort_keys=False, allow_unicode=True), markup=False, highlight=False)


@app.command("validate")
def validate_profile(paths: Annotated[list[str], typer.Argument(help="Profile names or YAML paths.")]) -> None:
    """Check profiles against the schema; exit non-zero on the first invalid one."""
    from edgegen.profiles import load_profile

    for p in paths:
        profile = load_profile(p)
        console.print(f"{profile.path}: ok")
