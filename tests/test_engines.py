"""TensorRT engines without a GPU: the engine manifest, engine selection with fake manifests (GPU,
compute capability, TensorRT version, ONNX hash, shapes), the loader's wiring with a fake
TensorRT, shape profiles for `build` and ORT's TensorRT EP, the bench's engine plan, and the
Jetson GPU detection."""

from __future__ import annotations

import shutil
from dataclasses import replace
from types import SimpleNamespace

import pytest

from edgegen.errors import ArtifactError
from edgegen.export.engine_manifest import EngineManifest, EngineRecord, load_engine_manifest, save_engine_manifest
from edgegen.export.shape_profiles import (
    covers,
    needed_shapes,
    ort_profile_options,
    profile_ranges,
    trt_input_shapes,
    widened,
)
from edgegen.export.tensorrt_build import workspace_gb
from edgegen.runtime.backends.trt_backend import outside_profile
from edgegen.runtime.engine_select import EngineNeed, ShapeNeed, select_engine
from edgegen.types import Backend, Component, Precision

RTX = ("NVIDIA GeForce RTX 4090", "8.9")


def record(**kw) -> EngineRecord:
    base = dict(
        component=Component.UNET,
        precision=Precision.INT8,
        actual_precision=Precision.INT8,
        file="engines/unet.int8.b1-1-2_r256-512-512.nvidia-geforce-rtx-4090_sm89_trt10.3.0.plan",
        onnx_file="unet.int8.onnx",
        onnx_sha256="a" * 64,
        gpu_name=RTX[0],
        compute_capability=RTX[1],
        trt_version="10.3.0",
        shape_tag="b1-1-2_r256-512-512",
        image_batch=(1, 1, 2),
        resolution=(256, 512, 512),
        shapes={"sample": [[2, 4, 32, 32], [2, 4, 64, 64], [4, 4, 64, 64]], "timestep": [[2], [2], [4]]},
        cache_key="k",
        optimization_level=3,
        workspace_gb=4.0,
        int8_scheme="trt-s8s8",
        built="2026-11-20T10:00:00+00:00",
    )
    return EngineRecord(**{**base, **kw})


def need(shapes=None, **kw) -> EngineNeed:
    base = dict(
        component=Component.UNET,
        precision=Precision.INT8,
        onnx_sha256="a" * 64,
        gpu_name=RTX[0],
        compute_capability=RTX[1],
        trt_version="10.3.0",
        input_shapes=shapes,
    )
    return EngineNeed(**{**base, **kw})


ONE_512 = {"sample": (2, 4, 64, 64), "timestep": (2,)}


def test_the_engine_for_this_gpu_trt_and_onnx_is_chosen():
    orin = record(file="engines/orin.plan", gpu_name="Orin", compute_capability="8.7")
    mine = record()
    assert select_engine([orin, mine], need(ONE_512)) is mine
    assert select_engine([orin, mine], need(gpu_name="orin", compute_capability="8.7")) is orin  # name case-blind
    fp16 = record(file="engines/unet.fp16.plan", precision=Precision.FP16, actual_precision=Precision.FP16)
    assert select_engine([fp16, mine], need()) is mine


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"gpu_name": "NVIDIA GeForce RTX 4060 Laptop GPU"}, "built for NVIDIA GeForce RTX 4090"),
        ({"compute_capability": "9.0"}, "built for sm8.9"),
        ({"trt_version": "10.4.0"}, "built with TensorRT 10.3.0"),
        ({"onnx_sha256": "b" * 64}, "built from an older unet.int8.onnx (aaaaaaaa)"),
        ({"input_shapes": {"sample": (8, 4, 64, 64), "timestep": (8,)}}, "profile b1-1-2_r256-512-512 does not cover"),
    ],
)
def test_a_mismatch_is_one_line_naming_what_is_there_and_what_is_needed(change, reason):
    with pytest.raises(ArtifactError) as exc:
        select_engine([record()], need(ONE_512, **change))
    text = exc.value.one_line()
    assert "\n" not in text and reason in text and "no TensorRT engine for unet.int8" in text
    assert "need " in text and "have: unet.int8.b1-1-2_r256-512-512" in text and "edgegen build" in text


def test_nothing_built_says_so():
    with pytest.raises(ArtifactError, match="have: none built"):
        select_engine([record(component=Component.VAE_DECODER)], need(), "export/x")


def test_shapes_choose_among_fitting_engines():
    small = record(file="engines/small.plan")  # opt 512 px, max batch 2
    wide = record(
        file="engines/wide.plan",
        shape_tag="b1-4-8_r256-512-1024",
        shapes={"sample": [[2, 4, 32, 32], [8, 4, 64, 64], [16, 4, 128, 128]], "timestep": [[2], [8], [16]]},
    )
    assert select_engine([small, wide], need(ONE_512)) is small  # its opt is the need
    assert select_engine([small, wide], need({"sample": (8, 4, 64, 64), "timestep": (8,)})) is wide
    assert select_engine([small, wide], need()) is wide  # shapes unknown: the widest
    newer = replace(small, file="engines/newer.plan", built="2026-11-21T10:00:00+00:00")
    assert select_engine([small, newer], need(ONE_512)) is newer


