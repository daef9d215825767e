"""`run_bench`: export (or reuse), run every leg in its own process, score quality, cost it,
and write results.json + report.md + report.html. A failed leg is recorded, the rest go on."""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_json
from edgegen.benchmark.legs import GenSettings, LegSpec, plan_legs
from edgegen.benchmark.results import BenchResults, LegResult
from edgegen.benchmark.stats import ratio, summarize
from edgegen.schema import to_plain
from edgegen.types import Backend, Precision

REFERENCE_LEG = "sd/torch/fp32"


@dataclass(frozen=True)
class BenchConfig:
    out: Path
    model: str = "default"
    profile: str | None = None  # None: the profile `doctor` suggests
    classifier: str = "default"
    legs: tuple[str, ...] | None = None  # names or prefixes ending in '*'; None: all
    steps: int | None = None
    size: int | None = None
    guidance: float | None = None
    quality_per_class: int = 50
    warm_runs: int = 16
    batch_sizes: tuple[int, ...] = (1, 4)
    cloud_models: tuple[str, ...] = ("dall-e-3", "gpt-image-1")
    cloud_size: str = "1024x1024"
    images_per_month: float = 10_000
    export_root: Path | None = None
    threads: int | None = None
    seed: int = 0
    leg_timeout_s: float = 1800


@dataclass
class BenchOutcome:
    results: BenchResults
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)


def _machine() -> dict:
    from edgegen.doctor import run_doctor

    report = run_doctor()
    return {"cpu": to_plain(report.cpu), "gpus": to_plain(report.gpus), "jetson": to_plain(report.jetson), "platform": platform.platform(), "python": platform.python_version()}


