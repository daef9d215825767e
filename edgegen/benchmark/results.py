"""The bench results schema (one dataclass tree → results.json) and its loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgegen.errors import ArtifactError

RESULTS_SCHEMA_VERSION = 2  # 2: interleaved rounds, CIs, quality module, GAN and cloud legs


@dataclass
class LegResult:
    name: str
    kind: str
    backend: str | None
    precisions: dict[str, str]
    status: str  # "ok" | "failed" | "skipped"
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # every sample, per round, as measured
    summary: dict[str, Any] = field(default_factory=dict)  # medians, CVs, throughput derived from raw
    quality: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None


@dataclass
class BenchResults:
    created: str
    machine: dict[str, Any]
    software: dict[str, str]
    profile: dict[str, Any]
    model: dict[str, Any]
    settings: dict[str, Any]
    setup: dict[str, Any]
    legs: list[LegResult]
    compute: dict[str, Any]
    headline: dict[str, Any]
    schema_version: int = RESULTS_SCHEMA_VERSION

    @property
    def failed(self) -> list[LegResult]:
        return [leg for leg in self.legs if leg.status == "failed"]

    def leg(self, name: str) -> LegResult | None:
        return next((leg for leg in self.legs if leg.name == name), None)


def load_results(path: Path) -> BenchResults:
    from edgegen.atomic import read_versioned_json

    raw = read_versioned_json(path, "results", RESULTS_SCHEMA_VERSION, "edgegen bench")
    try:
        raw["legs"] = [LegResult(**leg) for leg in raw["legs"]]
        return BenchResults(**raw)
    except (TypeError, KeyError) as exc:
        raise ArtifactError(f"{path} is not an edgegen results file ({exc})") from exc
