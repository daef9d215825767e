"""`edgegen bench` and `edgegen report`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table


def bench_cmd(
    model: Annotated[
        str, typer.Option(help="'default' (the embedded diffusion model), a preset or a diffusers folder.")
    ] = "default",
    gan_model: Annotated[
        str, typer.Option(help="GAN benched beside it: 'gan' (embedded), a GAN folder, or 'none'.")
    ] = "gan",
    classifier: Annotated[
        str,
        typer.Option(
            help="Classifier legs: 'default' (normal/pneumonia), cxr-findings (multi-label), or a classifier folder."
        ),
    ] = "default",
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Device profile (default: the one `edgegen doctor` suggests).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: runs/bench-<time>).")] = None,
    legs: Annotated[
        str | None,
        typer.Option(
            help=(
                "Comma list of leg names or prefixes ending in '*' (default: "
                "every leg except the opt-in ones: torch.compile, FP16 on CPU)."
            )
        ),
    ] = None,
    steps: int | None = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size", "--resolution", help="Image side in pixels (default: the diffusion model's own, e.g. 128)."
        ),
    ] = None,
    guidance: float | None = None,
    rounds: Annotated[
        int, typer.Option(help="Interleaved timing rounds (every leg once per round, rotating order).")
    ] = 10,
    calls_per_round: Annotated[int, typer.Option(help="Timed batch-1 calls per leg per round.")] = 2,
    classifier_rounds: Annotated[
        int, typer.Option(help="Timing rounds of the classifier legs (milliseconds each; at least --rounds).")
    ] = 20,
    quality_images: Annotated[
        int,
        typer.Option(
            help="Images per condition per generating leg for the quality metrics (32 keeps `make bench` ≤ 10 min)."
        ),
    ] = 32,
    quality: Annotated[bool, typer.Option(help="Score each leg's images with the quality module.")] = True,
    batch_sizes: Annotated[str, typer.Option(help="Diffusion: comma list of images per call for throughput.")] = "1,4",
    gan_batch_sizes: Annotated[str, typer.Option(help="GAN: comma list of images per call for throughput.")] = "1,64",
    cloud: Annotated[
        str | None,
        typer.Option(
            help=(
                "Also measure cloud legs: comma list of models (dall-e-2, dall-e-3, gpt-image-1); needs OPENAI_API_KEY."
            )
        ),
    ] = None,
    cloud_n: Annotated[int, typer.Option(help="Cloud images per condition.")] = 2,
    max_usd: Annotated[float, typer.Option(help="Hard budget for the cloud legs (each model folder).")] = 1.0,
    base_url: Annotated[str | None, typer.Option(help="An OpenAI-compatible server instead of api.openai.com.")] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="File holding the API key (else OPENAI_API_KEY).")] = None,
    images_per_month: float = 10_000,
    threads: int | None = None,
    seed: int = 0,
    json_out: JsonOption = False,
) -> None:
    """Benchmark every leg side by side: latency with CIs, memory, energy, quality and cost per image."""
    from edgegen.benchmark.cloud_legs import CloudLegConfig
    from edgegen.benchmark.run import BenchConfig, run_bench
    from edgegen.errors import UsageError

    if min(rounds, calls_per_round, quality_images, classifier_rounds) < 1:
        raise UsageError("--rounds, --calls-per-round, --classifier-rounds and --quality-images must be ≥ 1")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps {steps} must be ≥ 1")
    if size is not None and (size < 16 or size % 8):
        raise UsageError(f"--size {size} must be a multiple of 8, at least 16")
    if guidance is not None and guidance < 0:
        raise UsageError(f"--guidance {guidance} must be ≥ 0")
    folder = out or Path("runs") / f"bench-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    cloud_config = (
        CloudLegConfig(
            tuple(m.strip() for m in cloud.split(",") if m.strip()), cloud_n, max_usd, base_url, api_key_file
        )
        if cloud
        else None
    )
    config = BenchConfig(
        folder,
        model,
        None if gan_model == "none" else gan_model,
        profile,
        classifier=classifier,
        legs=tuple(x.strip() for x in legs.split(",")) if legs else None,
        steps=steps,
        size=size,
        guidance=guidance,
        quality_per_class=quality_images,
        quality=quality,
        rounds=rounds,
        calls_per_round=calls_per_round,
        classifier_rounds=classifier_rounds,
        batch_sizes=_batch_sizes(batch_sizes, "--batch-sizes"),
        gan_batch_sizes=_batch_sizes(gan_batch_sizes, "--gan-batch-sizes"),
        cloud=cloud_config,
        images_per_month=images_per_month,
        threads=threads,
        seed=seed,
    )
    outcome = run_bench(config, progress=(lambda m: None) if json_out else (lambda m: console.print(f"[dim]{m}[/]")))
    if json_out:
        print_json(outcome.results)
    else:
        _print_summary(outcome.results)
        console.print(
            f"results: {outcome.files['results']} · report: {outcome.files['markdown']} · {outcome.files['html']}"
        )
    if outcome.results.failed:
        names = ", ".join(r.name for r in outcome.results.failed)
        raise typer.Exit(code=11) if json_out else _fail(names)


def _batch_sizes(text: str, flag: str) -> tuple[int, ...]:
    from edgegen.errors import UsageError

    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not a comma list of integers") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"{flag} needs at least one size ≥ 1")
    return sizes


def _fail(names: str):
    console.print(f"[red]failed legs: {names}[/]")
    raise typer.Exit(code=11)


def _print_summary(results) -> None:
    from edgegen.benchmark.report import CLF_HEADER, GEN_HEADER, _headline_lines, classifier_rows, gen_rows

    keep = [0, 2, 3, 5, 6, 9, 10, 12]
    rows = [row for row in gen_rows(results) if row[1] == "ok"]
    console.print(
        table(
            "generation legs (full table in report.md)",
            [GEN_HEADER[i] for i in keep],
            [[row[i] for i in keep] for row in rows],
        )
    )
    console.print(table("classifier legs", CLF_HEADER, [r for r in classifier_rows(results) if r[1] == "ok"]))
    for r in results.legs:
        if r.status != "ok":
            from rich.markup import escape

            console.print(f"[yellow]{r.status}[/] {r.name}: {escape(r.error or '')}", highlight=False)
    for line in _headline_lines(results):
        console.print(line.replace("**", ""))


def report_cmd(
    results: Annotated[Path, typer.Argument(help="A results.json written by `edgegen bench`.")],
    out: Annotated[Path | None, typer.Option(help="Folder for report.md/html (default: beside results.json).")] = None,
) -> None:
    """Re-render the Markdown and HTML reports (with plots) from a saved results.json."""
    from edgegen.benchmark.report import write_reports
    from edgegen.benchmark.results import load_results

    loaded = load_results(results)
    files = write_reports(loaded, out or results.parent)
    console.print(f"wrote {files['markdown']} and {files['html']}")
