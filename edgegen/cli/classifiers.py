"""`edgegen train-classifier` and `edgegen evaluate`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table, warn

DataOption = Annotated[
    str,
    typer.Option(
        help=(
            "An embedded set (default = kermany-128, nih-cxr14-128, cxr-128, pneumoniamnist; join "
            "with +), a class-folder, a .csv (path,label or CheXpert-style findings) or a .npz."
        )
    ),
]
UncertainOption = Annotated[
    str, typer.Option(help="CheXpert-style CSVs: uncertain (-1) labels become ones, zeros, or are ignored.")
]
LabelColumn = Annotated[
    int | None, typer.Option(help="Multi-label .npz (ChestMNIST): which finding column to classify.")
]


def _report_rows(report) -> list[list[str]]:
    from edgegen.classifiers.multilabel import MultiLabelReport

    if isinstance(report, MultiLabelReport):
        rows = [
            [k, str(getattr(report, k))]
            for k in (
                "macro_auroc",
                "macro_average_precision",
                "macro_f1",
                "micro_auroc",
                "micro_average_precision",
                "micro_f1",
            )
        ]
        for name, m in report.per_finding.items():
            rows.append(
                [
                    f"{name} (+{m.n_positive}/-{m.n_negative})",
                    f"AUROC {m.auroc or '–'}  AP {m.average_precision or '–'}  F1@{m.threshold:.2f} {m.f1 or '–'}",
                ]
            )
        rows.append(["macro over", ", ".join(report.macro_over)])
        return rows
    rows = [[k, str(getattr(report, k))] for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")]
    if report.auroc is not None:
        rows.append(["auroc", str(report.auroc)])
    for name, m in report.per_class.items():
        rows.append([f"{name} (n={m.support})", f"P {m.precision:.3f}  R {m.recall:.3f}  F1 {m.f1:.3f}"])
    rows.append(["confusion (rows: true)", str(report.confusion)])
    return rows


def train_classifier_cmd(
    out: Annotated[Path, typer.Option(help="Output folder for model.safetensors + card.json.")],
    arch: Annotated[
        str, typer.Option(help="resnet18, densenet121, mobilenet_v3_small or efficientnet_b0.")
    ] = "mobilenet_v3_small",
    data: DataOption = "default",
    val: Annotated[
        str | None, typer.Option(help="Validation data; default: the val split, or 15% held out of --data.")
    ] = None,
    test: Annotated[str | None, typer.Option(help="Test data; default: the test split of split-aware --data.")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="A class-folder of synthetic images to mix in.")] = None,
    synthetic_fraction: Annotated[
        float, typer.Option(help="Share of the training set that is synthetic (1.0: synthetic only).")
    ] = 0.5,
    size: Annotated[
        int | None, typer.Option("--size", "--resolution", help="Input side in pixels (default: the architecture's).")
    ] = None,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 2e-3,
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without better val macro-F1.")] = 5,
    class_weighting: Annotated[bool, typer.Option(help="Weight the loss by inverse class frequency.")] = True,
    seed: int = 0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the 95% CIs.")] = 500,
    label_column: LabelColumn = None,
    task: Annotated[
        str, typer.Option(help="classes (softmax over classes) or findings (multi-label, one sigmoid per finding).")
    ] = "classes",
    finding: Annotated[
        list[str] | None,
        typer.Option(
            "--finding", help="--task findings: finding to learn (repeatable; default: the four reader-study findings)."
        ),
    ] = None,
    uncertain: UncertainOption = "zeros",
    json_out: JsonOption = False,
) -> None:
    """Train a CXR classifier on real, synthetic or hybrid data; save weights and a model card."""
    from edgegen.classifiers.registry import get_arch
    from edgegen.classifiers.train import TrainConfig, train_classifier
    from edgegen.data.findings import UncertainPolicy, load_findings_map
    from edgegen.data.folder import load_image_folder
    from edgegen.data.load import is_split_aware, load_dataset, mix_real_synthetic, stratified_split
    from edgegen.errors import UsageError

    try:
        policy = UncertainPolicy(uncertain)
    except ValueError:
        raise UsageError(f"unknown --uncertain {uncertain!r}", hint="use ones, zeros or ignore") from None
    findings: tuple[str, ...] = ()
    if task == "findings":
        fmap = load_findings_map()
        findings = (
            tuple(f if f.startswith("population:") else fmap.resolve(f) for f in finding)
            if finding
            else fmap.reader_study
        )
    elif finding:
        raise UsageError("--finding needs --task findings")
    side = size or get_arch(arch).input_size
    real = load_dataset(data, "train", side, label_column=label_column, uncertain=policy)
    names = real.class_names
    if val is not None:
        val_set = load_dataset(val, "val", side, names, label_column, policy)
    elif is_split_aware(data):
        val_set = load_dataset(data, "val", side, names, label_column, policy)
    else:
        real, val_set = stratified_split(real, 0.15, seed)
    test_set = None
    if test is not None:
        test_set = load_dataset(test, "test", side, names, label_column, policy)
    elif is_split_aware(data):
        test_set = load_dataset(data, "test", side, names, label_column, policy)
    train_set = real
    if synthetic is not None:
        train_set = mix_real_synthetic(real, load_image_folder(synthetic, side, names), synthetic_fraction, seed)
    for s in (train_set, val_set, test_set):
        if s is not None and s.skipped:
            warn(f"{s.source}: {s.skipped_summary()}")
    config = TrainConfig(
        arch, side, epochs, batch_size, lr, 1e-4, patience, class_weighting, True, seed, bootstrap, task, findings
    )
    reproduce = "edgegen " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    def progress(epoch, total, loss, val_score):
        if not json_out:
            console.print(
                f"epoch {epoch}/{total}  train loss {loss:.4f}  val "
                f"{'macro AUROC' if task == 'findings' else 'macro-F1'} {val_score:.4f}"
            )

    result = train_classifier(config, train_set, val_set, test_set, out, reproduce, progress)
    if json_out:
        print_json(result)
        return
    report = result.test or result.val
    console.print(
        table(
            f"{'test' if result.test else 'val'} metrics (95% bootstrap CI), "
            f"best epoch {result.best_epoch}/{result.epochs_run}",
            ["metric", "value"],
            _report_rows(report),
        )
    )
    console.print(f"saved {out} in {result.seconds:.0f} s")


def evaluate_cmd(
    model: Annotated[
        str,
        typer.Argument(
            help=(
                "'default', an embedded classifier (cxr-classifier, "
                "cxr-findings) or a folder (model.safetensors + card.json)."
            )
        ),
    ],
    data: DataOption = "default",
    split: Annotated[str, typer.Option(help="Split of a split-aware dataset.")] = "test",
    bootstrap: int = 500,
    label_column: LabelColumn = None,
    json_out: JsonOption = False,
) -> None:
    """Evaluate a trained classifier: accuracy, precision, recall, F1, AUROC with 95% CIs."""
    from edgegen.classifiers.card import load_card
    from edgegen.classifiers.evaluate import evaluate_classifier
    from edgegen.data.load import load_dataset
    from edgegen.models.embedded import resolve_classifier_dir

    folder = resolve_classifier_dir(model)
    card = load_card(folder)
    dataset = load_dataset(data, split, card.input_size, label_column=label_column)
    result = evaluate_classifier(folder, dataset, bootstrap)
    if json_out:
        print_json(result)
        return
    if dataset.skipped:
        warn(f"{dataset.skipped_summary()}")
    console.print(
        table(
            f"{folder.name} on {result.data_source} (n={result.report.n}, 95% bootstrap CI)",
            ["metric", "value"],
            _report_rows(result.report),
        )
    )
