"""Cloud legs of the bench: the same conditions sent to a cloud image model through the official
openai client (key hygiene, budget, retries and refusals exactly as `edgegen dalle`), with the
measured latency per image, the price per image, and the images scored by the quality module
after resizing to the bench's image size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgegen.benchmark.stats import summarize
from edgegen.schema import to_plain


@dataclass(frozen=True)
class CloudLegConfig:
    models: tuple[str, ...]
    per_condition: int = 2
    max_usd: float = 1.0
    base_url: str | None = None
    api_key_file: Path | None = None
    timeout_s: float = 120.0
    max_retries: int = 3


def cloud_size(model: str, edge_side: int, prices) -> str:
    """The priced square size nearest the edge images (dall-e-2 has 256 px; others 1024)."""
    from edgegen.cloud.prices import cloud_options
    from edgegen.cost import nearest_cloud_options

    opts = [o for o, _ in nearest_cloud_options(edge_side, cloud_options(prices)) if o.model == model]
    return opts[0].size if opts else "1024x1024"


def run_cloud_leg(
    model: str,
    config: CloudLegConfig,
    conditions: tuple[dict, ...],
    template: str,
    size: int,
    folder: Path,
    prices,
    seed: int = 0,
) -> dict:
    """Generate `per_condition` images per condition; return the leg's raw result dict
    (status, latencies, cost, images .npz for quality)."""
    from edgegen.cloud.images import CloudSettings, read_api_key, run_cloud
    from edgegen.conditions import Condition
    from edgegen.data.decode import decode_image
    from edgegen.errors import EdgegenError
    from edgegen.runtime.generate import plan

    leg_dir = folder / "legs" / f"cloud_{model}"
    conds = [Condition(c["name"], c.get("population", ""), tuple(c.get("findings", ()))) for c in conditions]
    items = plan(conds, config.per_condition, template, seed)
    settings = CloudSettings(
        model,
        cloud_size(model, size, prices),
        None,
        None,
        config.timeout_s,
        config.max_retries,
        config.base_url,
        config.max_usd,
    )
    try:
        result = run_cloud(items, settings, prices, leg_dir / "images", read_api_key(config.api_key_file))
    except EdgegenError as exc:
        return {"status": "failed", "error": exc.one_line()}
    files = [(it, leg_dir / "images" / it.file) for it in items if (leg_dir / "images" / it.file).is_file()]
    if not files:
        return {
            "status": "failed",
            "error": "no image came back"
            + (f" ({len(result.refused)} refused by the content policy)" if result.refused else ""),
        }
    gray = np.stack([decode_image(p, size) for _, p in files])
    npz = leg_dir / "quality_images.npz"
    np.savez_compressed(
        npz,
        images=gray,
        conditions=np.array([it.class_name for it, _ in files]),
        seeds=np.array([it.seed for it, _ in files]),
    )
    lat = summarize(result.latencies_s)
    return {
        "status": "ok",
        "size": settings.size,
        "latency": to_plain(lat),
        "latency_p50_s": lat.median if lat else None,
        "latency_p90_s": lat.p90 if lat else None,  # None below 10 samples: no honest 90th percentile
        "usd_per_image": result.spent_usd / result.generated
        if result.generated
        else prices.per_image(model, settings.size, None),
        "spent_usd": result.spent_usd,
        "generated": result.generated,
        "refused": len(result.refused),
        "stopped_by_budget": result.stopped_by_budget,
        "quality_file": str(npz),
    }
