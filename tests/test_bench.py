"""`edgegen bench` end to end on a tiny saved model (few legs, few images), plus its pure parts."""

from __future__ import annotations

import json

import pytest

from edgegen.benchmark.legs import plan_legs
from edgegen.benchmark.memory import PeakRssSampler, vm_hwm_bytes
from edgegen.benchmark.power import integrate, parse_tegrastats_watts
from edgegen.benchmark.results import load_results
from edgegen.benchmark.run import BenchConfig, run_bench
from edgegen.benchmark.stats import summarize
from edgegen.errors import ArtifactError
from edgegen.types import Backend

from .conftest import FIXTURES

pytestmark = pytest.mark.slow  # ~2-4 min on 2 cores; kept in CI

LEGS = ("sd/torch/fp32", "sd/ort-cpu/fp32", "sd/ort-cpu/int8", "sd/optimum-ort/fp32", "sd/trt/fp16", "classifier/torch/fp32", "classifier/ort-cpu/int8")


@pytest.fixture(scope="module")
def bench(tmp_path_factory, tiny_pipeline):
    root = tmp_path_factory.mktemp("bench")
    model = root / "tiny-model"
    tiny_pipeline.save_pretrained(model)
    config = BenchConfig(out=root / "run", model=str(model), profile="cpu-x86", legs=LEGS, steps=3, quality_per_class=3, warm_runs=2, batch_sizes=(1, 2), export_root=root / "export")
    return run_bench(config)


def test_every_requested_leg_ran_or_says_why_not(bench):
    r = bench.results
    status = {leg.name: leg.status for leg in r.legs}
    assert status == {**{n: "ok" for n in LEGS}, "sd/trt/fp16": "skipped"}
    assert "tensorrt" in r.leg("sd/trt/fp16").error
    torch_leg = r.leg("sd/torch/fp32")
    s = torch_leg.summary
    assert s["cold_start_s"] > s["e2e"]["median"] > 0 and s["e2e"]["n"] == 2
    assert s["unet_step"]["n"] == 2 * 3 and s["text_encoder"]["median"] > 0 and s["vae_decoder"]["median"] > 0
    assert set(s["images_per_s"]) == {"1", "2"} and s["peak_rss_mb"] > 100
    assert s["energy"]["method"] in ("estimate", "rapl", "nvml", "tegrastats")
    assert r.leg("sd/optimum-ort/fp32").summary["e2e"]["median"] > 0


def test_quality_cost_and_compute_are_filled(bench):
    r = bench.results
    ref = r.leg("sd/torch/fp32").quality
    assert ref["ssim_vs_reference"] == pytest.approx(1.0)
    ort = r.leg("sd/ort-cpu/fp32").quality
    assert ort["psnr_vs_reference_db"] >= 40  # ORT FP32 reproduces torch for the same seeds
    assert set(ort["fid"]) == {"normal", "pneumonia"} and ort["label_fidelity"]["n_per_class"] == 3
    assert "penultimate" in ort["feature_extractor"]
    assert r.compute["unet_flops_per_call"] > 0 and r.leg("sd/ort-cpu/int8").summary["achieved_gflops"] > 0
    cost = r.leg("sd/ort-cpu/int8").cost
    assert cost["edge_usd_per_image"] > 0 and set(cost["vs_cloud"]) == {"dall-e-3", "gpt-image-1"}
    h = r.headline
    assert h["ort_fp32_vs_torch_e2e_speedup"] > 0 and h["int8_vs_fp32_unet_step_speedup"] > 0
    assert h["classifier_int8_vs_torch_throughput"] > 0 and h["edgegen_ort_vs_optimum_ort_speedup"] > 0


def test_results_json_and_reports(bench, run_cli, tmp_path):
    files = bench.files
    raw = json.loads(files["results"].read_text())
    assert raw["schema_version"] == 1 and raw["model"]["sha256"] and raw["software"]["torch"]
    assert len(raw["legs"][0]["raw"]["e2e_s"]) == 2  # every raw sample is kept
    md = files["markdown"].read_text()
    assert "## Headline" in md and "sd/ort-cpu/int8" in md and "![latency.png](latency.png)" in md
    html = files["html"].read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    code, _, _ = run_cli("report", str(files["results"]), "--out", str(tmp_path))
    assert code == 0 and (tmp_path / "report.html").is_file() and (tmp_path / "cost_vs_volume.png").stat().st_size > 1000
    loaded = load_results(files["results"])
    assert loaded.leg("sd/ort-cpu/int8").status == "ok"
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ArtifactError, match="results schema"):
        load_results(tmp_path / "bad.json")


def test_failed_leg_is_reported_and_the_exit_code_says_so(run_cli, tmp_path, tiny_export):
    folder = tiny_export[1].folder
    # An export folder whose INT8 UNet was tampered with: that leg fails, the others complete.
    import shutil

    export_root = tmp_path / "export"
    shutil.copytree(folder.parent.parent, export_root)
    broken = export_root / folder.parent.name / folder.name / "unet.int8.onnx"
    broken.write_bytes(b"corrupt")
    from edgegen.benchmark.legs import GenSettings, LegSpec
    from edgegen.benchmark.run import _run_leg

    gen = GenSettings(steps=2, guidance_scale=3.0, scheduler="dpm++", size=64, class_names=("normal", "pneumonia"), prompt_template="x {class}", warm_runs=1, batch_sizes=(1,), quality_per_class=1)
    leg = LegSpec("sd/ort-cpu/int8", "sd", Backend.ORT_CPU, {"text_encoder": "fp32", "unet": "int8", "vae_decoder": "fp32"}, "tiny", str(broken.parent))
    out = _run_leg(leg, gen, tmp_path / "run", 30.0, 300)
    assert out["status"] == "failed" and "does not match its recorded sha256" in out["error"]


def test_pure_parts():
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s.median == 3.0 and s.max == 100.0 and s.p99 > s.p90 > s.median
    assert summarize([]) is None
    assert integrate([(0.0, 10.0), (1.0, 20.0), (3.0, 20.0)]) == pytest.approx(15 + 40)
    line = (FIXTURES / "tegrastats_orin.txt").read_text().splitlines()[0]
    assert parse_tegrastats_watts(line) == pytest.approx(7.353)
    assert parse_tegrastats_watts("RAM 1/2MB") is None
    usable = {b: None for b in Backend} | {Backend.TENSORRT: "tensorrt not installed"}
    legs = plan_legs(usable, "/a", None, "default", None, {"sd/ort-cpu/*", "sd/trt/fp16", "sd/optimum-ort/fp32"})
    names = {leg.name: leg.skip_reason for leg in legs}
    assert names == {"sd/ort-cpu/fp32": None, "sd/ort-cpu/fp16": None, "sd/ort-cpu/int8": None, "sd/trt/fp16": "tensorrt not installed", "sd/optimum-ort/fp32": "optimum export unavailable"}
    with PeakRssSampler() as rss:
        blob = bytearray(50 * 2**20)
    assert rss.peak_mb >= 50 and vm_hwm_bytes() > 0 and len(blob)
