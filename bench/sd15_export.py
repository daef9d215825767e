"""Export an SD 1.5-shaped UNet (preset `sd15`, random weights, 859.5M params) to ONNX on this
machine: wall time, peak RAM, external-data layout and FP32 validation, written to
bench/results/sd15_unet_export.json.

    .venv/bin/python bench/sd15_export.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    from edgegen.benchmark.memory import PeakRssSampler
    from edgegen.export.export_model import ExportRequest, export_model
    from edgegen.types import Component, Precision

    root = Path(tempfile.mkdtemp(prefix="edgegen-sd15-"))
    try:
        t = time.perf_counter()
        with PeakRssSampler(interval_s=0.1) as rss:
            result = export_model(
                ExportRequest(
                    model="sd15",
                    profile="cpu-x86",
                    out_root=root,
                    precisions=(Precision.FP32,),
                    components=(Component.UNET,),
                    classifier=None,
                    image_size=512,
                )
            )
        seconds = time.perf_counter() - t
        art = result.manifest.find(Component.UNET, Precision.FP32)
        files = sorted(p.name for p in result.folder.iterdir() if p.name.startswith("unet."))
        out = {
            "model": "sd15 (random weights)",
            "component": "unet",
            "export_and_validate_s": round(seconds, 1),
            "export_only_s": art.seconds,
            "peak_rss_gb": round(rss.peak_mb / 1024, 2),
            "onnx_files": files,
            "external_data": art.external_data,
            "bytes": art.bytes,
            "checks": [c.__dict__ for c in art.checks],
        }
        path = Path(__file__).parent / "results" / "sd15_unet_export.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, default=str) + "\n")
        print(json.dumps(out, indent=2, default=str))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
