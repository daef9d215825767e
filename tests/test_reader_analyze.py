"""Reader-study statistics on constructed answers whose results are known, and the report files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from edgegen.reader.analyze import Judgement, analyze, cohen_pairs, cue_words, fleiss, performance, rate, reader_auroc


def _j(
    reader: str, image: int, truth: str, verdict: str, confidence: int = 3, source: str | None = None, **kw
) -> Judgement:
    return Judgement(
        reader,
        f"{image:016x}",
        kw.pop("trial", 1),
        truth,
        source or ("real" if truth == "real" else "gen"),
        kw.pop("class_name", "c"),
        kw.pop("findings", ()),
        kw.pop("question", None),
        verdict,
        confidence,
        **kw,
    )


def test_accuracy_sensitivity_specificity_and_unsure_count_as_documented():
    js = (
        [_j("a", i, "synthetic", "synthetic") for i in range(8)]
        + [_j("a", 8 + i, "synthetic", "real") for i in range(2)]
        + [_j("a", 10 + i, "real", "real") for i in range(6)]
        + [_j("a", 16 + i, "real", "synthetic") for i in range(3)]
        + [_j("a", 19, "real", "unsure")]
    )
    p = performance("a", js)
    assert (p.answers, p.decided) == (20, 19)
    assert (p.accuracy.k, p.accuracy.n) == (14, 19)
    assert (p.sensitivity.k, p.sensitivity.n, p.specificity.k, p.specificity.n) == (8, 10, 6, 9)
    assert (p.unsure.k, p.unsure.n) == (1, 20)
    from scipy.stats import binomtest
    from statsmodels.stats.proportion import proportion_confint

    assert p.p_value == pytest.approx(binomtest(14, 19, 0.5).pvalue)
    assert (p.accuracy.low, p.accuracy.high) == pytest.approx(proportion_confint(14, 19, method="wilson"))


def test_the_published_turing_test_numbers_reproduce():
    """10 readers × 300 images, 59.4% accuracy vs 50% chance: binomial P < .001 (pooled)."""
    flip = {"real": "synthetic", "synthetic": "real"}
    truths = ["synthetic" if i % 2 else "real" for i in range(3000)]
    js = [_j(f"r{i % 10}", i, t, t if i < 1782 else flip[t]) for i, t in enumerate(truths)]
    p = performance("pooled", js)
    assert p.accuracy.value == pytest.approx(0.594) and p.p_value < 0.001
    assert performance("few", js[:20] + js[1782:1800]).p_value > 0.05


def test_rate_of_nothing_is_empty():
    assert rate(0, 0).value is None


def test_kappas_agree_with_sklearn_and_hit_the_bounds():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    verdicts = ("real", "synthetic", "unsure")
    a = rng.choice(verdicts, 200, p=[0.45, 0.45, 0.1])
    b = np.where(rng.random(200) < 0.6, a, rng.choice(verdicts, 200))
    js = [_j("a", i, "real", v) for i, v in enumerate(a)] + [_j("b", i, "real", v) for i, v in enumerate(b)]
    (k,) = cohen_pairs(js)
    assert k.images == 200 and k.kappa == pytest.approx(cohen_kappa_score(a, b)) and k.low < k.kappa < k.high
    same = [_j(r, i, "real", v) for r in ("a", "b", "c") for i, v in enumerate(a)]
    assert fleiss(same).kappa == pytest.approx(1.0) and all(x.kappa == pytest.approx(1.0) for x in cohen_pairs(same))
    noise = [_j(r, i, "real", v) for r in ("a", "b", "c") for i, v in enumerate(rng.choice(verdicts, 3000))]
    assert abs(fleiss(noise).kappa) < 0.05
    assert fleiss(js[:200]) is None  # one reader


def test_fleiss_uses_only_images_every_reader_answered():
    js = [_j("a", i, "real", "real") for i in range(10)] + [_j("b", i, "real", "real") for i in range(5)]
    f = fleiss(js)
    assert (f.readers, f.images) == (2, 5) and f.kappa is None  # all one category: κ undefined, not faked


def test_reader_auroc_from_confidence_ratings():
    perfect = [_j("a", i, "synthetic", "synthetic", 1 + i % 5) for i in range(10)] + [
        _j("a", 10 + i, "real", "real", 1 + i % 5) for i in range(10)
    ]
    assert reader_auroc(perfect) == 1.0
    assert reader_auroc([_j("a", i, "real", "real") for i in range(5)]) is None


def test_cue_words_drop_stop_words():
    assert cue_words(["The ribs are too smooth", "smooth, blurry ribs", "it is the ribs"], top=2) == [
        ("ribs", 3),
        ("smooth", 2),
    ]


def test_breakdowns_per_source_class_finding_and_trial():
    js = [
        _j(
            "a",
            0,
            "synthetic",
            "synthetic",
            source="fp32",
            class_name="effusion",
            findings=("pleural_effusion",),
            question="pleural_effusion",
            likert=5,
        ),
        _j(
            "a",
            1,
            "synthetic",
            "real",
            source="int8",
            class_name="effusion",
            findings=("pleural_effusion",),
            question="pleural_effusion",
            likert=2,
        ),
        _j(
            "a",
            2,
            "real",
            "real",
            class_name="effusion",
            findings=("pleural_effusion",),
            question="pleural_effusion",
            likert=4,
        ),
        _j("a", 3, "real", "unsure", class_name="normal"),
        _j("a", 0, "synthetic", "synthetic", source="fp32", trial=2),
    ]
    result = analyze("s", 4, js, ["real", "fp32", "int8"], [])
    t1 = result.trial(1)
    by_source = {s.source: s for s in t1.sources}
    assert by_source["fp32"].performance.accuracy.value == 1.0 and by_source["int8"].performance.accuracy.value == 0.0
    assert by_source["real"].reader_auroc is None and by_source["fp32"].reader_auroc is not None
    assert [c.name for c in t1.classes] == ["real: effusion", "real: normal", "synthetic: effusion"]
    assert [f.name for f in t1.findings] == ["pleural_effusion"] and t1.findings[0].answers == 3
    shows = {(c.source, c.finding): c.shows.value for c in t1.consistency}
    assert shows == {
        ("real", "pleural_effusion"): 1.0,
        ("fp32", "pleural_effusion"): 1.0,
        ("int8", "pleural_effusion"): 0.0,
    }
    assert result.trial(2).pooled.answers == 1


def test_analyze_writes_markdown_html_csv_and_sets_readers_beside_the_automated_auroc(tmp_path, run_cli):
    from starlette.testclient import TestClient

    from edgegen.reader.app import make_app
    from tests.reader_support import SOURCE_NAMES, HttpReader, make_study

    result = make_study(tmp_path, per_source=3, readers=("ann", "bob"))
    client = TestClient(make_app(result.study))
    for name, verdict in (("ann", "synthetic"), ("bob", "real")):
        client.cookies.clear()
        r = HttpReader(client, result.reader_tokens[name])
        r.sign_in()
        while (page := r.page()).image_id:
            r.answer(page, verdict=verdict, cue="Smooth ribs")
    quality = tmp_path / "quality.json"
    quality.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "conditions": [
                    {"condition": "pneumonia", "detectability": {"auroc": {"value": 0.812, "low": 0.7, "high": 0.9}}}
                ],
            }
        )
    )
    code, _, err = run_cli("reader", "analyze", str(result.study), "--quality", f"{SOURCE_NAMES[1]}={quality}")
    assert code == 0, err
    folder = result.study / "analysis"
    md = (folder / "report.md").read_text()
    assert "0.812 [0.700, 0.900]" in md and "not provided" in md
    assert "Fleiss' κ over 12 images" in md and "| ann | bob | 12 |" in md
    assert (folder / "report.html").read_text().startswith("<!doctype html>")
    with open(folder / "answers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and {r["reader"] for r in rows} == {"ann", "bob"}
    assert sum(r["correct"] == "1" for r in rows) == 12  # each reader calls everything one way: half right
    saved = json.loads((folder / "analysis.json").read_text())
    assert saved["trials"][0]["pooled"]["accuracy"]["value"] == 0.5 and dict(saved["cue_words"])["ribs"] == 24
    code, _, err = run_cli("reader", "analyze", str(result.study), "--quality", f"nope={quality}")
    assert code == 2 and "unknown source" in err
