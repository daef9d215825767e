"""`edgegen doctor`."""

from __future__ import annotations

from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table


def doctor(
    model: Annotated[
        str | None,
        typer.Option(help="Also plan this model's memory on --profile (as `edgegen plan`; needs its export)."),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="Profile for --model (default: the suggested one).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Show this machine's CPU, GPUs, Jetson module, usable backends and the matching profile."""
    from edgegen.doctor import run_doctor

    report = run_doctor()
    if json_out:
        print_json(report)
        return
    cpu = report.cpu
    console.print(
        f"[bold]CPU[/]  {cpu.model} ({cpu.arch}), {cpu.physical_cores} "
        f"cores / {cpu.logical_cores} threads, {cpu.memory_gb} GiB RAM"
    )
    console.print(f"     features: {', '.join(cpu.features) or 'none of interest'}")
    if report.gpus:
        for g in report.gpus:
            console.print(
                f"[bold]GPU {g.index}[/] {g.name}, {g.memory_gb} GiB, compute {g.compute_capability}, driver {g.driver}"
            )
    else:
        console.print("[bold]GPU[/]  none visible through NVML")
    if report.jetson:
        console.print(f"[bold]Jetson[/] {report.jetson.model} (L4T {report.jetson.l4t})")
    console.print(
        table(
            "Runtimes",
            ["runtime", "usable", "version", "detail"],
            [[r.name, "yes" if r.usable else "no", r.version or "-", r.detail] for r in report.runtimes.values()],
        )
    )
    console.print(
        table(
            "Backends",
            ["backend", "usable", "why not"],
            [[b.value, "yes" if why is None else "no", why or ""] for b, why in report.backends.items()],
        )
    )
    console.print(f"Suggested profile: [bold]{report.suggested_profile}[/] ({report.suggestion_reason})")
    if model is not None:
        from edgegen.cli.plan import plan_cmd

        console.print()
        plan_cmd(model=model, profile=profile or report.suggested_profile)
