"""Export on the tiny preset: every component in FP32/FP16/INT8, validated; manifest, reuse,
bad input; TensorRT pure parts (shapes, cache keys, flags) and a GPU-only engine build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgegen.errors import ArtifactError, BackendUnavailableError, ModelError
from edgegen.export.artifacts import ArtifactKind, artifact_path, load_manifest, verify_artifact
from edgegen.export.build import trt_input_shapes
from edgegen.export.export_model import ExportRequest, export_model
from edgegen.export.int8 import activation_matmuls
from edgegen.export.tensorrt_build import EngineSpec, builder_flags, gpu_tag, shape_tag
from edgegen.export.validate import cpu_session
from edgegen.types import Component, Precision

ALL = (Precision.FP32, Precision.FP16, Precision.INT8)


@pytest.fixture(scope="module")
def exported(tiny_export):
    return tiny_export


def test_every_component_and_precision_is_exported_and_validated(exported):
    _, result = exported
    m = result.manifest
    assert {(a.component, a.precision) for a in m.components} == {
        (c, p) for c in Component if c is not Component.GENERATOR for p in ALL
    }
    for a in m.components:
        assert (result.folder / a.file).is_file() and verify_artifact(result.folder, a) is None
        assert len(a.checks) == 2 and all(c.passed and c.finite for c in a.checks)
        assert {c.batch for c in a.checks} in ({1, 2}, {1, 4})  # two shapes exercise dynamic axes
        assert a.opset == 17
    fp32_unet = m.find(Component.UNET, Precision.FP32)
    assert fp32_unet.max_rel_l2 < 1e-4
    assert fp32_unet.inputs["sample"] == ["batch", 4, "height", "width"] and fp32_unet.spatial_divisors["sample"] == 8
    int8_unet = m.find(Component.UNET, Precision.INT8)
    assert int8_unet.int8["nodes_quantized"] > 0 and int8_unet.int8["nodes_excluded_activation_matmul"] > 0
    assert 0 < int8_unet.max_rel_l2 < 0.5  # drift recorded, on held-out real inputs
    assert m.find(Component.UNET, Precision.FP16).bytes < 0.7 * fp32_unet.bytes
    assert m.tool_versions["onnxruntime"] and m.classifier["arch"] == "mobilenet_v3_small"


def test_graphs_are_what_they_claim(exported):
    _, result = exported
    folder = result.folder
    qdq = onnx.load(str(folder / "unet.int8.onnx"))
    ops = {n.op_type for n in qdq.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    half = onnx.load(str(folder / "unet.fp16.onnx"))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O
    # Dynamic shapes really work: a 3-image batch at a size never validated.
    sess = cpu_session(folder / "vae_decoder.fp32.onnx")
    (out,) = sess.run(None, {"latent": np.zeros((3, 4, 4, 6), np.float32)})
    assert out.shape == (3, 3, 32, 48)
    unet = onnx.load(str(folder / "unet.fp32.onnx"))
    assert len(activation_matmuls(unet)) >= 2  # attention Q·Kᵀ and P·V are found


def test_rerun_reuses_valid_artifacts_and_redoes_tampered_ones(exported):
    request, first = exported
    (first.folder / "vae_encoder.int8.onnx").write_bytes((first.folder / "vae_encoder.int8.onnx").read_bytes() + b"x")
    again = export_model(request)
    assert again.exported == ["vae_encoder.int8"]
    assert len(again.reused) == len(first.manifest.components) - 1
    assert verify_artifact(again.folder, again.manifest.find(Component.VAE_ENCODER, Precision.INT8)) is None


def test_manifest_round_trip_and_paths(exported, tmp_path):
    _, result = exported
    manifest = load_manifest(result.folder / "manifest.json")
    assert manifest.find(Component.CLASSIFIER, Precision.INT8).actual_precision is Precision.INT8
    assert (
        artifact_path(tmp_path, "m", "p", ArtifactKind.ONNX, Component.UNET, Precision.INT8)
        == tmp_path / "m/p/unet.int8.onnx"
    )
    assert (
        artifact_path(
            tmp_path,
            "m",
            "p",
            ArtifactKind.ENGINE,
            Component.UNET,
            Precision.FP16,
            "b1-1-2_r256-512-512",
            "rtx_sm89_trt10.3",
        ).name
        == "unet.fp16.b1-1-2_r256-512-512.rtx_sm89_trt10.3.plan"
    )
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_manifest(tmp_path / "bad.json")


def test_corrupt_onnx_is_refused_cleanly(exported, tmp_path):
    from edgegen.export.onnx_io import check_onnx

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf graph")
    with pytest.raises(ArtifactError, match="not a valid ONNX model"):
        check_onnx(bad)
    folder = tmp_path / "copy"
    shutil.copytree(exported[1].folder, folder)
    (folder / "unet.fp16.onnx").write_bytes(b"junk")
    manifest = load_manifest(folder / "manifest.json")
    assert "does not match its recorded sha256" in verify_artifact(
        folder, manifest.find(Component.UNET, Precision.FP16)
    )


def test_model_folder_without_unet_fails_and_writes_nothing(tmp_path, tiny_pipeline):
    folder = tmp_path / "model"
    tiny_pipeline.save_pretrained(folder)
    shutil.rmtree(folder / "unet")
    out = tmp_path / "out"
    with pytest.raises(ModelError, match="unet/ is missing"):
        export_model(ExportRequest(model=str(folder), profile="cpu-x86", out_root=out))
    assert not out.exists()


def test_leftovers_of_a_killed_export_are_swept_and_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from edgegen.export.onnx_io import workdir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(dead.stdout), os.getpid()
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / f".export-{dead_pid}-abc").mkdir()  # a workdir with a half-written graph in it
    (folder / f".export-{dead_pid}-abc" / "unet.int8.onnx").write_bytes(b"partial")
    (folder / f"..export-{dead_pid}-abc.named.onnx").write_bytes(b"x")  # scratch beside the source
    (folder / f".export-{dead_pid}-calib-unet.fp32.onnx").write_bytes(b"x")
    (folder / f".export-{live_pid}-other").mkdir()  # another export of this process: running
    (folder / "unet.fp32.onnx").write_bytes(b"an artifact")
    (folder / ".export-notapid").mkdir()
    with workdir(folder) as tmp:
        left = sorted(p.name for p in folder.iterdir())
        assert left == sorted([".export-notapid", f".export-{live_pid}-other", "unet.fp32.onnx", Path(tmp).name])
        assert Path(tmp).name.startswith(f".export-{live_pid}-")


def test_cli_export_reports_and_bad_precision(run_cli, tmp_path):
    code, out, _ = run_cli(
        "export", "tiny", "--out", str(tmp_path), "--components", "vae_decoder", "--classifier", "none", "--json"
    )
    assert code == 0
    manifest = json.loads(out)["manifest"]
    assert [c["precision"] for c in manifest["components"]] == ["fp32"]  # cpu-x86 keeps the VAE decoder fp32
    code, _, err = run_cli("export", "tiny", "--out", str(tmp_path), "--precision", "int4")
    assert code == 2 and "unknown precision 'int4'" in err


# --- TensorRT: pure parts --------------------------------------------------------------------


def test_trt_shapes_from_the_manifest(exported):
    m = exported[1].manifest
    unet = trt_input_shapes(m.find(Component.UNET, Precision.INT8), (1, 1, 2), (256, 512, 768))
    assert unet["sample"] == ((2, 4, 32, 32), (2, 4, 64, 64), (4, 4, 96, 96))  # CFG doubles the batch
    assert unet["timestep"] == ((2,), (2,), (4,))
    assert unet["encoder_hidden_states"] == ((2, 77, 32), (2, 77, 32), (4, 77, 32))
    dec = trt_input_shapes(m.find(Component.VAE_DECODER, Precision.FP16), (1, 4, 8), (256, 512, 512))
    assert dec["latent"] == ((1, 4, 32, 32), (4, 4, 64, 64), (8, 4, 64, 64))
    clf = trt_input_shapes(m.find(Component.CLASSIFIER, Precision.INT8), (1, 1, 2), (64, 64, 64))
    assert clf["images"] == ((1, 1, 128, 128), (16, 1, 128, 128), (64, 1, 128, 128))  # the classifier card's input size


def test_engine_cache_key_changes_with_everything_that_matters():
    base = EngineSpec(
        "abc", Precision.FP16, {"x": ((1, 4), (1, 4), (2, 4))}, "10.3.0", "NVIDIA GeForce RTX 4090", "8.9"
    )
    from dataclasses import replace

    variants = [
        replace(base, onnx_sha256="abd"),
        replace(base, precision=Precision.INT8),
        replace(base, shapes={"x": ((1, 4), (1, 4), (4, 4))}),
        replace(base, trt_version="10.4.0"),
        replace(base, gpu_name="Orin"),
        replace(base, compute_capability="8.7"),
        replace(base, optimization_level=5),
    ]
    keys = {v.cache_key() for v in variants}
    assert len(keys) == len(variants) and base.cache_key() not in keys
    assert base.cache_key() == replace(base).cache_key()


def test_tags_and_flags():
    assert shape_tag((1, 1, 2), (256, 512, 768)) == "b1-1-2_r256-512-768"
    assert gpu_tag("NVIDIA GeForce RTX 4090", "8.9", "10.3.0") == "nvidia-geforce-rtx-4090_sm89_trt10.3.0"
    assert builder_flags(Precision.FP32) == ()
    assert builder_flags(Precision.FP16) == ("FP16",)
    assert builder_flags(Precision.INT8) == ("INT8", "FP16")


def test_build_without_tensorrt_is_a_one_line_error(run_cli, exported):
    try:
        import tensorrt  # noqa: F401

        pytest.skip("tensorrt is installed here")
    except ImportError:
        pass
    # fp16: the folder's INT8 graphs are u8s8, which `build` refuses before it looks for TensorRT
    # (tests/test_trt_int8.py).
    code, _, err = run_cli("build", str(exported[1].folder), "--profile", "laptop-rtx4060-8gb", "--precision", "fp16")
    assert code == BackendUnavailableError.exit_code and "tensorrt not installed" in err and err.count("\n") == 1


@pytest.mark.gpu
def test_tensorrt_engine_builds_and_is_cached(exported):
    pytest.importorskip("tensorrt")
    from edgegen.export.build import build_engines

    result = build_engines(exported[1].folder, "laptop-rtx4060-8gb", Precision.FP16)
    assert result.engines and all(e.path.is_file() for e in result.engines.values())
    again = build_engines(exported[1].folder, "laptop-rtx4060-8gb", Precision.FP16)
    assert all(e.reused for e in again.engines.values())
