"""`edgegen study`: real vs synthetic vs hybrid classifier training, resumable, with statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, RayOption, console, print_json


def study_cmd(
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="A study.yaml (see studies/README.md); none: the default study on the embedded data and models."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Study folder (units/, sources/, results.json, report.md/html); re-running resumes.")
    ] = Path("runs/study-default"),
    seeds: Annotated[int | None, typer.Option(help="Override the spec's seeds.")] = None,
    bootstrap: Annotated[int | None, typer.Option(help="Override the spec's bootstrap rounds.")] = None,
    ray: RayOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train classifiers on real, synthetic and hybrid data over seeds; compare every arm with real-only."""
    from dataclasses import replace

    from edgegen.cli.progress import step_progress
    from edgegen.study.spec import default_spec, load_spec
    from edgegen.study.workflow import run_study

    if ray is not None:
        from edgegen.distributed.cluster import check_ray

        ray = check_ray(ray)
    study = load_spec(spec) if spec else default_spec()
    if seeds is not None or bootstrap is not None:
        study = replace(study, seeds=seeds or study.seeds, bootstrap=bootstrap or study.bootstrap)
    with step_progress("units", enabled=not json_out) as bar:
        outcome = run_study(
            study,
            out,
            progress=(lambda m: None) if json_out else (lambda m: console.print(f"[dim]{m}[/]")),
            unit_progress=lambda d, t, info: bar(d, t, info),
            ray_address=ray,
        )
    if json_out:
        print_json(outcome.result)
        return
    r = outcome.result
    for c in r.contrasts:
        d = c["delta"][r.primary_metric]["delta"]
        console.print(
            f"{c['what']} ({c['kind']}): Δ {r.primary_metric} {100 * d['value']:+.1f} "
            f"pts [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
        )
    console.print(f"report: {outcome.files['html']}")
