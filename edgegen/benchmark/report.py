"""Render bench results as Markdown and a self-contained HTML page with matplotlib plots.
`edgegen report results.json` calls this again on a saved run."""

from __future__ import annotations

from pathlib import Path

from edgegen.benchmark.results import BenchResults
from edgegen.reporting import fig_png, fmt, md_table, write_report


_f = fmt


def _med(summary: dict, key: str):
    v = summary.get(key)
    return v.get("median") if isinstance(v, dict) else None


def sd_rows(results: BenchResults) -> list[list[str]]:
    rows = []
    for r in results.legs:
        if r.kind == "classifier":
            continue
        if r.status != "ok":
            rows.append([r.name, r.status, r.error or "", *[""] * 13])
            continue
        s, q, c = r.summary, r.quality or {}, r.cost or {}
        e2e = s.get("e2e") or {}
        energy = s.get("energy") or {}
        fid = q.get("fid") or {}
        fidelity = (q.get("label_fidelity") or {}).get("per_class") or {}
        rows.append([
            r.name, "ok", _f(s.get("cold_start_s"), "{:.2f}"),
            f"{_f(e2e.get('median'), '{:.3f}')} / {_f(e2e.get('p90'), '{:.3f}')} / {_f(e2e.get('p99'), '{:.3f}')}",
            _f(_med(s, "text_encoder"), "{:.4f}"), _f(_med(s, "unet_step"), "{:.4f}"), _f(_med(s, "vae_decoder"), "{:.4f}"),
            " / ".join(f"{_f(v, '{:.2f}')}@{b}" for b, v in (s.get("images_per_s") or {}).items()),
            _f(s.get("peak_rss_mb"), "{:.0f}"),
            f"{_f(energy.get('joules_per_image'), '{:.2f}')} ({energy.get('method', '?')})",
            _f(s.get("achieved_gflops"), "{:.1f}"),
            _f(q.get("ssim_vs_reference"), "{:.4f}"), _f(q.get("psnr_vs_reference_db"), "{:.1f}"),
            " / ".join(f"{k}:{_f(v, '{:.1f}')}" for k, v in fid.items()),
            " / ".join(f"{k}:{_f(v, '{:.0%}')}" for k, v in fidelity.items()),
            _f(c.get("edge_usd_per_image"), "${:.5f}"),
        ])
    return rows


SD_HEADER = ["leg", "status", "cold start s", "e2e s median / p90 / p99", "text enc s", "UNet step s", "VAE dec s", "images/s @ batch", "peak RSS MB", "energy J/img", "GFLOP/s", "SSIM vs torch", "PSNR dB", "FID", "label fidelity", "$/image"]


def classifier_rows(results: BenchResults) -> list[list[str]]:
    rows = []
    for r in results.legs:
        if r.kind != "classifier":
            continue
        if r.status != "ok":
            rows.append([r.name, r.status, r.error or "", "", "", "", ""])
            continue
        s = r.summary
        m = s.get("metrics") or {}
        rows.append([r.name, "ok", _f((s.get("images_per_s") or {}).get("64"), "{:.0f}"), _f(m.get("accuracy"), "{:.4f}"), _f(m.get("f1_macro"), "{:.4f}"), _f(m.get("auroc"), "{:.4f}"), _f(s.get("peak_rss_mb"), "{:.0f}")])
    return rows


CLF_HEADER = ["leg", "status", "images/s (batch 64)", "accuracy", "macro F1", "AUROC", "peak RSS MB"]


_md_table = md_table


def _headline_lines(results: BenchResults) -> list[str]:
    h = results.headline
    return [
        f"- ORT FP32 vs torch eager, end-to-end: **{_f(h.get('ort_fp32_vs_torch_e2e_speedup'), '{:.2f}×')}**",
        f"- UNet INT8 vs FP32 (ORT CPU, per step): **{_f(h.get('int8_vs_fp32_unet_step_speedup'), '{:.2f}×')}**, label fidelity change {_f(h.get('int8_label_fidelity_change_pts'), '{:+.1f}')} pts",
        f"- Classifier ORT INT8 vs torch throughput: **{_f(h.get('classifier_int8_vs_torch_throughput'), '{:.2f}×')}**, accuracy change {_f(h.get('classifier_int8_accuracy_change_pts'), '{:+.2f}')} pts",
        f"- edgegen ORT vs optimum ORT pipeline (same ONNX model family, same settings): **{_f(h.get('edgegen_ort_vs_optimum_ort_speedup'), '{:.2f}×')}**",
        f"- Fastest CPU leg: **{h.get('fastest_cpu_leg')}**, {_f(h.get('fastest_cpu_leg_vs_torch_e2e_speedup'), '{:.2f}×')} torch eager end-to-end; "
        f"OpenVINO INT8 {_f(h.get('openvino_int8_vs_torch_e2e_speedup'), '{:.2f}×')}, torch.compile {_f(h.get('torch_compile_vs_torch_e2e_speedup'), '{:.2f}×')}",
        "- Cloud price per image: " + ", ".join(f"{m} ${v:.3f}" for m, v in (h.get("cloud_usd_per_image") or {}).items()) + " (latency not measured without --cloud)",
    ]


