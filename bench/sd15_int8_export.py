"""INT8 export of a SD 1.5-size UNet (859.5M parameters, random weights, 512 px) within 16 GiB
(issue 19): peak RSS and wall time of each step in its own process, and the INT8 UNet's drift
from torch FP32 on held-out real inputs (the export's own validation, recorded in the manifest).

Steps (each `edgegen export` in a fresh process that reports its VmHWM at exit):
  1. FP32 graphs of the text encoder, UNet and VAE decoder (the INT8 step's source and reference);
  2. ORT INT8 of the UNet (QDQ, streaming calibration, weights kept in their external-data file,
     the torch UNet freed once the checks' references are computed);
  3. the NNCF OpenVINO INT8 IR of the UNet (`--openvino`), reusing step 2's artifacts.

    .venv/bin/python bench/sd15_int8_export.py [--samples 16] [--skip-nncf]

Every step is measured from scratch: the export folder is emptied first, and a step that reused
an artifact instead of making it stops the script. Writes bench/results/sd15_int8_export.json.
The model is the `sd15` preset: random weights, so the drift says how the quantizer treats
SD 1.5's shapes, not what a trained model would look like.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from memory_plan import RUNNER  # noqa: E402  (the VmHWM-reporting `edgegen` wrapper)

GIB = 2**30


def _run(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        env = {**os.environ, "EDGEGEN_HWM_FILE": str(hwm)}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", RUNNER, *args], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"edgegen {' '.join(args[:3])} failed: {proc.stderr.strip()[-600:]}")
        peaks = json.loads(hwm.read_text())
        made = re.search(r"(\d+) exported, (\d+) reused", proc.stdout)
        if made is None or made.group(1) == "0":
            raise SystemExit(f"edgegen {' '.join(args[:3])} exported nothing: {proc.stdout.strip()[-300:]}")
        return {
            "exported": int(made.group(1)),
            "peak_rss_gib": round(peaks["vm_hwm"] / GIB, 2),
            "rss_anon_peak_gib": round(peaks["rss_anon_peak"] / GIB, 2),
            "seconds": round(seconds, 1),
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=16, help="calibration samples")
    ap.add_argument("--skip-nncf", action="store_true")
    ap.add_argument("--out-root", type=Path, default=ROOT / "runs" / "sd15-int8-export")  # emptied first
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sd15_int8_export.json")
    args = ap.parse_args()
    shutil.rmtree(args.out_root / "sd15" / "cpu-x86", ignore_errors=True)
    common = ["sd15", "--profile", "cpu-x86", "--classifier", "none", "--image-size", "512"]
    common += ["--out", str(args.out_root), "--calibration-samples", str(args.samples)]
    steps = {}
    steps["fp32"] = _run(["export", *common, "--precision", "fp32", "--components", "text_encoder,unet,vae_decoder"])
    print("fp32:", steps["fp32"], flush=True)
    steps["ort_int8_unet"] = _run(["export", *common, "--precision", "int8", "--components", "unet"])
    print("ORT INT8 UNet:", steps["ort_int8_unet"], flush=True)
    if not args.skip_nncf:
        steps["nncf_int8_unet"] = _run(["export", *common, "--precision", "int8", "--components", "unet", "--openvino"])
        print("NNCF INT8 UNet:", steps["nncf_int8_unet"], flush=True)
    manifest = json.loads((args.out_root / "sd15" / "cpu-x86" / "manifest.json").read_text())
    unet = {a["precision"]: a for a in manifest["components"] if a["component"] == "unet"}
    int8 = unet["int8"]
    result = {
        "model": "sd15 preset (UNet 859,520,964 parameters, random weights), 512 px, batch 1-2 (CFG)",
        "machine": os.uname().nodename,
        "date": time.strftime("%Y-%m-%d"),
        "budget_gib": 16,
        "steps": steps,
        "within_budget": all(s["peak_rss_gib"] <= 16 for s in steps.values()),
        "unet_bytes": {p: a["bytes"] for p, a in unet.items()},
        "int8_checks_on_held_out_real_inputs": int8["checks"],
        "int8": {k: v for k, v in (int8.get("int8") or {}).items() if k != "tensorrt_conformance"},
    }
    if not args.skip_nncf:
        ir = (int8.get("int8") or {}).get("openvino")
        if not ir:
            raise SystemExit("the NNCF step left no OpenVINO IR in the manifest")
        result["nncf_int8_checks_on_held_out_real_inputs"] = ir["checks"]
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("steps", "within_budget")}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
