"""Predicted vs measured peak memory of `edgegen generate` runs (issue 19).

Each case runs `edgegen generate` in a fresh process that reports its own peak RSS (VmHWM) at
exit, beside the memory plan `edgegen plan` makes for the same run before loading anything.
`--fit` re-derives the backend constants of edgegen/assets/memory_model.yaml from the cases
marked `fit` (the fixed cost, resident bytes per byte of weights per precision, resident bytes
per byte of the activation liveness peak) by least squares; the other cases check them.

    .venv/bin/python bench/memory_plan.py --cases tiny cxr-128       # minutes
    .venv/bin/python bench/memory_plan.py --fit                      # every case, ~40 min
    .venv/bin/python bench/memory_plan.py --fit --keep --cases ...   # these again, the rest as measured before

Exports are made first (reused when unchanged) under runs/export-cache. Writes
bench/results/memory_plan.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORT_ROOT = ROOT / "runs" / "export-cache"  # shared with bench/sd15_int8_export.py
RUNNER = """
import atexit, json, os, sys, threading, time
peaks = {'RssAnon': 0, 'RssFile': 0}
def _status():
    out = {}
    for line in open('/proc/self/status'):
        key, _, rest = line.partition(':')
        if key in ('VmHWM', 'RssAnon', 'RssFile'):
            out[key] = int(rest.split()[0]) * 1024
    return out
def _sample():
    while True:
        s = _status()
        for k in peaks:
            peaks[k] = max(peaks[k], s.get(k, 0))
        time.sleep(0.05)
threading.Thread(target=_sample, daemon=True).start()
def _report():
    s = _status()
    open(os.environ['EDGEGEN_HWM_FILE'], 'w').write(json.dumps({
        'vm_hwm': s['VmHWM'], 'rss_anon_peak': peaks['RssAnon'], 'rss_file_peak': peaks['RssFile']}))
