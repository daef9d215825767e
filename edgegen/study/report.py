"""The study report: results.json (spec, versions, every raw score), report.md and a
self-contained report.html with plots: metric vs synthetic ratio per source (95% bands), a forest
plot of every arm's delta against real-only, and cost of the synthetic data vs delta."""

from __future__ import annotations

from pathlib import Path

from edgegen.atomic import atomic_write_json
from edgegen.reporting import fig_png, fmt, md_table, pyplot, write_report
from edgegen.study.analysis import StudyResult


def _e(d: dict | None, spec: str = "{:.3f}") -> str:
    if not d:
        return "–"
    return f"{spec.format(d['value'])} [{spec.format(d['low'])}, {spec.format(d['high'])}]"


def _delta(d: dict | None) -> str:
    if not d:
        return "–"
    e = d["delta"]
    mark = " *" if d["significant"] else ""
    return f"{100 * e['value']:+.1f} [{100 * e['low']:+.1f}, {100 * e['high']:+.1f}] pts{mark}"


def setting_rows(result: StudyResult) -> list[list[str]]:
    keys = (
        ["macro_auroc", "macro_precision", "macro_recall", "macro_f1"]
        if result.task == "findings"
        else ["accuracy", "precision", "recall", "f1", "auroc"]
    )
    rows = []
    for s in result.settings:
        dl = s.delong_vs_real_only
        rows.append(
            [
                s.label,
                str(s.seeds),
                f"{s.train.get('real', 0)} + {s.train.get('synthetic', 0)}",
                *(_e(s.metrics.get(k)) for k in keys),
                _delta(s.vs_real_only.get(result.primary_metric)),
                f"p={dl['p_two_sided']:.3g}" if dl else "–",
                fmt(s.usd_synthetic, "${:.3g}"),
                fmt(s.delta_per_usd, "{:+.3g}"),
            ]
        )
    return rows


def per_finding_rows(result: StudyResult) -> tuple[list[str], list[list[str]]]:
    """Findings tasks: each arm's AUROC per finding (seed mean, 95% interval)."""
    names = sorted({k.split("/", 1)[1] for s in result.settings for k in s.metrics if k.startswith("auroc/")})
    rows = [[s.label, *(_e(s.metrics.get(f"auroc/{n}")) for n in names)] for s in result.settings]
    return ["arm", *(f"AUROC {n.replace('_', ' ')}" for n in names)], rows


def _plots(result: StudyResult) -> dict[str, bytes]:
    plt = pyplot()
    out = {}
    m = result.primary_metric
    rows = [s for s in result.settings if s.vs_real_only.get(m)]
    if rows:
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(rows)))
        for i, s in enumerate(rows):
            d = s.vs_real_only[m]["delta"]
            ax.errorbar(
                100 * d["value"],
                i,
                xerr=[[max(100 * (d["value"] - d["low"]), 0.0)], [max(100 * (d["high"] - d["value"]), 0.0)]],
                fmt="o",
                color="#dd8452" if s.vs_real_only[m]["significant"] else "#4c72b0",
                capsize=3,
            )
        ax.axvline(0, color="k", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [s.label for s in rows])
        ax.set_xlabel(f"Δ {m} vs real-only (points, 95% CI; orange: excludes 0)")
        ax.set_title("Forest plot: each arm against its real-only baseline")
        out["forest.png"] = fig_png(fig)
        plt.close(fig)
    by_source: dict[str, list] = {}
    for s in result.settings:
        if s.source and s.kind in ("hybrid", "scarce"):
            by_source.setdefault(f"{s.source} ({s.real_fraction:.0%} real)", []).append(s)
    if by_source:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        base = {s.real_fraction: s for s in result.settings if s.kind == "real-only"}
        for name, ss in by_source.items():
            f = ss[0].real_fraction
            pts = ([(0.0, base[f].metrics[m])] if f in base else []) + sorted(
                ((s.ratio, s.metrics[m]) for s in ss), key=lambda t: t[0]
            )
            x = [p[0] for p in pts]
            ax.plot(x, [p[1]["value"] for p in pts], marker="o", label=name)
            ax.fill_between(x, [p[1]["low"] for p in pts], [p[1]["high"] for p in pts], alpha=0.2)
        ax.set_xlabel("synthetic images per real training image (0 = real only)")
        ax.set_ylabel(f"{m} on the real test split")
        ax.legend(fontsize=7)
        ax.set_title(f"{m} vs synthetic ratio (95% bands)")
        out["metric_vs_ratio.png"] = fig_png(fig)
        plt.close(fig)
    costed = [s for s in rows if s.usd_synthetic]
    if costed:
        fig, ax = plt.subplots(figsize=(6, 4))
        for s in costed:
            ax.scatter(s.usd_synthetic, 100 * s.vs_real_only[m]["delta"]["value"])
            ax.annotate(s.label, (s.usd_synthetic, 100 * s.vs_real_only[m]["delta"]["value"]), fontsize=6)
        ax.set_xscale("log")
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xlabel("USD spent on the unit's synthetic images (log)")
        ax.set_ylabel(f"Δ {m} (points)")
        ax.set_title("Cost vs benefit")
        out["cost_vs_delta.png"] = fig_png(fig)
        plt.close(fig)
    return out


