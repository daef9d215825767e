"""The figures an engineer acts on, each a ratio between two legs measured in the same rounds,
with its 95% interval and a verdict that calls a leg faster only when the interval excludes 1."""

from __future__ import annotations

from edgegen.benchmark.results import BenchResults, LegResult
from edgegen.benchmark.summary import best_throughput, per_image_rounds, speedup

CPU_BACKENDS = ("torch", "ort-cpu", "openvino", "optimum")


def _ok(results: BenchResults, name: str) -> LegResult | None:
    r = results.leg(name)
    return r if r is not None and r.status == "ok" else None


def _latency_rounds(r: LegResult | None):
    return (r.raw.get("rounds") or {}).get("1") if r else None


def _component_rounds(r: LegResult | None, key: str):
    return (r.raw.get("components") or {}).get(key) if r else None


def _throughput_rounds(r: LegResult | None):
    if r is None:
        return None
    best = best_throughput(r.raw.get("rounds") or {})
    return best[1] if best else None


def _classifier_rounds(r: LegResult | None):
    if r is None:
        return None
    batch, rounds = next(iter((r.raw.get("rounds") or {}).items()), (None, None))
    return per_image_rounds(rounds, int(batch)) if rounds else None


def _accuracy(r: LegResult | None) -> float | None:
    m = (r.summary.get("metrics") or {}) if r else {}
    acc = m.get("accuracy") or m.get("macro_auroc")
    return acc.get("value") if isinstance(acc, dict) else None


def _fastest(results: BenchResults, kind: str, reference: str) -> dict | None:
    ref = _ok(results, reference)
    best = None
    for r in results.legs:
        if r.status != "ok" or r.name == reference or r.kind not in kind or r.backend not in CPU_BACKENDS:
            continue
        s = speedup(_latency_rounds(ref), _latency_rounds(r))
        if s and (best is None or s["value"] > best[1]["value"]):
            best = (r.name, s)
    return {"leg": best[0], "vs_reference": best[1]} if best else None


def family_verdicts(results: BenchResults) -> list[dict]:
    """Per condition and metric (KID and detectability AUROC: lower is better; precision and
    recall: higher is better), the diffusion model against the GAN, each on torch FP32 (the models,
    not a runtime): which family wins, said only when the two 95% intervals do not overlap."""
    sd, gan = _ok(results, "sd/torch/fp32"), _ok(results, "gan/torch/fp32")
    if sd is None or gan is None:
        return []
    out = []
    qs, qg = (sd.quality or {}).get("conditions") or {}, (gan.quality or {}).get("conditions") or {}
    for cond in qs:
        for metric, lower_better in (("kid", True), ("detectability", True), ("precision", False), ("recall", False)):
            a, b = (qs.get(cond) or {}).get(metric), (qg.get(cond) or {}).get(metric)
            if not isinstance(a, dict) or not isinstance(b, dict):
                continue
            if a["high"] < b["low"]:
                verdict = "diffusion" if lower_better else "GAN"
            elif b["high"] < a["low"]:
                verdict = "GAN" if lower_better else "diffusion"
            else:
                verdict = "no difference shown"
            out.append({"condition": cond, "metric": metric, "diffusion": a, "gan": b, "better": verdict})
    return out


def headline(results: BenchResults) -> dict:
    sd_t, sd_o, sd_8 = _ok(results, "sd/torch/fp32"), _ok(results, "sd/ort-cpu/fp32"), _ok(results, "sd/ort-cpu/int8")
    out: dict = {
        "sd_ort_fp32_vs_torch_latency": speedup(_latency_rounds(sd_t), _latency_rounds(sd_o)),
        "sd_unet_int8_vs_fp32_step": speedup(
            _component_rounds(sd_o, "unet_steps_s"), _component_rounds(sd_8, "unet_steps_s")
        ),
        "sd_openvino_int8_vs_torch_latency": speedup(
            _latency_rounds(sd_t), _latency_rounds(_ok(results, "sd/openvino/int8"))
        ),
        "sd_torch_compile_vs_torch_latency": speedup(
            _latency_rounds(sd_t), _latency_rounds(_ok(results, "sd/torch-compile/fp32"))
        ),
        "edgegen_ort_vs_optimum_ort_latency": speedup(
            _latency_rounds(_ok(results, "sd/optimum-ort/fp32")), _latency_rounds(sd_o)
        ),
        "fastest_cpu_sd_leg": _fastest(results, ("sd", "optimum"), "sd/torch/fp32"),
        "fastest_cpu_gan_leg": _fastest(results, ("gan",), "gan/torch/fp32"),
    }
    g_o, g_8 = _ok(results, "gan/ort-cpu/fp32"), _ok(results, "gan/ort-cpu/int8")
    out["gan_int8_vs_fp32_throughput"] = speedup(_throughput_rounds(g_o), _throughput_rounds(g_8))
    gans = [r for r in results.legs if r.status == "ok" and r.kind == "gan"]
    sds = [r for r in results.legs if r.status == "ok" and r.kind == "sd"]
    if gans and sds:
        fast_gan = max(gans, key=lambda r: max((r.summary.get("images_per_s") or {0: 0}).values()))
        fast_sd = max(sds, key=lambda r: max((r.summary.get("images_per_s") or {0: 0}).values()))
        ratio = speedup(_throughput_rounds(fast_sd), _throughput_rounds(fast_gan)) or {}
        out["gan_vs_diffusion_images_per_s"] = {
            "gan_leg": fast_gan.name,
            "sd_leg": fast_sd.name,
            **ratio,
            # the target: one GAN pass ≥ 100× the diffusion default's images/s (its lower CI bound)
            "target_100x": None if not ratio else ("met" if ratio["low"] >= 100 else "not met"),
        }
    clf_t = _ok(results, "classifier/torch/fp32")
    clfs = [
        r for r in results.legs if r.status == "ok" and r.kind == "classifier" and r.name != "classifier/torch/fp32"
    ]
    if clf_t and clfs:
        ratios = {r.name: speedup(_classifier_rounds(clf_t), _classifier_rounds(r)) for r in clfs}
        best = max((n for n in ratios if ratios[n]), key=lambda n: ratios[n]["value"], default=None)
        if best:
            acc_t, acc_b = _accuracy(clf_t), _accuracy(_ok(results, best))
            out["classifier_best_vs_torch_throughput"] = {
                "leg": best,
                **ratios[best],
                "accuracy_change_pts": None if acc_t is None or acc_b is None else 100 * (acc_b - acc_t),
            }
        out["classifier_vs_torch_throughput"] = ratios
    out["family_verdicts"] = family_verdicts(results)
    out["peak_rss_mb"] = {
        r.name: r.summary.get("peak_rss_mb") for r in results.legs if r.status == "ok" and r.kind != "cloud"
    }
    out["cost_usd_per_image_at_volume"] = {
        r.name: r.cost.get("edge_usd_per_image_at_volume") for r in results.legs if r.cost and r.kind != "cloud"
    }
    out["cloud"] = {
        r.name: {
            "usd_per_image": r.summary.get("usd_per_image"),
            "latency_p50_s": r.summary.get("latency_p50_s"),
            "latency_p90_s": r.summary.get("latency_p90_s"),
        }
        for r in results.legs
        if r.kind == "cloud" and r.status == "ok"
    }
    out["cv"] = {
        r.name: ((r.summary.get("latency") or r.summary.get("batch") or {}).get("cv"))
        for r in results.legs
        if r.status == "ok" and r.kind != "cloud"
    }
    return out