atexit.register(_report)
sys.argv = ['edgegen'] + sys.argv[1:]
from edgegen.cli.app import main
main()
"""


@dataclass(frozen=True)
class Case:
    name: str
    model: str  # preset or embedded model
    size: int
    precision: dict  # component → precision
    low_memory: bool = False
    tiled: bool = False
    batch: int = 1
    fit: bool = False  # used to fit the constants (else: a check of them)
    backend: str = "ort-cpu"


def _prec_flag(precision: dict) -> str:
    return ",".join(sorted(set(precision.values())))


CASES = [
    Case("tiny", "tiny", 64, {"unet": "fp32"}, fit=True),
    Case("tiny-low", "tiny", 64, {"unet": "fp32"}, low_memory=True),
    Case("cxr-128", "cxr-128", 128, {"unet": "fp32"}, fit=True),
    Case("cxr-128-int8", "cxr-128", 128, {"unet": "int8"}, fit=True),
    Case("bk-sdm-tiny-256", "bk-sdm-tiny", 256, {"unet": "fp32"}, fit=True),
    Case("bk-sdm-tiny-256-int8", "bk-sdm-tiny", 256, {"unet": "int8"}, fit=True),
    Case("bk-sdm-tiny-512", "bk-sdm-tiny", 512, {"unet": "fp32"}, fit=True),
    # low memory is predicted with the normal-mode constants on the largest stage (checks only:
    # a linear fit of its own did not hold out of sample, see bench/README.md)
    Case("bk-sdm-tiny-256-low", "bk-sdm-tiny", 256, {"unet": "fp32"}, low_memory=True),
    Case("bk-sdm-tiny-256-low-int8", "bk-sdm-tiny", 256, {"unet": "int8"}, low_memory=True),
    Case("bk-sdm-tiny-512-low", "bk-sdm-tiny", 512, {"unet": "fp32"}, low_memory=True),
    Case("sd15-512", "sd15", 512, {"unet": "fp32"}),
    Case("sd15-512-low", "sd15", 512, {"unet": "fp32"}, low_memory=True),
    Case("sd15-512-low-int8", "sd15", 512, {"unet": "int8"}, low_memory=True),
    Case("sd15-512-low-int8-tiled", "sd15", 512, {"unet": "int8"}, low_memory=True, tiled=True),
    # torch holds the whole diffusers pipeline (no low memory); OpenVINO compiles each graph
    Case("torch-tiny", "tiny", 64, {"unet": "fp32"}, fit=True, backend="torch"),
    Case("torch-bk-sdm-tiny-256", "bk-sdm-tiny", 256, {"unet": "fp32"}, fit=True, backend="torch"),
    Case("torch-bk-sdm-tiny-512", "bk-sdm-tiny", 512, {"unet": "fp32"}, fit=True, backend="torch"),
    Case("torch-sd15-512", "sd15", 512, {"unet": "fp32"}, backend="torch"),
    Case("openvino-tiny", "tiny", 64, {"unet": "fp32"}, fit=True, backend="openvino"),
    Case("openvino-bk-sdm-tiny-256", "bk-sdm-tiny", 256, {"unet": "fp32"}, fit=True, backend="openvino"),
    Case("openvino-bk-sdm-tiny-512", "bk-sdm-tiny", 512, {"unet": "fp32"}, fit=True, backend="openvino"),
    Case("openvino-sd15-512-low", "sd15", 512, {"unet": "fp32"}, low_memory=True, backend="openvino"),
]


def _edgegen(*args: str) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "edgegen"), *args], check=True)


def _export(model: str, size: int, int8: bool) -> Path:
    from edgegen.export.artifacts import ArtifactKind, artifact_path
    from edgegen.models.source import resolve_model

    common = ["--profile", "cpu-x86", "--classifier", "none", "--image-size", str(size), "--out", str(EXPORT_ROOT)]
    _edgegen("export", model, *common, "--precision", "fp32", "--components", "text_encoder,unet,vae_decoder")
    if int8:  # a narrower export adds the INT8 UNet to the manifest
        _edgegen("export", model, *common, "--precision", "int8", "--components", "unet")
    return artifact_path(EXPORT_ROOT, resolve_model(model).name, "cpu-x86", ArtifactKind.MANIFEST).parent


def _profile(case: Case, tmp: Path) -> Path:
    """cpu-x86 with this case's per-component precisions and a budget no case reaches (the check
    would otherwise refuse what this script wants to measure)."""
    import yaml

    raw = yaml.safe_load((ROOT / "profiles" / "cpu-x86.yaml").read_text())
    raw["precision"] = {c: case.precision.get(c, "fp32") for c in raw["precision"]}
    raw["memory_budget_gb"] = 1000.0
    path = tmp / "cpu-x86.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _predicted(case: Case, folder: Path) -> dict:
    from edgegen.export.artifacts import load_manifest
    from edgegen.runtime.memory_needs import GenerateShape, generate_needs, plan_generate
    from edgegen.types import Backend, Component, Precision

    manifest = load_manifest(folder / "manifest.json")
    precisions = {c: Precision.FP32 for c in Component} | {
        Component(k): Precision(v) for k, v in case.precision.items()
    }
    shape = GenerateShape(case.batch, case.size, True)
    needs, _ = generate_needs(folder, manifest, precisions, shape, case.low_memory, case.tiled)
    out = {"needs": [asdict(n) for n in needs]}
    try:
        low = case.low_memory and case.backend != "torch"
        plan = plan_generate(folder, manifest, Backend(case.backend), precisions, shape, low, case.tiled, None, "cpu")
        out["peak_bytes"] = plan.peak_bytes
    except FileNotFoundError:  # no constants yet (--fit on a fresh checkout)
        out["peak_bytes"] = None
    return out


def _measure(case: Case, folder: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        args = [
            "generate", "--out", str(Path(tmp) / "img"), "--model", case.model, "--artifacts", str(folder),
            "--backend", case.backend, "--size", str(case.size),
            "--n", str(case.batch), "--batch-size", str(case.batch),
            "--steps", "2", "--class", "normal", "--allow-unknown-conditions", "--json",
            "--low-memory" if case.low_memory else "--no-low-memory",
        ] + (["--tiled-decode"] if case.tiled else [])  # fmt: skip
        args += ["--profile", str(_profile(case, Path(tmp)))]
        env = {**os.environ, "EDGEGEN_HWM_FILE": str(hwm)}
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", RUNNER, *args], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{case.name}: generate failed: {proc.stderr.strip()[-400:]}")
        peaks = json.loads(hwm.read_text())
        return {
            "peak_bytes": peaks["vm_hwm"],
            # sampled every 50 ms: anonymous memory vs file-backed pages (memory-mapped weights)
            "rss_anon_peak_bytes": peaks["rss_anon_peak"],
            "rss_file_peak_bytes": peaks["rss_file_peak"],
            "seconds": round(time.perf_counter() - t, 1),
        }


def _fit(rows: list[dict], backend: str) -> dict:
    """Least squares for base + kw[fp32]·W_fp32 + kw[int8]·W_int8 + ka·A over one backend's
    normal-mode fit cases (every component resident: the sums), non-negative."""
    import numpy as np
    from scipy.optimize import nnls

    X, y = [], []
    for r in rows:
        if not r["fit"] or r["low_memory"] or r["backend"] != backend:
            continue
        needs = r["predicted"]["needs"]
        w32 = sum(n["weights_bytes"] for n in needs if n["precision"] == "fp32")
        w8 = sum(n["weights_bytes"] for n in needs if n["precision"] == "int8")
        act = sum(n["activation_bytes"] for n in needs)
        X.append([1.0, w32 / 1e9, w8 / 1e9, act / 1e9])
        y.append(r["measured"]["peak_bytes"] / 1e9)
    coef, _ = nnls(np.array(X), np.array(y))
    return {
        "base_mb": round(float(coef[0]) * 1e9 / 2**20, 1),  # plain floats: yaml.safe_dump refuses numpy's
        "weight_factor": {"fp32": round(float(coef[1]), 3), "int8": round(float(coef[2]), 3)},
        "activation_factor": round(float(coef[3]), 3),
        "fit_cases": len(y),
    }


def _low_memory_linear_fit(rows: list[dict], backend: str = "ort-cpu") -> dict:
    """Could low memory have constants of its own? A fit of base + kw[fp32]·W + kw[int8]·W + ka·A
    on the largest stage of each low-memory run (the stage re-chosen until stable), judged by
    leaving each run out: the evidence behind keeping the normal-mode constants (bench/README.md)."""
    import numpy as np
    from scipy.optimize import nnls

    cases = [r for r in rows if r["low_memory"] and r["backend"] == backend]

    def stage(r: dict, p: np.ndarray) -> list[float]:
        options = []
        for n in r["predicted"]["needs"]:
            w, is8 = n["weights_bytes"] / 1e9, n["precision"] == "int8"
            options.append([1.0, 0.0 if is8 else w, w if is8 else 0.0, n["activation_bytes"] / 1e9])
        return max(options, key=lambda x: float(np.dot(x, p)))

    def fit(sample: list[dict]) -> np.ndarray:
        p = np.array([1.0, 1.0, 0.5, 1.0])
        for _ in range(20):
            q, _ = nnls(
                np.array([stage(r, p) for r in sample]), np.array([r["measured"]["peak_bytes"] / 1e9 for r in sample])
            )
            if np.allclose(q, p):
                break
            p = q
        return p

    def ratio(r: dict, p: np.ndarray) -> float:
        return round(float(np.dot(stage(r, p), p)) / (r["measured"]["peak_bytes"] / 1e9), 3)

    if len(cases) < 5:
        return {}
    every = fit(cases)
    return {
        "backend": backend,
        "constants_all_runs": dict(
            zip(("base_gb", "fp32", "int8", "activation"), np.round(every, 3).tolist(), strict=True)
        ),
        "predicted_over_measured_in_sample": {r["name"]: ratio(r, every) for r in cases},
        "predicted_over_measured_left_out": {r["name"]: ratio(r, fit([o for o in cases if o is not r])) for r in cases},
    }


def _entry(fit: dict) -> dict:
    """A fit as its entry of memory_model.yaml (every precision given a weight factor)."""
    w = fit["weight_factor"]
    return {
        "base_mb": fit["base_mb"],
        "weight_factor": {"fp32": w["fp32"], "fp16": w["fp32"], "int8": w["int8"] or w["fp32"]},
        "activation_factor": fit["activation_factor"],
    }


def _repredict(rows: list[dict], fits: dict) -> None:
    """Every case predicted again with the fitted constants: the check of the fit on the cases it
    did not see (and its residual on those it did)."""
    from edgegen.runtime.memory_needs import constants_from_entry
    from edgegen.runtime.memory_plan import ComponentNeed, plan_memory

    for r in rows:
        fit = fits.get(r["backend"])
        if fit is None:
            continue
        constants = constants_from_entry(r["backend"], _entry(fit))
        needs = [ComponentNeed(**n) for n in r["predicted"]["needs"]]
        low = r["low_memory"] and r["backend"] != "torch"
        peak = plan_memory(needs, constants, low).peak_bytes
        r["predicted_with_fit_bytes"] = peak
        r["predicted_over_measured"] = round(peak / r["measured"]["peak_bytes"], 3)
        print(
            f"{r['name']:28s} {'fit' if r['fit'] else 'check':5s} predicted/measured {r['predicted_over_measured']:.2f}"
        )


def _write_model(fits: dict, rows: list[dict]) -> None:
    """The fitted constants into the package's memory model, each with where it comes from."""
    import platform

    import yaml

    path = ROOT / "edgegen" / "assets" / "memory_model.yaml"
    header = "".join(line for line in path.read_text().splitlines(keepends=True) if line.startswith("#"))
    model = yaml.safe_load(path.read_text())
    cpu = platform.processor() or os.uname().machine
    for backend, fit in fits.items():
        checks = [r for r in rows if r["backend"] == backend and r.get("predicted_over_measured")]
        today = time.strftime("%Y-%m-%d")
        measured = ", ".join(sorted({r.get("measured_on", today) for r in checks if r["fit"]}))
        ratios = ", ".join(f"{r['name']} {r['predicted_over_measured']:.2f}" for r in checks if not r["fit"])
        model["backends"][backend] = {
            **_entry(fit),
            # the worst measured peak over its plan among the low-memory runs (the budget check's margin)
            "low_memory_margin": max(
                [1.0] + [math.ceil(1000 / r["predicted_over_measured"]) / 1000 for r in checks if r["low_memory"]]
            ),
            "device": "host",
            "source": (
                f"bench/memory_plan.py --fit, {time.strftime('%Y-%m-%d')}, {cpu}: {fit['fit_cases']} fit cases "
                f"(measured {measured}); "
                f"predicted/measured on the others: {ratios or 'none run'}"
            ),
        }
        model["fallback"].pop(backend, None)
    path.write_text(header + yaml.safe_dump(model, sort_keys=False, width=200, allow_unicode=True))
    print(f"wrote {path}")


