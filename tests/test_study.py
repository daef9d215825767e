"""`edgegen study`: spec validation with one-line errors before any training, resumable units
(kill -9 and re-run), paired statistics with known answers, and the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from edgegen.errors import DataError, UsageError
from edgegen.study.arms import Unit, plan_units
from edgegen.study.spec import default_spec, load_spec, parse_spec
from edgegen.study.statistics import auroc, class_metrics, delong, paired_deltas, setting_estimate


def _source(folder, images, labels, precision, model="m"):
    """A synthetic folder as `generate` writes it: class sub-folders + manifest.jsonl."""
    names = ("normal", "pneumonia")
    lines = []
    for i, (im, y) in enumerate(zip(images, labels, strict=True)):
        rel = f"{names[y]}/{names[y]}_{i:05d}.png"
        (folder / names[y]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(folder / rel)
        lines.append(
            json.dumps(
                {
                    "file": rel,
                    "class": names[y],
                    "model": model,
                    "backend": "ort-cpu",
                    "precisions": {"unet": precision},
                    "seconds": 0.2,
                    "synthetic": True,
                }
            )
        )
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from edgegen.data.load import load_dataset

    root = tmp_path_factory.mktemp("sources")
    val = load_dataset("kermany-128", "train", 32)  # real images stand in for synthetic ones: fast, labelled
    rng = np.random.default_rng(0)
    noisy = lambda a: np.clip(a.astype(int) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)  # noqa: E731
    return {
        "fp32": _source(root / "fp32", val.images, val.labels, "fp32"),
        "int8": _source(root / "int8", noisy(val.images), val.labels, "int8"),
    }


def _spec(folders, **kw) -> dict:
    base = {
        "name": "tiny",
        "real": {"data": "kermany-128"},
        "classifier": {"arch": "cxr_cnn_small", "size": 32, "epochs": 2, "batch_size": 64, "patience": 2},
        "seeds": 2,
        "bootstrap": 40,
        "quality": False,
        "sources": {"fp32": {"folder": str(folders["fp32"])}, "int8": {"folder": str(folders["int8"])}},
        "arms": [
            {"kind": "real-only"},
            {"kind": "synthetic-only", "sources": ["fp32", "int8"]},
            {"kind": "hybrid", "sources": ["fp32", "int8"], "ratios": [0.25]},
        ],
    }
    return {**base, **kw}


def test_spec_errors_are_one_line_and_name_the_key(tmp_path, sources):
    with pytest.raises(UsageError, match="arms: unknown source\\(s\\) gan"):
        parse_spec(_spec(sources, arms=[{"kind": "synthetic-only", "sources": ["gan"]}]))
    with pytest.raises(UsageError, match="arms\\[0\\].sources: a hybrid arm needs sources"):
        parse_spec(_spec(sources, arms=[{"kind": "hybrid"}]))
    with pytest.raises(UsageError, match="arms\\[0\\].kind: 'mixed' is not an arm kind"):
        parse_spec(_spec(sources, arms=[{"kind": "mixed"}]))
    with pytest.raises(UsageError, match="arms: no arms"):
        parse_spec(_spec(sources, arms=[]))
    path = tmp_path / "s.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_spec(path)


def test_bad_sources_fail_before_any_training(tmp_path, sources):
    from edgegen.study.runner import prepare

    empty = tmp_path / "no-manifest"
    (empty / "normal").mkdir(parents=True)
    spec = parse_spec(
        _spec(sources, sources={"fp32": {"folder": str(empty)}}, arms=[{"kind": "synthetic-only", "sources": ["fp32"]}])
    )
    with pytest.raises(DataError, match="has no manifest.jsonl"):
        prepare(spec, tmp_path / "study")
    other = _source(tmp_path / "tb", np.zeros((2, 32, 32), np.uint8), [0, 1], "fp32")
    rec = [json.loads(x) for x in (other / "manifest.jsonl").read_text().splitlines()]
    rec[0]["class"] = "tuberculosis"
    (other / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rec) + "\n")
    spec = parse_spec(
        _spec(sources, sources={"fp32": {"folder": str(other)}}, arms=[{"kind": "synthetic-only", "sources": ["fp32"]}])
    )
    with pytest.raises(DataError, match="classes \\['tuberculosis'\\] are not classes of the real data"):
        prepare(spec, tmp_path / "study2")
    few = _source(tmp_path / "few", np.zeros((4, 32, 32), np.uint8), [0, 1, 0, 1], "fp32")
    spec = parse_spec(
        _spec(
            sources,
            sources={"fp32": {"folder": str(few)}},
            arms=[{"kind": "hybrid", "sources": ["fp32"], "ratios": [0.5]}],
        )
    )
    with pytest.raises(
        DataError, match="source fp32 has 2 'normal' image\\(s\\) but arm 'fp32 1:0.5 \\(100% real\\)' needs 274"
    ):
        prepare(spec, tmp_path / "study3")
    assert not any((tmp_path / n).exists() for n in ("study", "study2", "study3"))


def test_units_pair_every_arm_with_its_baseline():
    spec = default_spec()
    units = plan_units(spec)
    assert len(units) == 3 * (1 + 3 + 3)
    ids = {u.id for u in units}
    assert all(u.baseline + f"__s{u.seed}" in ids for u in units)
    scarce = parse_spec(
        {
            "name": "s",
            "sources": {"a": {"folder": "x"}},
            "arms": [{"kind": "scarce", "sources": ["a"], "real_fractions": [0.1], "ratios": [0.0, 1.0]}],
            "seeds": 1,
        }
    )
    assert {u.id for u in plan_units(scarce)} == {"real-only__real__f0.1__r0__s0", "scarce__a__f0.1__r1__s0"}
    assert Unit("hybrid", "a", 1.0, 0.5, 0).label() == "a 1:0.5 (100% real)"


@pytest.mark.slow
def test_study_runs_resumes_after_kill_and_reports(tmp_path, sources):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(_spec(sources)))
    out = tmp_path / "run"
    env = {**os.environ, "EDGEGEN_DEBUG": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgegen.cli.app", "study", str(path), "--out", str(out), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 600
    while time.time() < deadline and len(list((out / "units").glob("*.json"))) < 2:
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")}
    assert len(first) >= 2 and not list((out / "units").glob(".*tmp"))
    done = subprocess.run(
        [sys.executable, "-m", "edgegen.cli.app", "study", str(path), "--out", str(out), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    units = list((out / "units").glob("*.json"))
    assert len(units) == 2 * (1 + 2 + 2)
    assert all((out / "units" / n).stat().st_mtime_ns == t for n, t in first.items())  # nothing recomputed
    result = json.loads((out / "results.json").read_text())
    assert result["spec"]["name"] == "tiny" and len(result["units"]) == 10
    settings = {s["setting"]: s for s in result["result"]["settings"]}
    hyb = settings["hybrid__int8__f1__r0.25"]
    assert hyb["train"]["synthetic"] == round(0.25 * hyb["train"]["real"]) and "accuracy" in hyb["vs_real_only"]
    contrast = result["result"]["contrasts"]
    assert {c["what"] for c in contrast} == {"int8 vs fp32 data from m on ort-cpu"}
    md = (out / "report.md").read_text()
    assert (
        "## Precision contrasts" in md
        and "![forest.png](forest.png)" in md
        and (out / "report.html").stat().st_size > 5000
    )


def test_statistics_known_answers():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s1 = y + rng.normal(0, 0.8, 200)
    s2 = y + rng.normal(0, 1.5, 200)
    from sklearn.metrics import roc_auc_score

    assert auroc(y, s1) == pytest.approx(roc_auc_score(y, s1))
    d = delong(y, s1, s2)

    # Brute-force DeLong: structural components from all pairs, O(n²).
    def comps(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(1), psi.mean(0)

    (a10, a01), (b10, b01) = comps(s1), comps(s2)
    var = (np.var(a10 - b10, ddof=1) / len(a10)) + (np.var(a01 - b01, ddof=1) / len(a01))
    assert d.se == pytest.approx(np.sqrt(var)) and d.delta == pytest.approx(roc_auc_score(y, s1) - roc_auc_score(y, s2))
    assert delong(y, s1, s1).p_two_sided == 1.0
    probs = np.stack([1 - (s1 > 0.5), s1 > 0.5], 1).astype(float)
    m = class_metrics(probs, y)
    assert m["accuracy"] == pytest.approx(((s1 > 0.5) == y).mean())
    same = paired_deltas([probs, probs], [probs, probs], y, bootstrap=50)
    assert same["accuracy"].delta.value == 0.0 and not same["accuracy"].significant
    flipped = paired_deltas([probs], [probs[:, ::-1]], y, bootstrap=200)
    assert flipped["accuracy"].significant and flipped["accuracy"].delta.low > 0
    est = setting_estimate([probs, probs[:, ::-1]], y, bootstrap=50)
    assert est.metrics["accuracy"].value == pytest.approx(0.5) and len(est.per_seed["accuracy"]) == 2