def markdown(result: StudyResult, images: dict[str, str], spec_plain: dict) -> str:
    keys = (
        ["macro AUROC", "macro precision", "macro recall", "macro F1"]
        if result.task == "findings"
        else ["accuracy", "precision (macro)", "recall (macro)", "F1 (macro)", "AUROC"]
    )
    header = [
        "arm",
        "seeds",
        "train images (real + synthetic)",
        *keys,
        f"Δ {result.primary_metric} vs real-only",
        "DeLong (AUROC)",
        "synthetic $",
        "Δ pts per $",
    ]
    parts = [
        f"# edgegen study: {result.name}",
        f"Task: {result.task}. Every unit trains a {spec_plain['classifier']['arch']} "
        f"({spec_plain['classifier']['size']} px) and is scored on the same real test split. "
        "Metrics are means over seeds with 95% intervals from a bootstrap that resamples both the "
        "training seeds and the test images; a delta pairs each arm with its real-only baseline "
        "(same resampled seeds and test images); * marks deltas whose interval excludes 0."
        + (
            " Findings: precision / recall / F1 of each finding's call at the threshold chosen "
            "on the real validation split (max F1), macro over findings; AUROC per finding below, "
            "every per-finding value in results.json."
            if result.task == "findings"
            else ""
        ),
    ]
    if result.contrasts:
        parts.append("## Precision contrasts (the question this study answers)")
        for c in result.contrasts:
            parts.append(
                f"- {c['what']}, arm {c['kind']} (ratio {c['ratio']:g}, {c['real_fraction']:.0%} "
                f"real): Δ {result.primary_metric} {_delta(c['delta'].get(result.primary_metric))}"
            )
    parts += ["## Arms", md_table(header, setting_rows(result))]
    if result.task == "findings":
        parts += ["## AUROC per finding", md_table(*per_finding_rows(result))]
    parts.append("## Sources")
    rows = []
    for name, s in result.sources.items():
        q = s.get("quality") or {}
        rows.append(
            [
                name,
                f"{s['model']} / {s['backend']} / {s['precision']}",
                str(s["images"]),
                fmt(s["seconds_per_image"], "{:.3f}"),
                f"{fmt(s['usd_per_image'], '${:.3g}')} ({s['usd_source']})",
                q.get("summary", "–"),
            ]
        )
    parts.append(
        md_table(
            ["source", "model / backend / precision", "images", "s/image", "$/image", "quality vs real (floor)"], rows
        )
    )
    parts += [f"![{n}]({src})" for n, src in images.items()]
    parts += result.notes
    return "\n\n".join(parts) + "\n"


def write_study_report(
    result: StudyResult, folder: Path, spec_plain: dict, raw_units: dict, versions: dict
) -> dict[str, Path]:
    from edgegen.schema import to_plain

    folder = Path(folder)
    atomic_write_json(
        folder / "results.json",
        {"schema_version": 1, "spec": spec_plain, "versions": versions, "result": to_plain(result), "units": raw_units},
    )
    files = write_report(
        folder, lambda images: markdown(result, images, spec_plain), _plots(result), f"edgegen study {result.name}"
    )
    return {**files, "results": folder / "results.json"}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("edgegen", "torch", "onnxruntime", "numpy", "scipy", "scikit-learn"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out