def _previous(path: Path, names: set[str]) -> list[dict]:
    """The cases of an earlier results file that this run does not measure again (kept for the
    fit, each marked with the date it was measured)."""
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    cases = {c.name: c for c in CASES}
    rows = []
    for r in old["cases"]:
        if r["name"] in names or r["name"] not in cases:
            continue
        row = {**r, **asdict(cases[r["name"]]), "measured_on": r.get("measured_on", old["date"])}
        if note := r.get("measured_note") or old.get("note"):
            row["measured_note"] = note
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", help="case names (default: all)")
    ap.add_argument("--fit", action="store_true", help="fit each CPU backend's constants from its fit cases")
    ap.add_argument("--write", action="store_true", help="with --fit: write them to edgegen/assets/memory_model.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "memory_plan.json")
    ap.add_argument("--keep", action="store_true", help="keep --out's measurements of the cases not run (for the fit)")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.cases or c.name in args.cases]
    rows = []
    for case in cases:
        int8 = any(p == "int8" for p in case.precision.values())
        folder = _export(case.model, case.size, int8)
        pred = _predicted(case, folder)
        meas = _measure(case, folder)
        row = {**asdict(case), "predicted": pred, "measured": meas}
        if pred["peak_bytes"]:
            row["predicted_over_measured"] = round(pred["peak_bytes"] / meas["peak_bytes"], 3)
        rows.append(row)
        ratio = row.get("predicted_over_measured")
        print(
            f"{case.name:28s} measured {meas['peak_bytes'] / 1e9:6.2f} GB  predicted "
            + (f"{pred['peak_bytes'] / 1e9:6.2f} GB  ratio {ratio:.2f}" if ratio else "   (no constants)"),
            flush=True,
        )
    if args.keep:
        rows = _previous(args.out, {c.name for c in cases}) + rows
        order = [c.name for c in CASES]
        rows.sort(key=lambda r: order.index(r["name"]))
    result = {"cases": rows, "machine": os.uname().nodename, "date": time.strftime("%Y-%m-%d")}
    if args.fit:
        result["fit"] = {b: _fit(rows, b) for b in sorted({r["backend"] for r in rows if r["fit"]})}
        print("fit:", json.dumps(result["fit"]))
        _repredict(rows, result["fit"])
        if loo := _low_memory_linear_fit(rows):
            result["low_memory_linear_fit"] = loo
            print("low memory, a linear fit of its own, left-out runs:", loo["predicted_over_measured_left_out"])
        if args.write:
            _write_model(result["fit"], rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
