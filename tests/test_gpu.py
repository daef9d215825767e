"""On an NVIDIA GPU with TensorRT (skipped elsewhere): export → build → generate → compare with
ORT CUDA, for FP16 and the TensorRT INT8 scheme; the engine manifest; the TensorRT runner's
stream-ordered copies, reused buffers and CUDA graphs; ORT's on-device UNet loop; a mismatched
engine refused. `make gpu-check` runs these and a short bench."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import yaml

from edgegen.errors import ArtifactError
from edgegen.export.build import build_engines
from edgegen.export.export_model import ExportRequest, export_model
from edgegen.profiles import PROFILES_DIR
from edgegen.runtime.engine_select import ShapeNeed
from edgegen.runtime.loader import RunConfig, open_sd_pipeline
from edgegen.types import Backend, Component, Precision, SchedulerName
from tests.image_metrics import fidelity, gray_like

pytestmark = pytest.mark.gpu

# The CPU precision tests' bounds (tests/test_runtime.py): another seed or a flat gray fail them.
MIN_PSNR_DB, MIN_SSIM = 28.0, 0.90
SD = (Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER)
FP16 = {c: Precision.FP16 for c in Component}
INT8_UNET = {**FP16, Component.UNET: Precision.INT8}


@pytest.fixture(scope="module")
def gpu_profile(tmp_path_factory):
    """The laptop profile (TensorRT backends: INT8 scheme trt-s8s8) with shape ranges the tiny
    preset builds and runs at in seconds."""
    data = yaml.safe_load((PROFILES_DIR / "laptop-rtx4060-8gb.yaml").read_text())
    data["shapes"] = {"batch": {"min": 1, "opt": 2, "max": 2}, "resolution": {"min": 64, "opt": 64, "max": 128}}
    data["generation"]["resolution"] = 64
    path = tmp_path_factory.mktemp("profile") / "gpu-tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, gpu_profile):
    pytest.importorskip("tensorrt")
    result = export_model(
        ExportRequest(
            model="tiny",
            profile=str(gpu_profile),
            out_root=tmp_path_factory.mktemp("gpu-export"),
            precisions=(Precision.FP16, Precision.INT8),
            components=SD,
            classifier=None,
            calibration_samples=4,
            image_size=64,
        )
    )
    wanted = [(c, Precision.FP16) for c in SD] + [(Component.UNET, Precision.INT8)]
    return result, build_engines(result.folder, str(gpu_profile), wanted=wanted), wanted, gpu_profile


def _generate(folder, backend, precisions, seeds=(3, 4), **config):
    pipe, _ = open_sd_pipeline(
        RunConfig(backend, precisions, shape_need=ShapeNeed(2, 64), **config),
        SchedulerName.DPMPP,
        model="tiny",
        artifacts=folder,
    )
    out = pipe(["a chest X-ray, frontal view, normal"] * 2, list(seeds), 4, 5.0, 64)
    device = pipe.loop_device()
    pipe.release()
    return out.images, device


def test_engines_are_recorded_for_this_gpu_and_reused(built):
    import tensorrt as trt
    import torch

    result, first, wanted, profile = built
    records = json.loads((result.folder / "engines" / "engines.json").read_text())["engines"]
    assert {(r["component"], r["precision"]) for r in records} == {(c.value, p.value) for c, p in wanted}
    for r in records:
        assert r["gpu_name"] == torch.cuda.get_device_name() and r["trt_version"] == trt.__version__
        assert (result.folder / r["file"]).is_file() and r["shape_tag"] == "b1-2-2_r64-64-128"
    assert next(r for r in records if r["precision"] == "int8")["int8_scheme"] == "trt-s8s8"
    again = build_engines(result.folder, str(profile), wanted=wanted)
    assert all(e.reused for e in again.engines.values())


@pytest.mark.parametrize("precisions", [FP16, INT8_UNET], ids=["fp16", "int8-unet"])
def test_tensorrt_generates_what_ort_cuda_generates(built, precisions):
    folder = built[0].folder
    trt_images, device = _generate(folder, Backend.TENSORRT, precisions)
    assert device is not None and device.startswith("cuda")  # latents stayed on the GPU
    ort_images, _ = _generate(folder, Backend.ORT_CUDA, precisions)
    psnr, ssim = fidelity(trt_images, ort_images)
    assert psnr >= MIN_PSNR_DB and ssim >= MIN_SSIM, (psnr, ssim)
    reference, _ = _generate(folder, Backend.ORT_CPU, {c: Precision.FP32 for c in Component})
    psnr, ssim = fidelity(trt_images, reference)
    assert psnr >= MIN_PSNR_DB and ssim >= MIN_SSIM, (psnr, ssim)
    graphed, _ = _generate(folder, Backend.TENSORRT, precisions, cuda_graph=True)
    assert fidelity(graphed, trt_images)[0] >= 60  # the same kernels, replayed
    # negative controls on these very images: a flat gray and other seeds must fail the same bounds
    gray_psnr, gray_ssim = fidelity(gray_like(reference), reference)
    assert not (gray_psnr >= MIN_PSNR_DB and gray_ssim >= MIN_SSIM), (gray_psnr, gray_ssim)
    other, _ = _generate(folder, Backend.TENSORRT, precisions, seeds=(7, 8))
    other_psnr, other_ssim = fidelity(other, reference)
    assert not (other_psnr >= MIN_PSNR_DB and other_ssim >= MIN_SSIM), (other_psnr, other_ssim)


def test_trt_runner_orders_copies_and_reuses_buffers(built):
    import torch

    from edgegen.export.engine_manifest import load_engine_manifest
    from edgegen.runtime.backends.trt_backend import TrtRunner

    folder = built[0].folder
    record = next(r for r in load_engine_manifest(folder).engines if r.label == "unet.fp16")
    rng = np.random.default_rng(0)
    inputs = {
        "sample": rng.standard_normal((2, 4, 8, 8)).astype(np.float32),
        "timestep": np.full((2,), 500.0, np.float32),
        "encoder_hidden_states": rng.standard_normal((2, 77, 32)).astype(np.float32),
    }
    for graph in (False, True):
        runner = TrtRunner(folder / record.file, cuda_graph=graph).load()
        host = runner.run(inputs)["noise_pred"]
        on_device = {k: torch.from_numpy(v).cuda() for k, v in inputs.items()}
        first = runner.run_device(on_device)["noise_pred"]
        ptr, value = first.data_ptr(), first.cpu().numpy()
        second = runner.run_device(on_device)["noise_pred"]
        assert second.data_ptr() == ptr  # one buffer per shape
        assert np.allclose(value, host, atol=1e-3) and np.allclose(second.cpu().numpy(), host, atol=1e-3)
        with pytest.raises(ArtifactError, match="cannot run these shapes"):
            runner.run({**inputs, "sample": np.zeros((6, 4, 8, 8), np.float32), "timestep": np.zeros(6, np.float32)})
        runner.release()


def test_ort_cuda_keeps_the_loop_on_the_device(built):
    folder = built[0].folder
    fp32 = {c: Precision.FP32 for c in Component}
    on_device, device = _generate(folder, Backend.ORT_CUDA, fp32)
    on_host, none = _generate(folder, Backend.ORT_CUDA, fp32, device_loop=False)
    assert device.startswith("cuda") and none is None
    assert fidelity(on_device, on_host)[0] >= 40


def test_an_engine_for_another_tensorrt_is_refused(built, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(built[0].folder, folder)
    path = folder / "engines" / "engines.json"
    data = json.loads(path.read_text())
    for r in data["engines"]:
        r["trt_version"] = "0.0.1"
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="built with TensorRT 0.0.1"):
        _generate(folder, Backend.TENSORRT, FP16)
    with pytest.raises(ArtifactError, match="does not cover the shapes"):
        open_sd_pipeline(
            replace(RunConfig(Backend.TENSORRT, FP16), shape_need=ShapeNeed(4, 64)),
            SchedulerName.DPMPP,
            artifacts=built[0].folder,
        )
