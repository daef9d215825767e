"""Reader-study statistics: per reader and pooled accuracy, sensitivity and specificity for
spotting synthetic images, unsure rate, a binomial test against chance, Cohen's κ per reader pair
and Fleiss' κ, breakdowns per source, class and finding, finding consistency and cue words.

Pure (scipy, statsmodels, scikit-learn; no I/O). Conventions, as in the published image Turing
tests: accuracy, sensitivity and specificity count decided answers (real / synthetic); unsure
answers are reported as the unsure rate. Intervals are Wilson 95% intervals; the binomial test
is two-sided against 50% (the pooled test treats answers as independent, as those studies did).
κ uses all three answers (real, synthetic, unsure) as categories.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from statistics import median

import numpy as np

from edgegen.reader.layout import REAL, SYNTHETIC, VERDICTS

SHOWS_FINDING = 4  # Likert 4 (agree) or 5 (strongly agree): the reader sees the finding
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "it's",
        "looks",
        "look",
        "like",
        "of",
        "on",
        "or",
        "so",
    ]
    + [
        "that",
        "the",
        "there",
        "this",
        "to",
        "too",
        "was",
        "were",
        "with",
        "very",
        "not",
        "no",
        "more",
        "less",
        "bit",
        "some",
        "image",
        "images",
        "ray",
        "xray",
        "seems",
        "seem",
    ]
)


@dataclass(frozen=True)
class Judgement:
    """One answer joined with the key."""

    reader: str
    image_id: str
    trial: int
    truth: str
    source: str
    class_name: str
    findings: tuple[str, ...]
    question: str | None  # the finding asked about
    verdict: str
    confidence: int
    likert: int | None = None
    cue: str = ""
    seconds: float | None = None

    @property
    def decided(self) -> bool:
        return self.verdict != "unsure"

    @property
    def correct(self) -> bool:
        return self.verdict == self.truth

    @property
    def score(self) -> int:
        """Suspicion that the image is synthetic: +confidence, −confidence, or 0 when unsure."""
        return {SYNTHETIC: self.confidence, REAL: -self.confidence}.get(self.verdict, 0)


@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    value: float | None
    low: float | None
    high: float | None


def rate(k: int, n: int) -> Rate:
    if n == 0:
        return Rate(0, 0, None, None, None)
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return Rate(int(k), int(n), k / n, float(low), float(high))


@dataclass(frozen=True)
class Performance:
    name: str
    answers: int
    decided: int
    accuracy: Rate
    sensitivity: Rate  # synthetic images called synthetic, of those decided
    specificity: Rate  # real images called real, of those decided
    unsure: Rate
    p_value: float | None  # two-sided binomial test of accuracy against 0.5
    mean_confidence: float | None
    median_seconds: float | None


def performance(name: str, js: list[Judgement]) -> Performance:
    from scipy.stats import binomtest

    decided = [j for j in js if j.decided]
    correct = sum(j.correct for j in decided)
    synth = [j for j in decided if j.truth == SYNTHETIC]
    real = [j for j in decided if j.truth == REAL]
    seconds = [j.seconds for j in js if j.seconds is not None]
    return Performance(
        name,
        len(js),
        len(decided),
        rate(correct, len(decided)),
        rate(sum(j.verdict == SYNTHETIC for j in synth), len(synth)),
        rate(sum(j.verdict == REAL for j in real), len(real)),
        rate(len(js) - len(decided), len(js)),
        float(binomtest(correct, len(decided), 0.5).pvalue) if decided else None,
        float(np.mean([j.confidence for j in js])) if js else None,
        float(median(seconds)) if seconds else None,
    )


@dataclass(frozen=True)
class Kappa:
    reader_a: str
    reader_b: str
    images: int
    kappa: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Fleiss:
    readers: int
    images: int  # images every reader answered
    kappa: float | None


def _finite(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def cohen_pairs(js: list[Judgement]) -> list[Kappa]:
    from statsmodels.stats.inter_rater import cohens_kappa

    by_reader: dict[str, dict[str, str]] = {}
    for j in js:
        by_reader.setdefault(j.reader, {})[j.image_id] = j.verdict
    out = []
    for a, b in combinations(sorted(by_reader), 2):
        shared = sorted(set(by_reader[a]) & set(by_reader[b]))
        table = np.zeros((3, 3))
        for i in shared:
            table[VERDICTS.index(by_reader[a][i]), VERDICTS.index(by_reader[b][i])] += 1
        if not shared:
            out.append(Kappa(a, b, 0, None, None, None))
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            res = cohens_kappa(table, return_results=True)
            kappa = _finite(res.kappa)
            low, high = (_finite(res.kappa_low), _finite(res.kappa_upp)) if kappa is not None else (None, None)
        out.append(Kappa(a, b, len(shared), kappa, low, high))
    return out


def fleiss(js: list[Judgement]) -> Fleiss | None:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    readers = sorted({j.reader for j in js})
    if len(readers) < 2:
        return None
    verdict = {(j.reader, j.image_id): VERDICTS.index(j.verdict) for j in js}
    images = sorted({j.image_id for j in js if all((r, j.image_id) in verdict for r in readers)})
    if not images:
        return Fleiss(len(readers), 0, None)
    codes = np.array([[verdict[(r, i)] for r in readers] for i in images])
    counts, _ = aggregate_raters(codes, n_cat=len(VERDICTS))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return Fleiss(len(readers), len(images), _finite(fleiss_kappa(counts, method="fleiss")))


def reader_auroc(js: list[Judgement]) -> float | None:
    """AUROC of the readers' confidence-weighted answers (pooled) for synthetic vs real."""
    y = [j.truth == SYNTHETIC for j in js]
    if all(y) or not any(y):
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, [j.score for j in js]))


