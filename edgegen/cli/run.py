"""`edgegen generate` and `edgegen classify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import (
    JsonOption,
    ProfileOption,
    RayActorsOption,
    RayOption,
    console,
    print_json,
    table,
    warn,
)

BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        "-b",
        help="torch, ort-cpu, ort-cuda, ort-trt, trt or openvino (default: the profile's first usable).",
    ),
]
PrecisionOption = Annotated[
    str | None, typer.Option(help="fp32, fp16 or int8 for every component (default: the profile's per component).")
]
ArtifactsOption = Annotated[
    Path | None, typer.Option(help="An `edgegen export` folder (default: export/<model>/<profile>).")
]


def run_config(profile, backend: str | None, precision: str | None, threads: int | None, remote: bool = False):
    """Resolve backend (flag or profile), precisions and device once, at the boundary. `remote`
    (--ray): a --backend is taken as given, since the workers, not this machine, must run it
    (they raise the typed error if they cannot); without one, the profile's first backend usable
    here is chosen, as for a local run."""
    from edgegen.cli.export import _parse_list
    from edgegen.runtime.loader import RunConfig
    from edgegen.runtime.select import choose_backend
    from edgegen.system.gpu import nvidia_gpu_visible
    from edgegen.system.runtimes import probe_all, usable_backends
    from edgegen.types import Backend, Component, Precision

    requested = _parse_list(backend, Backend, "backend")[0] if backend else None
    forced = _parse_list(precision, Precision, "precision")[0] if precision else None
    precisions = {c: forced or getattr(profile.precision, c.value) for c in Component}
    from edgegen.export.shape_profiles import profile_ranges

    ranges = profile_ranges(profile)
    if remote and requested is not None:  # the actor picks its device
        return RunConfig(requested, precisions, threads or profile.threads, "cpu", trt_ranges=ranges)
    has_gpu = nvidia_gpu_visible()  # Jetson too (no NVML there)
    chosen = choose_backend(profile.backends, usable_backends(probe_all(has_gpu), has_gpu), requested)
    import torch

    device = "cuda" if chosen is Backend.TORCH and torch.cuda.is_available() else "cpu"
    return RunConfig(chosen, precisions, threads or profile.threads, device, trt_ranges=ranges)


def ray_request(address: str, profile, actors: int | None, threads: int | None, planned_host_bytes: int | None = None):
    from edgegen.distributed.orchestrator import RayRequest

    return RayRequest(address, actors, threads or profile.threads, profile.memory_budget_gb, None, planned_host_bytes)


def default_artifacts(model: str, profile_name: str, artifacts: Path | None, needed: bool) -> Path | None:
    if artifacts is not None or not needed:
        return artifacts
    from edgegen.errors import ArtifactError
    from edgegen.export.artifacts import DEFAULT_EXPORT_ROOT, ArtifactKind, artifact_path
    from edgegen.models.source import resolve_model

    folder = artifact_path(DEFAULT_EXPORT_ROOT, resolve_model(model).name, profile_name, ArtifactKind.MANIFEST).parent
    if not (folder / "manifest.json").is_file():
        raise ArtifactError(
            f"no export found at {folder}",
            hint=f"run `edgegen export {model} --profile {profile_name}` or pass --artifacts",
        )
    return folder


def default_size(model: str, artifacts: Path | None, prof) -> int:
    """The side to generate at when --size is not given: the model's own (from the export
    manifest, else its configs), else the profile's default resolution."""
    native = None
    if artifacts is not None and (artifacts / "manifest.json").is_file():
        from edgegen.export.artifacts import load_manifest

        native = (load_manifest(artifacts / "manifest.json").pipeline or {}).get("native_resolution")
    if native is None:
        from edgegen.models.source import resolve_model

        native = resolve_model(model).native_resolution
    return int(native or prof.generation.resolution)


