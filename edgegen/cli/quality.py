"""`edgegen quality`: how close a synthetic folder is to real images, beside the real floor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table, warn


def load_real_pools(real: str, split: str, size: int, train: str | None, memorize: bool):
    """(held-out real ImageSet, training ImageSet or None) for a DATA spec."""
    from edgegen.data.imageset import merge
    from edgegen.data.load import is_split_aware, load_dataset

    aware = is_split_aware(real)
    if split == "held-out":
        held = (
            merge([load_dataset(real, s, size) for s in ("val", "test")], f"{real}:val+test")
            if aware
            else load_dataset(real, "test", size)
        )
    else:
        held = load_dataset(real, split, size)
    train_set = None
    if memorize:
        if train:
            train_set = load_dataset(train, "train", size)
        elif aware:
            train_set = load_dataset(real, "train", size)
    return held, train_set


def quality_cmd(
    real: Annotated[
        str,
        typer.Argument(
            help=(
                "Real images: an embedded set (default = kermany-128, "
                "nih-cxr14-128, cxr-128), a class-folder, a .csv or a .npz."
            )
        ),
    ],
    synthetic: Annotated[
        str,
        typer.Argument(
            help="A synthetic folder (edgegen generate / dalle / GAN output, class sub-folders, or a flat folder), "
            "or any DATA spec (e.g. another real set, to measure a floor of your own)."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (report.md, report.html, results.json, grids).")
    ] = None,
    class_: Annotated[
        list[str] | None, typer.Option("--class", help="Only these synthetic classes / conditions (repeatable).")
    ] = None,
    finding: Annotated[
        list[str] | None,
        typer.Option("--finding", help="Only these findings (repeatable; findings.yaml names or aliases)."),
    ] = None,
    split: Annotated[
        str, typer.Option(help="Real split: held-out (val + test), train, val, test or all.")
    ] = "held-out",
    train: Annotated[
        str | None,
        typer.Option(help="The generator's training data, for memorization (default: the train split of REAL)."),
    ] = None,
    memorization: Annotated[bool, typer.Option(help="Search each synthetic image's nearest training image.")] = True,
    size: Annotated[int, typer.Option("--size", "--resolution", help="Image side the metrics run at.")] = 128,
    features: Annotated[
        str, typer.Option(help="Feature network: 'cxr-features' (embedded) or a classifier folder.")
    ] = "cxr-features",
    synthetic_split: Annotated[
        str, typer.Option(help="When SYNTHETIC is a split-aware dataset: the split to score.")
    ] = "test",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the intervals.")] = 200,
    seed: int = 0,
    json_out: JsonOption = False,
) -> None:
    """Fidelity, diversity, detectability and memorization of synthetic CXRs, each beside the real-vs-real floor."""
    from edgegen.cli.progress import step_progress
    from edgegen.conditions import condition_name
    from edgegen.errors import UsageError
    from edgegen.quality.assess import assess_quality
    from edgegen.quality.features import FeatureNetwork
    from edgegen.quality.report import write_quality_report
    from edgegen.quality.sources import synthetic_pool

    if split not in ("held-out", "train", "val", "test", "all"):
        raise UsageError(f"unknown --split {split!r}", hint="use held-out, train, val, test or all")
    wanted = list(class_ or []) + [condition_name(f) for f in finding or []]
    pool = synthetic_pool(synthetic, size, wanted or None, synthetic_split)
    if pool.skipped:
        warn(
            f"skipped {len(pool.skipped)} unreadable or non-image file(s): "
            + ", ".join(f"{s.path} ({s.reason})" for s in pool.skipped[:3])
        )
    held, train_set = load_real_pools(real, split, size, train, memorization)
    net = FeatureNetwork(features)
    with step_progress("quality", enabled=not json_out) as bar:
        result = assess_quality(
            pool,
            held,
            train_set,
            net,
            conditions=wanted or None,
            seed=seed,
            bootstrap=bootstrap,
            progress=lambda d, t, info: bar(d, t, info),
        )
    files = write_quality_report(result, pool, held, train_set, out) if out else {}
    if json_out:
        print_json(result)
        return
    from edgegen.quality.report import condition_rows

    console.print(f"features: {result.features.describe()}")
    for q in result.conditions:
        console.print(
            table(
                f"{q.condition} ({q.population or 'any'}): {q.n_synthetic} synthetic, {q.n_real} real, n={q.n} a side",
                ["metric", "synthetic vs real A", "floor: real B vs A"],
                condition_rows(q),
            )
        )
    if result.memorization:
        for s in (result.memorization.pixel, result.memorization.feature):
            console.print(
                f"memorization ({s.space}): {s.near_copies.value:.1%} of synthetic images above the near-copy "
                f"threshold {s.threshold:.3f}; floor (held-out real) {s.floor.value if s.floor else float('nan'):.1%}"
            )
    if files:
        console.print(f"report: {files['html']}")