def plots(results: BenchResults) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = results.settings.get("steps", 1)
    ok = [r for r in results.legs if r.status == "ok" and r.kind != "classifier"]
    out = {}
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.5 * max(1, len(ok))))
    for i, r in enumerate(ok):
        te, un, vd = (_med(r.summary, "text_encoder") or 0), (_med(r.summary, "unet_step") or 0) * steps, (_med(r.summary, "vae_decoder") or 0)
        if not (te or un or vd):
            ax.barh(i, _med(r.summary, "e2e") or 0, color="#999", label="end-to-end (no per-component timing)" if i == 0 else None)
            continue
        ax.barh(i, te, color="#4c72b0", label="text encoder" if i == 0 else None)
        ax.barh(i, un, left=te, color="#dd8452", label=f"UNet × {steps} steps" if i == 0 else None)
        ax.barh(i, vd, left=te + un, color="#55a868", label="VAE decoder" if i == 0 else None)
    ax.set_yticks(range(len(ok)), [r.name for r in ok])
    ax.set_xlabel("seconds per image (median)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Latency per component")
    out["latency.png"] = _png(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in ok:
        x, y = _med(r.summary, "e2e"), ((r.quality or {}).get("label_fidelity") or {}).get("overall")
        if x and y is not None:
            ax.scatter(x, 100 * y)
            ax.annotate(r.name, (x, 100 * y), fontsize=7)
    ax.set_xlabel("seconds per image (median)")
    ax.set_ylabel("label fidelity %")
    ax.set_title("Quality vs latency")
    out["quality_vs_latency.png"] = _png(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    import numpy as np

    from edgegen.cost import EdgeInputs, edge_usd_per_image_at_volume

    prof = results.profile
    volumes = np.logspace(1, 6, 60)
    for r in ok:
        if not r.cost:
            continue
        e = EdgeInputs(prof["hardware"]["price_usd"], prof["hardware"]["lifetime_years"], prof["hardware"]["utilization"], prof["power"]["load_w"], prof["power"]["idle_w"], r.cost["seconds_per_image"], prof["electricity"]["usd_per_kwh"])
        ax.plot(volumes, [edge_usd_per_image_at_volume(e, v) for v in volumes], label=r.name)
    for m, v in results.settings.get("cloud", {}).items():
        ax.axhline(v["usd_per_image"], linestyle="--", color="k", linewidth=0.8)
        ax.annotate(m, (volumes[0], v["usd_per_image"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("images per month")
    ax.set_ylabel("USD per image")
    ax.set_title(f"Cost vs monthly volume ({prof['name']})")
    ax.legend(fontsize=6)
    out["cost_vs_volume.png"] = _png(fig)
    plt.close("all")
    return out


_png = fig_png


def markdown(results: BenchResults, images: dict[str, str]) -> str:
    cpu = results.machine.get("cpu") or {}
    skipped = [f"- `{r.name}`: {r.status}: {r.error}" for r in results.legs if r.status != "ok"]
    q = next((r.quality for r in results.legs if r.quality), None) or {}
    parts = [
        f"# edgegen bench: {results.model['name']} on {results.profile['name']}",
        f"{results.created} · {cpu.get('model', '?')} ({cpu.get('logical_cores', '?')} threads, {cpu.get('memory_gb', '?')} GiB) · "
        f"{results.settings['size']}px, {results.settings['steps']} steps, {results.settings['scheduler']}, guidance {results.settings['guidance_scale']} · "
        f"model sha256 {results.model['sha256'][:12]}",
        "## Headline", *_headline_lines(results),
        "## Generation legs", _md_table(SD_HEADER, sd_rows(results)),
        f"Cold start = load + first image. e2e over {results.settings['warm_runs']} warm single images (text encoder re-run each time). "
        f"Quality on {results.settings['quality_per_class']} images per class, same seeds on every leg; SSIM/PSNR against `sd/torch/fp32`; "
        f"FID/KID against the real PneumoniaMNIST test images of the same class, features: {q.get('feature_extractor', 'n/a')} "
        "(not comparable with Inception-based FID). Energy 'estimate' = profile load watts × time.",
        "## Classifier legs (real test set)", _md_table(CLF_HEADER, classifier_rows(results)),
        f"## Compute\nUNet: {results.compute['unet_flops_per_call'] / 1e9:.3f} GFLOP per call (batch {results.compute['unet_call_batch']}), counted with {results.compute['counted_with']}.",
        "## Plots", *(f"![{name}]({src})" for name, src in images.items()),
        "## Skipped or failed legs", *(skipped or ["- none"]),
        f"## Set-up\nexport {results.setup['export_s']:.1f} s (reused: {len(results.setup['reused'])}, exported: {len(results.setup['exported'])}); optimum export {results.setup['optimum_export_s']:.1f} s; whole run {_f(results.setup.get('total_s'), '{:.0f}')} s.",
    ]
    return "\n\n".join(parts) + "\n"


def write_reports(results: BenchResults, folder: Path) -> dict[str, Path]:
    return write_report(folder, lambda images: markdown(results, images), plots(results), f"edgegen bench {results.model['name']}")
