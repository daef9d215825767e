"""Generate CXRs through OpenAI's images API (dall-e-2, dall-e-3, gpt-image-*), with the same
provenance and resumable manifest as local generation, a hard budget, and refusals recorded.

The official `openai` client does the HTTP: timeouts, and bounded retries with backoff on
408/409/429/5xx honouring retry-after. The API key comes from OPENAI_API_KEY or a file, and is
never printed, logged or written anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.atomic import atomic_write_bytes
from edgegen.cloud.prices import PriceTable
from edgegen.errors import CloudError
from edgegen.hashing import sha256_bytes
from edgegen.runtime.generate import MANIFEST, PlannedImage
from edgegen.runtime.provenance import append_line, png_bytes, read_lines

REFUSALS = "refusals.jsonl"
POLICY_CODES = ("content_policy_violation", "moderation_blocked")


@dataclass(frozen=True)
class CloudSettings:
    model: str
    size: str = "1024x1024"
    quality: str | None = None  # None: the model's default
    response_format: str | None = None  # dall-e only: "b64_json" or "url"
    timeout_s: float = 120.0
    max_retries: int = 3
    base_url: str | None = None
    max_usd: float = 1.0


@dataclass
class CloudPlan:
    items: list[PlannedImage]
    usd_per_image: float
    todo: int
    already_spent_usd: float

    @property
    def planned_usd(self) -> float:
        return self.todo * self.usd_per_image


@dataclass
class CloudResult:
    out_dir: Path
    generated: int = 0
    skipped: int = 0
    refused: list[dict] = field(default_factory=list)
    spent_usd: float = 0.0  # this run
    total_usd: float = 0.0  # everything recorded in the output folder
    stopped_by_budget: bool = False
    latencies_s: list[float] = field(default_factory=list)


def read_api_key(key_file: Path | None = None) -> str:
    if key_file is not None:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise CloudError(f"cannot read the API key file {key_file} ({type(exc).__name__})") from None
    else:
        key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        raise CloudError("no OpenAI API key", hint="set OPENAI_API_KEY or pass --api-key-file")
    return key


def plan_cloud(items: list[PlannedImage], settings: CloudSettings, prices: PriceTable, out_dir: Path) -> CloudPlan:
    done = _done(out_dir, settings)
    spent = sum(float(r.get("cost_usd") or 0.0) for r in read_lines(Path(out_dir) / MANIFEST))
    return CloudPlan(
        items,
        prices.per_image(settings.model, settings.size, settings.quality),
        sum(1 for it in items if it.file not in done),
        spent,
    )


def _done(out_dir: Path, settings: CloudSettings) -> set[str]:
    out = set()
    for rec in read_lines(Path(out_dir) / MANIFEST):
        path = Path(out_dir) / rec.get("file", "")
        if (
            rec.get("model") == settings.model
            and path.is_file()
            and sha256_bytes(path.read_bytes()) == rec.get("sha256")
        ):
            out.add(rec["file"])
    return out


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def _image_bytes(item, http_timeout: float) -> bytes:
    if getattr(item, "b64_json", None):
        return base64.b64decode(item.b64_json)
    if getattr(item, "url", None):
        import httpx

        resp = httpx.get(item.url, timeout=http_timeout, follow_redirects=True)
        resp.raise_for_status()
        return resp.content
    raise CloudError("the API returned an image with neither b64_json nor url")


def run_cloud(
    items: list[PlannedImage],
    settings: CloudSettings,
    prices: PriceTable,
    out_dir: Path,
    api_key: str,
    progress: Callable[[int, int, float], None] | None = None,
) -> CloudResult:
    import numpy as np
    import openai
    from PIL import Image, UnidentifiedImageError

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_cloud(items, settings, prices, out_dir)
    done = _done(out_dir, settings)
    result = CloudResult(out_dir, skipped=len(done), total_usd=plan.already_spent_usd)
    client = openai.OpenAI(
        api_key=api_key, base_url=settings.base_url, timeout=settings.timeout_s, max_retries=settings.max_retries
    )
    is_dalle = settings.model.startswith("dall-e")
    for it in (i for i in items if i.file not in done):
        if result.total_usd + plan.usd_per_image > settings.max_usd + 1e-12:
            result.stopped_by_budget = True  # checked before the request: never overspends
            break
        kwargs = {"model": settings.model, "prompt": it.prompt, "n": 1, "size": settings.size}
        if settings.quality:
            kwargs["quality"] = settings.quality
        if is_dalle:
            kwargs["response_format"] = settings.response_format or "b64_json"
        start = time.perf_counter()
        try:
            response = client.images.generate(**kwargs)
        except openai.BadRequestError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            code = body.get("code") or (body.get("error") or {}).get("code")
            if code in POLICY_CODES:
                refusal = {
                    "file": it.file,
                    "class": it.class_name,
                    "prompt": it.prompt,
                    "code": code,
                    "message": _scrub(str(body.get("message", "")), api_key),
                }
                append_line(out_dir / REFUSALS, refusal)
                result.refused.append(refusal)
                continue
            raise CloudError(f"the images API rejected the request: {_scrub(str(exc), api_key)[:300]}") from None
        except openai.APITimeoutError:
            raise CloudError(
                f"the images API did not answer within {settings.timeout_s:g} s (after {settings.max_retries} retries)",
                hint="re-run to resume",
            ) from None
        except openai.APIStatusError as exc:
            raise CloudError(
                f"the images API failed with HTTP {exc.status_code} after "
                f"{settings.max_retries} retries: {_scrub(exc.message, api_key)[:200]}",
                hint="re-run later to resume",
            ) from None
        except openai.APIConnectionError:
            raise CloudError(
                f"cannot reach the images API at {settings.base_url or 'api.openai.com'}",
                hint="check the network or --base-url",
            ) from None
        latency = time.perf_counter() - start
        usage = response.usage.model_dump() if getattr(response, "usage", None) else None
        cost = prices.from_usage(settings.model, usage)
        cost = plan.usd_per_image if cost is None else cost
        data = response.data[0]
        raw = _image_bytes(data, settings.timeout_s)
        try:
            with Image.open(io.BytesIO(raw)) as im:
                pixels = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise CloudError(
                f"the images API returned an unreadable image for {it.file} ({type(exc).__name__})"
            ) from None
        tags = {
            "class": it.class_name,
            "prompt": it.prompt,
            "model": settings.model,
            "backend": "cloud",
            "size": settings.size,
            "quality": settings.quality or "default",
            "revised_prompt": getattr(data, "revised_prompt", None) or "",
        }
        png = png_bytes(pixels, tags)
        atomic_write_bytes(out_dir / it.file, png)
        append_line(
            out_dir / MANIFEST,
            {
                **tags,
                "file": it.file,
                "sha256": sha256_bytes(png),
                "latency_s": round(latency, 3),
                "cost_usd": round(cost, 6),
                "usage": usage,
                "synthetic": True,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        )
        result.generated += 1
        result.spent_usd += cost
        result.total_usd += cost
        result.latencies_s.append(latency)
        if progress:
            progress(result.skipped + result.generated, len(items), result.spent_usd)
    return result
