"""`edgegen bench`: interleaved legs end to end on tiny models, and its pure parts (round order,
ratio intervals on samples with known answers, cost pairing, meter labels, cloud legs against a
loopback images API). Tests never assert timings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgegen.benchmark.legs import all_legs, plan_legs, select_legs
from edgegen.benchmark.memory import PeakRssSampler, vm_hwm_bytes
from edgegen.benchmark.power import RaplMeter, integrate, parse_tegrastats_watts, rapl_readable
from edgegen.benchmark.results import load_results
from edgegen.benchmark.stats import paired_speedup, round_order, summarize
from edgegen.errors import ArtifactError, UsageError
from edgegen.types import Backend

from .conftest import FIXTURES

LEGS = (
    "sd/torch/fp32",
    "sd/ort-cpu/fp32",
    "sd/ort-cpu/int8",
    "sd/trt/fp16",
    "gan/torch/fp32",
    "gan/ort-cpu/fp32",
    "classifier/torch/fp32",
    "classifier/ort-cpu/int8",
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory, tiny_pipeline):
    from edgegen.benchmark.run import BenchConfig, run_bench
    from edgegen.data.load import load_dataset
    from edgegen.gan.train import GanTrainConfig, train_gan

    root = tmp_path_factory.mktemp("bench")
    model = root / "tiny-model"
    tiny_pipeline.save_pretrained(model)
    gan = root / "tiny-gan"
    train_gan(load_dataset("cxr-128", "val", 32), GanTrainConfig(preset="gan-tiny", steps=2, batch_size=4), gan)
    config = BenchConfig(
        out=root / "run",
        model=str(model),
        gan_model=str(gan),
        profile="cpu-x86",
        legs=LEGS,
        steps=2,
        size=64,
        quality_per_class=8,
        rounds=3,
        calls_per_round=1,
        classifier_rounds=3,
        batch_sizes=(1, 2),
        gan_batch_sizes=(1, 8),
        export_root=root / "export",
    )
    return run_bench(config)


@pytest.mark.slow
def test_every_requested_leg_ran_or_says_why_not(bench):
    r = bench.results
    status = {leg.name: leg.status for leg in r.legs}
    assert status == {**{n: "ok" for n in LEGS}, "sd/trt/fp16": "skipped"}
    assert "tensorrt" in r.leg("sd/trt/fp16").error
    s = r.leg("sd/torch/fp32").summary
    assert s["cold_start_s"] > 0 and s["latency"]["n"] == 3 and s["latency"]["p90"] is None  # 3 samples: no p90
    assert s["components"]["unet_steps_s"]["n"] == 3 * 2 and s["components"]["text_encoder_s"]["median"] > 0
    assert set(s["images_per_s"]) == {"1", "2"} and s["peak_rss_mb"] > 100
    assert s["energy"]["method"] in ("estimate", "rapl", "nvml", "tegrastats") and s["energy"]["covers"]
    g = r.leg("gan/ort-cpu/fp32").summary
    assert set(g["images_per_s"]) == {"1", "8"} and g["components"]["generator_s"]["n"] == 3 * 4
    raw = r.leg("sd/ort-cpu/fp32").raw["rounds"]["1"]
    assert len(raw) == 3 and all(len(x) == 1 for x in raw)  # one list of samples per round


@pytest.mark.slow
def test_ratios_quality_and_cost_are_filled(bench):
    r = bench.results
    h = r.headline
    ratio = h["sd_ort_fp32_vs_torch_latency"]
    assert ratio["rounds"] == 3 and ratio["low"] <= ratio["value"] <= ratio["high"] and ratio["verdict"]
    assert (
        h["gan_vs_diffusion_images_per_s"]["value"] > 0
        and h["classifier_best_vs_torch_throughput"]["leg"] == "classifier/ort-cpu/int8"
    )
    gq = r.leg("gan/ort-cpu/fp32").quality
    cond = gq["conditions"]["normal"]
    assert cond["n"] == 8 and cond["kid_floor"]["low"] <= cond["kid_floor"]["value"] <= cond["kid_floor"]["high"]
    assert 0.0 <= cond["detectability"]["value"] <= 1.0 and "cxr-features" in gq["features"]
    assert gq["psnr_vs_reference_db"] > 40  # ORT FP32 reproduces the torch GAN for the same seeds
    floor = r.leg("gan/torch/fp32").quality["conditions"]["normal"]["kid_floor"]
    assert floor == cond["kid_floor"]  # one real floor for every leg
    cost = r.leg("gan/ort-cpu/fp32").cost
    ips = r.leg("gan/ort-cpu/fp32").summary["images_per_s"]
    assert cost["seconds_per_image"] == pytest.approx(1.0 / max(ips.values()))  # from the leg's own throughput
    notes = {(v["model"], v["size"]): v["note"] for v in cost["vs_cloud"]}
    assert ("dall-e-2", "256x256") in notes and "edge 64 px vs cloud 256x256" in notes[("dall-e-2", "256x256")]
    assert r.compute["unet_flops_per_call"] > 0 and r.leg("sd/ort-cpu/int8").summary["achieved_gflops"] > 0


@pytest.mark.slow
def test_results_json_and_reports(bench, run_cli, tmp_path):
    files = bench.files
    raw = json.loads(files["results"].read_text())
    assert raw["schema_version"] == 2 and raw["model"]["sha256"] and raw["software"]["torch"]
    md = files["markdown"].read_text()
    assert (
        "## Headline" in md
        and "over 3 rounds" in md
        and "![latency.png](latency.png)" in md
        and "grid_all_legs.png" in md
    )
    html = files["html"].read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    code, _, _ = run_cli("report", str(files["results"]), "--out", str(tmp_path))
    assert (
        code == 0 and (tmp_path / "report.html").is_file() and (tmp_path / "quality_vs_speed.png").stat().st_size > 1000
    )
    assert load_results(files["results"]).leg("sd/ort-cpu/int8").status == "ok"
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ArtifactError, match="results schema"):
        load_results(tmp_path / "bad.json")


def test_a_failing_leg_is_recorded_and_the_others_go_on(tmp_path, tiny_export):
    import shutil

    from edgegen.benchmark.legs import GenSettings, LegSpec
    from edgegen.benchmark.orchestrator import run_legs

    folder = tiny_export[1].folder
    copy = tmp_path / "export"
    shutil.copytree(folder, copy)
    (copy / "unet.int8.onnx").write_bytes(b"corrupt")
    gen = GenSettings(
        steps=1,
        guidance_scale=3.0,
        scheduler="dpm++",
        size=64,
        conditions=({"name": "normal"},),
        prompt_template="x {class}",
        batch_sizes=(1,),
        rounds=2,
        calls_per_round=1,
    )
    p = {"text_encoder": "fp32", "vae_decoder": "fp32"}
    legs = [
        LegSpec("sd/ort-cpu/int8", "sd", Backend.ORT_CPU, {**p, "unet": "int8"}, "tiny", str(copy)),
        LegSpec("sd/ort-cpu/fp32", "sd", Backend.ORT_CPU, {**p, "unet": "fp32"}, "tiny", str(copy)),
    ]
    runs = run_legs(legs, gen, tmp_path / "run", 30.0, 300, quality=False)
    assert runs[0].status == "failed" and "does not match its recorded sha256" in runs[0].error
    assert runs[1].status == "ok" and len(runs[1].rounds["1"]) == 2


def test_rounds_rotate_so_no_leg_always_goes_first():
    legs = ["a", "b", "c"]
    orders = [round_order(legs, k) for k in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert {o[0] for o in orders} == set(legs)


def test_paired_ratio_interval_on_samples_with_known_answers():
    rng = np.random.default_rng(0)
    drift = rng.uniform(0.5, 2.0, 20)  # the machine's speed changes from round to round
    slow = [[2.0 * d * rng.uniform(0.97, 1.03)] for d in drift]
    fast = [[1.0 * d * rng.uniform(0.97, 1.03)] for d in drift]
    ci = paired_speedup(slow, fast)
    assert ci.low <= 2.0 <= ci.high and ci.faster and ci.verdict == "faster"
    assert ci.high / ci.low < 1.1  # pairing by round cancels the 4× drift
    # Equal legs: per-round ratios scattered symmetrically (in log) around 1.
    wobble = np.repeat(rng.uniform(1.0, 1.15, 10), 2) ** np.tile([1, -1], 10)
    same = paired_speedup([[d * w] for d, w in zip(drift, wobble, strict=True)], [[d] for d in drift])
    assert same.value == pytest.approx(1.0) and same.low < 1.0 < same.high and same.verdict == "no difference shown"
    assert paired_speedup([], []) is None


def test_summaries_withhold_percentiles_from_small_samples():
    assert summarize([1.0, 2.0, 3.0]).p90 is None
    s = summarize(list(np.linspace(1, 2, 12)))
    assert s.p90 is not None and s.p99 is None and 0 < s.cv < 1
    assert summarize([]) is None


def test_unknown_legs_are_an_error_not_an_empty_run():
    usable = {b: None for b in Backend}
    with pytest.raises(UsageError, match="unknown leg\\(s\\) nope"):
        plan_legs(usable, "/a", None, "default", None, {"nope"})
    legs = plan_legs(
        usable | {Backend.TENSORRT: "tensorrt not installed"},
        "/a",
        None,
        "default",
        None,
        {"sd/ort-cpu/*", "sd/trt/fp16", "sd/optimum-ort/fp32"},
    )
    names = {leg.name: leg.skip_reason for leg in legs}
    assert names["sd/trt/fp16"] == "tensorrt not installed" and names["sd/ort-cpu/fp16"] is None
    assert "optimum export unavailable" in names["sd/optimum-ort/fp32"]
    default = {leg.name for leg in select_legs(all_legs("/a", "/g", None, "default", "gan", None), None)}
    assert (
        "sd/torch-compile/fp32" not in default and "sd/ort-cpu/fp16" not in default and "gan/openvino/int8" in default
    )


def test_cost_pairs_each_leg_with_the_nearest_cloud_size():
    from edgegen.cost import CloudOption, EdgeInputs, edge_usd_per_image_at_volume, nearest_cloud_options

    opts = [
        CloudOption("dall-e-2", s, "standard", p)
        for s, p in (("256x256", 0.016), ("512x512", 0.018), ("1024x1024", 0.02))
    ]
    opts += [
        CloudOption("dall-e-3", "1024x1024", "standard", 0.04),
        CloudOption("dall-e-3", "1792x1024", "standard", 0.08),
    ]
    paired = {(o.model, o.size): note for o, note in nearest_cloud_options(512, opts)}
    assert paired == {
        ("dall-e-2", "512x512"): None,
        ("dall-e-3", "1024x1024"): "not like for like: edge 512 px vs cloud 1024x1024",
    }
    box = dict(
        hardware_usd=1200.0, lifetime_years=5.0, utilization=0.5, load_watts=100.0, idle_watts=0.0, usd_per_kwh=0.15
    )
    fast, slow = EdgeInputs(**box, seconds_per_image=0.1), EdgeInputs(**box, seconds_per_image=1000.0)
    # 10,000 images/month: one box makes them at 0.1 s; at 1000 s each a box makes 2,630 a month → 4 boxes
    assert edge_usd_per_image_at_volume(slow, 10_000) == pytest.approx(
        (4 * 20 + 10_000 * 100 * 1000 / 3.6e6 * 0.15) / 10_000
    )
    assert edge_usd_per_image_at_volume(fast, 10_000) < edge_usd_per_image_at_volume(slow, 10_000)


def test_energy_meters_say_what_they_cover(tmp_path):
    from edgegen.benchmark.summary import METER_COVERS

    # A fake RAPL tree: one package zone counting microjoules, wrapping at max_energy_range_uj.
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "energy_uj").write_text("999000000\n")
    (zone / "max_energy_range_uj").write_text("1000000000\n")
    assert rapl_readable(tmp_path)
    meter = RaplMeter(tmp_path)
    meter.start()
    (zone / "energy_uj").write_text("4000000\n")  # wrapped: 1,000,000 + 4,000,000 µJ = 5 J
    assert meter.stop().joules == pytest.approx(5.0)
    assert (
        "CPU package only" in METER_COVERS["rapl"]
        and "GPU board only" in METER_COVERS["nvml"]
        and "whole Jetson module" in METER_COVERS["tegrastats"]
    )
    line = (FIXTURES / "tegrastats_orin.txt").read_text().splitlines()[0]
    assert parse_tegrastats_watts(line) == pytest.approx(7.353) and parse_tegrastats_watts("RAM 1/2MB") is None
    assert integrate([(0.0, 10.0), (1.0, 20.0), (3.0, 20.0)]) == pytest.approx(15 + 40)


def test_cloud_leg_measures_latency_price_and_images(tmp_path, monkeypatch):
    from edgegen.benchmark.cloud_legs import CloudLegConfig, run_cloud_leg
    from edgegen.cloud.prices import load_prices

    from .openai_server import FakeImagesAPI

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-bench")
    conds = (
        {"name": "normal", "population": "pediatric", "findings": ["no_finding"]},
        {"name": "pneumonia", "population": "pediatric", "findings": ["pneumonia"]},
    )
    with FakeImagesAPI() as api:
        raw = run_cloud_leg(
            "dall-e-2",
            CloudLegConfig(("dall-e-2",), 2, 1.0, api.base_url),
            conds,
            "a chest X-ray, frontal view, {population}, {findings}",
            64,
            tmp_path,
            load_prices(),
        )
        prompts = [b["prompt"] for b in api.requests]
        sizes = {b["size"] for b in api.requests}
    assert raw["status"] == "ok" and raw["generated"] == 4 and raw["size"] == "256x256" and sizes == {"256x256"}
    assert raw["latency_p50_s"] > 0 and raw["usd_per_image"] == pytest.approx(0.016)
    assert raw["latency_p90_s"] is None and raw["latency"]["n"] == 4  # 4 samples: no honest p90
    assert "a chest X-ray, frontal view, pediatric, pneumonia" in prompts
    data = np.load(raw["quality_file"])
    assert data["images"].shape == (4, 64, 64)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert (
        "no OpenAI API key"
        in run_cloud_leg(
            "dall-e-3", CloudLegConfig(("dall-e-3",)), conds, "{class}", 64, tmp_path / "x", load_prices()
        )["error"]
    )


def test_peak_rss_sampler():
    with PeakRssSampler() as rss:
        blob = bytearray(50 * 2**20)
    assert rss.peak_mb >= 50 and vm_hwm_bytes() > 0 and len(blob)


class _NvmlPlayback:
    """pynvml's calls answered from a trace in NVML's own units (power in mW, memory in bytes);
    the values are the shape of an RTX 4090 under load (450 W limit, tests/fixtures/nvml_rtx4090.json),
    constructed here: no GPU has been lent to this project to record one."""

    def __init__(self, power_mw: int, used_bytes: list[int]) -> None:
        self.power_mw, self.used, self.calls = power_mw, list(used_bytes), 0

    def nvmlInit(self):  # noqa: N802 - pynvml's names
        pass

    def nvmlDeviceGetHandleByIndex(self, index):  # noqa: N802
        assert index == 0
        return "gpu0"

    def nvmlDeviceGetPowerUsage(self, handle):  # noqa: N802
        return self.power_mw

    def nvmlDeviceGetMemoryInfo(self, handle):  # noqa: N802
        self.calls += 1
        used = self.used[min(self.calls - 1, len(self.used) - 1)]
        return type("Mem", (), {"used": used})()


def test_nvml_meter_integrates_board_power_and_peak_memory():
    import time

    from edgegen.benchmark.power import NvmlMeter

    meter = NvmlMeter(interval_s=0.01, nvml=_NvmlPlayback(312_500, [2 * 2**30, 6 * 2**30, 5 * 2**30]))
    meter.start()
    time.sleep(0.15)
    reading = meter.stop()
    assert reading.method == "nvml" and reading.seconds > 0
    assert reading.watts == pytest.approx(312.5)  # constant board power: joules / seconds is exact
    assert reading.peak_gpu_mem_mb == pytest.approx(6 * 1024)


def test_a_partial_meter_never_stands_in_for_the_whole_device_in_cost():

    from edgegen.benchmark.costing import cost_legs
    from edgegen.benchmark.results import LegResult
    from edgegen.profiles import load_profile

    prof = load_profile("cpu-x86")
    legs = []
    for method, watts in (("rapl", 9.0), ("tegrastats", 11.0), ("estimate", None)):
        energy = {"method": method, "watts": watts} if watts else {}
        legs.append(
            LegResult(
                f"sd/{method}", "sd", "ort-cpu", {}, "ok", None, {}, {"images_per_s": {"1": 2.0}, "energy": energy}
            )
        )
    cost_legs(legs, prof, 64, 10_000)
    rapl, tegra, est = (r.cost for r in legs)
    assert rapl["energy"].startswith("profile estimate") and "CPU package only" in rapl["energy"]
    assert tegra["energy"].startswith("measured (tegrastats")
    assert rapl["edge_usd_per_image_full_utilization"] == est["edge_usd_per_image_full_utilization"]
    assert tegra["edge_usd_per_image_full_utilization"] != est["edge_usd_per_image_full_utilization"]


def test_the_orchestrator_interleaves_legs_in_rotating_rounds(monkeypatch, tmp_path):
    """The real run loop with fake workers: cold starts one at a time, then every round visits the
    live legs in rotated order; classifier legs get their own (larger) number of rounds."""
    from edgegen.benchmark import orchestrator
    from edgegen.benchmark.legs import GenSettings, LegSpec

    calls: list[tuple[str, str, int]] = []

    class FakeWorker:
        def __init__(self, leg, gen, folder, watts, timeout_s):
            self.leg = leg

        def call(self, op, timeout_s=None, **kw):
            calls.append((self.leg.name, op, kw.get("round", -2)))
            if op == "time":
                return {"seconds": [0.1] * kw["calls"], "components": {}}
            return {"file": "q.npz"} if op == "quality" else {}

        def close(self):
            calls.append((self.leg.name, "close", -2))

    monkeypatch.setattr(orchestrator, "WorkerHandle", FakeWorker)
    gen = GenSettings(
        1,
        1.0,
        "dpm++",
        64,
        ({"name": "normal"},),
        "{class}",
        batch_sizes=(1,),
        rounds=3,
        calls_per_round=1,
        classifier_rounds=5,
    )
    legs = [
        LegSpec("sd/a", "sd", Backend.ORT_CPU),
        LegSpec("sd/b", "sd", Backend.ORT_CPU),
        LegSpec("classifier/c", "classifier", Backend.ORT_CPU),
        LegSpec("sd/skipped", "sd", Backend.TENSORRT, skip_reason="tensorrt not installed"),
    ]
    runs = orchestrator.run_legs(legs, gen, tmp_path, 10.0, 60, quality=False)
    loads = [n for n, op, _ in calls if op == "load"]
    assert loads == ["sd/a", "sd/b", "classifier/c"]  # one at a time, the skipped leg never started
    timed = [(n, r) for n, op, r in calls if op == "time" and r >= 0]
    by_round = [[n for n, r in timed if r == k] for k in range(5)]
    assert by_round[:3] == [
        ["sd/a", "sd/b", "classifier/c"],
        ["sd/b", "classifier/c", "sd/a"],
        ["classifier/c", "sd/a", "sd/b"],
    ]
    assert by_round[3:] == [["classifier/c"], ["classifier/c"]]  # rounds past --rounds: classifier legs only
    assert [len(r.rounds.get("1", [])) for r in runs[:2]] == [3, 3] and len(runs[2].rounds["64"]) == 5
    assert runs[3].status == "skipped" and all(op != "load" for n, op, _ in calls if n == "sd/skipped")


def test_a_family_wins_a_condition_only_when_the_intervals_do_not_overlap():
    from edgegen.benchmark.headline import family_verdicts
    from edgegen.benchmark.results import BenchResults, LegResult

    def est(v, half):
        return {"value": v, "low": v - half, "high": v + half}

    def leg(name, kind, conds):
        return LegResult(name, kind, "torch", {}, "ok", quality={"conditions": conds})

    sd = leg(
        "sd/torch/fp32",
        "sd",
        {
            "normal": {"kid": est(0.02, 0.005), "detectability": est(0.70, 0.05), "recall": est(0.6, 0.05)},
            "pneumonia": {"kid": est(0.05, 0.01), "detectability": est(0.90, 0.03)},
        },
    )
    gan = leg(
        "gan/torch/fp32",
        "gan",
        {
            "normal": {"kid": est(0.08, 0.01), "detectability": est(0.72, 0.05), "recall": est(0.3, 0.05)},
            "pneumonia": {"kid": est(0.02, 0.005), "detectability": est(0.80, 0.03)},
        },
    )
    r = BenchResults("t", {}, {}, {}, {}, {}, {}, [sd, gan], {}, {})
    got = {(v["condition"], v["metric"]): v["better"] for v in family_verdicts(r)}
    assert got == {
        ("normal", "kid"): "diffusion",
        ("normal", "detectability"): "no difference shown",  # overlapping intervals: no winner
        ("normal", "recall"): "diffusion",  # higher recall is better: the direction flips
        ("pneumonia", "kid"): "GAN",
        ("pneumonia", "detectability"): "GAN",
    }


def test_the_quality_speed_frontier_keeps_only_undominated_legs():
    from edgegen.benchmark.report import pareto_frontier

    # (seconds per image, detectability): the GAN is fastest, diffusion INT8 dominated by FP32
    points = [(0.002, 0.95), (0.30, 0.70), (0.35, 0.80), (1.2, 0.65)]
    assert pareto_frontier(points) == [(0.002, 0.95), (0.30, 0.70), (1.2, 0.65)]
    assert pareto_frontier([]) == []
