"""From a leg's raw per-round samples to its summary, and the headline ratios with intervals.
Pure: dicts of samples in, dicts out (tested with synthetic samples whose answers are known)."""

from __future__ import annotations

from edgegen.benchmark.stats import RatioCI, paired_speedup, summarize
from edgegen.schema import to_plain

METER_COVERS = {
    "rapl": "CPU package only (RAPL): excludes memory, disks, fans and the power supply",
    "nvml": "GPU board only (NVML): excludes the host CPU and memory",
    "tegrastats": "whole Jetson module (tegrastats VDD_IN)",
    "estimate": "not measured: the profile's load watts × time (whole device, an estimate)",
}


def flat(rounds: list[list[float]] | None) -> list[float]:
    return [v for r in rounds or [] for v in r]


def per_image_rounds(rounds: list[list[float]], batch: int) -> list[list[float]]:
    """Seconds per call → seconds per image, round by round."""
    return [[s / batch for s in r] for r in rounds]


def leg_summary(
    kind: str, load: dict, rounds: dict[str, list[list[float]]], components: dict[str, list[list[float]]], stats: dict
) -> dict:
    one = rounds.get("1") or []
    out = {
        "cold_start_s": load.get("cold_start_s"),
        "load_s": load.get("load_s"),
        "first_s": load.get("first_s"),
        "rounds": len(one) if one else len(next(iter(rounds.values()), [])),
        "images_per_s": {b: int(b) / s.median for b, r in rounds.items() if (s := summarize(flat(r)))},
        "peak_rss_mb": stats.get("peak_rss_mb"),
    }
    if kind == "classifier":
        b, r = next(iter(rounds.items()), ("64", []))
        out["batch"] = to_plain(summarize(flat(r)))
        out["metrics"] = load.get("metrics")
    else:
        out["latency"] = to_plain(summarize(flat(one)))
        out["components"] = {k: to_plain(summarize(flat(v))) for k, v in components.items()}
    energy = stats.get("energy") or {}
    if energy.get("watts"):
        s_img = (out.get("latency") or {}).get("median")
        out["energy"] = {
            "method": energy["method"],
            "covers": METER_COVERS.get(energy["method"], energy["method"]),
            "watts": energy["watts"],
            "joules_per_image": energy["watts"] * s_img if s_img else None,
        }
    return out


def best_throughput(rounds: dict[str, list[list[float]]]) -> tuple[int, list[list[float]]] | None:
    """(batch, seconds-per-image rounds) at the batch with the highest median images/s."""
    best = None
    for b, r in rounds.items():
        s = summarize(flat(r))
        if s and (best is None or int(b) / s.median > best[0]):
            best = (int(b) / s.median, int(b), per_image_rounds(r, int(b)))
    return (best[1], best[2]) if best else None


def speedup(a_rounds, b_rounds) -> dict | None:
    """How many times faster B is than A (paired by round), as a plain dict with a verdict."""
    ci: RatioCI | None = paired_speedup(a_rounds or [], b_rounds or [])
    return None if ci is None else {**to_plain(ci), "verdict": ci.verdict}
