"""OpenVINO backend and NNCF INT8 on the tiny preset (skipped where openvino is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

from edgegen.errors import BackendUnavailableError
from edgegen.types import Backend, Component, Precision, SchedulerName


def test_missing_openvino_is_a_one_line_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("no openvino")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    from edgegen.runtime.backends.openvino_backend import require_openvino

    with pytest.raises(BackendUnavailableError, match="openvino not installed.*make openvino"):
        require_openvino()


@pytest.fixture(scope="module")
def ov_export(tmp_path_factory):
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    from edgegen.export.export_model import ExportRequest, export_model

    request = ExportRequest(
        model="tiny",
        profile="cpu-x86",
        out_root=tmp_path_factory.mktemp("ov"),
        precisions=(Precision.INT8,),
        components=(Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER),
        classifier=None,
        calibration_samples=4,
        openvino=True,
    )
    return export_model(request)


def test_nncf_int8_ir_is_written_and_validated(ov_export):
    unet = ov_export.manifest.find(Component.UNET, Precision.INT8)
    ov = unet.int8["openvino"]
    assert ov["model_type"] == "TRANSFORMER" and (ov_export.folder / ov["file"]).is_file()
    assert (ov_export.folder / ov["file"]).with_suffix(".bin").is_file()
    assert all(c["finite"] for c in ov["checks"]) and 0 < max(c["rel_l2"] for c in ov["checks"]) < 0.5
    assert ov_export.manifest.find(Component.VAE_DECODER, Precision.INT8).int8["openvino"]["model_type"] == "default"


def test_openvino_fp32_matches_torch_and_int8_runs(ov_export):
    from edgegen.runtime.loader import RunConfig, open_sd_pipeline

    def run(backend, precision):
        pipe, _ = open_sd_pipeline(
            RunConfig(backend, {c: precision for c in Component}),
            SchedulerName.DPMPP,
            model="tiny",
            artifacts=ov_export.folder,
        )
        out = pipe(["a chest X-ray, normal"], [7], 3, 4.0, 64).images
        pipe.release()
        return out

    ref = run(Backend.TORCH, Precision.FP32).astype(np.float64)
    fp32 = run(Backend.OPENVINO, Precision.FP32).astype(np.float64)
    mse = ((fp32 - ref) ** 2).mean()
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40
    int8 = run(Backend.OPENVINO, Precision.INT8)
    assert int8.shape == (1, 64, 64, 3) and int8.std() > 0
