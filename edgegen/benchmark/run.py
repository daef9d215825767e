"""`run_bench`: export (or reuse) what the selected legs need (TensorRT engines too), run every leg in its own
long-lived process with interleaved timed rounds, score quality with the quality module, cost
each leg from its own throughput against like-for-like cloud options, optionally measure cloud
legs, and write results.json + report.md + report.html. A failed leg is recorded; the rest go on.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.atomic import atomic_write_json
from edgegen.benchmark.cloud_legs import CloudLegConfig
from edgegen.benchmark.legs import GenSettings, plan_legs
from edgegen.benchmark.results import BenchResults, LegResult
from edgegen.schema import to_plain
from edgegen.types import Backend, Component, Precision

REFERENCE_LEG = {"sd": "sd/torch/fp32", "optimum": "sd/torch/fp32", "gan": "gan/torch/fp32"}


@dataclass(frozen=True)
class BenchConfig:
    out: Path
    model: str = "default"
    gan_model: str | None = "gan"  # None: no GAN legs
    profile: str | None = None  # None: the profile `doctor` suggests
    classifier: str = "default"
    legs: tuple[str, ...] | None = None  # names or prefixes ending in '*'; None: the default set
    steps: int | None = None
    size: int | None = None
    guidance: float | None = None
    quality_per_class: int = 32
    quality: bool = True
    rounds: int = 10
    calls_per_round: int = 2
    classifier_rounds: int = 20
    batch_sizes: tuple[int, ...] = (1, 4)
    gan_batch_sizes: tuple[int, ...] = (1, 64)
    cloud: CloudLegConfig | None = None
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
    return {
        "cpu": to_plain(report.cpu),
        "gpus": to_plain(report.gpus),
        "jetson": to_plain(report.jetson),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _software() -> dict:
    import importlib.metadata as md

    out = {}
    for dist in (
        "edgegen",
        "torch",
        "onnxruntime",
        "onnxruntime-gpu",
        "onnx",
        "diffusers",
        "transformers",
        "optimum",
        "optimum-onnx",
        "torchmetrics",
        "tensorrt",
        "openvino",
        "nncf",
        "openai",
    ):
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
        main_export(
            str(model_dir),
            output=str(tmp),
            task="text-to-image",
            device="cpu",
            dtype="fp32",
            opset=17,
            local_files_only=True,
        )
        (tmp / "edgegen-source.sha256").write_text(source_sha)
    return out_dir


def _export_plan(legs, classifier: str | None) -> list[tuple]:
    """(precision, components, NNCF IR too) per export call: fp32 for every component the legs
    use, then each reduced precision for the components that run it."""
    from edgegen.export.export_model import SD_COMPONENTS

    wanted: dict[Precision, set[Component]] = {}
    ov: dict[Precision, bool] = {}
    for leg in legs:
        for comp, prec in leg.precisions.items():
            p = Precision(prec)
            wanted.setdefault(p, set()).add(Component(comp))
            ov[p] = ov.get(p, False) or (leg.backend is Backend.OPENVINO and p is Precision.INT8)
    base = SD_COMPONENTS + ((Component.CLASSIFIER,) if classifier else ())
    plan = [(Precision.FP32, base, False)]
    for p in (Precision.FP16, Precision.INT8):
        if p in wanted:
            comps = tuple(c for c in (*SD_COMPONENTS, Component.CLASSIFIER) if c in wanted[p])
            plan.append((p, comps, ov.get(p, False)))
    return plan


REAL_SIZE_RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "sd15-512-cpu-x86" / "results.json"


def _real_size_reference(profile, images_per_month: float, path: Path = REAL_SIZE_RESULTS) -> dict | None:
    """Cost rows of the committed real-size run (SD 1.5 shape, 512 px), re-costed on this profile
    from that run's own measured throughput; None when there is none (an installed package)."""
    from edgegen.benchmark.costing import cost_legs
    from edgegen.benchmark.report import cost_rows
    from edgegen.benchmark.results import load_results
    from edgegen.errors import ArtifactError

    if not path.is_file():
        return None
    try:
        ref = load_results(path)
    except ArtifactError:
        return None  # an older schema: not comparable
    legs = [leg for leg in ref.legs if leg.kind == "sd" and leg.status == "ok"]
    cost_legs(legs, profile, int(ref.settings.get("size") or 512), images_per_month)
    ref.legs = legs
    return {
        "path": str(path.relative_to(path.parents[3])),
        "machine": (ref.machine.get("cpu") or {}).get("model", "?"),
        "created": ref.created,
        "rows": cost_rows(ref),
    }