def _software() -> dict:
    import importlib.metadata as md

    out = {}
    for dist in ("edgegen", "torch", "onnxruntime", "onnxruntime-gpu", "onnx", "diffusers", "transformers", "optimum", "optimum-onnx", "torchmetrics", "tensorrt", "openvino", "nncf"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def _optimum_export(model_dir: Path, out_dir: Path, source_sha: str) -> Path:
    """optimum's own ONNX export of the same diffusers folder: the outside reference leg."""
    stamp = out_dir / "edgegen-source.sha256"
    if stamp.is_file() and stamp.read_text().strip() == source_sha and (out_dir / "model_index.json").is_file():
        return out_dir
    from optimum.exporters.onnx import main_export

    from edgegen.atomic import atomic_dir

    with atomic_dir(out_dir) as tmp:
        main_export(str(model_dir), output=str(tmp), task="text-to-image", device="cpu", dtype="fp32", opset=17, local_files_only=True)
        (tmp / "edgegen-source.sha256").write_text(source_sha)
    return out_dir


def _run_leg(leg: LegSpec, gen: GenSettings, folder: Path, load_watts: float, timeout: float) -> dict:
    leg_dir = folder / "legs" / leg.name.replace("/", "_")
    leg_dir.mkdir(parents=True, exist_ok=True)
    spec = {"leg": to_plain(leg), "gen": to_plain(gen), "load_watts": load_watts}
    (leg_dir / "leg.json").write_text(json.dumps(spec))
    out = leg_dir / "result.json"
    out.unlink(missing_ok=True)
    try:
        proc = subprocess.run([sys.executable, "-m", "edgegen.benchmark.worker", str(leg_dir / "leg.json"), str(out)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "error": f"timed out after {timeout:.0f} s"}
    if not out.is_file():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        killed = " (killed: out of memory?)" if proc.returncode in (-9, 137) else ""
        return {"status": "failed", "error": f"worker died with code {proc.returncode}{killed}: {tail[0][:300]}"}
    result = json.loads(out.read_text())
    result["dir"] = str(leg_dir)
    return result


def _summaries(raw: dict) -> dict:
    comp = raw.get("component_s") or {}
    s = {
        "cold_start_s": raw.get("cold_start_s"),
        "load_s": raw.get("load_s"),
        "e2e": to_plain(summarize(raw.get("e2e_s", []))),
        "text_encoder": to_plain(summarize(comp.get("text_encoder_s", []))),
        "unet_step": to_plain(summarize(comp.get("unet_step_s", []))),
        "vae_decoder": to_plain(summarize(comp.get("vae_decoder_s", []))),
        "images_per_s": raw.get("images_per_s"),
        "peak_rss_mb": raw.get("peak_rss_mb"),
        "energy": raw.get("energy"),
    }
    if "pass_s" in raw:
        s["pass"] = to_plain(summarize(raw["pass_s"]))
        s["metrics"] = {k: raw["metrics"][k]["value"] for k in ("accuracy", "f1_macro") if raw["metrics"].get(k)}
        if raw["metrics"].get("auroc"):
            s["metrics"]["auroc"] = raw["metrics"]["auroc"]["value"]
    return s


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda _m: None) -> BenchOutcome:
    from edgegen.classifiers.card import load_classifier
    from edgegen.cloud.prices import load_prices
    from edgegen.cost import EdgeInputs, compare
    from edgegen.data.default import load_default
    from edgegen.doctor import run_doctor
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.models.embedded import resolve_classifier_dir
    from edgegen.models.source import resolve_model
    from edgegen.profiles import load_profile
    from edgegen.system.runtimes import probe_all, usable_backends

    started = time.perf_counter()
    folder = Path(config.out)
    folder.mkdir(parents=True, exist_ok=True)
    doctor = run_doctor()
    profile = load_profile(config.profile or doctor.suggested_profile)
    source = resolve_model(config.model)
    root = config.export_root or DEFAULT_EXPORT_ROOT
    progress(f"export {source.name} for {profile.name} (reused when unchanged)")
    t = time.perf_counter()
    has_gpu = bool(doctor.gpus) or doctor.jetson is not None
    usable = usable_backends(probe_all(has_gpu), has_gpu)
    from edgegen.export.artifacts import ArtifactKind, artifact_path

    export_folder = artifact_path(root, source.name, profile.name, ArtifactKind.MANIFEST).parent
    optimum_target = export_folder.parent / f"{profile.name}-optimum" if source.path is not None else None
    legs = plan_legs(usable, str(export_folder), str(optimum_target) if optimum_target else None, config.model, config.threads or profile.threads, set(config.legs) if config.legs else None)
    runnable = [leg for leg in legs if not leg.skip_reason]
    # Export only what the selected legs run (INT8 calibration of a large UNet is not free).
    needed = tuple(sorted({Precision(p) for leg in runnable for p in leg.precisions.values()} - {Precision.FP32}, key=lambda p: p.value))
    wants_openvino = any(leg.backend is Backend.OPENVINO and Precision.INT8.value in leg.precisions.values() for leg in runnable)
    exported = export_model(ExportRequest(model=config.model, profile=profile.name, out_root=root, precisions=needed or (Precision.FP32,), classifier=config.classifier, image_size=config.size, openvino=wants_openvino))
    export_s = time.perf_counter() - t
    optimum_s, optimum_error = 0.0, None
    if optimum_target is not None and any(leg.kind == "optimum" for leg in runnable):
        progress("optimum export (outside reference)")
        t = time.perf_counter()
        try:
            _optimum_export(source.path, optimum_target, exported.manifest.source_sha256)  # hashed once, by the export
        except Exception as exc:  # noqa: BLE001 - the reference leg is optional; say why it is missing
            optimum_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        optimum_s = time.perf_counter() - t
    info = exported.manifest.pipeline or {}
    gen = GenSettings(
        steps=config.steps or profile.generation.steps,
        guidance_scale=profile.generation.guidance_scale if config.guidance is None else config.guidance,
        scheduler=profile.generation.scheduler.value,
        size=config.size or profile.generation.resolution,
        class_names=tuple(info.get("class_names") or ("normal", "pneumonia")),
        prompt_template=info.get("prompt_template") or "a chest X-ray, frontal view, {class}",
        seed=config.seed,
        warm_runs=config.warm_runs,
        batch_sizes=config.batch_sizes,
        quality_per_class=config.quality_per_class,
    )
    results: list[LegResult] = []
    for leg in legs:
        if leg.skip_reason or (leg.kind == "optimum" and optimum_error):
            results.append(LegResult(leg.name, leg.kind, leg.backend.value if leg.backend else None, leg.precisions, "skipped", leg.skip_reason or optimum_error))
            continue
        progress(f"leg {leg.name}")
        raw = _run_leg(leg, gen, folder, profile.power.load_w, config.leg_timeout_s)
        status = raw.pop("status", "failed")
        results.append(LegResult(leg.name, leg.kind, leg.backend.value if leg.backend else "optimum", leg.precisions, status, raw.pop("error", None), raw, _summaries(raw) if status == "ok" else {}))

    progress("quality: SSIM/PSNR vs torch fp32, FID/KID vs real, label fidelity")
    clf = load_classifier(resolve_classifier_dir(config.classifier))
    test = load_default("test", gen.size)
    from edgegen.benchmark.quality import QualityScorer

    scorer = QualityScorer(gen.class_names, {n: test.of_class(n).images for n in test.class_names if n in gen.class_names}, clf)
    ref_leg = next((r for r in results if r.name == REFERENCE_LEG and r.status == "ok"), None)
    reference = np.load(Path(ref_leg.raw["dir"]) / "images.npz")["images"] if ref_leg else None
    for r in results:
        if r.status == "ok" and r.kind in ("sd", "optimum"):
            data = np.load(Path(r.raw["dir"]) / r.raw["images_file"])
            r.quality = to_plain(scorer.score(data["images"], data["labels"], reference))

    progress("compute efficiency and cost")
    from edgegen.benchmark.flops import source_unet, unet_flops

    flops = unet_flops(source_unet(source), 2 if gen.guidance_scale > 1 else 1, gen.size // int(info.get("vae_scale_factor", 8)), int(info.get("max_length", 77)))
    prices = load_prices()
    for r in results:
        if r.status != "ok" or r.kind == "classifier":
            continue
        step = (r.summary.get("unet_step") or {}).get("median")
        if step:
            r.summary["achieved_gflops"] = flops / step / 1e9
        e2e = (r.summary.get("e2e") or {}).get("median")
        energy = r.summary.get("energy") or {}
        measured = energy.get("method") not in (None, "estimate")
        watts = energy.get("watts") if measured else profile.power.load_w
        edge = EdgeInputs(profile.hardware.price_usd, profile.hardware.lifetime_years, profile.hardware.utilization, watts, profile.power.idle_w, e2e, profile.electricity.usd_per_kwh, measured)
        comps = [compare(edge, m, prices.per_image(m, config.cloud_size, None), config.images_per_month) for m in config.cloud_models]
        r.cost = {"seconds_per_image": e2e, "edge_usd_per_image": comps[0].edge_usd_per_image, "edge_usd_per_image_at_utilization": comps[0].edge_usd_per_image_at_utilization, "energy_source": comps[0].energy_source, "vs_cloud": {c.cloud_model: {"cloud_usd_per_image": c.cloud_usd_per_image, "break_even_images_per_month": None if math.isinf(c.break_even_images_per_month) else c.break_even_images_per_month} for c in comps}}
    cloud = {m: {"usd_per_image": prices.per_image(m, config.cloud_size, None), "size": config.cloud_size, "latency": "not measured (pass --cloud with a key to measure)"} for m in config.cloud_models}

    bench = BenchResults(
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        machine=_machine(),
        software=_software(),
        profile=to_plain(profile),
        model={"name": source.name, "kind": source.kind, "sha256": exported.manifest.source_sha256, "export_folder": str(exported.folder)},
        settings={**to_plain(gen), "images_per_month": config.images_per_month, "cloud": cloud},
        setup={"export_s": export_s, "exported": exported.exported, "reused": exported.reused, "optimum_export_s": optimum_s, "optimum_error": optimum_error, "total_s": None},
        legs=results,
        compute={"unet_flops_per_call": flops, "unet_call_batch": 2 if gen.guidance_scale > 1 else 1, "counted_with": "torch.utils.flop_counter.FlopCounterMode"},
        headline={},
    )
    bench.headline = headline(bench)
    bench.setup["total_s"] = time.perf_counter() - started
    from edgegen.benchmark.report import write_reports

    files = {"results": folder / "results.json"}
    atomic_write_json(files["results"], bench)
    files.update(write_reports(bench, folder))
    return BenchOutcome(bench, folder, files)


def _median(results: BenchResults, leg: str, key: str) -> float | None:
    r = results.leg(leg)
    if r is None or r.status != "ok":
        return None
    value = r.summary.get(key)
    return value.get("median") if isinstance(value, dict) else value


def headline(results: BenchResults) -> dict:
    """The ratios an engineer acts on, each None when a leg it needs did not run."""
    def ips(leg: str) -> float | None:
        r = results.leg(leg)
        return (r.summary.get("images_per_s") or {}).get("64") if r and r.status == "ok" else None

    def fidelity(leg: str) -> float | None:
        r = results.leg(leg)
        return (r.quality or {}).get("label_fidelity", {}).get("overall") if r and r.quality else None

    def acc(leg: str) -> float | None:
        r = results.leg(leg)
        return (r.summary.get("metrics") or {}).get("accuracy") if r and r.status == "ok" else None

    cpu_legs = [r for r in results.legs if r.status == "ok" and r.kind in ("sd", "optimum") and r.backend in ("torch", "ort-cpu", "openvino", "optimum")]
    fastest = min(cpu_legs, key=lambda r: r.summary["e2e"]["median"], default=None)
    fid32, fid8 = fidelity("sd/ort-cpu/fp32"), fidelity("sd/ort-cpu/int8")
    acc_t, acc_8 = acc("classifier/torch/fp32"), acc("classifier/ort-cpu/int8")
    return {
        "ort_fp32_vs_torch_e2e_speedup": ratio(_median(results, REFERENCE_LEG, "e2e"), _median(results, "sd/ort-cpu/fp32", "e2e")),
        "int8_vs_fp32_unet_step_speedup": ratio(_median(results, "sd/ort-cpu/fp32", "unet_step"), _median(results, "sd/ort-cpu/int8", "unet_step")),
        "int8_label_fidelity_change_pts": None if fid32 is None or fid8 is None else 100 * (fid8 - fid32),
        "classifier_int8_vs_torch_throughput": ratio(ips("classifier/ort-cpu/int8"), ips("classifier/torch/fp32")),
        "classifier_int8_accuracy_change_pts": None if acc_t is None or acc_8 is None else 100 * (acc_8 - acc_t),
        "edgegen_ort_vs_optimum_ort_speedup": ratio(_median(results, "sd/optimum-ort/fp32", "e2e"), _median(results, "sd/ort-cpu/fp32", "e2e")),
        "fastest_cpu_leg": fastest.name if fastest else None,
        "fastest_cpu_leg_vs_torch_e2e_speedup": ratio(_median(results, REFERENCE_LEG, "e2e"), fastest.summary["e2e"]["median"]) if fastest else None,
        "openvino_int8_vs_torch_e2e_speedup": ratio(_median(results, REFERENCE_LEG, "e2e"), _median(results, "sd/openvino/int8", "e2e")),
        "torch_compile_vs_torch_e2e_speedup": ratio(_median(results, REFERENCE_LEG, "e2e"), _median(results, "sd/torch-compile/fp32", "e2e")),
        "peak_rss_mb": {r.name: r.summary.get("peak_rss_mb") for r in results.legs if r.status == "ok"},
        "cost_per_image_usd": {r.name: r.cost["edge_usd_per_image"] for r in results.legs if r.cost},
        "cloud_usd_per_image": {m: v["usd_per_image"] for m, v in results.settings["cloud"].items()},
    }



