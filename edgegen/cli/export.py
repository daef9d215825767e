"""`edgegen export` and `edgegen build`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, ProfileOption, console, print_json, table


def _parse_list(text: str | None, enum, what: str):
    if text is None:
        return None
    from edgegen.errors import UsageError

    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        try:
            out.append(enum(item))
        except ValueError:
            raise UsageError(f"unknown {what} {item!r}", hint=f"use {', '.join(e.value for e in enum)}") from None
    return tuple(out)


def _parse_scheme(text: str | None):
    from edgegen.errors import UsageError
    from edgegen.export.int8_schemes import Int8Scheme

    if text is None:
        return None
    made = (Int8Scheme.CPU_U8S8, Int8Scheme.TENSORRT)
    if text not in {s.value for s in made}:
        raise UsageError(
            f"unknown INT8 scheme {text!r}",
            hint=f"use {' or '.join(s.value for s in made)}; a ModelOpt graph comes with --int8-onnx",
        )
    return Int8Scheme(text)


def _parse_int8_onnx(items: list[str]):
    """['unet=PATH', ...] → ((Component.UNET, Path), ...), refused at the boundary when malformed."""
    from edgegen.errors import UsageError
    from edgegen.types import Component

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not path.strip():
            raise UsageError(f"--int8-onnx {item!r} is not COMPONENT=PATH", hint="e.g. --int8-onnx unet=unet.int8.onnx")
        try:
            component = Component(name.strip())
        except ValueError:
            raise UsageError(
                f"--int8-onnx: unknown component {name.strip()!r}", hint=f"use {', '.join(c.value for c in Component)}"
            ) from None
        if component in out:
            raise UsageError(f"--int8-onnx names {component.value} twice")
        out[component] = Path(path.strip())
    return tuple(out.items())


def export_cmd(
    model: Annotated[
        str,
        typer.Argument(
            help=(
                "'default' (the embedded diffusion model), 'gan' (the "
                "embedded GAN), a preset, or a local diffusers / GAN folder."
            )
        ),
    ] = "default",
    profile: ProfileOption = "cpu-x86",
    out: Annotated[Path | None, typer.Option(help="Output root (default: the repository's export/ folder).")] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="Comma list of fp32,fp16,int8 for every component (default: fp32 + the profile's)."),
    ] = None,
    components: Annotated[
        str | None,
        typer.Option(
            help=(
                "Comma list of text_encoder,unet,vae_decoder,vae_encoder,classifier "
                "(a GAN exports its generator + classifier)."
            )
        ),
    ] = None,
    classifier: Annotated[str, typer.Option(help="'default', a classifier folder, or 'none'.")] = "default",
    calibration_data: Annotated[
        str | None,
        typer.Option(
            help=(
                "Real CXRs for INT8 calibration (train split; checks on the val split). Default: the "
                "embedded set the model was trained on (cxr-128 = NIH + Kermany), else kermany-128."
            )
        ),
    ] = None,
    calibration_samples: int = 16,
    image_size: Annotated[
        int | None, typer.Option(help="Image side for export and validation (default: the model's own).")
    ] = None,
    opset: int = 17,
    openvino: Annotated[
        bool, typer.Option(help="Also write NNCF-quantized OpenVINO INT8 IRs for the INT8 components.")
    ] = False,
    int8_scheme: Annotated[
        str | None,
        typer.Option(help="INT8 scheme: u8s8 (ORT CPU) or trt-s8s8 (TensorRT) (default: the profile's)."),
    ] = None,
    int8_onnx: Annotated[
        list[str] | None,
        typer.Option(
            "--int8-onnx",
            help=(
                "COMPONENT=PATH: use your own INT8 QDQ graph (e.g. made with NVIDIA ModelOpt) for that "
                "component, validated against torch and TensorRT's Q/DQ rules (repeatable)."
            ),
        ),
    ] = None,
    trust_pickle: bool = False,
    json_out: JsonOption = False,
) -> None:
    """Export a SD pipeline or a GAN (+ classifier) to validated ONNX in FP32/FP16/INT8, with a manifest."""
    from edgegen.errors import UsageError
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT
    from edgegen.export.export_model import SD_COMPONENTS, ExportRequest, export_model
    from edgegen.types import Component, Precision

    if opset < 17:
        raise UsageError(f"--opset {opset} is below 17", hint="LayerNormalization needs opset 17")
    comps = _parse_list(components, Component, "component") or SD_COMPONENTS + (Component.CLASSIFIER,)
    scheme = _parse_scheme(int8_scheme)
    request = ExportRequest(
        model=model,
        profile=profile,
        out_root=out or DEFAULT_EXPORT_ROOT,
        precisions=_parse_list(precision, Precision, "precision"),
        components=comps,
        classifier=None if classifier == "none" else classifier,
        calibration_data=calibration_data,
        calibration_samples=calibration_samples,
        image_size=image_size,
        opset=opset,
        trust_pickle=trust_pickle,
        openvino=openvino,
        int8_scheme=scheme,
        int8_onnx=_parse_int8_onnx(int8_onnx or []),
    )
    result = export_model(request, progress=None if json_out else lambda label: console.print(f"exporting {label} ..."))
    if json_out:
        print_json(result)
        return
    rows = []
    for a in result.manifest.components:
        worst = max(a.checks, key=lambda c: c.rel_l2) if a.checks else None
        note = "reused" if f"{a.component.value}.{a.precision.value}" in result.reused else f"{a.seconds:.1f} s"
        fallback = "" if a.actual_precision is a.precision else f" → {a.actual_precision.value}"
        rows.append(
            [
                a.component.value,
                a.precision.value + fallback,
                f"{a.bytes / 2**20:.1f}",
                f"{worst.rel_l2:.2e}" if worst else "-",
                f"{worst.max_abs:.2e}" if worst else "-",
                note,
            ]
        )
    console.print(
        table(
            f"{result.folder} (worst check per artifact vs torch fp32)",
            ["component", "precision", "MiB", "rel-L2", "max-abs", "time"],
            rows,
        )
    )
    console.print(
        f"{len(result.exported)} exported, {len(result.reused)} reused in "
        f"{result.seconds:.0f} s; manifest: {result.folder / 'manifest.json'}"
    )


def build_cmd(
    artifacts: Annotated[Path, typer.Argument(help="An export folder (with manifest.json).")],
    profile: ProfileOption = "desktop-rtx4090-24gb",
    precision: Annotated[
        str | None, typer.Option(help="Build this precision for every component (default: the profile's).")
    ] = None,
    optimization_level: Annotated[int, typer.Option(help="TensorRT builder optimisation level 0-5.")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Build TensorRT engines (dynamic shape profiles from the device profile) from exported ONNX.

    INT8 graphs are checked against TensorRT's Q/DQ rules first; every engine is recorded in
    engines/engines.json (GPU, compute capability, TensorRT version, shapes, ONNX hash)."""
    from edgegen.export.build import build_engines
    from edgegen.types import Precision

    chosen = _parse_list(precision, Precision, "precision")
    result = build_engines(artifacts, profile, chosen[0] if chosen else None, optimization_level)
    if json_out:
        print_json(result)
        return
    rows = [
        [
            k,
            str(e.path),
            "reused" if e.reused else f"{e.seconds:.0f} s",
            "passed" if k in result.conformance else "-",
        ]
        for k, e in result.engines.items()
    ]
    console.print(table("TensorRT engines", ["artifact", "engine", "build", "INT8 Q/DQ rules"], rows))
    console.print(f"recorded in {result.engine_manifest}")
