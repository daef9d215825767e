"""Choosing onnxruntime execution providers: pure, so it is tested without a GPU."""

from __future__ import annotations

from edgegen.errors import BackendUnavailableError
from edgegen.types import Backend

_WANTED = {
    Backend.ORT_TENSORRT: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    Backend.ORT_CUDA: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    Backend.ORT_CPU: ["CPUExecutionProvider"],
}


def choose_providers(backend: Backend, available: list[str], has_gpu: bool) -> list[str]:
    """The provider list for a session, or a one-line reason why the backend cannot run here."""
    wanted = _WANTED[backend]
    head = wanted[0]
    if head not in available:
        alt = "install onnxruntime-gpu (`make gpu`)" if head != "CPUExecutionProvider" else "reinstall onnxruntime"
        raise BackendUnavailableError(
            f"{backend.value} needs {head}, which this onnxruntime build lacks", hint=f"{alt}, or use --backend ort-cpu"
        )
    if head != "CPUExecutionProvider" and not has_gpu:
        raise BackendUnavailableError(
            f"{backend.value} needs an NVIDIA GPU and none is visible", hint="use --backend ort-cpu"
        )
    return [p for p in wanted if p in available]


def tensorrt_provider_options(cache_dir: str, fp16: bool, int8: bool, shapes: dict | None = None) -> dict[str, str]:
    """TensorRT EP options: engine and timing caches on disk so later sessions start fast, and
    the optimization profile (`shapes`: input → min/opt/max, from the device profile as
    `edgegen build` uses it) so the EP builds one engine for the whole range instead of a new
    one for every shape it meets."""
    from edgegen.export.shape_profiles import ort_profile_options

    profile = ort_profile_options(shapes) if shapes else {}
    return {
        **profile,
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": cache_dir,
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": cache_dir,
        "trt_fp16_enable": str(fp16),
        "trt_int8_enable": str(int8),
    }
