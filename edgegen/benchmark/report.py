"""Render bench results as Markdown and a self-contained HTML page with plots and image grids.
`edgegen report results.json` calls this again on a saved run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.benchmark.results import BenchResults, LegResult
from edgegen.reporting import fig_png, fmt, image_grid, md_table, png_bytes, pyplot, write_report

_f = fmt


def _ci(d: dict | None, spec: str = "{:.2f}", unit: str = "") -> str:
    if not d:
        return "–"
    return f"{spec.format(d['value'])}{unit} [{spec.format(d['low'])}, {spec.format(d['high'])}]"


def _ratio(d: dict | None) -> str:
    if not d or "value" not in d:
        return "not measured"
    return f"**{d['value']:.2f}×** [{d['low']:.2f}, {d['high']:.2f}] over {d['rounds']} rounds: {d['verdict']}"


def _lat(s: dict) -> str:
    lat = s.get("latency") or {}
    if not lat:
        return "–"
    p90 = f", p90 {lat['p90']:.3f}" if lat.get("p90") is not None else ""
    return f"{lat['median']:.3f} (n={lat['n']}, CV {lat['cv']:.0%}{p90})"


def _comp(s: dict, key: str) -> str:
    c = (s.get("components") or {}).get(key) or {}
    return _f(c.get("median"), "{:.4f}")


def _quality_cell(q: dict | None, key: str, spec: str) -> str:
    if not q:
        return "–"
    if q.get("note"):
        return q["note"]
    cells = []
    for name, c in (q.get("conditions") or {}).items():
        if c.get("skipped") or not c.get(key):
            continue
        value, floor = c[key], c[key + "_floor"]
        cells.append(f"{name}: {_ci(value, spec)} (floor {_ci(floor, spec)})")
    return "; ".join(cells) or "–"


def _cloud_row(r: LegResult) -> list[str]:
    s, q = r.summary, r.quality or {}
    lat = s.get("latency") or {}
    p90 = f", p90 {lat['p90']:.2f}" if lat.get("p90") is not None else ""
    usd = _f(s.get("usd_per_image"), "${:.4f}")
    return [
        r.name,
        "ok",
        "–",
        f"{_f(lat.get('median'), '{:.2f}')} (n={lat.get('n', 0)}{p90}; network round trip, {s.get('size')})",
        "–",
        "–",
        "–",
        "not measurable (cloud)",
        "–",
        _quality_cell(q, "kid", "{:.4f}"),
        _quality_cell(q, "detectability", "{:.2f}"),
        "–",
        f"{usd} (billed)",
        f"{usd} (billed)",
    ]


def gen_rows(results: BenchResults) -> list[list[str]]:
    rows = []
    for r in results.legs:
        if r.kind not in ("sd", "gan", "optimum", "cloud"):
            continue
        if r.status != "ok":
            rows.append([r.name, r.status, r.error or "", *[""] * 11])
            continue
        if r.kind == "cloud":
            rows.append(_cloud_row(r))
            continue
        s, q, c = r.summary, r.quality or {}, r.cost or {}
        energy = s.get("energy") or {}
        rows.append(
            [
                r.name,
                "ok",
                _f(s.get("cold_start_s"), "{:.2f}"),
                _lat(s),
                (
                    f"TE {_comp(s, 'text_encoder_s')} / UNet "
                    f"{_comp(s, 'unet_steps_s')} / VAE {_comp(s, 'vae_decoder_s')}"
                    if r.kind == "sd"
                    else f"G {_comp(s, 'generator_s')}"
                    if r.kind == "gan"
                    else "–"
                ),
                " / ".join(f"{_f(v, '{:.2f}')}@{b}" for b, v in (s.get("images_per_s") or {}).items()),
                _f(s.get("peak_rss_mb"), "{:.0f}"),
                f"{_f(energy.get('joules_per_image'), '{:.2f}')} ({energy.get('method', '?')})",
                _f(s.get("achieved_gflops"), "{:.1f}"),
                _quality_cell(q, "kid", "{:.4f}"),
                _quality_cell(q, "detectability", "{:.2f}"),
                f"{_f(q.get('ssim_vs_reference'), '{:.3f}')} / {_f(q.get('psnr_vs_reference_db'), '{:.1f}')}",
                _f(c.get("edge_usd_per_image_at_volume"), "${:.5f}"),
                _f(c.get("edge_usd_per_image_full_utilization"), "${:.6f}"),
            ]
        )
    return rows


GEN_HEADER = [
    "leg",
    "status",
    "cold start s",
    "latency s/image (batch 1)",
    "components s (median)",
    "images/s @ batch",
    "peak RSS MB",
    "energy J/img",
    "GFLOP/s (UNet)",
    "KID per class (floor)",
    "detectability AUROC (floor)",
    "SSIM / PSNR vs torch FP32",
    "$/img at volume",
    "$/img full use",
]


def classifier_rows(results: BenchResults) -> list[list[str]]:
    rows = []
    for r in results.legs:
        if r.kind != "classifier":
            continue
        if r.status != "ok":
            rows.append([r.name, r.status, r.error or "", "", "", ""])
            continue
        s = r.summary
        m = s.get("metrics") or {}
        batch = s.get("batch") or {}
        acc = m.get("accuracy") or m.get("macro_auroc")
        rows.append(
            [
                r.name,
                "ok",
                f"{_f(next(iter((s.get('images_per_s') or {}).values()), None), '{:.0f}')} "
                f"(CV {_f(batch.get('cv'), '{:.0%}')}, n={batch.get('n', 0)})",
                _ci(acc, "{:.3f}"),
                _ci(m.get("auroc"), "{:.3f}"),
                _f(s.get("peak_rss_mb"), "{:.0f}"),
            ]
        )
    return rows


CLF_HEADER = [
    "leg",
    "status",
    "images/s (batch 64)",
    "accuracy (findings: macro AUROC) [95% CI]",
    "AUROC [95% CI]",
    "peak RSS MB",
]


def cost_rows(results: BenchResults) -> list[list[str]]:
    rows = []
    side = results.settings.get("size")
    for r in results.legs:
        c = r.cost or {}
        if r.kind == "cloud" and r.status == "ok":
            size = r.summary.get("size") or ""
            match = (
                "like for like" if size == f"{side}x{side}" else f"not like for like: edge {side} px vs cloud {size}"
            )
            rows.append(
                [
                    r.name,
                    _f((r.summary.get("latency") or {}).get("median"), "{:.2f} (latency)"),
                    "–",
                    "–",
                    f"{r.name.split('/', 1)[-1]} {size} (measured)",
                    _f(c.get("usd_per_image"), "${:.4f}"),
                    "–",
                    match,
                ]
            )
            continue
        for v in c.get("vs_cloud", []):
            rows.append(
                [
                    r.name,
                    _f(c["seconds_per_image"], "{:.4f}"),
                    _f(c["edge_usd_per_image_at_volume"], "${:.6f}"),
                    _f(c["edge_usd_per_image_full_utilization"], "${:.7f}"),
                    f"{v['model']} {v['size']} {v['quality']}",
                    _f(v["cloud_usd_per_image"], "${:.3f}"),
                    _f(v.get("break_even_images_per_month"), "{:.0f}", "never"),
                    v.get("note") or "like for like",
                ]
            )
    return rows


COST_HEADER = [
    "leg",
    "s/image (best batch)",
    "edge $/img at volume",
    "edge $/img at full use",
    "cloud option (nearest size)",
    "cloud $/img",
    "break-even img/month",
    "size match",
]


def _headline_lines(results: BenchResults) -> list[str]:
    h = results.headline
    lines = [
        f"- SD ORT FP32 vs torch eager, latency: {_ratio(h.get('sd_ort_fp32_vs_torch_latency'))}",
        f"- SD UNet INT8 vs FP32 (ORT CPU, per step): {_ratio(h.get('sd_unet_int8_vs_fp32_step'))}",
        f"- SD OpenVINO INT8 vs torch: {_ratio(h.get('sd_openvino_int8_vs_torch_latency'))}",
        f"- edgegen ORT vs optimum's ORT pipeline: {_ratio(h.get('edgegen_ort_vs_optimum_ort_latency'))}",
    ]
    for key, what in (("fastest_cpu_sd_leg", "diffusion"), ("fastest_cpu_gan_leg", "GAN")):
        f = h.get(key)
        if f:
            lines.append(f"- Fastest CPU {what} leg: **{f['leg']}**, vs torch eager {_ratio(f['vs_reference'])}")
    g = h.get("gan_vs_diffusion_images_per_s")
    sd_px, gan_px = results.settings.get("size"), (results.model or {}).get("gan_resolution")
    if g:
        where = (
            f"both at {sd_px} px"
            if gan_px in (None, sd_px)
            else f"NOT the same size: diffusion {sd_px} px, GAN {gan_px} px"
        )
        target = f"; target ≥ 100×: {g['target_100x']}" if g.get("target_100x") else ""
        lines.append(
            f"- GAN vs diffusion images/s (fastest of each, {where}): {g['gan_leg']} vs {g['sd_leg']}: {_ratio(g)}"
            + target
        )
    elif (results.model or {}).get("gan_note"):
        lines.append(f"- GAN legs: not run ({results.model['gan_note']})")
    gi = h.get("gan_int8_vs_fp32_throughput")
    if gi:
        lines.append(f"- GAN INT8 vs FP32 (ORT CPU, throughput): {_ratio(gi)}")
    c = h.get("classifier_best_vs_torch_throughput")
    if c:
        lines.append(
            f"- Best classifier leg **{c['leg']}** vs torch eager (batch 64): {_ratio(c)}; "
            f"accuracy change {_f(c.get('accuracy_change_pts'), '{:+.2f}')} pts"
        )
    verdicts = h.get("family_verdicts") or []
    if verdicts:
        lines.append(
            "- Which family wins (torch FP32 of each; KID and detectability: lower is better, precision and "
            "recall: higher; a family wins only when the intervals do not overlap): "
            + "; ".join(
                f"{v['condition']} {v['metric']}: diffusion {v['diffusion']['value']:.3g} vs GAN "
                f"{v['gan']['value']:.3g} → **{v['better']}**"
                for v in verdicts
            )
        )
    for name, v in (h.get("cloud") or {}).items():
        lines.append(
            f"- {name}: latency p50 {_f(v['latency_p50_s'], '{:.2f}')} s, p90 "
            f"{_f(v['latency_p90_s'], '{:.2f}')} s, ${_f(v['usd_per_image'], '{:.3f}')} per image (measured)"
        )
    return lines


def _leg_images(r: LegResult, n: int = 6) -> np.ndarray | None:
    path = (r.raw or {}).get("quality_file")
    if not path or not Path(path).is_file():
        return None
    data = np.load(path)
    images, conds = data["images"], data["conditions"]
    rows = [images[conds == c][:n] for c in dict.fromkeys(conds.tolist())]
    return np.concatenate([r for r in rows if len(r)]) if rows else None


def plots(results: BenchResults) -> dict[str, bytes]:
    plt = pyplot()
    out = {}
    ok = [r for r in results.legs if r.status == "ok" and r.kind in ("sd", "gan", "optimum")]
    if ok:
        fig, ax = plt.subplots(figsize=(8, 0.6 + 0.45 * len(ok)))
        steps = results.settings.get("steps", 1)
        for i, r in enumerate(ok):
            comps = r.summary.get("components") or {}
            med = lambda k, comps=comps: (comps.get(k) or {}).get("median") or 0.0  # noqa: E731
            if r.kind == "sd":
                te, un, vd = med("text_encoder_s"), med("unet_steps_s") * steps, med("vae_decoder_s")
                ax.barh(i, te, color="#4c72b0", label="text encoder" if i == 0 else None)
                ax.barh(i, un, left=te, color="#dd8452", label=f"UNet × {steps} steps" if i == 0 else None)
                ax.barh(i, vd, left=te + un, color="#55a868", label="VAE decoder" if i == 0 else None)
            else:
                ax.barh(
                    i,
                    (r.summary.get("latency") or {}).get("median") or 0,
                    color="#8172b3" if r.kind == "gan" else "#999",
                )
        ax.set_xscale("log")
        ax.set_yticks(range(len(ok)), [r.name for r in ok])
        ax.set_xlabel("seconds per image at batch 1 (median, log scale)")
        ax.legend(loc="lower right", fontsize=7)
        out["latency.png"] = fig_png(fig)
        plt.close(fig)
    scored = [r for r in ok if (r.quality or {}).get("conditions")]
    if scored:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        points = []
        for r in scored:
            x = 1.0 / max((r.summary.get("images_per_s") or {1: 1e-9}).values())
            ds = [c["detectability"] for c in r.quality["conditions"].values() if c.get("detectability")]
            if not ds:
                continue
            y = float(np.mean([d["value"] for d in ds]))
            lo, hi = float(np.mean([d["low"] for d in ds])), float(np.mean([d["high"] for d in ds]))
            ax.errorbar(
                x,
                y,
                yerr=[[max(y - lo, 0.0)], [max(hi - y, 0.0)]],
                fmt="o" if r.kind == "sd" else "s",
                color="#dd8452" if r.kind == "sd" else "#8172b3",
                capsize=3,
            )
            ax.annotate(r.name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
            points.append((x, y))
        frontier = pareto_frontier(points)
        if len(frontier) > 1:
            ax.step(
                *zip(*frontier, strict=True), where="post", color="k", linewidth=0.8, label="frontier (both families)"
            )
        floors = [
            c["detectability_floor"]["value"]
            for r in scored
            for c in r.quality["conditions"].values()
            if c.get("detectability_floor")
        ]
        if floors:
            ax.axhline(float(np.mean(floors)), color="#4c72b0", linestyle=":", label="real-vs-real floor")
        ax.axhline(0.5, color="k", linewidth=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image at the best batch (log): left is faster")
        ax.set_ylabel("detectability AUROC (lower is more realistic)")
        ax.set_title("Quality vs speed: diffusion (circles) and GAN (squares)")
        ax.legend(fontsize=7)
        out["quality_vs_speed.png"] = fig_png(fig)
        plt.close(fig)
    for r in ok:
        grid = _leg_images(r)
        if grid is not None:
            out[f"grid_{r.name.replace('/', '_')}.png"] = png_bytes(image_grid(grid, cols=6))
    side_by_side = _all_legs_grid([r for r in results.legs if r.status == "ok"], plt)
    if side_by_side is not None:
        out["grid_all_legs.png"] = side_by_side
    return out


def pareto_frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both axes (lower seconds per image and lower
    detectability), from the fastest to the most realistic. Pure."""
    out: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not out or y < out[-1][1]:
            out.append((x, y))
    return out


