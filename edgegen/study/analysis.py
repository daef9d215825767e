"""A finished study's numbers: per setting, metrics averaged over seeds with 95% intervals; every
setting against its real-only baseline as a paired delta (same test images resampled for both,
seeds paired) with DeLong's test on the seed-averaged scores; precision contrasts (the same arm
fed by the same model at INT8 vs FP32); each source's image quality and cost per image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgegen.schema import to_plain
from edgegen.study.runner import StudyState, unit_probs
from edgegen.study.statistics import delong, paired_deltas, setting_estimate


@dataclass
class SettingResult:
    setting: str
    label: str
    kind: str
    source: str | None
    real_fraction: float
    ratio: float
    seeds: int
    train: dict  # images used (seed 0)
    metrics: dict  # metric → Estimate (seed mean, bootstrap CI)
    per_seed: dict
    vs_real_only: dict = field(default_factory=dict)  # metric → Delta
    delong_vs_real_only: dict | None = None
    usd_synthetic: float | None = None  # what the unit's synthetic images cost to make
    delta_per_usd: float | None = None


@dataclass
class StudyResult:
    name: str
    task: str
    primary_metric: str
    settings: list[SettingResult]
    contrasts: list[dict]
    sources: dict[str, dict]
    notes: list[str]


def _groups(state: StudyState) -> dict[str, list]:
    out: dict[str, list] = {}
    for u in state.units:
        if u.id in state.done:
            out.setdefault(u.setting, []).append(u)
    return out


def _primary(state: StudyState) -> str:
    return "macro_auroc" if state.real.findings else "accuracy"


def _score(probs: np.ndarray, findings: tuple[str, ...]) -> np.ndarray:
    """A single score per image for DeLong: P(last class) for binary classes; the mean of the
    finding probabilities is not meaningful, so multi-label studies skip DeLong."""
    return probs[:, -1]


def source_costs(state: StudyState, profile_name: str = "cpu-x86") -> dict[str, dict]:
    """$/image per source: billed (cloud manifests), else the device that made it (the source's
    generate profile; `profile_name` for folders) at full use from its measured seconds/image."""
    from edgegen.cost import EdgeInputs, edge_usd_per_image_at_utilization
    from edgegen.profiles import load_profile

    out = {}
    for name, src in state.sources.items():
        spec_src = state.spec.sources.get(name)
        gen = spec_src.generate if spec_src is not None else None
        prof = load_profile((gen.profile if gen is not None and gen.profile else None) or profile_name)
        c = src.cost
        usd, how = c.usd_per_image, "billed (manifest cost_usd)"
        if usd is None and c.seconds_per_image:
            e = EdgeInputs(
                prof.hardware.price_usd,
                prof.hardware.lifetime_years,
                1.0,
                prof.power.load_w,
                prof.power.idle_w,
                c.seconds_per_image,
                prof.electricity.usd_per_kwh,
            )
            usd, how = (
                edge_usd_per_image_at_utilization(e),
                f"{prof.name} at full use from the measured {c.seconds_per_image:.3f} s/image",
            )
        out[name] = {
            "images": c.images,
            "model": c.model,
            "backend": c.backend,
            "precision": c.precision,
            "seconds_per_image": c.seconds_per_image,
            "usd_per_image": usd,
            "usd_source": how,
        }
    return out


def analyse(state: StudyState, bootstrap: int | None = None, quality: dict | None = None) -> StudyResult:
    spec, real = state.spec, state.real
    b = bootstrap or spec.bootstrap
    y = real.targets(real.test)
    groups = _groups(state)
    primary = _primary(state)
    costs = source_costs(state)
    probs = {s: [unit_probs(state, u.id) for u in sorted(us, key=lambda u: u.seed)] for s, us in groups.items()}
    results = []
    for setting, us in groups.items():
        u0 = min(us, key=lambda u: u.seed)
        est = setting_estimate(probs[setting], y, real.findings, b)
        r = SettingResult(
            setting,
            u0.label(),
            u0.kind,
            u0.source,
            u0.real_fraction,
            u0.ratio,
            len(us),
            state.done[u0.id]["train"],
            to_plain(est.metrics),
            est.per_seed,
        )
        base = u0.baseline
        if setting != base and base in probs:
            deltas = paired_deltas(probs[setting], probs[base], y, real.findings, b)
            r.vs_real_only = to_plain(deltas)
            if not real.findings:
                r.delong_vs_real_only = to_plain(
                    delong(
                        (y == len(real.names) - 1).astype(int),
                        _score(np.mean(probs[setting], axis=0), ()),
                        _score(np.mean(probs[base], axis=0), ()),
                    )
                )
            if u0.source and costs.get(u0.source, {}).get("usd_per_image") is not None:
                r.usd_synthetic = r.train.get("synthetic", 0) * costs[u0.source]["usd_per_image"]
                d = deltas[primary].delta.value
                r.delta_per_usd = (100 * d / r.usd_synthetic) if r.usd_synthetic else None
        results.append(r)
    return StudyResult(
        spec.name,
        spec.task,
        primary,
        sorted(results, key=lambda r: (r.kind != "real-only", r.setting)),
        _contrasts(state, groups, probs, y, b, costs),
        {n: {**costs[n], "quality": (quality or {}).get(n)} for n in state.sources},
        [],
    )


def _contrasts(state: StudyState, groups, probs, y, b: int, costs: dict) -> list[dict]:
    """Same arm, same model and backend, different precision: e.g. INT8 vs FP32 data."""
    out = []
    by_key: dict[tuple, list[tuple[str, str]]] = {}
    for setting, us in groups.items():
        u = us[0]
        if not u.source:
            continue
        c = costs[u.source]
        key = (u.kind, u.real_fraction, u.ratio, c["model"], c["backend"])
        by_key.setdefault(key, []).append((c["precision"], setting))
    for (kind, f, r, model, backend), per in by_key.items():
        refs = [setting for prec, setting in per if prec == "fp32"]
        if len(refs) != 1:
            continue  # no FP32 source, or several (which one is the reference would be a guess)
        ref = refs[0]
        for prec, setting in per:
            if prec == "fp32":
                continue
            deltas = paired_deltas(probs[setting], probs[ref], y, state.real.findings, b)
            out.append(
                {
                    "setting": setting,
                    "reference": ref,
                    "what": f"{prec} vs fp32 data from {model} on {backend}",
                    "kind": kind,
                    "real_fraction": f,
                    "ratio": r,
                    "delta": to_plain(deltas),
                }
            )
    return out
