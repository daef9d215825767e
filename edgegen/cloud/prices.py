"""The cloud price table: data (prices.yaml), schema-checked, overridable by a user file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from edgegen.errors import CloudError, UsageError
from edgegen.schema import RuleError, SchemaViolation, load_dataclass

BUNDLED = Path(__file__).with_name("prices.yaml")
# What "auto" and unset choices mean per model family, for pricing before the call.
DEFAULT_SIZE = "1024x1024"
DEFAULT_QUALITY = {"dall-e-2": "standard", "dall-e-3": "standard"}


@dataclass(frozen=True)
class TokenPrices:
    text_input_usd_per_million: float
    image_input_usd_per_million: float
    image_output_usd_per_million: float


@dataclass(frozen=True)
class ModelPrices:
    source: str
    per_image: dict[str, dict[str, float]]
    tokens: TokenPrices | None = None

    def __post_init__(self) -> None:
        import re

        if not re.search(r"\b20\d\d-\d\d", self.source):
            raise RuleError("source", "has no date", "say when the price was read, YYYY-MM-DD")


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrices]

    def per_image(self, model: str, size: str | None, quality: str | None) -> float:
        """USD for one image before the call. 'auto' quality prices at the dearest tier (a budget
        must hold whatever the API picks)."""
        prices = self.models.get(model)
        if prices is None:
            raise CloudError(
                f"no price known for model {model!r}",
                hint="add it to a --prices YAML file (see edgegen/cloud/prices.yaml)",
            )
        row = prices.per_image.get(size or DEFAULT_SIZE)
        if row is None:
            raise CloudError(f"no {model} price for size {size}", hint=f"sizes priced: {', '.join(prices.per_image)}")
        q = quality or DEFAULT_QUALITY.get(model, "auto")
        if q == "auto":
            return max(row.values())
        if q not in row:
            raise CloudError(
                f"no {model} price for quality {q!r} at {size}", hint=f"qualities priced: {', '.join(row)}"
            )
        return row[q]

    def from_usage(self, model: str, usage: dict | None) -> float | None:
        """Actual USD from a GPT image response's token usage; None when not token-billed."""
        prices = self.models.get(model)
        if not usage or prices is None or prices.tokens is None:
            return None
        t = prices.tokens
        details = usage.get("input_tokens_details") or {}
        text_in = details.get("text_tokens", usage.get("input_tokens", 0))
        image_in = details.get("image_tokens", 0)
        out = usage.get("output_tokens", 0)
        return (
            text_in * t.text_input_usd_per_million
            + image_in * t.image_input_usd_per_million
            + out * t.image_output_usd_per_million
        ) / 1e6


def cloud_options(table: PriceTable):
    """Every priced (model, size, quality) as a CloudOption."""
    from edgegen.cost import CloudOption

    return [
        CloudOption(model, size, quality, usd)
        for model, prices in table.models.items()
        for size, row in prices.per_image.items()
        for quality, usd in row.items()
    ]


def load_prices(path: Path | None = None) -> PriceTable:
    path = Path(path) if path else BUNDLED
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"price file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML") from exc
    try:
        return load_dataclass(PriceTable, data)
    except SchemaViolation as exc:
        raise UsageError(f"{path}: {exc}") from exc
