"""Cost per image of each bench leg from its own measured throughput, against the cloud options
nearest its image size (a mismatch in size is said, never hidden), at the user's monthly volume
and at full utilisation."""

from __future__ import annotations

import math

from edgegen.benchmark.power import WHOLE_DEVICE_METERS
from edgegen.benchmark.results import LegResult
from edgegen.benchmark.summary import METER_COVERS


def leg_seconds_per_image(summary: dict) -> float | None:
    """Seconds per image at the leg's best measured batch (its throughput)."""
    ips = summary.get("images_per_s") or {}
    return 1.0 / max(ips.values()) if ips else None


def cost_legs(results: list[LegResult], profile, image_side: int, images_per_month: float) -> None:
    from edgegen.cloud.prices import cloud_options, load_prices
    from edgegen.cost import (
        EdgeInputs,
        break_even_images_per_month,
        edge_usd_per_image_at_utilization,
        edge_usd_per_image_at_volume,
        nearest_cloud_options,
    )

    prices = load_prices()
    options = nearest_cloud_options(image_side, cloud_options(prices))
    hw, pw, el = profile.hardware, profile.power, profile.electricity
    for r in results:
        if r.status != "ok":
            continue
        if r.kind == "cloud":
            r.cost = {
                "usd_per_image": r.summary.get("usd_per_image"),
                "size": r.summary.get("size"),
                "source": "measured spend / images",
            }
            continue
        if r.kind == "classifier":
            continue
        s_img = leg_seconds_per_image(r.summary)
        if not s_img:
            continue
        energy = r.summary.get("energy") or {}
        # A partial meter (RAPL: CPU package; NVML: GPU board) is not the device's power: the cost
        # then uses the profile's whole-device load watts, and says so.
        measured = energy.get("method") in WHOLE_DEVICE_METERS and energy.get("watts")
        watts = energy["watts"] if measured else pw.load_w
        edge = EdgeInputs(
            hw.price_usd, hw.lifetime_years, hw.utilization, watts, pw.idle_w, s_img, el.usd_per_kwh, bool(measured)
        )
        full = EdgeInputs(hw.price_usd, hw.lifetime_years, 1.0, watts, pw.idle_w, s_img, el.usd_per_kwh, bool(measured))
        at_volume = edge_usd_per_image_at_volume(edge, images_per_month)
        vs = []
        for opt, note in options:
            be = break_even_images_per_month(edge, opt.usd_per_image)
            vs.append(
                {
                    "model": opt.model,
                    "size": opt.size,
                    "quality": opt.quality,
                    "cloud_usd_per_image": opt.usd_per_image,
                    "edge_cheaper_by": opt.usd_per_image / at_volume if at_volume else None,
                    "break_even_images_per_month": None if math.isinf(be) else be,
                    "note": note,
                }
            )
        r.cost = {
            "seconds_per_image": s_img,
            "edge_usd_per_image_at_volume": at_volume,
            "edge_usd_per_image_full_utilization": edge_usd_per_image_at_utilization(full),
            "images_per_month": images_per_month,
            "energy": (
                f"measured ({energy['method']}, whole device)"
                if measured
                else f"profile estimate ({pw.load_w:g} W whole device)"
                + (
                    f"; {energy['method']} measured {energy['watts']:.1f} W for "
                    f"{METER_COVERS.get(energy['method'], energy['method'])}"
                    if energy.get("method") not in (None, "estimate") and energy.get("watts")
                    else ""
                )
            ),
            "vs_cloud": vs,
        }


def assumed_rows(profiles: list) -> list[dict]:
    """Per GPU profile with a reference speed: cost at that speed, labelled assumed (not measured
    here), so nobody mistakes it for a bench figure."""
    from edgegen.cost import EdgeInputs, edge_usd_per_image_at_utilization

    out = []
    for p in profiles:
        ref = getattr(p, "reference_speed", None)
        if ref is None:
            continue
        e = EdgeInputs(
            p.hardware.price_usd,
            p.hardware.lifetime_years,
            1.0,
            p.power.load_w,
            p.power.idle_w,
            ref.seconds_per_image,
            p.electricity.usd_per_kwh,
        )
        out.append(
            {
                "profile": p.name,
                "seconds_per_image": ref.seconds_per_image,
                "usd_per_image_full_utilization": edge_usd_per_image_at_utilization(e),
                "status": f"assumed ({ref.source})",
            }
        )
    return out
