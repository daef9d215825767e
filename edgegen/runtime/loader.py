"""Open a generation pipeline or a classifier on a backend, from a torch model or an export folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgegen.errors import ArtifactError, UsageError
from edgegen.export.artifacts import ExportManifest, load_manifest, verify_artifact
from edgegen.runtime.backends.base import Runner
from edgegen.runtime.engine_select import ShapeNeed
from edgegen.runtime.pipeline import PipelineInfo, Text2ImagePipeline
from edgegen.types import Backend, Component, Precision, SchedulerName

SD_RUNTIME_COMPONENTS = (Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER)
ONNX_BACKENDS = (Backend.ORT_CPU, Backend.ORT_CUDA, Backend.ORT_TENSORRT)


@dataclass(frozen=True)
class RunConfig:
    backend: Backend
    precisions: dict[Component, Precision]
    threads: int | None = None
    device: str = "cpu"  # torch backend only
    torch_compile: bool = False  # torch backend only: torch.compile (inductor)
    shape_need: ShapeNeed | None = None  # trt: pick the engine built for this (None: the widest)
    trt_ranges: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None  # ORT TensorRT EP
    # profile (images per call, image side); None: the export's device profile, as `edgegen build` uses
    cuda_graph: bool = False  # trt: replay the UNet call as a CUDA graph (static shapes)
    device_loop: bool = True  # keep the latents on the GPU between UNet calls where the runner can
    low_memory: bool = False  # runners hold no memory between calls beyond their weights


def onnx_runner(
    folder: Path, manifest: ExportManifest, component: Component, precision: Precision, config: RunConfig
) -> Runner:
    art = manifest.find(component, precision)
    if art is None:
        have = sorted(
            f"{a.component.value}.{a.precision.value}" for a in manifest.components if a.component is component
        )
        raise ArtifactError(
            f"{folder} has no {component.value} exported at {precision.value} (has: {', '.join(have) or 'none'})",
            hint=f"run `edgegen export --precision {precision.value}`",
        )
    if (why := verify_artifact(folder, art)) is not None:
        raise ArtifactError(f"{folder}: {why}", hint="re-run `edgegen export`")
    path = folder / art.file
    if config.backend in ONNX_BACKENDS:
        from edgegen.export.artifacts import ArtifactKind, folder_path
        from edgegen.runtime.backends.ort_backend import OrtRunner

        shapes = None
        if config.backend is Backend.ORT_TENSORRT:
            from edgegen.export.shape_profiles import trt_input_shapes

            ranges = config.trt_ranges or _export_profile_ranges(manifest.profile)
            shapes = trt_input_shapes(art, *ranges) if ranges else None
        return OrtRunner(
            path,
            config.backend,
            art.actual_precision,
            config.threads,
            trt_shapes=shapes,
            cache_dir=folder_path(folder, ArtifactKind.ORT_TRT_CACHE),
            low_memory=config.low_memory,
        )
    if config.backend is Backend.OPENVINO:
        # INT8: the NNCF-quantized IR when `export --openvino` made one, else the QDQ ONNX
        # (OpenVINO runs Q/DQ graphs as INT8 too).
        from edgegen.export.artifacts import ArtifactKind, folder_path
        from edgegen.runtime.backends.openvino_backend import OpenVinoRunner

        ir = folder_path(folder, ArtifactKind.OPENVINO_IR, component, precision)
        return OpenVinoRunner(ir if ir.is_file() else path, art.actual_precision, config.threads)
    if config.backend is Backend.TENSORRT:
        return _trt_runner(folder, art, component, precision, config)
    raise UsageError(f"backend {config.backend.value} does not run ONNX artifacts")


def _export_profile_ranges(profile_name: str):
    """The shape ranges of the device profile an export was made for (None when that profile
    is not found by name here, e.g. a user's YAML file elsewhere)."""
    from edgegen.errors import ProfileError
    from edgegen.export.shape_profiles import profile_ranges
    from edgegen.profiles import load_profile

    try:
        return profile_ranges(load_profile(profile_name))
    except ProfileError:
        return None


def _trt_runner(folder: Path, art, component: Component, precision: Precision, config: RunConfig) -> Runner:
    """The engine `edgegen build` recorded for this GPU, TensorRT version, ONNX and shapes."""
    from edgegen.export.engine_manifest import load_engine_manifest
    from edgegen.export.shape_profiles import needed_shapes
    from edgegen.export.tensorrt_build import require_tensorrt
    from edgegen.runtime.backends.trt_backend import TrtRunner
    from edgegen.runtime.engine_select import EngineNeed, select_engine
    from edgegen.system.gpu import cuda_device

    trt = require_tensorrt()
    device = cuda_device()
    need = config.shape_need
    shapes = needed_shapes(art, need.image_batch, need.image_size) if need else None
    record = select_engine(
        load_engine_manifest(folder).engines,
        EngineNeed(component, precision, art.sha256, device.name, device.compute_capability, trt.__version__, shapes),
        str(folder),
    )
    graph = config.cuda_graph and component is Component.UNET
    return TrtRunner(folder / record.file, cuda_graph=graph, device=f"cuda:{device.index}")


def _gan_info(config, card: dict) -> PipelineInfo:
    from edgegen.conditions import FINDINGS_TEMPLATE, Conditioning

    vocab = Conditioning.from_dict(card.get("conditioning"), (), FINDINGS_TEMPLATE)
    plain = json.loads(config.to_json())
    return PipelineInfo(
        1, 0, 0, tuple(vocab.class_names), vocab.template, vocab.to_dict(), "gan", plain, config.resolution
    )


def open_pipeline(
    config: RunConfig,
    scheduler: SchedulerName,
    *,
    model: str | None = None,
    artifacts: Path | None = None,
    low_memory: bool = False,
    trust_pickle: bool = False,
):
    """(pipeline, provenance facts) for a diffusion model or a GAN, on any backend. Both
    pipelines answer `generate(items, settings)`, `tags(settings)`, `info` and `release()`."""
    from edgegen.runtime.gan_pipeline import GanPipeline

    if config.backend is Backend.TORCH:
        if model is None:
            raise UsageError("--backend torch needs --model (a preset, 'default', 'gan' or a model folder)")
        from edgegen.models.source import resolve_model

        source = resolve_model(model, trust_pickle=trust_pickle)
        if source.family == "gan":
            from edgegen.export.components import EXPORTS
            from edgegen.runtime.backends.torch_backend import TorchRunner

            generator, card = source.load_pipeline()
            half = config.device.startswith("cuda") and config.precisions.get(Component.GENERATOR) is Precision.FP16
            runner = TorchRunner(
                EXPORTS[Component.GENERATOR](generator), config.device, half, config.threads, config.torch_compile
            )
            facts = {
                "model": source.name,
                "model_sha256": source.fingerprint(),
                "family": "gan",
                "precisions": {"generator": "fp16" if half else "fp32"},
            }
            return GanPipeline(runner, generator.config, _gan_info(generator.config, card)), facts
        return open_sd_pipeline(config, scheduler, model=model, low_memory=low_memory, trust_pickle=trust_pickle)
    if artifacts is None:
        raise UsageError(f"--backend {config.backend.value} needs --artifacts (an `edgegen export` folder)")
    folder = Path(artifacts)
    manifest = load_manifest(folder / "manifest.json")
    if manifest.model_kind == "gan":
        from edgegen.gan.config import GanConfig

        gan_config = GanConfig(
            **{
                **manifest.pipeline["gan"],
                "populations": tuple(manifest.pipeline["gan"]["populations"]),
                "findings": tuple(manifest.pipeline["gan"]["findings"]),
            }
        )
        precision = config.precisions.get(Component.GENERATOR, Precision.FP32)
        runner = onnx_runner(folder, manifest, Component.GENERATOR, precision, config)
        info = PipelineInfo(**{**manifest.pipeline, "class_names": tuple(manifest.pipeline.get("class_names", ()))})
        facts = {
            "model": manifest.model,
            "model_sha256": manifest.source_sha256,
            "family": "gan",
            "precisions": {"generator": precision.value},
        }
        return GanPipeline(runner, gan_config, info), facts
    return open_sd_pipeline(config, scheduler, artifacts=folder, low_memory=low_memory)


def open_sd_pipeline(
    config: RunConfig,
    scheduler: SchedulerName,
    *,
    model: str | None = None,
    artifacts: Path | None = None,
    low_memory: bool = False,
    trust_pickle: bool = False,
) -> tuple[Text2ImagePipeline, dict]:
    """(pipeline, provenance facts: model hash, backend, precisions)."""
    from dataclasses import replace

    from edgegen.runtime.scheduling import make_scheduler

    config = replace(config, low_memory=config.low_memory or low_memory)

    if config.backend is Backend.TORCH:
        if model is None:
            raise UsageError("--backend torch needs --model (a preset, 'default' or a diffusers folder)")
        from edgegen.export.components import EXPORTS
        from edgegen.export.export_model import pipeline_info
        from edgegen.models.source import resolve_model
        from edgegen.runtime.backends.torch_backend import TorchRunner

        source = resolve_model(model, trust_pickle=trust_pickle)
        pipe = source.load_pipeline()
        half = config.device.startswith("cuda")
        runners = {
            c: TorchRunner(
                EXPORTS[c](pipe),
                config.device,
                half and config.precisions.get(c) is Precision.FP16,
                config.threads,
                config.torch_compile,
            )
            for c in SD_RUNTIME_COMPONENTS
        }
        info = PipelineInfo(**pipeline_info(pipe, source))
        sched = make_scheduler(scheduler, dict(pipe.scheduler.config))
        facts = {
            "model": source.name,
            "model_sha256": source.fingerprint(),
            "precisions": {
                c.value: "fp32" if not half else config.precisions.get(c, Precision.FP32).value
                for c in SD_RUNTIME_COMPONENTS
            },
        }
        return Text2ImagePipeline(runners, pipe.tokenizer, sched, info, low_memory, config.device_loop), facts
    if artifacts is None:
        raise UsageError(f"--backend {config.backend.value} needs --artifacts (an `edgegen export` folder)")
    folder = Path(artifacts)
    manifest = load_manifest(folder / "manifest.json")
    if not manifest.pipeline:
        raise ArtifactError(f"{folder} holds no Stable Diffusion export (only a classifier?)")
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"), local_files_only=True)
    sched_cfg = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    runners = {c: onnx_runner(folder, manifest, c, config.precisions[c], config) for c in SD_RUNTIME_COMPONENTS}
    info = PipelineInfo(
        **{**manifest.pipeline, "class_names": tuple(manifest.pipeline.get("class_names", ()))}
    )  # older manifests lack conditioning: the default None
    facts = {
        "model": manifest.model,
        "model_sha256": manifest.source_sha256,
        "precisions": {c.value: config.precisions[c].value for c in SD_RUNTIME_COMPONENTS},
    }
    sched = make_scheduler(scheduler, sched_cfg)
    return Text2ImagePipeline(runners, tokenizer, sched, info, low_memory, config.device_loop), facts