@dataclass(frozen=True)
class SourceResult:
    source: str
    truth: str
    performance: Performance  # on this source's images
    reader_auroc: float | None  # this source's images vs the real images (None for real itself)


@dataclass(frozen=True)
class FindingConsistency:
    finding: str
    source: str
    answers: int
    shows: Rate  # Likert ≥ 4
    mean_likert: float | None


@dataclass(frozen=True)
class TrialResult:
    trial: int
    readers: list[Performance]
    pooled: Performance
    kappas: list[Kappa]
    fleiss: Fleiss | None
    sources: list[SourceResult]
    classes: list[Performance]  # name: "<truth>: <class>"
    findings: list[Performance]  # per labelled finding (both truths)
    consistency: list[FindingConsistency]


def trial_result(trial: int, js: list[Judgement], sources: list[str]) -> TrialResult:
    readers = sorted({j.reader for j in js})
    real = [j for j in js if j.truth == REAL]
    source_rows = []
    for s in sources:
        own = [j for j in js if j.source == s]
        truth = own[0].truth if own else (REAL if s == REAL else SYNTHETIC)
        source_rows.append(
            SourceResult(s, truth, performance(s, own), None if truth == REAL else reader_auroc(own + real))
        )
    classes = sorted({(j.truth, j.class_name) for j in js})
    findings = sorted({f for j in js for f in j.findings})
    consistency = []
    for f in sorted({j.question for j in js if j.question}):
        for s in sources:
            rated = [j.likert for j in js if j.question == f and j.source == s and j.likert is not None]
            if rated:
                consistency.append(
                    FindingConsistency(
                        f,
                        s,
                        len(rated),
                        rate(sum(x >= SHOWS_FINDING for x in rated), len(rated)),
                        float(np.mean(rated)),
                    )
                )
    return TrialResult(
        trial,
        [performance(r, [j for j in js if j.reader == r]) for r in readers],
        performance("pooled", js),
        cohen_pairs(js),
        fleiss(js),
        source_rows,
        [performance(f"{t}: {c}", [j for j in js if (j.truth, j.class_name) == (t, c)]) for t, c in classes],
        [performance(f, [j for j in js if f in j.findings]) for f in findings],
        consistency,
    )


def cue_words(texts: list[str], top: int = 15) -> list[tuple[str, int]]:
    """The most frequent words of the "what gave it away" answers, stop words left out."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in re.findall(r"[a-z][a-z'-]+", text.lower()) if w not in STOP_WORDS and len(w) > 2)
    return counts.most_common(top)


@dataclass(frozen=True)
class Automated:
    """The automated detectability AUROC (edgegen quality) of a source, per condition."""

    source: str
    condition: str
    auroc: float | None
    low: float | None
    high: float | None
    note: str = ""


@dataclass
class ReaderAnalysis:
    study: str
    images: int
    readers: list[str]
    answers: int
    trials: list[TrialResult]
    cue_words: list[tuple[str, int]]
    cue_words_spotted: list[tuple[str, int]]  # answers that rightly called an image synthetic
    automated: list[Automated]
    notes: list[str] = field(default_factory=list)

    def trial(self, n: int) -> TrialResult | None:
        return next((t for t in self.trials if t.trial == n), None)


def analyze(
    study: str, images: int, judgements: list[Judgement], sources: list[str], automated: list[Automated]
) -> ReaderAnalysis:
    trials = sorted({j.trial for j in judgements})
    notes = []
    if not judgements:
        notes.append("no answers yet")
    return ReaderAnalysis(
        study,
        images,
        sorted({j.reader for j in judgements}),
        len(judgements),
        [trial_result(t, [j for j in judgements if j.trial == t], sources) for t in trials],
        cue_words([j.cue for j in judgements if j.cue]),
        cue_words([j.cue for j in judgements if j.cue and j.truth == SYNTHETIC and j.verdict == SYNTHETIC]),
        automated,
        notes,
    )
