"""`analyze_study`: read a study's answers and key, compute the statistics (`analyze`), and write
analysis/ (report.md, report.html, answers.csv with every answer, analysis.json). Also the CSV
the admin page offers, and reading `edgegen quality` results for the automated AUROC beside the
readers'."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, replace
from pathlib import Path

from edgegen.atomic import atomic_write_bytes, atomic_write_json, read_versioned_json
from edgegen.errors import UsageError
from edgegen.reader.analyze import Automated, Judgement, Performance, Rate, ReaderAnalysis, analyze
from edgegen.reader.layout import REAL, KeyEntry, StudyLayout, load_key, load_sources, load_study
from edgegen.reader.store import AnswerRow, Store
from edgegen.reporting import fmt, md_table, write_report

CSV_COLUMNS = [
    "reader",
    "trial",
    "image_id",
    "truth",
    "source",
    "class",
    "findings",
    "question",
    "verdict",
    "correct",
    "confidence",
    "finding_likert",
    "cue",
    "seconds",
    "client_ms",
    "answered_at",
]


@dataclass(frozen=True)
class AnalysisFiles:
    analysis: ReaderAnalysis
    files: dict[str, Path]


def judgements(rows: list[AnswerRow], key: dict[str, KeyEntry], questions: dict[str, str | None]) -> list[Judgement]:
    return [
        Judgement(
            r.reader,
            r.image_id,
            r.trial,
            key[r.image_id].truth,
            key[r.image_id].source,
            key[r.image_id].class_name,
            tuple(key[r.image_id].findings),
            questions.get(r.image_id),
            r.verdict,
            r.confidence,
            r.finding_likert,
            r.cue,
            r.seconds,
        )
        for r in rows
        if r.image_id in key
    ]


def _cell(value) -> str:
    """No spreadsheet formulas from free text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def answers_csv(
    rows: list[AnswerRow], key: dict[str, KeyEntry], questions: dict[str, str | None] | None = None
) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        k = key.get(r.image_id)
        if k is None:
            continue
        when = dt.datetime.fromtimestamp(r.answered_at, dt.UTC).isoformat(timespec="seconds")
        seconds = None if r.seconds is None else round(r.seconds, 3)
        values = [
            r.reader,
            r.trial,
            r.image_id,
            k.truth,
            k.source,
            k.class_name,
            "+".join(k.findings),
            (questions or {}).get(r.image_id) or "",
            r.verdict,
            int(r.verdict == k.truth),
            r.confidence,
            r.finding_likert,
            r.cue,
            seconds,
            r.client_ms,
            when,
        ]
        w.writerow([_cell(v) for v in values])
    return buf.getvalue().encode("utf-8")


def load_quality(spec: dict[str, Path], sources: list[str]) -> list[Automated]:
    """Per synthetic source, the detectability AUROC of each condition from a quality
    results.json, or "not provided"."""
    unknown = sorted(set(spec) - set(sources))
    if unknown:
        raise UsageError(
            f"--quality names unknown source(s) {unknown}",
            hint=f"sources: {', '.join(s for s in sources if s != REAL)}",
        )
    out = []
    for source in (s for s in sources if s != REAL):
        if source not in spec:
            out.append(Automated(source, "", None, None, None, "not provided"))
            continue
        raw = read_versioned_json(spec[source], "quality results", 1, "edgegen quality REAL SYNTHETIC --out DIR")
        rows = [
            Automated(source, c.get("condition", "?"), a.get("value"), a.get("low"), a.get("high"))
            for c in raw.get("conditions", [])
            if (a := ((c.get("detectability") or {}).get("auroc") or {})).get("value") is not None
        ]
        out += rows or [Automated(source, "", None, None, None, f"{spec[source]} has no detectability AUROC")]
    return out


def parse_quality(specs: list[str], sources: list[str]) -> dict[str, Path]:
    """NAME=PATH pairs (PATH alone when there is one synthetic source)."""
    synthetic = [s for s in sources if s != REAL]
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            if len(synthetic) != 1:
                raise UsageError(
                    f"--quality {spec!r} needs NAME=PATH: the study has {len(synthetic)} synthetic sources"
                )
            name, path = synthetic[0], spec
        out[name] = Path(path).expanduser()
    return out


def analyze_study(root: Path, quality: list[str] | None = None, out: Path | None = None) -> AnalysisFiles:
    layout = StudyLayout(Path(root))
    study = load_study(root)
    key = load_key(root)
    sources = list(load_sources(root)) or sorted({k.source for k in key.values()})
    automated = load_quality(parse_quality(quality or [], sources), sources)
    store = Store.open(layout.database)
    rows = store.answers()
    store.close()
    questions = {im.id: im.finding for im in study.images}
    result = analyze(study.name, len(study.images), judgements(rows, key, questions), sources, automated)
    folder = Path(out) if out else layout.analysis
    atomic_write_bytes(folder / "answers.csv", answers_csv(rows, key, questions))
    atomic_write_json(folder / "analysis.json", {"schema_version": 1, **_plain(result)})
    files = write_report(folder, lambda _src: render_markdown(result), {}, f"Reader study {study.name}")
    return AnalysisFiles(result, {**files, "csv": folder / "answers.csv", "json": folder / "analysis.json"})


def _plain(result: ReaderAnalysis) -> dict:
    from edgegen.schema import to_plain

    return to_plain(result)


# -- Markdown ------------------------------------------------------------------------------
def pct(r: Rate | None) -> str:
    if r is None or r.value is None:
        return "–"
    return f"{r.value:.1%} [{r.low:.1%}, {r.high:.1%}] ({r.k}/{r.n})"


def p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "< .001" if p < 0.001 else f"{p:.3f}"