def _gan_source(config: BenchConfig):
    """The GAN to bench beside the diffusion model, or (None, why not)."""
    from edgegen.errors import ModelError
    from edgegen.models.source import resolve_model

    if not config.gan_model or config.gan_model == "none":
        return None, "no GAN asked for (--gan-model none)"
    try:
        source = resolve_model(config.gan_model)
    except ModelError as exc:
        return None, exc.one_line()
    return (source, None) if source.family == "gan" else (None, f"{config.gan_model} is not a GAN")


def _conditions(info: dict) -> tuple[tuple[dict, ...], str]:
    """The conditions every leg generates (the model's named classes) and the prompt template."""
    from edgegen.conditions import Conditioning, resolve_conditions

    vocab = Conditioning.from_dict(
        info.get("conditioning"), tuple(info.get("class_names") or ()), info.get("prompt_template") or ""
    )
    classes = None if vocab.class_names else ["normal", "pneumonia"]  # an untrained preset: the default study's classes
    conds = resolve_conditions(vocab, classes, None, None, allow_unknown=True)
    return tuple(
        {"name": c.name, "population": c.population, "findings": list(c.findings or _class_findings(c.name))}
        for c in conds
    ), vocab.template


def _class_findings(name: str) -> tuple[str, ...]:
    """A class-prompt model's class as findings ('normal' → no_finding), so GAN legs, which
    condition on findings, get the same condition and not an empty vector."""
    from edgegen.data.findings import load_findings_map
    from edgegen.errors import UsageError

    try:
        return (load_findings_map().resolve(name),)
    except UsageError:
        return ()


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda _m: None) -> BenchOutcome:
    from edgegen.benchmark.orchestrator import run_legs
    from edgegen.doctor import run_doctor
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT, ArtifactKind, artifact_path
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.models.source import resolve_model
    from edgegen.profiles import load_profile
    from edgegen.system.runtimes import probe_all, usable_backends

    started = time.perf_counter()
    folder = Path(config.out)
    doctor = run_doctor()
    profile = load_profile(config.profile or doctor.suggested_profile)
    source = resolve_model(config.model)
    gan_source, gan_note = _gan_source(config)
    root = config.export_root or DEFAULT_EXPORT_ROOT
    has_gpu = bool(doctor.gpus) or doctor.jetson is not None
    usable = usable_backends(probe_all(has_gpu), has_gpu)
    export_folder = artifact_path(root, source.name, profile.name, ArtifactKind.MANIFEST).parent
    gan_folder = (
        artifact_path(root, gan_source.name, profile.name, ArtifactKind.MANIFEST).parent if gan_source else None
    )
    optimum_target = export_folder.parent / f"{profile.name}-optimum" if source.path is not None else None
    threads = config.threads or profile.threads
    legs = plan_legs(
        usable,
        str(export_folder),
        str(optimum_target) if optimum_target else None,
        config.model,
        threads,
        set(config.legs) if config.legs else None,
        config.gan_model if gan_source else None,
        str(gan_folder) if gan_folder else None,
    )
    from dataclasses import replace as _replace

    # every classifier leg (torch or exported) runs the classifier asked for
    legs = [_replace(leg, classifier=config.classifier) if leg.kind == "classifier" else leg for leg in legs]
    if not legs:
        from edgegen.errors import UsageError

        raise UsageError("no leg selected", hint="see `edgegen bench --help` for the leg names")
    folder.mkdir(parents=True, exist_ok=True)
    runnable = [leg for leg in legs if not leg.skip_reason]
    t = time.perf_counter()
    progress(f"export {source.name} for {profile.name} (reused when unchanged)")

    def needs(kind: str):
        chosen = [leg for leg in runnable if leg.kind == kind]
        precisions = tuple(
            sorted(
                {Precision(p) for leg in chosen for p in leg.precisions.values()} - {Precision.FP32},
                key=lambda p: p.value,
            )
        )
        return (
            chosen,
            precisions or (Precision.FP32,),
            any(leg.backend is Backend.OPENVINO and Precision.INT8.value in leg.precisions.values() for leg in chosen),
        )

    sd_legs, sd_prec, sd_ov = needs("sd")
    clf_legs, clf_prec, clf_ov = needs("classifier")
    exported = None
    # fp32 of everything (reference and fallback), then each reduced precision only for the
    # components whose legs run it: an INT8 UNet leg needs no INT8 VAE (at real size with random
    # weights, NNCF's INT8 VAE decoder is refused by validation, rightly).
    for precision, components, openvino in _export_plan(sd_legs + clf_legs, config.classifier):
        exported = export_model(
            ExportRequest(
                model=config.model,
                profile=profile.name,
                out_root=root,
                precisions=(precision,),
                components=components,
                classifier=config.classifier,
                image_size=config.size,
                openvino=openvino,
            )
        )
    gan_exported = None
    gan_legs, gan_prec, gan_ov = needs("gan")
    if gan_source and any(leg.backend is not Backend.TORCH for leg in gan_legs):
        progress(f"export {gan_source.name}")
        gan_exported = export_model(
            ExportRequest(
                model=config.gan_model,
                profile=profile.name,
                out_root=root,
                precisions=gan_prec,
                classifier=None,
                calibration_data="cxr-128",
                openvino=gan_ov,
            )
        )
    export_s = time.perf_counter() - t
    optimum_s, optimum_error = 0.0, None
    if optimum_target is not None and any(leg.kind == "optimum" for leg in runnable):
        progress("optimum export (outside reference)")
        t = time.perf_counter()
        try:
            _optimum_export(source.path, optimum_target, exported.manifest.source_sha256)
        except Exception as exc:  # noqa: BLE001 - the reference leg is optional; say why it is missing
            optimum_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        optimum_s = time.perf_counter() - t
    if optimum_error:
        from edgegen.benchmark.legs import LegSpec

        legs = [
            LegSpec(**{**leg.__dict__, "skip_reason": optimum_error}) if leg.kind == "optimum" else leg for leg in legs
        ]
    info = exported.manifest.pipeline or {}
    # The diffusion model's own size unless --size: a 128 px model is not benched at a profile's 512.
    size = config.size or info.get("native_resolution") or profile.generation.resolution
    engines_s = 0.0
    if any(leg.backend is Backend.TENSORRT for leg in runnable):
        from edgegen.benchmark.engines import mark_unbuilt, prepare_engines

        t = time.perf_counter()
        batches = {str(export_folder): config.batch_sizes}
        if gan_folder is not None:
            batches[str(gan_folder)] = config.gan_batch_sizes
        failed = prepare_engines(legs, profile, batches, size, progress)
        legs = mark_unbuilt(legs, failed)
        engines_s = time.perf_counter() - t
    conditions, template = _conditions(info)
    gen = GenSettings(
        steps=profile.generation.steps if config.steps is None else config.steps,
        guidance_scale=profile.generation.guidance_scale if config.guidance is None else config.guidance,
        scheduler=profile.generation.scheduler.value,
        size=size,
        conditions=conditions,
        prompt_template=template,
        seed=config.seed,
        batch_sizes=config.batch_sizes,
        gan_batch_sizes=config.gan_batch_sizes,
        quality_per_class=config.quality_per_class,
        rounds=config.rounds,
        calls_per_round=config.calls_per_round,
        classifier_rounds=max(config.classifier_rounds, config.rounds),
    )
    runs = run_legs(legs, gen, folder, profile.power.load_w, config.leg_timeout_s, config.quality, progress)
    from edgegen.benchmark.summary import leg_summary

    results = [
        LegResult(
            r.leg.name,
            r.leg.kind,
            r.leg.backend.value if r.leg.backend else "optimum",
            r.leg.precisions,
            r.status,
            r.error,
            {
                "load": r.load,
                "rounds": r.rounds,
                "components": r.components,
                "stats": r.stats,
                "quality_file": r.quality_file,
            },
            leg_summary(r.leg.kind, r.load, r.rounds, r.components, r.stats) if r.status == "ok" else {},
        )
        for r in runs
    ]
    cloud_raw = {}
    if config.cloud and config.cloud.models:
        from edgegen.benchmark.cloud_legs import run_cloud_leg
        from edgegen.cloud.prices import load_prices

        prices = load_prices()
        for model in config.cloud.models:
            progress(f"cloud leg {model}")
            raw = run_cloud_leg(model, config.cloud, conditions, template, gen.size, folder, prices, config.seed)
            cloud_raw[model] = raw
            results.append(
                LegResult(
                    f"cloud/{model}",
                    "cloud",
                    "cloud",
                    {},
                    raw["status"],
                    raw.get("error"),
                    raw,
                    {
                        k: raw.get(k)
                        for k in (
                            "latency",
                            "latency_p50_s",
                            "latency_p90_s",
                            "usd_per_image",
                            "size",
                            "generated",
                            "refused",
                        )
                    }
                    if raw["status"] == "ok"
                    else {},
                )
            )
    quality_s = 0.0
    if config.quality:
        progress("quality: KID, precision/recall, detectability vs held-out real images (beside the real floor)")
        t = time.perf_counter()
        _score_quality(results, source, gan_source, gen)
        quality_s = time.perf_counter() - t
    from edgegen.benchmark.costing import cost_legs

    cost_legs(results, profile, gen.size, config.images_per_month)
    real_size = _real_size_reference(profile, config.images_per_month)
    bench = BenchResults(
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=_machine(),
        software=_software(),
        profile=to_plain(profile),
        model={
            "name": source.name,
            "kind": source.kind,
            "sha256": exported.manifest.source_sha256,
            "export_folder": str(exported.folder),
            "gan": gan_source.name if gan_source else None,
            "gan_note": gan_note,
            "gan_resolution": gan_source.native_resolution if gan_source else None,
            "gan_sha256": gan_exported.manifest.source_sha256 if gan_exported else None,
        },
        settings={
            **to_plain(gen),
            "images_per_month": config.images_per_month,
            "cloud": {m: {k: v for k, v in r.items() if k != "quality_file"} for m, r in cloud_raw.items()},
        },
        setup={
            "export_s": export_s,
            "exported": exported.exported + (gan_exported.exported if gan_exported else []),
            "reused": exported.reused + (gan_exported.reused if gan_exported else []),
            "optimum_export_s": optimum_s,
            "tensorrt_engines_s": engines_s,
            "optimum_error": optimum_error,
            "quality_s": quality_s,
            "total_s": None,
            "real_size_reference": real_size,
        },
        legs=results,
        compute=_compute(source, info, gen),
        headline={},
    )
    flops = bench.compute.get("unet_flops_per_call")
    for r in results:
        step = (
            ((r.summary.get("components") or {}).get("unet_steps_s") or {}).get("median") if r.status == "ok" else None
        )
        if flops and step:
            r.summary["achieved_gflops"] = flops / step / 1e9
    from edgegen.benchmark.headline import headline

    bench.headline = headline(bench)
    bench.setup["total_s"] = time.perf_counter() - started
    from edgegen.benchmark.report import write_reports

    files = {"results": folder / "results.json"}
    atomic_write_json(files["results"], bench)
    files.update(write_reports(bench, folder))
    return BenchOutcome(bench, folder, files)


