"""OpenVINO INT8 through NNCF post-training quantization, calibrated on the same real samples
as the ONNX INT8 path. Transformer-style components (text encoder, UNet with attention) use
NNCF's TRANSFORMER model type (SmoothQuant-style handling that keeps the drift down); others the
default. The IR (.xml + .bin) is written atomically beside the ONNX files."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from edgegen.export.onnx_io import place, scratch_name
from edgegen.runtime.backends.openvino_backend import require_openvino
from edgegen.types import Component

TRANSFORMER_COMPONENTS = (Component.TEXT_ENCODER, Component.UNET)


def nncf_quantize(
    onnx_fp32: Path, dst_xml: Path, component: Component, samples: Iterable[dict[str, np.ndarray]]
) -> dict[str, Any]:
    # The inputs themselves are small (a UNet sample is <1 MB even at 512 px; producing them is
    # what costs memory, and that streams): NNCF iterates them several times, so keep a list.
    samples = list(samples)
    ov = require_openvino()
    try:
        import nncf
    except ImportError:
        from edgegen.errors import BackendUnavailableError

        raise BackendUnavailableError("nncf not installed", hint="run `make openvino`") from None
    model = ov.Core().read_model(str(onnx_fp32))
    transformer = component in TRANSFORMER_COMPONENTS
    kwargs = {"subset_size": len(samples)}
    if transformer:
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    quantized = nncf.quantize(model, nncf.Dataset(samples), **kwargs)
    with tempfile.TemporaryDirectory(dir=dst_xml.parent, prefix=scratch_name("nncf-")) as tmp:
        xml = Path(tmp) / dst_xml.name
        ov.save_model(quantized, str(xml), compress_to_fp16=False)
        place({xml.with_suffix(".bin"): dst_xml.with_suffix(".bin"), xml: dst_xml})
    shutil.rmtree(Path(tmp), ignore_errors=True)
    return {
        "tool": "nncf",
        "model_type": "TRANSFORMER" if transformer else "default",
        "calibration_samples": len(samples),
        "file": dst_xml.name,
    }
