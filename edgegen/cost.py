"""Cost per image, edge versus cloud, and the monthly volume where an edge box pays for itself.

Pure functions of explicit inputs (profile figures, measured seconds per image, cloud prices),
so every number in a report can be recomputed by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_YEAR = 365.25 * 24 * 3600
MONTHS_PER_YEAR = 12


@dataclass(frozen=True)
class EdgeInputs:
    hardware_usd: float
    lifetime_years: float
    utilization: float  # share of wall time spent generating, for the amortised figure
    load_watts: float
    idle_watts: float
    seconds_per_image: float
    usd_per_kwh: float
    energy_measured: bool = False  # True when load_watts comes from a power meter, not the profile


def energy_kwh_per_image(watts: float, seconds_per_image: float) -> float:
    return watts * seconds_per_image / 3.6e6


def energy_usd_per_image(e: EdgeInputs) -> float:
    return energy_kwh_per_image(e.load_watts, e.seconds_per_image) * e.usd_per_kwh


def images_per_month_capacity(e: EdgeInputs, utilization: float = 1.0) -> float:
    return SECONDS_PER_YEAR / MONTHS_PER_YEAR * utilization / e.seconds_per_image


def hardware_usd_per_month(e: EdgeInputs) -> float:
    return e.hardware_usd / (e.lifetime_years * MONTHS_PER_YEAR)


def boxes_needed(e: EdgeInputs, images_per_month: float) -> int:
    """Boxes needed to make `images_per_month` (each at full utilisation): a slow leg that cannot
    keep up needs more hardware, so it costs more per image at volume."""
    return max(1, math.ceil(images_per_month / images_per_month_capacity(e) - 1e-9))


def idle_usd_per_month(e: EdgeInputs, images_per_month: float) -> float:
    """Energy of the hours the boxes are on but not generating (they are assumed always on)."""
    busy = images_per_month * e.seconds_per_image
    idle_seconds = max(0.0, boxes_needed(e, images_per_month) * SECONDS_PER_YEAR / MONTHS_PER_YEAR - busy)
    return e.idle_watts * idle_seconds / 3.6e6 * e.usd_per_kwh


def edge_usd_per_image_at_utilization(e: EdgeInputs) -> float:
    """Hardware amortised over every image made in its lifetime at `utilization`, plus energy."""
    lifetime_images = e.lifetime_years * SECONDS_PER_YEAR * e.utilization / e.seconds_per_image
    return e.hardware_usd / lifetime_images + energy_usd_per_image(e)


def edge_usd_per_month(e: EdgeInputs, images_per_month: float) -> float:
    return (
        boxes_needed(e, images_per_month) * hardware_usd_per_month(e)
        + images_per_month * energy_usd_per_image(e)
        + idle_usd_per_month(e, images_per_month)
    )


def edge_usd_per_image_at_volume(e: EdgeInputs, images_per_month: float) -> float:
    if images_per_month <= 0:
        return math.inf
    return edge_usd_per_month(e, images_per_month) / images_per_month


def break_even_images_per_month(e: EdgeInputs, cloud_usd_per_image: float) -> float:
    """Monthly volume above which the edge box is cheaper than the cloud (inf: never).

    Solves hw/month + V·energy + idle(V) = V·cloud, with idle(V) = idle_w·(T − V·s)·price.
    """
    month_s = SECONDS_PER_YEAR / MONTHS_PER_YEAR
    idle_per_s = e.idle_watts / 3.6e6 * e.usd_per_kwh
    fixed = hardware_usd_per_month(e) + idle_per_s * month_s
    margin = cloud_usd_per_image - energy_usd_per_image(e) + idle_per_s * e.seconds_per_image
    if margin <= 0:
        return math.inf
    volume = fixed / margin
    return volume if volume <= images_per_month_capacity(e) else math.inf


@dataclass(frozen=True)
class CostComparison:
    images_per_month: float
    edge_usd_per_image: float  # at that monthly volume
    edge_usd_per_image_at_utilization: float
    edge_usd_per_month: float
    energy_usd_per_image: float
    capacity_images_per_month: float
    cloud_model: str
    cloud_usd_per_image: float
    cloud_usd_per_month: float
    break_even_images_per_month: float
    energy_source: str  # "measured" or "profile estimate"


def compare(e: EdgeInputs, cloud_model: str, cloud_usd_per_image: float, images_per_month: float) -> CostComparison:
    return CostComparison(
        images_per_month=images_per_month,
        edge_usd_per_image=edge_usd_per_image_at_volume(e, images_per_month),
        edge_usd_per_image_at_utilization=edge_usd_per_image_at_utilization(e),
        edge_usd_per_month=edge_usd_per_month(e, images_per_month),
        energy_usd_per_image=energy_usd_per_image(e),
        capacity_images_per_month=images_per_month_capacity(e),
        cloud_model=cloud_model,
        cloud_usd_per_image=cloud_usd_per_image,
        cloud_usd_per_month=cloud_usd_per_image * images_per_month,
        break_even_images_per_month=break_even_images_per_month(e, cloud_usd_per_image),
        energy_source="measured" if e.energy_measured else "profile estimate",
    )


@dataclass(frozen=True)
class CloudOption:
    model: str
    size: str  # "WxH" as the API takes it
    quality: str
    usd_per_image: float

    @property
    def side(self) -> int:
        w, h = (int(v) for v in self.size.split("x"))
        return max(w, h)


def nearest_cloud_options(edge_side: int, options: list[CloudOption]) -> list[tuple[CloudOption, str | None]]:
    """Per cloud model, its options at the size nearest the edge image side (square sizes
    first), each with a mismatch note, or None when the sides match (like for like)."""
    out = []
    for model in dict.fromkeys(o.model for o in options):
        mine = [o for o in options if o.model == model]
        square = [o for o in mine if o.size.split("x")[0] == o.size.split("x")[1]] or mine
        best = min({o.side for o in square}, key=lambda side: (abs(side - edge_side), side))
        for o in (o for o in square if o.side == best):
            note = None if o.side == edge_side else f"not like for like: edge {edge_side} px vs cloud {o.size}"
            out.append((o, note))
    return out
