"""`edgegen dalle` and `edgegen cost`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, ProfileOption, console, print_json, table
from edgegen.train.prompts import DEFAULT_TEMPLATE

PricesOption = Annotated[Path | None, typer.Option(help="A price table YAML overriding the bundled one.")]
DEFAULT_CLASSES = ("normal", "pneumonia")  # a tuple, not a shared mutable default; typer passes a list


def dalle_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (PNGs + manifest.jsonl); re-running resumes.")],
    model: Annotated[
        str, typer.Option(help="dall-e-2, dall-e-3, gpt-image-1 or a newer image model name.")
    ] = "dall-e-3",
    class_: Annotated[list[str], typer.Option("--class", help="Class to generate (repeatable).")] = DEFAULT_CLASSES,
    n: Annotated[int, typer.Option("--n", "--per-class", help="Images per class.")] = 1,
    prompt_template: str = DEFAULT_TEMPLATE,
    size: str = "1024x1024",
    quality: Annotated[
        str | None, typer.Option(help="standard/hd (dall-e-3), low/medium/high/auto (gpt-image).")
    ] = None,
    response_format: Annotated[str | None, typer.Option(help="dall-e models: b64_json (default) or url.")] = None,
    max_usd: Annotated[
        float, typer.Option(help="Hard budget for this output folder, checked before every request.")
    ] = 1.0,
    dry_run: Annotated[bool, typer.Option(help="Print the planned spend; send nothing.")] = False,
    api_key_file: Annotated[Path | None, typer.Option(help="File holding the API key (else OPENAI_API_KEY).")] = None,
    base_url: Annotated[str | None, typer.Option(help="An OpenAI-compatible server instead of api.openai.com.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 120.0,
    max_retries: Annotated[
        int, typer.Option(help="Retries on 408/409/429/5xx (with backoff, honouring retry-after).")
    ] = 3,
    prices: PricesOption = None,
    seed: Annotated[int, typer.Option(help="Only names files: cloud images cannot be seeded.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Generate CXRs with a cloud image model (text prompts only), under a hard USD budget."""
    from edgegen.cli.progress import step_progress
    from edgegen.cloud.images import CloudSettings, plan_cloud, read_api_key, run_cloud
    from edgegen.cloud.prices import load_prices
    from edgegen.runtime.generate import plan

    table_ = load_prices(prices)
    items = plan(list(class_), n, prompt_template, seed)
    settings = CloudSettings(model, size, quality, response_format, timeout, max_retries, base_url, max_usd)
    planned = plan_cloud(items, settings, table_, out)
    if dry_run:
        summary = {
            "model": model,
            "size": size,
            "quality": quality,
            "images_to_request": planned.todo,
            "usd_per_image": planned.usd_per_image,
            "planned_usd": round(planned.planned_usd, 6),
            "already_spent_usd": round(planned.already_spent_usd, 6),
            "max_usd": max_usd,
            "fits_budget": planned.already_spent_usd + planned.planned_usd <= max_usd,
        }
        if json_out:
            print_json(summary)
        else:
            console.print(
                table(f"dry run: {model} {size} {quality or ''}", ["", "value"], [[k, v] for k, v in summary.items()])
            )
        return
    key = read_api_key(api_key_file)
    with step_progress("cloud images", enabled=not json_out) as bar:
        result = run_cloud(items, settings, table_, out, key, lambda done, total, usd: bar(done, total, f"${usd:.3f}"))
    if json_out:
        print_json(result)
        return
    console.print(
        f"{result.generated} generated, {result.skipped} already present, {len(result.refused)} refused "
        f"by the content policy; spent ${result.spent_usd:.4f} (folder total ${result.total_usd:.4f})"
    )
    if result.stopped_by_budget:
        console.print(
            f"[yellow]stopped before exceeding --max-usd {max_usd}[/]; re-run with a higher budget to continue"
        )


def cost_cmd(
    profile: ProfileOption = "cpu-x86",
    cloud: Annotated[list[str], typer.Option(help="Cloud model(s) to compare (repeatable).")] = ["dall-e-3"],  # noqa: B006
    images_per_month: float = 10_000,
    seconds_per_image: Annotated[
        float | None, typer.Option(help="Measured edge seconds per image (default: the profile's reference, if any).")
    ] = None,
    watts: Annotated[
        float | None, typer.Option(help="Measured load power (default: the profile's load_w, an estimate).")
    ] = None,
    size: str = "1024x1024",
    quality: str | None = None,
    prices: PricesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Edge vs cloud cost per image and the monthly volume where the edge box pays for itself."""
    from edgegen.cloud.prices import load_prices
    from edgegen.cost import EdgeInputs, compare
    from edgegen.errors import UsageError
    from edgegen.profiles import load_profile

    prof = load_profile(profile)
    sec = seconds_per_image or (prof.reference_speed.seconds_per_image if prof.reference_speed else None)
    if not sec or sec <= 0:
        raise UsageError(
            f"profile {prof.name} has no reference seconds per image",
            hint="pass --seconds-per-image from `edgegen bench`",
        )
    table_ = load_prices(prices)
    edge = EdgeInputs(
        prof.hardware.price_usd,
        prof.hardware.lifetime_years,
        prof.hardware.utilization,
        watts or prof.power.load_w,
        prof.power.idle_w,
        sec,
        prof.electricity.usd_per_kwh,
        watts is not None,
    )
    rows = [compare(edge, m, table_.per_image(m, size, quality), images_per_month) for m in cloud]
    if json_out:
        print_json({"profile": prof.name, "seconds_per_image": sec, "comparisons": rows})
        return
    fmt = lambda v: "never" if v == float("inf") else f"{v:,.0f}"  # noqa: E731
    console.print(
        table(
            f"{prof.name}: {sec:g} s/image, {edge.load_watts:g} W ({rows[0].energy_source}), "
            f"${edge.hardware_usd:,.0f} over {edge.lifetime_years:g} y",
            [
                "cloud model",
                "cloud $/img",
                f"edge $/img @ {images_per_month:,.0f}/mo",
                "edge $/img @ utilization",
                "energy $/img",
                "break-even img/mo",
                "capacity img/mo",
            ],
            [
                [
                    r.cloud_model,
                    f"{r.cloud_usd_per_image:.4f}",
                    f"{r.edge_usd_per_image:.4f}",
                    f"{r.edge_usd_per_image_at_utilization:.5f}",
                    f"{r.energy_usd_per_image:.6f}",
                    fmt(r.break_even_images_per_month),
                    fmt(r.capacity_images_per_month),
                ]
                for r in rows
            ],
        )
    )