def generate_cmd(
    out: Annotated[Path, typer.Option(help="Output folder (PNGs + manifest.jsonl); re-running resumes.")],
    model: Annotated[str, typer.Option(help="'default', 'gan', a preset, a diffusers or GAN folder.")] = "default",
    artifacts: ArtifactsOption = None,
    profile: ProfileOption = "cpu-x86",
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    class_: Annotated[
        list[str] | None, typer.Option("--class", help="Class to generate (repeatable; default: the model's classes).")
    ] = None,
    finding: Annotated[
        list[str] | None,
        typer.Option(
            "--finding",
            help=(
                "Finding to generate (repeatable; join with + for one "
                "image showing several, e.g. effusion+cardiomegaly)."
            ),
        ),
    ] = None,
    population: Annotated[
        str | None, typer.Option(help="adult or pediatric (default: where the model saw the class / finding most).")
    ] = None,
    allow_unknown_conditions: Annotated[
        bool, typer.Option(help="Generate classes / findings the model was not trained on (labelled as asked).")
    ] = False,
    n: Annotated[int, typer.Option("--n", "--per-class", help="Images per class / finding.")] = 4,
    prompt_template: Annotated[
        str | None,
        typer.Option(
            help="Prompt with {class}, or {population} and {findings} (default: the model's training template)."
        ),
    ] = None,
    negative_prompt: str = "",
    steps: Annotated[int | None, typer.Option(help="Denoising steps (default: the profile's).")] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Classifier-free guidance scale (default: the profile's).")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="ddim, euler or dpm++ (default: the profile's).")] = None,
    size: Annotated[
        int | None, typer.Option("--size", "--resolution", help="Image side in pixels (default: the model's own).")
    ] = None,
    seed: int = 0,
    batch_size: Annotated[int | None, typer.Option(help="Images per pipeline call (default: the profile's).")] = None,
    dicom: Annotated[
        bool, typer.Option(help="Also write a DICOM (DERIVED\\SECONDARY, marked synthetic) per image.")
    ] = False,
    tiled_decode: bool = False,
    low_memory: Annotated[
        bool | None, typer.Option(help="Load components one at a time (default: the profile's).")
    ] = None,
    threads: int | None = None,
    cuda_graph: Annotated[
        bool, typer.Option(help="--backend trt: replay the UNet call as a CUDA graph (fixed batch and size).")
    ] = False,
    ray: RayOption = None,
    ray_actors: RayActorsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Generate synthetic CXRs per class or finding with provenance tags; resumable after a crash."""
    from dataclasses import replace

    from edgegen.cli.progress import step_progress
    from edgegen.conditions import resolve_conditions
    from edgegen.errors import UsageError
    from edgegen.profiles import load_profile
    from edgegen.runtime.engine_select import ShapeNeed
    from edgegen.runtime.generate import GenerateSettings, generate_images, plan
    from edgegen.types import Backend, SchedulerName

    for flag, value in (("--n", n), ("--steps", steps), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value} must be ≥ 1")
    if size is not None and size < 16:
        raise UsageError(f"--size {size} must be at least 16")
    if guidance is not None and guidance < 0:
        raise UsageError(f"--guidance {guidance} must be ≥ 0")
    if ray is not None:
        from edgegen.distributed.cluster import check_ray

        ray = check_ray(ray)
    prof = load_profile(profile)
    config = run_config(prof, backend, precision, threads, remote=ray is not None)
    folder = default_artifacts(model, prof.name, artifacts, config.backend is not Backend.TORCH)
    # TensorRT: the engine for this batch and size (a GAN's size is its own; only the batch matters).
    need = ShapeNeed(batch_size or prof.generation.batch, size or default_size(model, folder, prof))
    config = replace(config, shape_need=need, cuda_graph=cuda_graph)
    try:
        sched = SchedulerName(scheduler) if scheduler else prof.generation.scheduler
    except ValueError:
        raise UsageError(f"unknown scheduler {scheduler!r}", hint="use ddim, euler or dpm++") from None
    low = prof.low_memory if low_memory is None else low_memory
    from edgegen.runtime.memory_needs import GenerateShape, check_generate

    # Before anything is loaded or written: will this run fit the profile's memory budget?
    memory = check_generate(
        folder,
        config.backend,
        config.precisions,
        GenerateShape(
            need.image_batch,
            need.image_size,
            (prof.generation.guidance_scale if guidance is None else guidance) > 1.0,
        ),
        low,
        tiled_decode,
        prof,
    )

    def plan_run(info, family: str, gan_side: int | None):
        vocab = info.vocabulary()
        conditions = resolve_conditions(vocab, class_, finding, population, allow_unknown_conditions)
        template = prompt_template or vocab.template
        if family == "gan":
            side = gan_side
            if size is not None and size != side:
                raise UsageError(
                    f"--size {size}: this GAN generates {side} px images only", hint=f"drop --size or pass {side}"
                )
        else:
            # The model's own size unless asked otherwise (a 128 px model is not run at a profile's 512).
            side = size or info.native_resolution or prof.generation.resolution
        if side % info.vae_scale_factor:
            raise UsageError(f"--size {side} is not a multiple of {info.vae_scale_factor}")
        settings = GenerateSettings(
            prof.generation.steps if steps is None else steps,
            prof.generation.guidance_scale if guidance is None else guidance,
            sched.value,
            side,
            prof.generation.batch if batch_size is None else batch_size,
            negative_prompt,
            dicom,
            tiled_decode,
        )
        return plan(conditions, n, template, seed), settings

    if ray is None:
        from edgegen.runtime.loader import open_pipeline

        pipe, facts = open_pipeline(config, sched, model=model, artifacts=folder, low_memory=low)
        facts = {**facts, "backend": config.backend.value}
        items, settings = plan_run(pipe.info, pipe.family, pipe.config.resolution if pipe.family == "gan" else None)
        try:
            with step_progress("images", enabled=not json_out) as bar:
                result = generate_images(
                    pipe, facts, items, settings, out, lambda done, total, ips: bar(done, total, f"{ips:.2f} img/s")
                )
        finally:
            pipe.release()
        where = config.backend.value
    else:
        from edgegen.distributed.orchestrator import ray_generation
        from edgegen.distributed.workers import PipelineSpec

        spec = PipelineSpec(config, sched, model, folder, low)
        from edgegen.runtime.memory_needs import host_bytes

        planned = host_bytes(memory.plan, config.backend) if memory is not None else None
        with ray_generation(ray_request(ray, prof, ray_actors, threads, planned), spec) as run:
            d = run.description
            items, settings = plan_run(d.info, d.family, d.resolution)
            with step_progress("images", enabled=not json_out) as bar:
                result = run.generate(
                    items, settings, out, lambda done, total, ips: bar(done, total, f"{ips:.2f} img/s")
                )
        where = f"{config.backend.value} ({result.ray.actors} Ray actors of {result.ray.demand})"
    if json_out:
        print_json(result)
        return
    console.print(
        f"{result.generated} generated, {result.skipped} already present, "
        f"{result.images_per_s:.2f} images/s on {where} → {out}"
    )


def classify_cmd(
    data: Annotated[
        str,
        typer.Argument(help="A class-folder (labeled), a flat folder of images/DICOMs, a .csv, a .npz or 'default'."),
    ],
    out: Annotated[Path | None, typer.Option(help="CSV of per-image probabilities.")] = None,
    classifier: Annotated[str, typer.Option(help="torch backend: 'default' or a classifier folder.")] = "default",
    artifacts: ArtifactsOption = None,
    profile: ProfileOption = "cpu-x86",
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    split: str = "test",
    batch_size: int = 64,
    bootstrap: int = 500,
    threads: int | None = None,
    ray: RayOption = None,
    ray_actors: RayActorsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Classify CXRs in batches on any backend; print metrics when labels are known."""
    from edgegen.data.unlabeled import load_for_classification
    from edgegen.profiles import load_profile
    from edgegen.runtime.classify import classify, open_classifier
    from edgegen.types import Backend, Component

    if ray is not None:
        from edgegen.distributed.cluster import check_ray

        ray = check_ray(ray)
    prof = load_profile(profile)
    config = run_config(prof, backend, precision, threads, remote=ray is not None)
    folder = default_artifacts("default", prof.name, artifacts, config.backend is not Backend.TORCH)
    tags = (config.backend.value, config.precisions[Component.CLASSIFIER].value)
    from edgegen.runtime.memory_needs import check_classify

    # before anything is loaded or written
    check_classify(folder, config.backend, config.precisions[Component.CLASSIFIER], batch_size, prof)

    def load(card):
        images, names, labels, skipped = load_for_classification(data, split, card.input_size, card.class_names)
        if skipped:
            warn(f"skipped {len(skipped)} unreadable file(s): {', '.join(s.path for s in skipped[:3])}")
        return images, names, labels

    if ray is None:
        runner, card = open_classifier(config, classifier, folder)
        images, names, labels = load(card)
        result = classify(runner, card, images, names, labels, out, batch_size, bootstrap, *tags)
        runner.release()
    else:
        from edgegen.cli.progress import step_progress
        from edgegen.distributed.orchestrator import ray_classification

        with ray_classification(ray_request(ray, prof, ray_actors, threads), config, classifier, folder) as run:
            images, names, labels = load(run.card)
            with step_progress("images", enabled=not json_out) as bar:
                result = run.classify(
                    images,
                    names,
                    labels,
                    out,
                    batch_size,
                    bootstrap,
                    *tags,
                    progress=lambda done, total, ips: bar(done, total, f"{ips:.1f} img/s"),
                )
    if json_out:
        print_json(result)
        return
    console.print(
        f"{result.n} images classified on {result.backend} ({result.precision}) at {result.images_per_s:.1f} images/s"
        + (f"; CSV: {out}" if out else "")
    )
    if result.report:
        from edgegen.cli.classifiers import _report_rows

        console.print(table("metrics (95% bootstrap CI)", ["metric", "value"], _report_rows(result.report)))
