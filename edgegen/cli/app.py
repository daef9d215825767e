"""Assembles the `edgegen` command from one module per command group."""

from __future__ import annotations

import os
import sys

# diffusers warns on every import that optimum-onnx also provides 'optimum'; users need not see it.
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from edgegen.cli import (
    bench,
    classifiers,
    cloud,
    doctor,
    export,
    finetune,
    gan,
    models,
    plan,
    profiles,
    quality,
    reader,
    run,
    study,
)  # noqa: E402
from edgegen.cli.errors import report_error  # noqa: E402

app = typer.Typer(
    name="edgegen",
    help="Synthetic chest X-ray generation on the edge: export, run, benchmark and compare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global_options(
    findings_map: Annotated[
        Path | None,
        typer.Option(
            "--findings-map",
            envvar="EDGEGEN_FINDINGS_MAP",
            help="A findings mapping YAML (same keys as edgegen/assets/findings.yaml) used by every command, "
            "e.g. for a CheXpert / MIMIC-CXR CSV with other column names. Give it before the command.",
        ),
    ] = None,
) -> None:
    """Synthetic chest X-ray generation on the edge: export, run, benchmark and compare."""
    if findings_map is not None:
        from edgegen.data.findings import use_findings_map

        use_findings_map(findings_map)


app.command("bench")(bench.bench_cmd)
app.command("report")(bench.report_cmd)
app.command("doctor")(doctor.doctor)
app.add_typer(profiles.app, name="profiles")
app.add_typer(models.app, name="models")
app.command("train-classifier")(classifiers.train_classifier_cmd)
app.command("evaluate")(classifiers.evaluate_cmd)
app.command("finetune")(finetune.finetune_cmd)
app.command("train-gan")(gan.train_gan_cmd)
app.command("export")(export.export_cmd)
app.command("build")(export.build_cmd)
app.command("generate")(run.generate_cmd)
app.command("plan")(plan.plan_cmd)
app.command("classify")(run.classify_cmd)
app.command("dalle")(cloud.dalle_cmd)
app.command("cost")(cloud.cost_cmd)
app.command("quality")(quality.quality_cmd)
app.command("study")(study.study_cmd)
app.add_typer(reader.app, name="reader")


def _quiet_library_warnings() -> None:
    """Tracer/exporter/deprecation chatter from torch, transformers and diffusers is for their
    developers, not ours; EDGEGEN_DEBUG=1 keeps it."""
    import warnings

    from edgegen.cli.errors import debug_enabled

    if debug_enabled():
        return
    for module in ("torch", "transformers", "diffusers", "optimum", "torchmetrics", "onnxruntime", "onnxscript"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", message=".*(TracerWarning|Converting a tensor to a Python|torch.jit).*")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def main() -> None:
    _quiet_library_warnings()
    try:
        app()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the single place errors become exit codes
        if isinstance(exc, KeyboardInterrupt):
            print("edgegen: interrupted", file=sys.stderr)
            sys.exit(130)
        sys.exit(report_error(exc))


if __name__ == "__main__":
    main()
