"""`edgegen train-classifier` and `edgegen evaluate`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, warn, table

DataOption = Annotated[str, typer.Option(help="'default' (embedded PneumoniaMNIST), a class-folder, a .csv (path,label) or a MedMNIST .npz.")]
LabelColumn = Annotated[int | None, typer.Option(help="Multi-label .npz (ChestMNIST): which finding column to classify.")]


def _report_rows(report) -> list[list[str]]:
    rows = [[k, str(getattr(report, k))] for k in ("accuracy", "precision_macro", "recall_macro", "f1_macro")]
    if report.auroc is not None:
        rows.append(["auroc", str(report.auroc)])
    for name, m in report.per_class.items():
        rows.append([f"{name} (n={m.support})", f"P {m.precision:.3f}  R {m.recall:.3f}  F1 {m.f1:.3f}"])
    rows.append(["confusion (rows: true)", str(report.confusion)])
    return rows


def train_classifier_cmd(
    out: Annotated[Path, typer.Option(help="Output folder for model.safetensors + card.json.")],
    arch: Annotated[str, typer.Option(help="resnet18, densenet121, mobilenet_v3_small or efficientnet_b0.")] = "mobilenet_v3_small",
    data: DataOption = "default",
    val: Annotated[str | None, typer.Option(help="Validation data; default: the val split, or 15% held out of --data.")] = None,
    test: Annotated[str | None, typer.Option(help="Test data; default: the test split of split-aware --data.")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="A class-folder of synthetic images to mix in.")] = None,
    synthetic_fraction: Annotated[float, typer.Option(help="Share of the training set that is synthetic (1.0: synthetic only).")] = 0.5,
    size: Annotated[int | None, typer.Option(help="Input side in pixels (default: the architecture's).")] = None,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 2e-3,
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without better val macro-F1.")] = 5,
    class_weighting: Annotated[bool, typer.Option(help="Weight the loss by inverse class frequency.")] = True,
    seed: int = 0,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the 95% CIs.")] = 500,
    label_column: LabelColumn = None,
    json_out: JsonOption = False,
) -> None:
    """Train a CXR classifier on real, synthetic or hybrid data; save weights and a model card."""
    from edgegen.classifiers.registry import get_arch
    from edgegen.classifiers.train import TrainConfig, train_classifier
    from edgegen.data.folder import load_image_folder
    from edgegen.data.load import is_split_aware, load_dataset, mix_real_synthetic, stratified_split

    side = size or get_arch(arch).input_size
    real = load_dataset(data, "train", side, label_column=label_column)
    names = real.class_names
    if val is not None:
        val_set = load_dataset(val, "val", side, names, label_column)
    elif is_split_aware(data):
        val_set = load_dataset(data, "val", side, names, label_column)
    else:
        real, val_set = stratified_split(real, 0.15, seed)
    test_set = None
    if test is not None:
        test_set = load_dataset(test, "test", side, names, label_column)
    elif is_split_aware(data):
        test_set = load_dataset(data, "test", side, names, label_column)
    train_set = real
    if synthetic is not None:
        train_set = mix_real_synthetic(real, load_image_folder(synthetic, side, names), synthetic_fraction, seed)
    for s in (train_set, val_set, test_set):
        if s is not None and s.skipped:
            warn(f"{s.source}: {s.skipped_summary()}")
    config = TrainConfig(arch, side, epochs, batch_size, lr, 1e-4, patience, class_weighting, True, seed, bootstrap)
    reproduce = "edgegen " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    def progress(epoch, total, loss, f1):
        if not json_out:
            console.print(f"epoch {epoch}/{total}  train loss {loss:.4f}  val macro-F1 {f1:.4f}")

    result = train_classifier(config, train_set, val_set, test_set, out, reproduce, progress)
    if json_out:
        print_json(result)
        return
    report = result.test or result.val
    console.print(table(f"{'test' if result.test else 'val'} metrics (95% bootstrap CI), best epoch {result.best_epoch}/{result.epochs_run}", ["metric", "value"], _report_rows(report)))
    console.print(f"saved {out} in {result.seconds:.0f} s")


def evaluate_cmd(
    model: Annotated[Path, typer.Argument(help="A classifier folder (model.safetensors + card.json).")],
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

    card = load_card(model)
    dataset = load_dataset(data, split, card.input_size, label_column=label_column)
    result = evaluate_classifier(model, dataset, bootstrap)
    if json_out:
        print_json(result)
        return
    if dataset.skipped:
        warn(f"{dataset.skipped_summary()}")
    console.print(table(f"{model} on {result.data_source} (n={result.report.n}, 95% bootstrap CI)", ["metric", "value"], _report_rows(result.report)))
