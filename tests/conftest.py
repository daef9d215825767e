"""Shared test set-up: offline hub, the `gpu` marker's skip rule, and a CLI runner."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def _has_nvidia_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        return False


def pytest_collection_modifyitems(config, items):
    if _has_nvidia_gpu():
        return
    skip = pytest.mark.skip(reason="no NVIDIA GPU on this machine")
    for item in items:
        # The marker itself: `"gpu" in item.keywords` also matches any folder named gpu on the path.
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture
def run_cli(capsys):
    """Run `edgegen ARGS` in-process through the real entry point; return (exit code, stdout, stderr)."""
    import sys

    from edgegen.cli.app import main

    def _run(*args: str) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["edgegen", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture(scope="session")
def tiny_pipeline():
    from edgegen.models.presets import build_preset_pipeline

    return build_preset_pipeline("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """The tiny preset (+ the embedded classifier) exported in FP32/FP16/INT8: (request, result)."""
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.types import Precision

    root = tmp_path_factory.mktemp("export")
    request = ExportRequest(
        model="tiny",
        profile="cpu-x86",
        out_root=root,
        precisions=(Precision.FP16, Precision.INT8),
        calibration_samples=4,
    )
    return request, export_model(request)
