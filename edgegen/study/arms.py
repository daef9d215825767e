"""From a study spec to its units (arm × source × setting × seed), and from a unit to its training
set. Pure apart from the ImageSets it is given; the same real splits serve every unit.

Synthetic images per unit = ratio × the real training images the unit uses, split equally over
the classes ("balanced", the default) or in the real set's proportions ("proportional"); a source
with fewer images of a class than some unit needs is an error before any training (see
`synthetic_shortfall`), so a ratio in the report is the ratio trained on. "rebalance" adds
synthetic images of each minority class up to the majority class's count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from edgegen.data.imageset import ImageSet, merge
from edgegen.study.spec import StudySpec


@dataclass(frozen=True)
class Unit:
    kind: str  # real-only | synthetic-only | hybrid | scarce | rebalance
    source: str | None
    real_fraction: float
    ratio: float
    seed: int
    synthetic_classes: str = "balanced"

    @property
    def id(self) -> str:
        return f"{self.kind}__{self.source or 'real'}__f{self.real_fraction:g}__r{self.ratio:g}__s{self.seed}"

    @property
    def setting(self) -> str:
        """The unit without its seed: what the report groups over seeds."""
        return self.id.rsplit("__s", 1)[0]

    @property
    def baseline(self) -> str:
        """The real-only setting it is compared with (same real fraction; 100% for synthetic-only)."""
        f = self.real_fraction if self.real_fraction > 0 else 1.0
        return f"real-only__real__f{f:g}__r0"

    def label(self) -> str:
        real = f"{self.real_fraction:.0%} real" if self.real_fraction > 0 else "no real"
        if self.kind == "real-only":
            return f"real only ({real})"
        if self.kind == "synthetic-only":
            return f"synthetic only: {self.source}"
        if self.kind == "rebalance":
            return f"rebalanced with {self.source} ({real})"
        return f"{self.source} 1:{self.ratio:g} ({real})"


def plan_units(spec: StudySpec) -> list[Unit]:
    units: dict[str, Unit] = {}

    def add(u: Unit) -> None:
        units.setdefault(u.id, u)

    for seed in range(spec.seeds):
        for arm in spec.arms:
            for f in arm.real_fractions:
                if arm.kind == "real-only":
                    add(Unit("real-only", None, f, 0.0, seed))
                for s in arm.sources:
                    if arm.kind == "synthetic-only":
                        add(Unit("synthetic-only", s, 0.0, 0.0, seed))
                    elif arm.kind == "rebalance":
                        add(Unit("rebalance", s, f, 0.0, seed))
                    else:
                        for r in arm.ratios:
                            kind = "real-only" if r == 0 else ("scarce" if f < 1.0 else "hybrid")
                            add(Unit(kind, None if r == 0 else s, f, 0.0 if r == 0 else r, seed, arm.synthetic_classes))
        for u in list(units.values()):  # every comparison needs its real-only baseline
            if u.seed == seed and u.kind != "real-only":
                f = u.real_fraction if u.real_fraction > 0 else 1.0
                add(Unit("real-only", None, f, 0.0, seed))
    return sorted(units.values(), key=lambda u: (u.seed, u.kind != "real-only", u.id))


def _rng(unit: Unit, salt: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(f"{unit.id}:{salt}".encode()).hexdigest()[:12], 16))


def _real_part(unit: Unit, real: ImageSet) -> ImageSet | None:
    if unit.real_fraction <= 0:
        return None
    if unit.real_fraction >= 1.0:
        return real
    from edgegen.data.load import stratified_split

    # The subsample depends on the fraction and seed only: every unit at this setting sees the same real images.
    _, held = stratified_split(real, unit.real_fraction, seed=1000 + unit.seed + int(unit.real_fraction * 1000))
    return held


def _pick(
    groups: np.ndarray, names: list[str], wanted: dict[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, int]]:
    idx, got = [], {}
    for c, n in wanted.items():
        have = np.flatnonzero(groups == c)
        take = rng.permutation(have)[: min(n, len(have))]
        idx.append(take)
        got[names[c]] = len(take)
    return (np.sort(np.concatenate(idx)) if idx else np.array([], np.int64)), got


def _groups(synthetic: ImageSet, by_condition: bool) -> tuple[np.ndarray, list[str]]:
    """What synthetic images are balanced over: their class, or (findings studies) the condition
    each was generated for."""
    if by_condition and "condition" in synthetic.meta:
        names = sorted(set(synthetic.meta["condition"]))
        return np.array([names.index(c) for c in synthetic.meta["condition"]]), names
    return synthetic.labels, list(synthetic.class_names)


def _wanted(
    unit: Unit, part: ImageSet | None, real: ImageSet, names: list[str], by_condition: bool
) -> dict[int, int] | None:
    """Synthetic images a unit asks for per group (None: all of them, synthetic-only)."""
    if unit.kind == "synthetic-only":
        return None
    counts = np.bincount(part.labels, minlength=len(real.class_names))
    if unit.kind == "rebalance":
        return {
            names.index(real.class_names[c]): int(counts.max() - counts[c])
            for c in range(len(counts))
            if counts[c] < counts.max() and real.class_names[c] in names
        }
    total = round(unit.ratio * len(part))
    k = len(names)
    if unit.synthetic_classes == "balanced" or by_condition:
        return {c: total // k + (1 if c < total % k else 0) for c in range(k)}
    return {
        names.index(n): round(total * counts[i] / counts.sum()) for i, n in enumerate(real.class_names) if n in names
    }


def synthetic_shortfall(
    unit: Unit, real: ImageSet, synthetic: ImageSet, by_condition: bool = False
) -> dict[str, tuple[int, int]]:
    """Groups where the source has fewer images than the unit needs: name → (have, need)."""
    if unit.source is None:
        return {}
    groups, names = _groups(synthetic, by_condition)
    wanted = _wanted(unit, _real_part(unit, real), real, names, by_condition) or {}
    have = np.bincount(groups, minlength=len(names))
    return {names[c]: (int(have[c]), n) for c, n in wanted.items() if have[c] < n}


def training_set(
    unit: Unit, real: ImageSet, synthetic: ImageSet | None, by_condition: bool = False
) -> tuple[ImageSet, dict]:
    """(training set, what it holds) for a unit. `by_condition`: balance synthetic images over the
    conditions they were generated for (findings studies) instead of over classes."""
    part = _real_part(unit, real)
    info = {"real": len(part) if part is not None else 0, "synthetic": 0, "synthetic_by_class": {}}
    if unit.source is None or synthetic is None:
        return part, info
    rng = _rng(unit, "synthetic")
    groups, names = _groups(synthetic, by_condition)
    wanted = _wanted(unit, part, real, names, by_condition)
    if wanted is None:
        idx = np.arange(len(synthetic))
        info["synthetic_by_class"] = {n: int((groups == i).sum()) for i, n in enumerate(names)}
    else:
        idx, info["synthetic_by_class"] = _pick(groups, names, wanted, rng)
    chosen = synthetic.subset(idx, synthetic.source)
    info["synthetic"] = len(chosen)
    return (
        merge([chosen], chosen.source) if part is None else merge([part, chosen], f"{part.source}+{chosen.source}")
    ), info
