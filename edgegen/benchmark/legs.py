"""What one bench run compares: the legs, planned from the profile and what this machine runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgegen.types import Backend, Component, Precision


@dataclass(frozen=True)
class GenSettings:
    steps: int
    guidance_scale: float
    scheduler: str
    size: int
    class_names: tuple[str, ...]
    prompt_template: str
    seed: int = 0
    warm_runs: int = 16
    batch_sizes: tuple[int, ...] = (1, 4)
    quality_per_class: int = 50


@dataclass(frozen=True)
class LegSpec:
    name: str
    kind: str  # "sd" | "optimum" | "classifier"
    backend: Backend | None
    precisions: dict[str, str] = field(default_factory=dict)  # component → precision
    model: str = "default"
    artifacts: str | None = None
    optimum_dir: str | None = None
    classifier: str = "default"
    threads: int | None = None
    torch_compile: bool = False
    skip_reason: str | None = None  # planned but cannot run here (reported as skipped)


def _sd_precisions(unet: Precision, others: Precision) -> dict[str, str]:
    return {c.value: (unet if c is Component.UNET else others).value for c in (Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER)}


def plan_legs(usable: dict[Backend, str | None], artifacts: str, optimum_dir: str | None, model: str, threads: int | None, wanted: set[str] | None = None) -> list[LegSpec]:
    """Every leg a demanding user would compare, each marked skipped with a reason where this
    machine cannot run it. Pure: `usable` comes from the runtime probes."""
    legs = [
        LegSpec("sd/torch/fp32", "sd", Backend.TORCH, _sd_precisions(Precision.FP32, Precision.FP32), model, None, threads=threads),
        LegSpec("sd/torch-compile/fp32", "sd", Backend.TORCH, _sd_precisions(Precision.FP32, Precision.FP32), model, None, threads=threads, torch_compile=True),
        LegSpec("sd/ort-cpu/fp32", "sd", Backend.ORT_CPU, _sd_precisions(Precision.FP32, Precision.FP32), model, artifacts, threads=threads),
        LegSpec("sd/ort-cpu/fp16", "sd", Backend.ORT_CPU, _sd_precisions(Precision.FP16, Precision.FP16), model, artifacts, threads=threads),
        LegSpec("sd/ort-cpu/int8", "sd", Backend.ORT_CPU, _sd_precisions(Precision.INT8, Precision.FP32), model, artifacts, threads=threads),
        LegSpec("sd/optimum-ort/fp32", "optimum", None, _sd_precisions(Precision.FP32, Precision.FP32), model, optimum_dir=optimum_dir, threads=threads),
        LegSpec("sd/ort-cuda/fp16", "sd", Backend.ORT_CUDA, _sd_precisions(Precision.FP16, Precision.FP16), model, artifacts, threads=threads),
        LegSpec("sd/ort-trt/fp16", "sd", Backend.ORT_TENSORRT, _sd_precisions(Precision.FP16, Precision.FP16), model, artifacts, threads=threads),
        LegSpec("sd/trt/fp16", "sd", Backend.TENSORRT, _sd_precisions(Precision.FP16, Precision.FP16), model, artifacts, threads=threads),
        LegSpec("sd/trt/int8", "sd", Backend.TENSORRT, _sd_precisions(Precision.INT8, Precision.FP16), model, artifacts, threads=threads),
        LegSpec("sd/openvino/fp32", "sd", Backend.OPENVINO, _sd_precisions(Precision.FP32, Precision.FP32), model, artifacts, threads=threads),
        LegSpec("sd/openvino/int8", "sd", Backend.OPENVINO, _sd_precisions(Precision.INT8, Precision.FP32), model, artifacts, threads=threads),
        LegSpec("classifier/torch/fp32", "classifier", Backend.TORCH, {"classifier": "fp32"}, artifacts=artifacts, threads=threads),
        LegSpec("classifier/ort-cpu/fp32", "classifier", Backend.ORT_CPU, {"classifier": "fp32"}, artifacts=artifacts, threads=threads),
        LegSpec("classifier/ort-cpu/int8", "classifier", Backend.ORT_CPU, {"classifier": "int8"}, artifacts=artifacts, threads=threads),
    ]
    out = []
    for leg in legs:
        if wanted is not None and leg.name not in wanted and not any(leg.name.startswith(w.rstrip("*")) for w in wanted if w.endswith("*")):
            continue
        reason = None
        if leg.backend is not None and usable.get(leg.backend) is not None:
            reason = usable[leg.backend]
        elif leg.kind == "optimum" and optimum_dir is None:
            reason = "optimum export unavailable"
        out.append(LegSpec(**{**leg.__dict__, "skip_reason": reason}) if reason else leg)
    return out