def perf_rows(perfs: list[Performance]) -> list[list[str]]:
    return [
        [
            p.name,
            str(p.answers),
            pct(p.accuracy),
            p_text(p.p_value),
            pct(p.sensitivity),
            pct(p.specificity),
            pct(p.unsure),
            fmt(p.mean_confidence, "{:.2f}"),
            fmt(p.median_seconds, "{:.1f}"),
        ]
        for p in perfs
    ]


SCOPE = (
    "Accuracy, sensitivity and specificity count decided answers (real / synthetic), with Wilson 95% intervals; "
    "unsure answers are the unsure rate. Binomial test: two-sided against 50% chance."
)
PERF_HEADER = [
    "",
    "answers",
    "accuracy (decided)",
    "binomial P vs 50%",
    "sensitivity (synthetic spotted)",
    "specificity (real kept)",
    "unsure",
    "mean confidence",
    "median s / image",
]


def render_markdown(a: ReaderAnalysis) -> str:
    from edgegen.data.findings import load_findings_map

    fmap = load_findings_map()

    def display(name: str) -> str:
        return fmap.get(name).display if name in fmap.names else name

    out = [
        f"# Reader study {a.study}",
        "",
        f"{a.images} images, {len(a.readers)} reader(s), {a.answers} answers. " + SCOPE,
        "",
    ]
    out += [f"- {n}" for n in a.notes] + ([""] if a.notes else [])
    for t in a.trials:
        title = "Trial 1" if t.trial == 1 else "Trial 2 (after feedback on each answer)"
        out += [f"## {title}", "", "### Readers", "", md_table(PERF_HEADER, perf_rows([*t.readers, t.pooled])), ""]
        out += ["### Agreement between readers", ""]
        if t.fleiss:
            out += [
                f"Fleiss' κ over {t.fleiss.images} images every reader answered "
                f"({t.fleiss.readers} readers): **{fmt(t.fleiss.kappa, '{:.3f}')}**",
                "",
            ]
        if t.kappas:
            out += [
                md_table(
                    ["reader A", "reader B", "images", "Cohen's κ [95% CI]"],
                    [
                        [
                            k.reader_a,
                            k.reader_b,
                            str(k.images),
                            f"{fmt(k.kappa, '{:.3f}')} [{fmt(k.low, '{:.3f}')}, {fmt(k.high, '{:.3f}')}]",
                        ]
                        for k in t.kappas
                    ],
                ),
                "",
            ]
        else:
            out += ["One reader: no agreement to measure.", ""]
        out += [
            "### Per source",
            "",
            "Synthetic sources: sensitivity is the share of their images spotted; real: specificity. Reader "
            "AUROC: the readers' confidence-weighted answers (pooled), this source vs the real images.",
            "",
        ]
        out += [
            md_table(
                ["source", "truth", "answers", "accuracy", "unsure", "reader AUROC"],
                [
                    [
                        s.source,
                        s.truth,
                        str(s.performance.answers),
                        pct(s.performance.accuracy),
                        pct(s.performance.unsure),
                        fmt(s.reader_auroc, "{:.3f}"),
                    ]
                    for s in t.sources
                ],
            ),
            "",
        ]
        out += ["### Per class", "", md_table(PERF_HEADER, perf_rows(t.classes)), ""]
        if t.findings:
            out += [
                "### Per finding (images labelled with it)",
                "",
                md_table(PERF_HEADER, perf_rows([replace(p, name=display(p.name)) for p in t.findings])),
                "",
            ]
        if t.consistency:
            out += [
                "### Finding consistency",
                "",
                "Share of answers agreeing (Likert 4–5) that the image shows the finding it was asked about.",
                "",
            ]
            out += [
                md_table(
                    ["finding", "source", "answers", "shows the finding", "mean Likert"],
                    [
                        [display(c.finding), c.source, str(c.answers), pct(c.shows), fmt(c.mean_likert, "{:.2f}")]
                        for c in t.consistency
                    ],
                ),
                "",
            ]
    t1, t2 = a.trial(1), a.trial(2)
    if t1 and t2:
        second = {p.name: p.accuracy for p in [*t2.readers, t2.pooled]}
        rows = [[p.name, pct(p.accuracy), pct(second.get(p.name))] for p in [*t1.readers, t1.pooled]]
        out += [
            "## Trial 1 vs trial 2",
            "",
            md_table(["reader", "accuracy, trial 1", "accuracy, trial 2 (with feedback)"], rows),
            "",
        ]
    out += [
        "## Readers vs automated detectability",
        "",
        "Automated: the detectability AUROC of `edgegen quality` "
        "(cross-validated classifier, real vs synthetic features), per condition.",
        "",
    ]
    t = a.trial(1)
    reader_auc = {s.source: s.reader_auroc for s in t.sources} if t else {}
    out += [
        md_table(
            ["source", "condition", "automated AUROC [95% CI]", "reader AUROC (trial 1)"],
            [
                [
                    m.source,
                    m.condition or "–",
                    f"{m.auroc:.3f} [{m.low:.3f}, {m.high:.3f}]" if m.auroc is not None else m.note,
                    fmt(reader_auc.get(m.source), "{:.3f}"),
                ]
                for m in a.automated
            ],
        ),
        "",
    ]
    out += ["## What gave it away", ""]
    if a.cue_words:
        out += [md_table(["word (all answers)", "count"], [[w, str(c)] for w, c in a.cue_words]), ""]
        if a.cue_words_spotted:
            out += [
                md_table(
                    ["word (synthetic images rightly spotted)", "count"], [[w, str(c)] for w, c in a.cue_words_spotted]
                ),
                "",
            ]
    else:
        out += ["No free-text cues given.", ""]
    out += ["Every answer: `answers.csv` beside this report.", ""]
    return "\n".join(out)