def _score_quality(results: list[LegResult], source, gan_source, gen: GenSettings) -> None:
    from edgegen.benchmark.quality import leg_quality, load_leg_images
    from edgegen.cli.quality import load_real_pools
    from edgegen.quality.assess import Classifiers
    from edgegen.quality.features import FeatureNetwork

    real_held, _ = load_real_pools("cxr-128", "held-out", gen.size, None, False)
    train = None
    from edgegen.data.load import load_dataset

    train = load_dataset("cxr-128", "train", gen.size)
    net, clfs, floors = FeatureNetwork(), Classifiers.embedded(), {}
    refs = {}
    for r in results:
        path = (r.raw or {}).get("quality_file")
        if r.status != "ok" or not path:
            continue
        random_weights = r.kind in ("sd", "optimum") and source.kind == "preset"
        if random_weights:
            r.quality = {"note": "random weights: not meaningful"}
            continue
        ref_name = REFERENCE_LEG.get(r.kind)
        if ref_name and ref_name not in refs:
            ref = next(
                (x for x in results if x.name == ref_name and x.status == "ok" and (x.raw or {}).get("quality_file")),
                None,
            )
            refs[ref_name] = load_leg_images(Path(ref.raw["quality_file"]), gen.conditions)[0].images if ref else None
        r.quality = leg_quality(
            Path(path),
            gen.conditions,
            real_held,
            train,
            net,
            clfs,
            floors,
            refs.get(ref_name) if r.name != ref_name else None,
        )


def _compute(source, info: dict, gen: GenSettings) -> dict:
    from edgegen.benchmark.flops import source_unet, unet_flops

    if source.family != "sd":
        return {}
    flops = unet_flops(
        source_unet(source),
        2 if gen.guidance_scale > 1 else 1,
        gen.size // int(info.get("vae_scale_factor", 8)),
        int(info.get("max_length", 77)),
    )
    return {
        "unet_flops_per_call": flops,
        "unet_call_batch": 2 if gen.guidance_scale > 1 else 1,
        "counted_with": "torch.utils.flop_counter.FlopCounterMode",
    }