def test_engine_manifest_round_trip(tmp_path):
    assert load_engine_manifest(tmp_path).engines == []
    m = EngineManifest().with_record(record()).with_record(record(file="engines/other.plan"))
    m = m.with_record(replace(record(), cache_key="k2"))  # rebuilt: replaces its own record
    save_engine_manifest(tmp_path, m)
    back = load_engine_manifest(tmp_path)
    assert back == m and len(back.engines) == 2 and back.engines[-1].cache_key == "k2"
    assert back.engines[0].image_batch == (1, 1, 2)
    (tmp_path / "engines" / "engines.json").write_text('{"schema_version": 1, "engines": [{"file": 3}]}')
    with pytest.raises(ArtifactError, match="engines.json.*missing"):
        load_engine_manifest(tmp_path)


def test_shape_profiles(tiny_export):
    m = tiny_export[1].manifest
    unet = m.find(Component.UNET, Precision.INT8)
    cpu = SimpleNamespace(
        shapes=SimpleNamespace(
            batch=SimpleNamespace(min=1, opt=1, max=4), resolution=SimpleNamespace(min=64, opt=64, max=512)
        )
    )
    assert profile_ranges(cpu) == ((1, 1, 4), (64, 64, 512))
    assert widened(((1, 1, 2), (256, 512, 512)), (1, 4), 640) == ((1, 1, 4), (256, 512, 640))
    assert widened(((1, 1, 2), (256, 512, 512)), (), None) == ((1, 1, 2), (256, 512, 512))
    assert needed_shapes(unet, 1, 64) == {
        "sample": (2, 4, 8, 8),
        "timestep": (2,),
        "encoder_hidden_states": (2, 77, 32),
    }
    clf = m.find(Component.CLASSIFIER, Precision.INT8)
    assert needed_shapes(clf, 64, 512) == {"images": (64, 1, 128, 128)}
    shapes = trt_input_shapes(unet, (1, 1, 4), (64, 64, 512))
    assert ort_profile_options(shapes) == {
        "trt_profile_min_shapes": "encoder_hidden_states:2x77x32,sample:2x4x8x8,timestep:2",
        "trt_profile_opt_shapes": "encoder_hidden_states:2x77x32,sample:2x4x8x8,timestep:2",
        "trt_profile_max_shapes": "encoder_hidden_states:8x77x32,sample:8x4x64x64,timestep:8",
    }
    plain = {k: [list(s) for s in v] for k, v in shapes.items()}
    assert covers(plain, needed_shapes(unet, 4, 512)) and not covers(plain, needed_shapes(unet, 4, 520))
    profile = {k: tuple(v) for k, v in shapes.items()}
    assert outside_profile(needed_shapes(unet, 2, 256), profile) == []
    bad = outside_profile({**needed_shapes(unet, 2, 256), "sample": (10, 4, 8, 8)}, profile)
    assert bad == ["sample 10x4x8x8 (engine takes 2x4x8x8 … 8x4x64x64)"]
    assert workspace_gb(6.0) == 3.0 and workspace_gb(22.0) == 4.0 and workspace_gb(0.5) == 0.25
    # the plan's weights + activations come off the budget first: SD 1.5 fp16 on an 8 GB Jetson
    assert workspace_gb(6.0, int(1.7e9 + 2.3e9)) == 1.0 and workspace_gb(6.0, int(6.5e9)) == 0.25


@pytest.fixture
def fake_gpu(monkeypatch):
    import edgegen.export.tensorrt_build as tb
    import edgegen.system.gpu as gpu

    monkeypatch.setattr(tb, "require_tensorrt", lambda: SimpleNamespace(__version__="10.3.0"))
    monkeypatch.setattr(gpu, "cuda_device", lambda index=None: gpu.CudaDevice(0, *RTX))


def test_loader_runs_the_engine_the_manifest_selects(tmp_path, tiny_export, fake_gpu):
    from edgegen.export.artifacts import load_manifest
    from edgegen.runtime.backends.trt_backend import TrtRunner
    from edgegen.runtime.loader import RunConfig, onnx_runner

    folder = tmp_path / "copy"
    shutil.copytree(tiny_export[1].folder, folder)
    manifest = load_manifest(folder / "manifest.json")
    art = manifest.find(Component.UNET, Precision.FP16)
    rec = record(
        precision=Precision.FP16,
        actual_precision=Precision.FP16,
        file="engines/unet.fp16.plan",
        onnx_file=art.file,
        onnx_sha256=art.sha256,
        shapes={k: [list(s) for s in v] for k, v in trt_input_shapes(art, (1, 1, 2), (64, 64, 128)).items()},
    )
    save_engine_manifest(folder, EngineManifest([rec, replace(rec, file="engines/old.plan", trt_version="8.6.1")]))
    config = RunConfig(Backend.TENSORRT, {c: Precision.FP16 for c in Component}, shape_need=ShapeNeed(2, 128))
    runner = onnx_runner(folder, manifest, Component.UNET, Precision.FP16, config)
    assert isinstance(runner, TrtRunner) and runner.engine_path == folder / "engines/unet.fp16.plan"
    assert not runner.loaded and not runner.cuda_graph
    graph = onnx_runner(folder, manifest, Component.UNET, Precision.FP16, replace(config, cuda_graph=True))
    assert graph.cuda_graph
    with pytest.raises(ArtifactError, match="does not cover the shapes.*built with TensorRT 8.6.1"):
        onnx_runner(folder, manifest, Component.UNET, Precision.FP16, replace(config, shape_need=ShapeNeed(4, 128)))