def _all_legs_grid(legs: list[LegResult], plt, per_condition: int = 4) -> bytes | None:
    """One figure: a row per leg, the same seeds and conditions in every column."""
    rows = []
    for r in legs:
        path = (r.raw or {}).get("quality_file")
        if not path or not Path(path).is_file():
            continue
        data = np.load(path)
        conds, seeds = data["conditions"].tolist(), data["seeds"].tolist()
        rows.append((r.name, data["images"], conds, seeds))
    if not rows:
        return None
    columns = []  # (condition, seed) pairs, in the reference leg's order
    for cond in dict.fromkeys(rows[0][2]):
        columns += [(c, s) for c, s in zip(rows[0][2], rows[0][3], strict=True) if c == cond][:per_condition]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.1 * len(columns) + 1.6, 1.1 * len(rows) + 0.4))
    axes = np.atleast_2d(axes)
    for i, (name, images, conds, seeds) in enumerate(rows):
        where = {(c, s): k for k, (c, s) in enumerate(zip(conds, seeds, strict=True))}
        for j, key in enumerate(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            k = where.get(key)
            if k is None:  # e.g. a cloud leg with fewer images
                ax.set_facecolor("#eee")
            else:
                ax.imshow(images[k], cmap="gray", vmin=0, vmax=255)
            if i == 0:
                ax.set_title(key[0][:18], fontsize=6)
            if j == 0:
                ax.set_ylabel(name, fontsize=6, rotation=0, ha="right", va="center")
    fig.subplots_adjust(left=0.16, right=0.99, top=0.95, bottom=0.01, wspace=0.04, hspace=0.04)
    png = fig_png(fig)
    plt.close(fig)
    return png


def _real_size_lines(results: BenchResults) -> list[str]:
    """The cost rows of a measured real-size run (bench/presets.sh sd15 512) costed on this run's
    profile: what a SD 1.5-size model's images cost here, from that run's own throughput."""
    ref = (results.setup or {}).get("real_size_reference")
    if not ref:
        return [
            "No real-size run found (bench/results/sd15-512-cpu-x86/results.json, made by "
            "`bench/presets.sh sd15 512`): the rows above are for the embedded model's size only."
        ]
    return [
        f"From {ref['path']} ({ref['machine']}, {ref['created']}), costed on this run's profile:",
        md_table(COST_HEADER, ref["rows"]),
    ]


def _assumed_lines() -> list[str]:
    from edgegen.benchmark.costing import assumed_rows
    from edgegen.profiles import load_profile, profile_names

    rows = assumed_rows([load_profile(n) for n in profile_names()])
    if not rows:
        return [
            "No device profile carries a reference speed (`reference_speed` in profiles/*.yaml), so no cost is "
            "shown for devices this run did not measure. For your own device: "
            "`edgegen cost --profile P --seconds-per-image S` with a speed you measured (label it as such)."
        ]
    return [
        md_table(
            ["profile", "s/image", "$/img at full use", "status"],
            [
                [
                    r["profile"],
                    _f(r["seconds_per_image"], "{:.2f}"),
                    _f(r["usd_per_image_full_utilization"], "${:.5f}"),
                    r["status"],
                ]
                for r in rows
            ],
        )
    ]


def markdown(results: BenchResults, images: dict[str, str]) -> str:
    cpu = results.machine.get("cpu") or {}
    skipped = [f"- `{r.name}`: {r.status}: {r.error}" for r in results.legs if r.status != "ok"]
    features = next((r.quality.get("features") for r in results.legs if r.quality and r.quality.get("features")), "n/a")
    settings = results.settings
    conds = ", ".join(
        c["name"] + (f" ({c['population']})" if c.get("population") else "") for c in settings.get("conditions", [])
    )
    energies = sorted(
        {
            (r.summary.get("energy") or {}).get("covers")
            for r in results.legs
            if r.status == "ok" and r.summary.get("energy")
        }
        - {None}
    )
    parts = [
        f"# edgegen bench: {results.model['name']}"
        + (f" and {results.model['gan']}" if results.model.get("gan") else "")
        + f" on {results.profile['name']}",
        f"{results.created} · {cpu.get('model', '?')} "
        f"({cpu.get('logical_cores', '?')} threads, {cpu.get('memory_gb', '?')} GiB) · "
        f"{settings['size']} px, {settings['steps']} steps, {settings['scheduler']}, "
        f"guidance {settings['guidance_scale']} · conditions: {conds} · "
        f"model sha256 {results.model['sha256'][:12]}",
        "## Headline",
        *_headline_lines(results),
        "Timing: every leg runs in its own process with its model loaded "
        f"once; {settings['rounds']} rounds visit the legs in rotating order "
        f"({settings['calls_per_round']} timed calls per leg per round "
        "at batch 1), so each ratio compares samples seconds apart; "
        "a ratio's interval is a bootstrap over rounds, and a leg is called "
        "faster only when it excludes 1. p90 is shown only from ≥ 10 samples.",
        "## Generation legs",
        md_table(GEN_HEADER, gen_rows(results)),
        *(
            [
                f"Quality: {settings['quality_per_class']} images per condition per leg, "
                "the same seeds on every leg, scored with the quality module's features "
                f"({features}) against held-out real images of the same condition; each "
                "figure beside its real-vs-real floor (two disjoint real samples, same size). "
                "See `edgegen quality` for the full set (PRDC, diversity, memorization). The optimum leg is "
                "timed only: it runs the ORT FP32 leg's computation through optimum's own export."
            ]
            if features != "n/a"
            else ["Quality: not measured in this run (`--no-quality`; random weights make it meaningless)."]
        ),
        *(
            [f"![every leg, same seeds]({images['grid_all_legs.png']})"]
            if "grid_all_legs.png" in images
            else [f"![images {n}]({src})" for n, src in images.items() if n.startswith("grid_")]
        ),
        *(
            [
                "Each row of the grid is one leg (label at left), each column one seed and condition: the same "
                "seeds on every leg, so rows differ only by backend and precision (GAN rows by family)."
            ]
            if any(n.startswith("grid_") for n in images)
            else []
        ),
        "## Classifier legs (real test set)",
        *([md_table(CLF_HEADER, clf)] if (clf := classifier_rows(results)) else ["No classifier legs in this run."]),
        "## Cost per image (each leg from its own throughput)",
        md_table(COST_HEADER, cost_rows(results)),
        f"At {settings['images_per_month']:.0f} images/month; a leg that cannot "
        "make that volume on one box is costed with as many boxes as it needs. "
        "Cloud options are paired at the nearest priced size; a size mismatch is stated in the last column.",
        "### Real size (measured: the SD 1.5 UNet shape at 512 px, random weights)",
        *_real_size_lines(results),
        "### Other device profiles (assumed speeds, not measured in this run)",
        *_assumed_lines(),
        "## Energy",
        *(f"- {e}" for e in energies or ["no leg reported energy"]),
        "## Plots",
        *(f"![{n}]({src})" for n, src in images.items() if not n.startswith("grid_")),
        "## Skipped or failed legs",
        *(skipped or ["- none"]),
        f"## Set-up\nexport {results.setup['export_s']:.1f} s (reused: "
        f"{len(results.setup['reused'])}, exported: {len(results.setup['exported'])}); "
        f"optimum export {results.setup['optimum_export_s']:.1f} s; quality "
        f"{_f(results.setup.get('quality_s'), '{:.0f}')} s; whole run {_f(results.setup.get('total_s'), '{:.0f}')} s.",
    ]
    if results.compute.get("unet_flops_per_call"):
        parts.append(
            f"UNet: {results.compute['unet_flops_per_call'] / 1e9:.3f} GFLOP per call (batch "
            f"{results.compute['unet_call_batch']}), counted with {results.compute['counted_with']}."
        )
    return "\n\n".join(parts) + "\n"


def write_reports(results: BenchResults, folder: Path) -> dict[str, Path]:
    return write_report(
        folder, lambda images: markdown(results, images), plots(results), f"edgegen bench {results.model['name']}"
    )
