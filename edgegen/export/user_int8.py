"""A user's own INT8 QDQ graph (made with NVIDIA ModelOpt on their GPU box, whose ONNX extra
conflicts with edgegen's pinned onnx/onnxruntime) taken in as a component's INT8 artifact:
interface checked against edgegen's, weights consolidated beside it under edgegen's file name,
then validated against torch on held-out real inputs and held to TensorRT's Q/DQ rules like the
graphs edgegen makes (the caller runs both)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx

from edgegen.errors import ArtifactError, ValidationError
from edgegen.export.artifacts import Check
from edgegen.export.int8_schemes import Int8Scheme
from edgegen.export.onnx_io import check_onnx, save_model
from edgegen.hashing import sha256_file
from edgegen.types import Precision


def interface_problems(model: onnx.ModelProto, input_names, output_names) -> list[str]:
    """Why this graph cannot stand in for edgegen's component (empty: it can). Pure."""
    inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    outputs = [o.name for o in model.graph.output]
    problems = []
    if sorted(inputs) != sorted(input_names):
        problems.append(f"inputs {inputs}, edgegen's are {list(input_names)}")
    if len(outputs) != len(output_names):
        problems.append(f"{len(outputs)} outputs {outputs}, edgegen's are {list(output_names)}")
    return problems


def import_user_qdq(user_file: Path, dst: Path, spec) -> tuple[str | None, dict[str, Any], list[str]]:
    """Write the user's graph to `dst` (a temp path; weights past 2 GB in `<dst>.data`).
    Outputs named differently (ModelOpt's SD UNet calls its output `latent`) are renamed to
    edgegen's names in order. Returns (external data name, manifest int8 info, notes)."""
    model = check_onnx(user_file)  # loads external data from beside the user's file
    label = f"--int8-onnx {spec.component.value}={user_file}"
    if problems := interface_problems(model, spec.input_names, spec.output_names):
        raise ArtifactError(f"{label}: {'; '.join(problems)}", hint="export the same component with the same names")
    notes = [f"user-supplied QDQ graph ({user_file.name}), validated against torch and TensorRT's Q/DQ rules"]
    renamed = {o.name: want for o, want in zip(model.graph.output, spec.output_names, strict=True) if o.name != want}
    for old, new in renamed.items():
        for node in model.graph.node:
            node.output[:] = [new if o == old else o for o in node.output]
            node.input[:] = [new if i == old else i for i in node.input]
        for o in model.graph.output:
            if o.name == old:
                o.name = new
    if renamed:
        notes.append("outputs renamed to edgegen's: " + ", ".join(f"{a} → {b}" for a, b in renamed.items()))
    ops = [n.op_type for n in model.graph.node]
    if "QuantizeLinear" not in ops and "DequantizeLinear" not in ops:
        raise ArtifactError(f"{label}: no QuantizeLinear/DequantizeLinear nodes: not a QDQ INT8 graph")
    data = save_model(model, dst)
    info = {
        "scheme": Int8Scheme.MODELOPT.value,
        "format": "QDQ",
        "source_file": str(user_file),
        "source_sha256": sha256_file(user_file),
        "q_nodes": ops.count("QuantizeLinear"),
        "dq_nodes": ops.count("DequantizeLinear"),
    }
    return data, info, notes


def run_user_checks(
    spec, onnx_path: Path, shapes: list[tuple[int, int]], make_inputs: Callable[[int, int, int], dict] | None
) -> list[Check]:
    """`run_checks` at INT8 tolerance; a graph that cannot even run edgegen's inputs (wrong
    dtypes, ranks or fixed shapes) is a one-line validation error, not an onnxruntime trace."""
    from edgegen.export.validate import run_checks

    try:
        return run_checks(spec, onnx_path, Precision.INT8, shapes, make_inputs=make_inputs)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidArgument types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValidationError(
            f"user-supplied {spec.component.value} INT8 graph does not run on edgegen's inputs: {first[:240]}",
            hint=f"its inputs must take {', '.join(spec.input_names)} as `edgegen export` writes them",
        ) from exc
