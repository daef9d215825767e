"""Machine detection: pure parsers on recorded fixtures, profile suggestion, and the real command."""

from __future__ import annotations

import json

import pytest

from edgegen.doctor import suggest_profile
from edgegen.profiles import load_all_profiles
from edgegen.system.cpu import CpuInfo, detect_cpu, parse_cpuinfo
from edgegen.system.jetson import detect_jetson, parse_tegra_release
from edgegen.system.nvml import detect_gpus, gpu_from_raw
from edgegen.system.runtimes import RuntimeStatus, usable_backends
from edgegen.types import Backend

from .conftest import FIXTURES

CPU = CpuInfo("Intel Xeon", "x86_64", 2, 2, 24.0, ("avx2",))


def _gpus(fixture: str):
    return tuple(gpu_from_raw(r) for r in json.loads((FIXTURES / fixture).read_text()))


def test_parse_cpuinfo_x86_and_arm():
    model, flags = parse_cpuinfo((FIXTURES / "cpuinfo_xeon.txt").read_text())
    assert model.startswith("Intel(R) Xeon(R) Platinum 8375C")
    assert flags == ("avx2", "avx512f", "avx512_vnni")
    model, flags = parse_cpuinfo((FIXTURES / "cpuinfo_orin.txt").read_text())
    assert model == "" and flags == ("asimd",)


def test_detect_cpu_on_this_machine():
    cpu = detect_cpu()
    assert cpu.logical_cores >= 1 and cpu.memory_gb > 0 and cpu.arch


def test_nvml_readings_convert():
    (gpu,) = _gpus("nvml_rtx4090.json")
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.memory_gb == 24.0 and gpu.compute_capability == "8.9" and gpu.power_limit_w == 450.0
    assert (
        gpu_from_raw({"index": 1, "name": b"Orin", "memory_total": 2**33, "cc": (8, 7), "driver": b"540.4.0"}).name
        == "Orin"
    )


def test_jetson_release_and_model_files(tmp_path):
    assert parse_tegra_release((FIXTURES / "nv_tegra_release_r36").read_text()) == "36.4.0"
    assert parse_tegra_release("garbage") is None
    info = detect_jetson(FIXTURES / "nv_tegra_release_r36", FIXTURES / "device_tree_model_agx_orin")
    assert info.model == "NVIDIA Jetson AGX Orin Developer Kit" and info.l4t == "36.4.0"
    assert detect_jetson(tmp_path / "absent", tmp_path / "absent2") is None


@pytest.mark.parametrize(
    ("gpus", "jetson_model", "expected"),
    [
        ("nvml_rtx4090.json", None, "desktop-rtx4090-24gb"),
        ("nvml_laptop_4060.json", None, "laptop-rtx4060-8gb"),
        (None, "NVIDIA Jetson AGX Orin Developer Kit", "jetson-agx-orin-64gb"),
        (None, "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "jetson-orin-nano-8gb"),
        (None, "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "jetson-orin-nx-16gb"),
        (None, None, "cpu-intel"),  # CPU is an Intel Xeon
    ],
)
def test_suggested_profile(gpus, jetson_model, expected):
    from edgegen.system.jetson import JetsonInfo

    jetson = JetsonInfo(jetson_model, "36.4.0") if jetson_model else None
    name, reason = suggest_profile(load_all_profiles(), CPU, _gpus(gpus) if gpus else (), jetson)
    assert name == expected and reason


def test_non_intel_cpu_gets_the_generic_cpu_profile():
    amd = CpuInfo("AMD EPYC", "x86_64", 2, 2, 24.0, ("avx2",))
    assert suggest_profile(load_all_profiles(), amd, (), None)[0] == "cpu-x86"


def test_unknown_gpu_falls_back_to_the_smallest_cuda_profile():
    raw = {"index": 0, "name": "NVIDIA RTX A2000", "memory_total": 6 * 2**30, "cc": (8, 6), "driver": "550"}
    name, reason = suggest_profile(load_all_profiles(), CPU, (gpu_from_raw(raw),), None)
    assert name == "laptop-rtx4060-8gb" and "no exact profile" in reason


def test_usable_backends_explains_why_not():
    runtimes = {
        "torch": RuntimeStatus("torch", True, "2.14.1", "CPU only"),
        "onnxruntime": RuntimeStatus("onnxruntime", True, "1.31.1", "AzureExecutionProvider, CPUExecutionProvider"),
        "tensorrt": RuntimeStatus("tensorrt", False, None, "tensorrt not installed"),
        "openvino": RuntimeStatus("openvino", False, None, "openvino not installed"),
        "openai": RuntimeStatus("openai", True, "3.54.0", ""),
    }
    backends = usable_backends(runtimes, has_gpu=False)
    assert backends[Backend.TORCH] is None and backends[Backend.ORT_CPU] is None
    assert "CUDAExecutionProvider not in this onnxruntime build" in backends[Backend.ORT_CUDA]
    assert backends[Backend.TENSORRT] == "tensorrt not installed"
    gpu_runtimes = {
        **runtimes,
        "onnxruntime": RuntimeStatus("onnxruntime", True, "1.31.1", "CUDAExecutionProvider, CPUExecutionProvider"),
    }
    assert usable_backends(gpu_runtimes, has_gpu=False)[Backend.ORT_CUDA] == "no NVIDIA GPU visible"
    assert usable_backends(gpu_runtimes, has_gpu=True)[Backend.ORT_CUDA] is None


def test_doctor_command_json(run_cli):
    code, out, _ = run_cli("doctor", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["cpu"]["logical_cores"] >= 1
    assert report["runtimes"]["torch"]["usable"] is True
    assert report["runtimes"]["onnxruntime"]["usable"] is True
    assert report["backends"]["ort-cpu"] is None
    if not report["gpus"] and report["jetson"] is None:
        assert report["suggested_profile"] == ("cpu-intel" if "Intel" in report["cpu"]["model"] else "cpu-x86")
        assert report["backends"]["trt"] is not None


def test_doctor_command_table(run_cli):
    code, out, _ = run_cli("doctor")
    assert code == 0 and "Suggested profile" in out and "Backends" in out


@pytest.mark.gpu
def test_nvml_sees_the_gpu_torch_sees():
    import torch

    gpus = detect_gpus()
    assert len(gpus) == torch.cuda.device_count()
    assert gpus[0].memory_gb > 1 and gpus[0].compute_capability.count(".") == 1
