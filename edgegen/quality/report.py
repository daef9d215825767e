"""The quality report: per condition, synthetic next to real images, every metric beside its
real-vs-real floor, the closest synthetic–training pairs, and bar charts of metric vs floor.
Markdown (PNGs beside it) + self-contained HTML + results.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_json
from edgegen.data.imageset import ImageSet
from edgegen.quality.assess import ConditionQuality, QualityResult
from edgegen.quality.sources import ImagePool, match_real
from edgegen.reporting import fig_png, fmt, image_grid, md_table, png_bytes, pyplot, write_report

GRID_N = 16


def _e(est, spec: str = "{:.4f}") -> str:
    if est is None:
        return "–"
    return f"{fmt(est.value, spec)} [{fmt(est.low, spec)}, {fmt(est.high, spec)}]"


def condition_rows(q: ConditionQuality) -> list[list[str]]:
    if q.skipped:
        return [["skipped", q.skipped, ""]]
    rows = [
        ["KID (×1, unbiased)", _e(q.kid, "{:.5f}"), _e(q.kid_floor, "{:.5f}")],
        [
            "FID",
            _e(q.fid, "{:.2f}") if q.fid else f"not computed (n={q.n} < 500 a side)",
            _e(q.fid_floor, "{:.2f}") if q.fid_floor else "–",
        ],
    ]
    for name in ("precision", "recall", "density", "coverage"):
        rows.append(
            [f"{name} (k={q.prdc.k})", _e(getattr(q.prdc, name), "{:.3f}"), _e(getattr(q.prdc_floor, name), "{:.3f}")]
        )
    rows.append(
        [
            "detectability AUROC (0.5 = indistinguishable)",
            _e(q.detectability.auroc, "{:.3f}"),
            _e(q.detectability_floor.auroc, "{:.3f}"),
        ]
    )
    rows.append(
        [
            "diversity (mean pairwise feature distance)",
            _e(q.diversity.synthetic, "{:.3f}"),
            _e(q.diversity.real, "{:.3f}"),
        ]
    )
    for f in q.fidelity:
        rows.append(
            [
                f"P({f.target}) from the real-data classifier",
                f"{_e(f.synthetic_mean_prob, '{:.3f}')}; called {fmt(f.synthetic_called, '{:.0%}')}",
                f"{_e(f.real_mean_prob, '{:.3f}')}; called {fmt(f.real_called, '{:.0%}')}",
            ]
        )
    return rows


def _bars(result: QualityResult) -> bytes | None:
    done = [c for c in result.conditions if not c.skipped]
    if not done:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.8 + 0.55 * len(done)))
    for ax, (label, get, floor) in zip(
        axes,
        [
            ("KID (lower is closer to real)", lambda c: c.kid, lambda c: c.kid_floor),
            (
                "detectability AUROC (0.5 = indistinguishable)",
                lambda c: c.detectability.auroc,
                lambda c: c.detectability_floor.auroc,
            ),
        ],
        strict=True,
    ):
        for i, c in enumerate(done):
            for off, est, color, name in (
                (-0.18, get(c), "#dd8452", "synthetic"),
                (0.18, floor(c), "#4c72b0", "real-vs-real floor"),
            ):
                ax.barh(i + off, est.value, height=0.34, color=color, label=name if i == 0 else None)
                ax.errorbar(
                    est.value,
                    i + off,
                    xerr=[
                        [max(est.value - est.low, 0.0)],
                        [max(est.high - est.value, 0.0)],
                    ],  # a percentile interval may not hold its point
                    fmt="none",
                    ecolor="k",
                    capsize=2,
                )
        ax.set_yticks(range(len(done)), [c.condition for c in done])
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    axes[1].axvline(0.5, color="k", linestyle=":", linewidth=0.8)
    png = fig_png(fig)
    plt.close(fig)
    return png


def _grid_pair(synth: np.ndarray, real: np.ndarray) -> bytes:
    """Synthetic (left block) and real (right block), 4×4 each, separated by a white gap."""
    a = image_grid(synth[:GRID_N], cols=4)
    b = image_grid(real[:GRID_N], cols=4) if len(real) else np.full_like(a, 255)
    h = max(a.shape[0], b.shape[0])
    pad = lambda g: np.pad(g, ((0, h - g.shape[0]), (0, 0)), constant_values=255)  # noqa: E731
    return png_bytes(np.concatenate([pad(a), np.full((h, 16), 255, np.uint8), pad(b)], axis=1))


def _similarity_histograms(result: QualityResult) -> bytes | None:
    """Nearest-training-image similarity of every synthetic image beside the held-out real floor,
    per space, with the near-copy threshold: the whole distribution, not only its tail."""
    mem = result.memorization
    if mem is None or not mem.pixel.synthetic_similarities:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, space in zip(axes, (mem.pixel, mem.feature), strict=True):
        values = space.synthetic_similarities + space.floor_similarities
        bins = np.linspace(min(values), max(max(values), space.threshold) + 1e-6, 40)
        ax.hist(space.synthetic_similarities, bins=bins, alpha=0.6, density=True, label="synthetic")
        if space.floor_similarities:
            ax.hist(space.floor_similarities, bins=bins, alpha=0.6, density=True, label="held-out real (floor)")
        ax.axvline(space.threshold, color="k", linestyle="--", linewidth=1, label="near-copy threshold")
        ax.set_title(f"{space.space} space: similarity to the nearest training image", fontsize=9)
        ax.legend(fontsize=7)
    png = fig_png(fig)
    plt.close(fig)
    return png


def _pairs_png(result: QualityResult, synthetic: ImagePool, train: ImageSet, space: str = "pixel") -> bytes | None:
    if result.memorization is None or not getattr(result.memorization, space).closest:
        return None
    pairs = getattr(result.memorization, space).closest
    tiles = []
    for p in pairs:
        tiles += (
            [synthetic.images[p.synthetic_index], train.images[p.train_index]]
            if synthetic.images.shape[1:] == train.images.shape[1:]
            else [synthetic.images[p.synthetic_index]]
        )
    return png_bytes(image_grid(np.stack(tiles), cols=4))


def markdown(result: QualityResult, images: dict[str, str]) -> str:
    parts = [
        f"# edgegen quality: {Path(result.synthetic_source).name} vs {result.real_source}",
        f"Features: {result.features.describe()}. Every figure is synthetic vs real reference half A, beside the same "
        "measurement for real half B vs A (the **floor**: two disjoint "
        "real samples of the same size, same condition, patient-disjoint). "
        "Intervals are 95% (bootstrap; Wilson for shares). KID is "
        "the primary distance; FID only with ≥ 500 images a side.",
    ]
    if "floor_bars.png" in images:
        parts.append(f"![metric vs floor]({images['floor_bars.png']})")
    for q in result.conditions:
        head = f"## {q.condition}" + (f" ({q.population})" if q.population else "")
        parts.append(head)
        parts.append(
            f"{q.n_synthetic} synthetic, {q.n_real} real ({q.matched_by or 'unmatched'}); compared at n = {q.n} a side."
        )
        parts.append(md_table(["metric", "synthetic vs real A", "floor: real B vs real A"], condition_rows(q)))
        key = f"grid_{_safe(q.condition)}.png"
        if key in images:
            parts.append(f"Left: synthetic; right: real ({q.matched_by}).")
            parts.append(f"![{q.condition}]({images[key]})")
    mem = result.memorization
    parts.append("## Memorization / privacy")
    if mem is None:
        parts.append("; ".join(result.notes) or "not assessed")
    else:
        rows = []
        for s in (mem.pixel, mem.feature):
            rows.append(
                [
                    s.space,
                    f"{s.threshold:.4f} ({s.threshold_from})",
                    f"median {s.synthetic_quantiles['median']:.3f}, p95 "
                    f"{s.synthetic_quantiles['p95']:.3f}, max {s.synthetic_quantiles['max']:.3f}",
                    _e(s.near_copies, "{:.1%}"),
                    _e(s.floor, "{:.1%}"),
                ]
            )
        parts.append(f"Each of {mem.n_synthetic} synthetic images against {mem.n_train} training images.")
        parts.append(
            md_table(
                [
                    "space",
                    "near-copy threshold",
                    "nearest-train similarity of synthetic images",
                    "synthetic above threshold",
                    "floor: held-out real above threshold",
                ],
                rows,
            )
        )
        if "similarity_hist.png" in images:
            parts.append(
                "The distributions: each synthetic image's similarity to its nearest training image, "
                "beside held-out real images' (other patients: the floor), and the threshold."
            )
            parts.append(f"![similarity distributions]({images['similarity_hist.png']})")
        for key, space in (("nn_pairs.png", "pixel"), ("nn_pairs_feature.png", "feature")):
            if key in images:
                parts.append(
                    f"The 8 closest synthetic–training pairs ({space} space), "
                    "each synthetic image left of its nearest training image:"
                )
                parts.append(f"![nearest pairs, {space}]({images[key]})")
    if result.unreadable:
        parts.append("## Skipped files")
        parts += [f"- {s.path}: {s.reason}" for s in result.unreadable[:20]]
        if len(result.unreadable) > 20:
            parts.append(f"- … and {len(result.unreadable) - 20} more")
    parts.append(f"Computed in {result.seconds:.1f} s.")
    return "\n\n".join(parts) + "\n"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def write_quality_report(
    result: QualityResult, synthetic: ImagePool, real: ImageSet, train: ImageSet | None, out: Path
) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pngs: dict[str, bytes] = {}
    if (bars := _bars(result)) is not None:
        pngs["floor_bars.png"] = bars
    for q in result.conditions:
        idx = synthetic.of(q.condition)
        if not len(idx):
            continue
        ridx, _ = match_real(real, synthetic.condition(q.condition))
        pngs[f"grid_{_safe(q.condition)}.png"] = _grid_pair(synthetic.images[idx], real.images[ridx])
    if (hist := _similarity_histograms(result)) is not None:
        pngs["similarity_hist.png"] = hist
    if train is not None:
        for key, space in (("nn_pairs.png", "pixel"), ("nn_pairs_feature.png", "feature")):
            if (pairs := _pairs_png(result, synthetic, train, space)) is not None:
                pngs[key] = pairs
    files = write_report(out, lambda images: markdown(result, images), pngs, "edgegen quality")
    atomic_write_json(out / "results.json", {"schema_version": 1, **_plain(result)})
    return {**files, "results": out / "results.json"}


def _plain(result: QualityResult) -> dict:
    from edgegen.schema import to_plain

    return to_plain(result)
