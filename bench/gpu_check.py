"""`make gpu-check`: on an NVIDIA machine, run every `gpu`-marked test and a short bench of the
GPU legs, and write both to bench/results/<gpu-name>/ for committing.

    .venv/bin/python bench/gpu_check.py                # after `make gpu`
    .venv/bin/python bench/gpu_check.py --rounds 5 --legs 'sd/trt/*'

Writes gpu-tests.xml (JUnit) and gpu-tests.log, bench/ (results.json, report.md/html) and
gpu-check.json (GPU, versions, exit codes, durations). Exits non-zero when the tests or the bench
fail, and with 8 (edgegen's "backend unavailable") on a machine without a CUDA GPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU_LEGS = (
    "sd/torch/fp32,sd/ort-cuda/fp16,sd/ort-trt/fp16,sd/trt/fp16,sd/trt/int8,classifier/trt/int8,"
    "gan/torch/fp32,gan/ort-cuda/fp16,gan/trt/fp16"
)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--legs", default=GPU_LEGS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="default")
    ap.add_argument("--profile", default=None, help="device profile (default: the one `edgegen doctor` suggests)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("gpu-check: error: no CUDA GPU visible (run it on an NVIDIA machine after `make gpu`)", file=sys.stderr)
        return 8
    name = torch.cuda.get_device_name(0)
    out = args.out / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "gpu": name,
        "compute_capability": "{}.{}".format(*torch.cuda.get_device_capability(0)),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {d: _version(d) for d in ("edgegen", "torch", "onnxruntime-gpu", "onnxruntime", "tensorrt")},
    }
    t = time.perf_counter()
    with open(out / "gpu-tests.log", "w") as log:
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "gpu", "-v", "-rA", f"--junitxml={out / 'gpu-tests.xml'}"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    summary["tests"] = {"exit_code": tests.returncode, "seconds": round(time.perf_counter() - t, 1)}
    print(f"gpu tests: exit {tests.returncode} ({out / 'gpu-tests.log'})")
    bench_cmd = [
        str(Path(sys.executable).parent / "edgegen"),
        "bench",
        "--model",
        args.model,
        "--gan-model",
        "gan",
        "--legs",
        args.legs,
        "--rounds",
        str(args.rounds),
        "--batch-sizes",
        "1,2",
        "--no-quality",
        "--out",
        str(out / "bench"),
    ]
    if args.profile:
        bench_cmd += ["--profile", args.profile]
    t = time.perf_counter()
    bench = subprocess.run(bench_cmd, cwd=ROOT)
    summary["bench"] = {"exit_code": bench.returncode, "seconds": round(time.perf_counter() - t, 1), "legs": args.legs}
    (out / "gpu-check.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"gpu-check: tests exit {tests.returncode}, bench exit {bench.returncode}; wrote {out}")
    return tests.returncode or bench.returncode


if __name__ == "__main__":
    sys.exit(main())
