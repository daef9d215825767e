"""`ComponentExporter`: one component in every precision asked for, each graph validated against
the torch model before it is placed; FP16 with its FP32 fallback, INT8 in a scheme (or from a
user's graph) with its TensorRT conformance check, the NNCF OpenVINO IR. Knows nothing about the
CLI or the manifest file; `export_model` drives it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from edgegen.export.artifacts import ComponentArtifact, sha256_file
from edgegen.export.components import ComponentExport
from edgegen.export.int8_schemes import Int8Scheme, needs_tensorrt_rules
from edgegen.export.onnx_io import check_onnx, place, save_model, torch_to_onnx, workdir
from edgegen.export.validate import raise_on_failures, run_checks
from edgegen.types import Precision


def _io(spec: ComponentExport, model) -> tuple[dict, dict]:
    def dims(values):
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    return dims(model.graph.input), dims(model.graph.output)


class ComponentExporter:
    """Exports one component in every precision asked for."""

    def __init__(
        self,
        spec: ComponentExport,
        folder: Path,
        paths,
        shapes,
        opset: int,
        calibration,
        real_inputs,
        release_torch=None,
    ) -> None:
        self.spec, self.folder, self.paths, self.shapes, self.opset = spec, folder, paths, shapes, opset
        self.calibration = calibration  # () -> iterable of input dicts, called only for INT8
        self.real_inputs = real_inputs  # (batch, size, seed) -> held-out real inputs for INT8 checks
        # () -> None: frees the torch module once the INT8 checks' references are computed, so a
        # SD 1.5-size UNet is not held twice (torch + quantizer) while it is calibrated. None: keep it.
        self.release_torch = release_torch
        self._int8_refs = None

    def _int8_references(self):
        """Held-out inputs and the torch outputs for them, computed once for every INT8 check."""
        if self._int8_refs is None:
            from edgegen.export.validate import torch_references

            self._int8_refs = torch_references(self.spec, self.shapes, make_inputs=self.real_inputs)
            if self.release_torch is not None:
                self.release_torch()
        return self._int8_refs

    def _artifact(
        self,
        precision: Precision,
        actual: Precision,
        onnx_file: Path,
        data: str | None,
        checks,
        notes,
        int8=None,
        seconds=0.0,
    ):
        model = check_onnx(onnx_file)
        inputs, outputs = _io(self.spec, model)
        return ComponentArtifact(
            component=self.spec.component,
            precision=precision,
            file=onnx_file.name,
            sha256=sha256_file(onnx_file),
            bytes=onnx_file.stat().st_size + ((onnx_file.parent / data).stat().st_size if data else 0),
            external_data=data,
            opset=self.opset,
            inputs=inputs,
            outputs=outputs,
            checks=checks,
            actual_precision=actual,
            spatial_divisors=self.spec.spatial_divisors(),
            notes=notes,
            int8=int8,
            seconds=round(seconds, 2),
        )

    def fp32(self) -> ComponentArtifact:
        start = time.perf_counter()
        final = self.paths(Precision.FP32)
        with workdir(self.folder) as tmp:
            tmp = Path(tmp)
            rng = np.random.default_rng(0)
            sample = self.spec.sample_inputs(*self.shapes[0], rng)
            raw = torch_to_onnx(
                self.spec.module(),
                sample,
                self.spec.input_names,
                self.spec.output_names,
                self.spec.dynamic_axes(),
                self.opset,
                tmp,
            )
            import onnx

            optimized = tmp / final.name
            data = save_model(onnx.load(str(raw)), optimized)
            # Offline ORT rewrites were tried and dropped: the saved graph confused the fp16
            # converter (duplicate Cast names); each runtime session applies its own full
            # optimisation level at load instead, where it also knows the target provider.
            notes = ["torch.onnx constant folding; runtime graph optimisation (ORT_ENABLE_ALL) at session load"]
            checks = run_checks(self.spec, optimized, Precision.FP32, self.shapes)
            raise_on_failures(self.spec.component.value, Precision.FP32, checks)
            files = {optimized: final}
            if data:
                files[tmp / data] = final.with_name(data)
            place(files)
        return self._artifact(
            Precision.FP32, Precision.FP32, final, data, checks, notes, seconds=time.perf_counter() - start
        )

    def derived(
        self,
        precision: Precision,
        fp32: ComponentArtifact,
        scheme: Int8Scheme = Int8Scheme.CPU_U8S8,
        user_file: Path | None = None,
    ) -> ComponentArtifact:
        from edgegen.export.fp16 import convert_fp16
        from edgegen.export.int8 import quantize_qdq

        start = time.perf_counter()
        src = self.folder / fp32.file
        final = self.paths(precision)
        with workdir(self.folder) as tmp:
            tmp = Path(tmp)
            out = tmp / final.name
            int8_info = None
            if precision is Precision.FP16:
                data, notes = convert_fp16(src, out, self.spec.fp16_op_block_list)
            elif user_file is not None:
                from edgegen.export.user_int8 import import_user_qdq

                data, int8_info, notes = import_user_qdq(user_file, out, self.spec)
            else:
                self._int8_references()  # before quantizing: the torch model may be released then
                int8_info = quantize_qdq(src, out, self.spec.int8_op_types, self.calibration(), tmp, scheme)
                data = final.name + ".data" if (tmp / (final.name + ".data")).exists() else None
                notes = [
                    f"int8 QDQ ({scheme.value}) on {', '.join(int8_info['op_types'])}; "
                    "attention activation×activation MatMuls left in float",
                    "int8 drift measured on held-out real data (not the calibration samples)",
                ]
            if int8_info is not None:
                self._conformance(out, int8_info)
            held_out = self.real_inputs if precision is Precision.INT8 else None
            if user_file is not None:
                from edgegen.export.user_int8 import run_user_checks

                checks = run_user_checks(self.spec, out, self.shapes, held_out)
            else:
                refs = self._int8_references() if precision is Precision.INT8 else None
                checks = run_checks(self.spec, out, precision, self.shapes, make_inputs=held_out, references=refs)
            actual = precision
            if precision is Precision.FP16 and not all(c.finite for c in checks):
                # NaN/Inf in half precision: ship the fp32 graph under the fp16 name, and say so.
                notes.append("fp16 produced NaN/Inf in validation: fell back to fp32 for this component")
                shutil.copyfile(src, out)
                data = fp32.external_data  # the copied graph still points at the fp32 weights file
                checks = run_checks(self.spec, out, Precision.FP32, self.shapes)
                actual = Precision.FP32
            raise_on_failures(self.spec.component.value, actual, checks)
            files = {out: final}
            if data and (tmp / data).exists():
                files[tmp / data] = final.with_name(data)
            place(files)
        return self._artifact(precision, actual, final, data, checks, notes, int8_info, time.perf_counter() - start)

    def _conformance(self, graph: Path, int8_info: dict) -> None:
        """Record how the graph fares against TensorRT's Q/DQ rules; fail when it is meant for TensorRT."""
        from edgegen.export.trt_conformance import check_file, require_conformant

        report = check_file(graph)
        int8_info["tensorrt_conformance"] = report.to_manifest()
        scheme = Int8Scheme(int8_info["scheme"])
        if needs_tensorrt_rules(scheme):
            require_conformant(report, f"{self.spec.component.value} int8 ({scheme.value})")

    def openvino_int8(self, fp32: ComponentArtifact, xml: Path) -> dict:
        """NNCF INT8 IR from the fp32 graph, validated on held-out real data like the ONNX INT8."""
        from edgegen.export.openvino_int8 import nncf_quantize
        from edgegen.export.validate import RunnerSession
        from edgegen.runtime.backends.openvino_backend import OpenVinoRunner

        start = time.perf_counter()
        # References first: the torch model is released then, before NNCF holds the float graph
        # and its statistics model (3.4 GB each for SD 1.5's UNet).
        references = self._int8_references()
        info = nncf_quantize(self.folder / fp32.file, xml, self.spec.component, self.calibration())
        runner = OpenVinoRunner(xml, Precision.INT8)
        checks = run_checks(
            self.spec, xml, Precision.INT8, self.shapes, session=RunnerSession(runner), references=references
        )
        runner.release()
        if not all(c.passed for c in checks):
            # The runtime picks up any IR it finds beside the ONNX: a refused one must not stay.
            xml.unlink(missing_ok=True)
            xml.with_suffix(".bin").unlink(missing_ok=True)
        raise_on_failures(self.spec.component.value, Precision.INT8, checks, " (OpenVINO NNCF IR)")
        return {
            **info,
            "sha256": sha256_file(xml),
            "bin_sha256": sha256_file(xml.with_suffix(".bin")),
            "checks": [c.__dict__ for c in checks],
            "seconds": round(time.perf_counter() - start, 2),
        }
