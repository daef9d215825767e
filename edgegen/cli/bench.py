"""`edgegen bench` and `edgegen report`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table


def bench_cmd(
    model: Annotated[str, typer.Option(help="'default' (embedded edgegen-tiny-cxr), a preset or a diffusers folder.")] = "default",
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="Device profile (default: the one `edgegen doctor` suggests).")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder (default: runs/bench-<time>).")] = None,
    legs: Annotated[str | None, typer.Option(help="Comma list of leg names or prefixes ending in '*' (default: all).")] = None,
    steps: int | None = None,
    size: int | None = None,
    guidance: float | None = None,
    quality_images: Annotated[int, typer.Option(help="Images per class per leg for quality metrics.")] = 50,
    warm_runs: Annotated[int, typer.Option(help="Timed single-image runs per leg.")] = 16,
    batch_sizes: Annotated[str, typer.Option(help="Comma list of images per call for the throughput figures.")] = "1,4",
    images_per_month: float = 10_000,
    threads: int | None = None,
    seed: int = 0,
    json_out: JsonOption = False,
) -> None:
    """Benchmark every leg side by side: latency, memory, energy, quality and cost per image."""
    from edgegen.benchmark.run import BenchConfig, run_bench

    folder = out or Path("runs") / f"bench-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    config = BenchConfig(folder, model, profile, legs=tuple(x.strip() for x in legs.split(",")) if legs else None, steps=steps, size=size, guidance=guidance, quality_per_class=quality_images, warm_runs=warm_runs, batch_sizes=_batch_sizes(batch_sizes), images_per_month=images_per_month, threads=threads, seed=seed)
    outcome = run_bench(config, progress=(lambda m: None) if json_out else (lambda m: console.print(f"[dim]{m}[/]")))
    if json_out:
        print_json(outcome.results)
    else:
        _print_summary(outcome.results)
        console.print(f"results: {outcome.files['results']} · report: {outcome.files['markdown']} · {outcome.files['html']}")
    if outcome.results.failed:
        names = ", ".join(r.name for r in outcome.results.failed)
        raise typer.Exit(code=11) if json_out else _fail(names)


def _batch_sizes(text: str) -> tuple[int, ...]:
    from edgegen.errors import UsageError

    try:
        sizes = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--batch-sizes {text!r} is not a comma list of integers") from None
    if not sizes or min(sizes) < 1:
        raise UsageError("--batch-sizes needs at least one size ≥ 1")
    return sizes


def _fail(names: str):
    console.print(f"[red]failed legs: {names}[/]")
    raise typer.Exit(code=11)


def _print_summary(results) -> None:
    from edgegen.benchmark.report import CLF_HEADER, SD_HEADER, _headline_lines, classifier_rows, sd_rows

    keep = [0, 2, 3, 5, 8, 11, 14, 15]
    rows = [row for row in sd_rows(results) if row[1] == "ok"]
    console.print(table("generation legs (full table in report.md)", [SD_HEADER[i] for i in keep], [[row[i] for i in keep] for row in rows]))
    console.print(table("classifier legs", CLF_HEADER, [r for r in classifier_rows(results) if r[1] == "ok"]))
    for r in results.legs:
        if r.status != "ok":
            from rich.markup import escape

            console.print(f"[yellow]{r.status}[/] {r.name}: {escape(r.error or '')}", highlight=False)
    for line in _headline_lines(results):
        console.print(line.replace("**", ""))


def report_cmd(results: Annotated[Path, typer.Argument(help="A results.json written by `edgegen bench`.")], out: Annotated[Path | None, typer.Option(help="Folder for report.md/html (default: beside results.json).")] = None) -> None:
    """Re-render the Markdown and HTML reports (with plots) from a saved results.json."""
    from edgegen.benchmark.report import write_reports
    from edgegen.benchmark.results import load_results

    loaded = load_results(results)
    files = write_reports(loaded, out or results.parent)
    console.print(f"wrote {files['markdown']} and {files['html']}")
