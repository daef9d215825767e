"""`assess_quality`: every quality metric for a synthetic pool against real images, per
condition, each beside its real-vs-real floor.

Per condition, the matching held-out real images are split into two patient-disjoint halves:
A, the reference, and B, the floor sample. The synthetic images and B are cut to one size n, so
"synthetic vs A" and "B vs A" are the same measurement on the same n: the floor is what a second
sample of real images of that condition scores. Memorization compares every synthetic image with
the generator's training images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from edgegen.classifiers.metrics import Estimate
from edgegen.data.imageset import ImageSet, Skipped
from edgegen.quality.detectability import Detectability, detectability
from edgegen.quality.distances import PRDC, fid, kid, prdc
from edgegen.quality.diversity import Diversity, diversity
from edgegen.quality.features import FeatureInfo, FeatureNetwork
from edgegen.quality.fidelity import ConditionFidelity, condition_fidelity
from edgegen.quality.memorization import Memorization, memorization
from edgegen.quality.sources import ImagePool, match_real

MIN_PER_SIDE = 6  # below this no metric here means anything


@dataclass(frozen=True)
class ConditionQuality:
    condition: str
    population: str
    findings: list[str]
    matched_by: str
    n_synthetic: int
    n_real: int
    n: int  # images a side in each comparison (synthetic and floor alike)
    kid: Estimate | None = None
    kid_floor: Estimate | None = None
    fid: Estimate | None = None
    fid_floor: Estimate | None = None
    prdc: PRDC | None = None
    prdc_floor: PRDC | None = None
    detectability: Detectability | None = None
    detectability_floor: Detectability | None = None
    diversity: Diversity | None = None
    fidelity: list[ConditionFidelity] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class QualityResult:
    features: FeatureInfo
    real_source: str
    synthetic_source: str
    conditions: list[ConditionQuality]
    memorization: Memorization | None
    unreadable: list[Skipped]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def condition(self, name: str) -> ConditionQuality | None:
        return next((c for c in self.conditions if c.condition == name), None)


@dataclass(frozen=True)
class Classifiers:
    """Real-data classifiers for conditioning fidelity: (model, card) pairs, or None."""

    classes: tuple | None = None
    findings: tuple | None = None

    @classmethod
    def embedded(cls) -> Classifiers:
        from edgegen.classifiers.card import load_classifier
        from edgegen.models.embedded import DEFAULT_CLASSIFIER, EMBEDDED_CLASSIFIERS, FINDINGS_CLASSIFIER

        def get(name):
            return load_classifier(EMBEDDED_CLASSIFIERS[name]) if name in EMBEDDED_CLASSIFIERS else None

        return cls(get(DEFAULT_CLASSIFIER), get(FINDINGS_CLASSIFIER))


def split_halves(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of two patient-disjoint halves (A, B) of a pool, as equal in size as whole
    patients allow."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups).astype(str)
    a, count = [], 0
    for p in rng.permutation(np.unique(groups)):
        if count >= len(groups) / 2:
            break
        a.append(p)
        count += int((groups == p).sum())
    in_a = np.isin(groups, a)
    return np.flatnonzero(in_a), np.flatnonzero(~in_a)


def _fidelity(
    clfs: Classifiers, cond, synth_images: np.ndarray, real_images: np.ndarray, seed: int
) -> list[ConditionFidelity]:
    out = []
    if clfs.classes is not None and cond.name in clfs.classes[1].class_names:
        out.append(condition_fidelity(*clfs.classes, cond.name, synth_images, real_images, seed))
    if clfs.findings is not None:
        for f in cond.findings:
            if f in clfs.findings[1].class_names:
                out.append(condition_fidelity(*clfs.findings, f, synth_images, real_images, seed))
    return out


def assess_quality(
    synthetic: ImagePool,
    real: ImageSet,
    train: ImageSet | None = None,
    features: FeatureNetwork | None = None,
    classifiers: Classifiers | None = None,
    conditions: list[str] | None = None,
    seed: int = 0,
    bootstrap: int = 200,
    progress=None,
    floor_cache: dict | None = None,
) -> QualityResult:
    """`real`: held-out real images (labels, findings, populations, patient IDs); `train`: the
    generator's training images for memorization (None: skipped). `floor_cache` (a dict) shares
    the real-vs-real floors between calls that score several synthetic sets against one real set."""
    floors = floor_cache if floor_cache is not None else {}
    start = time.perf_counter()
    net = features or FeatureNetwork()
    clfs = classifiers if classifiers is not None else Classifiers.embedded()
    rng = np.random.default_rng(seed)
    synth_sem, synth_multi = net.extract(synthetic.images)
    real_sem, real_multi = net.extract(real.images)
    groups = real.patient_ids if real.patient_ids is not None else np.array([f"real{i}" for i in range(len(real))])
    names = conditions or synthetic.names()
    results = []
    for k, name in enumerate(names):
        if progress:
            progress(k, len(names), name)
        idx_s = synthetic.of(name)
        cond = synthetic.condition(name) if len(idx_s) else None
        if cond is None:
            results.append(ConditionQuality(name, "", [], "", 0, 0, 0, skipped=f"no synthetic images of {name!r}"))
            continue
        idx_r, how = match_real(real, cond)
        base = dict(
            condition=name,
            population=cond.population,
            findings=list(cond.findings),
            matched_by=how,
            n_synthetic=len(idx_s),
            n_real=len(idx_r),
        )
        a_pos, b_pos = split_halves(groups[idx_r], seed + k) if len(idx_r) else (np.array([], int), np.array([], int))
        n = min(len(idx_s), len(b_pos))
        if n < MIN_PER_SIDE or len(a_pos) < MIN_PER_SIDE:
            results.append(
                ConditionQuality(
                    **base,
                    n=n,
                    skipped=how
                    if not len(idx_r)
                    else (
                        f"too few images for a floor: {len(idx_s)} synthetic, "
                        f"{len(idx_r)} real (need ≥ {MIN_PER_SIDE} a side and a half)"
                    ),
                )
            )
            continue
        # The real halves and samples depend only on the condition, n and seed: every synthetic
        # set scored against this real set at this n meets the same real images and floor.
        pick = np.random.default_rng([seed, k, n])
        ia, ib = idx_r[a_pos], idx_r[pick.choice(b_pos, n, replace=False)]
        ia_n = ia[pick.choice(len(ia), min(n, len(ia)), replace=False)]
        js = idx_s[rng.choice(len(idx_s), n, replace=False)]
        key = (real.source, name, n, seed, bootstrap)
        if key not in floors:
            floors[key] = {
                "kid_floor": kid(real_sem[ib], real_sem[ia], bootstrap, seed),
                "fid_floor": fid(real_sem[ib], real_sem[ia], seed=seed),
                "prdc_floor": prdc(real_sem[ia], real_sem[ib], bootstrap=min(bootstrap, 100), seed=seed),
                "detectability_floor": detectability(
                    real_multi[ia_n],
                    real_multi[ib],
                    groups[ia_n],
                    synthetic_groups=groups[ib],
                    seed=seed,
                    bootstrap=bootstrap,
                ),
            }
        results.append(
            ConditionQuality(
                **base,
                n=n,
                kid=kid(synth_sem[js], real_sem[ia], bootstrap, seed),
                fid=fid(synth_sem[js], real_sem[ia], seed=seed),
                prdc=prdc(real_sem[ia], synth_sem[js], bootstrap=min(bootstrap, 100), seed=seed),
                detectability=detectability(
                    real_multi[ia_n], synth_multi[js], groups[ia_n], seed=seed, bootstrap=bootstrap
                ),
                diversity=diversity(synth_sem[js], real_sem[ib], bootstrap, seed),
                fidelity=_fidelity(clfs, cond, synthetic.images[js], real.images[ib], seed),
                **floors[key],
            )
        )
    mem = None
    notes = []
    if train is not None:
        if progress:
            progress(len(names), len(names) + 1, "memorization")
        train_sem, _ = net.extract(train.images)
        mem = memorization(
            synthetic.images, synth_sem, train.images, train_sem, train.patient_ids, real.images, real_sem
        )
    else:
        notes.append("memorization not assessed: no training set given")
    return QualityResult(
        net.info,
        real.source,
        synthetic.source,
        results,
        mem,
        list(synthetic.skipped),
        time.perf_counter() - start,
        notes,
    )
