"""What one bench run compares: the legs, planned from the profile and what this machine runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgegen.errors import UsageError
from edgegen.types import Backend, Component, Precision


@dataclass(frozen=True)
class GenSettings:
    steps: int
    guidance_scale: float
    scheduler: str
    size: int
    conditions: tuple[dict, ...]  # {"name", "population", "findings"} per condition, as generate plans them
    prompt_template: str
    seed: int = 0
    batch_sizes: tuple[int, ...] = (1, 4)  # diffusion legs; GAN legs run (1, 64)
    gan_batch_sizes: tuple[int, ...] = (1, 64)
    quality_per_class: int = 32
    rounds: int = 10
    calls_per_round: int = 2
    classifier_batch: int = 64
    # Classifier calls take milliseconds: they get more rounds (paired by round with each other;
    # the rounds past `rounds` visit the classifier legs only).
    classifier_rounds: int = 20

    def rounds_for(self, kind: str) -> int:
        return self.classifier_rounds if kind == "classifier" else self.rounds


@dataclass(frozen=True)
class LegSpec:
    name: str
    kind: str  # "sd" | "gan" | "optimum" | "classifier"
    backend: Backend | None
    precisions: dict[str, str] = field(default_factory=dict)  # component → precision
    model: str = "default"
    artifacts: str | None = None
    optimum_dir: str | None = None
    classifier: str = "default"
    threads: int | None = None
    torch_compile: bool = False
    skip_reason: str | None = None  # planned but cannot run here (reported as skipped)
    default: bool = True  # False: run only when asked by name (--legs)

    @property
    def generates(self) -> bool:
        return self.kind in ("sd", "gan", "optimum")


def _sd_precisions(unet: Precision, others: Precision) -> dict[str, str]:
    return {
        c.value: (unet if c is Component.UNET else others).value
        for c in (Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER)
    }


GPU_BACKENDS = (Backend.ORT_CUDA, Backend.ORT_TENSORRT, Backend.TENSORRT)


def all_legs(
    artifacts: str,
    gan_artifacts: str | None,
    optimum_dir: str | None,
    model: str,
    gan_model: str | None,
    threads: int | None,
) -> list[LegSpec]:
    """Every leg a demanding user would compare. torch.compile (minutes of compilation) and FP16
    on CPU (no native half-precision arithmetic on x86: slower than FP32) are opt-in."""
    P = Precision
    sd = [
        LegSpec("sd/torch/fp32", "sd", Backend.TORCH, _sd_precisions(P.FP32, P.FP32), model, None, threads=threads),
        LegSpec(
            "sd/torch-compile/fp32",
            "sd",
            Backend.TORCH,
            _sd_precisions(P.FP32, P.FP32),
            model,
            None,
            threads=threads,
            torch_compile=True,
            default=False,
        ),
        LegSpec(
            "sd/ort-cpu/fp32", "sd", Backend.ORT_CPU, _sd_precisions(P.FP32, P.FP32), model, artifacts, threads=threads
        ),
        LegSpec(
            "sd/ort-cpu/fp16",
            "sd",
            Backend.ORT_CPU,
            _sd_precisions(P.FP16, P.FP16),
            model,
            artifacts,
            threads=threads,
            default=False,
        ),
        LegSpec(
            "sd/ort-cpu/int8", "sd", Backend.ORT_CPU, _sd_precisions(P.INT8, P.FP32), model, artifacts, threads=threads
        ),
        LegSpec(
            "sd/optimum-ort/fp32",
            "optimum",
            None,
            _sd_precisions(P.FP32, P.FP32),
            model,
            optimum_dir=optimum_dir,
            threads=threads,
        ),
        LegSpec(
            "sd/ort-cuda/fp16",
            "sd",
            Backend.ORT_CUDA,
            _sd_precisions(P.FP16, P.FP16),
            model,
            artifacts,
            threads=threads,
        ),
        LegSpec(
            "sd/ort-trt/fp16",
            "sd",
            Backend.ORT_TENSORRT,
            _sd_precisions(P.FP16, P.FP16),
            model,
            artifacts,
            threads=threads,
        ),
        LegSpec(
            "sd/trt/fp16", "sd", Backend.TENSORRT, _sd_precisions(P.FP16, P.FP16), model, artifacts, threads=threads
        ),
        LegSpec(
            "sd/trt/int8", "sd", Backend.TENSORRT, _sd_precisions(P.INT8, P.FP16), model, artifacts, threads=threads
        ),
        LegSpec(
            "sd/openvino/fp32",
            "sd",
            Backend.OPENVINO,
            _sd_precisions(P.FP32, P.FP32),
            model,
            artifacts,
            threads=threads,
        ),
        LegSpec(
            "sd/openvino/int8",
            "sd",
            Backend.OPENVINO,
            _sd_precisions(P.INT8, P.FP32),
            model,
            artifacts,
            threads=threads,
        ),
    ]
    gan = []
    if gan_model:
        for backend, prec, default in (
            (Backend.TORCH, P.FP32, True),
            (Backend.ORT_CPU, P.FP32, True),
            (Backend.ORT_CPU, P.FP16, False),
            (Backend.ORT_CPU, P.INT8, True),
            (Backend.OPENVINO, P.FP32, True),
            (Backend.OPENVINO, P.INT8, True),
            (Backend.ORT_CUDA, P.FP16, True),
            (Backend.TENSORRT, P.FP16, True),
            (Backend.TENSORRT, P.INT8, True),
        ):
            gan.append(
                LegSpec(
                    f"gan/{backend.value}/{prec.value}",
                    "gan",
                    backend,
                    {"generator": prec.value},
                    gan_model,
                    None if backend is Backend.TORCH else gan_artifacts,
                    threads=threads,
                    default=default,
                )
            )
    clf = [
        LegSpec(
            f"classifier/{b.value}/{p.value}",
            "classifier",
            b,
            {"classifier": p.value},
            artifacts=artifacts,
            threads=threads,
        )
        for b, p in (
            (Backend.TORCH, P.FP32),
            (Backend.ORT_CPU, P.FP32),
            (Backend.ORT_CPU, P.INT8),
            (Backend.OPENVINO, P.FP32),
            (Backend.OPENVINO, P.INT8),
            (Backend.ORT_CUDA, P.FP16),
            (Backend.TENSORRT, P.INT8),
        )
    ]
    return sd + gan + clf


def select_legs(legs: list[LegSpec], wanted: set[str] | None) -> list[LegSpec]:
    """The default legs, or those named (exact names, or prefixes ending in '*'). A name that
    matches no leg is an error, not an empty run."""
    if wanted is None:
        return [leg for leg in legs if leg.default]
    unknown = [
        w for w in wanted if not any(leg.name == w or (w.endswith("*") and leg.name.startswith(w[:-1])) for leg in legs)
    ]
    if unknown:
        raise UsageError(
            f"unknown leg(s) {', '.join(sorted(unknown))}",
            hint=f"legs: {', '.join(leg.name for leg in legs)} (a prefix ending in * selects several)",
        )
    return [
        leg
        for leg in legs
        if leg.name in wanted or any(w.endswith("*") and leg.name.startswith(w[:-1]) for w in wanted)
    ]


def plan_legs(
    usable: dict[Backend, str | None],
    artifacts: str,
    optimum_dir: str | None,
    model: str,
    threads: int | None,
    wanted: set[str] | None = None,
    gan_model: str | None = None,
    gan_artifacts: str | None = None,
) -> list[LegSpec]:
    """The selected legs, each marked skipped with a reason where this machine cannot run it.
    Pure: `usable` comes from the runtime probes."""
    out = []
    for leg in select_legs(all_legs(artifacts, gan_artifacts, optimum_dir, model, gan_model, threads), wanted):
        reason = None
        if leg.backend is not None and usable.get(leg.backend) is not None:
            reason = usable[leg.backend]
        elif leg.kind == "optimum" and optimum_dir is None:
            reason = "optimum export unavailable (model is a preset, not a folder)"
        out.append(LegSpec(**{**leg.__dict__, "skip_reason": reason}) if reason else leg)
    return out