def test_ort_tensorrt_ep_gets_the_profile_shapes_and_caches(tiny_export):
    from edgegen.runtime.backends.providers import tensorrt_provider_options
    from edgegen.runtime.loader import RunConfig, onnx_runner

    folder, manifest = tiny_export[1].folder, tiny_export[1].manifest
    art = manifest.find(Component.UNET, Precision.FP16)
    config = RunConfig(Backend.ORT_TENSORRT, {c: Precision.FP16 for c in Component})
    runner = onnx_runner(folder, manifest, Component.UNET, Precision.FP16, config)  # not loaded: no GPU needed
    from edgegen.profiles import load_profile

    b, r = load_profile("cpu-x86").shapes.batch, load_profile("cpu-x86").shapes.resolution  # the export's ranges
    expected = trt_input_shapes(art, (b.min, b.opt, b.max), (r.min, r.opt, r.max))
    assert runner.trt_shapes == expected and expected["sample"][1][-1] == r.opt // 8
    assert runner.cache_dir == folder / "engines" / "ort-trt"
    ranged = onnx_runner(
        folder, manifest, Component.UNET, Precision.FP16, replace(config, trt_ranges=((1, 1, 2), (64, 128, 256)))
    )
    options = tensorrt_provider_options("c", True, False, ranged.trt_shapes)
    assert options["trt_profile_opt_shapes"] == "encoder_hidden_states:2x77x32,sample:2x4x16x16,timestep:2"
    assert options["trt_engine_cache_path"] == "c" and options["trt_timing_cache_enable"] == "True"


def test_build_selects_artifacts_and_bench_plans_engines(tiny_export):
    from edgegen.benchmark.engines import engine_plan, mark_unbuilt
    from edgegen.benchmark.legs import plan_legs
    from edgegen.export.build import select_artifacts
    from edgegen.profiles import load_profile

    manifest = tiny_export[1].manifest
    laptop = load_profile("laptop-rtx4060-8gb")
    picked = {(a.component, a.precision) for a in select_artifacts(manifest, laptop)}
    assert (Component.UNET, Precision.FP16) in picked and (Component.CLASSIFIER, Precision.INT8) in picked
    assert {a.precision for a in select_artifacts(manifest, laptop, Precision.FP32)} == {Precision.FP32}
    with pytest.raises(ArtifactError, match="no generator.fp16"):
        select_artifacts(manifest, laptop, wanted=[(Component.GENERATOR, Precision.FP16)])
    usable = {b: None for b in Backend}
    legs = plan_legs(usable, "exp", None, "tiny", None, {"sd/trt/*", "classifier/trt/int8", "sd/ort-cpu/fp32"})
    plan = engine_plan(legs)
    assert plan == {
        "exp": {
            (Component.TEXT_ENCODER, Precision.FP16),
            (Component.UNET, Precision.FP16),
            (Component.UNET, Precision.INT8),
            (Component.VAE_DECODER, Precision.FP16),
            (Component.CLASSIFIER, Precision.INT8),
        }
    }
    marked = mark_unbuilt(legs, {"exp": "engine build failed: x"})
    assert {leg.name for leg in marked if leg.skip_reason} == {"sd/trt/fp16", "sd/trt/int8", "classifier/trt/int8"}
    unusable = {**usable, Backend.TENSORRT: "tensorrt not installed"}
    assert engine_plan(plan_legs(unusable, "exp", None, "tiny", None, {"sd/trt/*"})) == {}  # skipped legs build nothing


def test_jetson_counts_as_a_gpu_without_nvml(monkeypatch):
    import edgegen.system.gpu as gpu
    from edgegen.system.jetson import JetsonInfo

    monkeypatch.setattr(gpu, "detect_gpus", lambda: [])
    monkeypatch.setattr(gpu, "detect_jetson", lambda: None)
    assert not gpu.nvidia_gpu_visible()
    monkeypatch.setattr(gpu, "detect_jetson", lambda: JetsonInfo("NVIDIA Jetson Orin Nano Developer Kit", "36.4.0"))
    assert gpu.nvidia_gpu_visible()
    assert gpu.gpu_present((), None) is False
