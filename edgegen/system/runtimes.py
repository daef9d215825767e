"""Which inference runtimes this machine can actually run, and why not when it cannot.

Every probe imports its runtime lazily and turns any failure into a reason string, so the probe
itself works on a machine that has none of them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass

from edgegen.types import Backend


@dataclass(frozen=True)
class RuntimeStatus:
    name: str
    usable: bool
    version: str | None
    detail: str  # devices/providers when usable, the reason when not


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def probe_torch() -> RuntimeStatus:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means "not usable"
        return RuntimeStatus("torch", False, None, f"cannot import torch: {exc}")
    if torch.cuda.is_available():
        detail = f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}"
    else:
        detail = f"CPU only ({torch.get_num_threads()} threads)"
    return RuntimeStatus("torch", True, torch.__version__, detail)


def ort_providers() -> list[str]:
    try:
        import onnxruntime
    except Exception:  # noqa: BLE001
        return []
    return list(onnxruntime.get_available_providers())


def probe_onnxruntime() -> RuntimeStatus:
    version = _version("onnxruntime") or _version("onnxruntime-gpu")
    providers = ort_providers()
    if not providers:
        return RuntimeStatus("onnxruntime", False, version, "onnxruntime is not installed")
    return RuntimeStatus("onnxruntime", True, version, ", ".join(providers))


def probe_tensorrt(has_gpu: bool) -> RuntimeStatus:
    if importlib.util.find_spec("tensorrt") is None:
        return RuntimeStatus(
            "tensorrt", False, None, "tensorrt not installed (pip install 'edgegen[gpu]' on an NVIDIA machine)"
        )
    try:
        trt = importlib.import_module("tensorrt")
    except Exception as exc:  # noqa: BLE001
        return RuntimeStatus("tensorrt", False, None, f"cannot import tensorrt: {exc}")
    if not has_gpu:
        return RuntimeStatus("tensorrt", False, trt.__version__, "no NVIDIA GPU visible")
    return RuntimeStatus("tensorrt", True, trt.__version__, "engines can be built and run")


def probe_openvino() -> RuntimeStatus:
    if importlib.util.find_spec("openvino") is None:
        return RuntimeStatus("openvino", False, None, "openvino not installed (pip install 'edgegen[openvino]')")
    try:
        ov = importlib.import_module("openvino")
        devices = ov.Core().available_devices
    except Exception as exc:  # noqa: BLE001
        return RuntimeStatus("openvino", False, None, f"cannot start openvino: {exc}")
    return RuntimeStatus("openvino", True, ov.__version__, ", ".join(devices))


def probe_openai() -> RuntimeStatus:
    version = _version("openai")
    if version is None:
        return RuntimeStatus("openai", False, None, "openai client not installed (pip install 'edgegen[cloud]')")
    return RuntimeStatus("openai", True, version, "cloud leg available with OPENAI_API_KEY")


def usable_backends(runtimes: dict[str, RuntimeStatus], has_gpu: bool) -> dict[Backend, str | None]:
    """Backend → None when usable, else the reason it is not. Pure: works on probe results."""
    providers = runtimes["onnxruntime"].detail if runtimes["onnxruntime"].usable else ""
    no_gpu = "no NVIDIA GPU visible"

    def ort(provider: str, needs_gpu: bool) -> str | None:
        if not runtimes["onnxruntime"].usable:
            return runtimes["onnxruntime"].detail
        if provider not in providers:
            return f"{provider} not in this onnxruntime build (install onnxruntime-gpu: make gpu)"
        return no_gpu if needs_gpu and not has_gpu else None

    return {
        Backend.TORCH: None if runtimes["torch"].usable else runtimes["torch"].detail,
        Backend.ORT_CPU: ort("CPUExecutionProvider", False),
        Backend.ORT_CUDA: ort("CUDAExecutionProvider", True),
        Backend.ORT_TENSORRT: ort("TensorrtExecutionProvider", True),
        Backend.TENSORRT: None if runtimes["tensorrt"].usable else runtimes["tensorrt"].detail,
        Backend.OPENVINO: None if runtimes["openvino"].usable else runtimes["openvino"].detail,
    }


def probe_all(has_gpu: bool) -> dict[str, RuntimeStatus]:
    return {
        "torch": probe_torch(),
        "onnxruntime": probe_onnxruntime(),
        "tensorrt": probe_tensorrt(has_gpu),
        "openvino": probe_openvino(),
        "openai": probe_openai(),
    }
