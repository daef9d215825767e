"""The findings vocabulary (edgegen/assets/findings.yaml): names, aliases, and which dataset
columns make each finding positive. Pure apart from reading the YAML file.

Values follow the CheXpert convention: 1 positive, 0 negative, -1 uncertain, blank (NaN) not
mentioned. `combine` ORs a finding's source columns and applies an uncertainty policy; the
result is float32 with NaN where a value is to be ignored (masked in losses and metrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import numpy as np

from edgegen.assets import ASSETS_DIR
from edgegen.errors import DataError, UsageError

FINDINGS_MAP = ASSETS_DIR / "findings.yaml"
FINDINGS_MAP_ENV = "EDGEGEN_FINDINGS_MAP"
NO_FINDING = "no_finding"


class UncertainPolicy(StrEnum):
    ONES = "ones"  # uncertain → positive (U-Ones, Irvin et al. 2019)
    ZEROS = "zeros"  # uncertain → negative (U-Zeros)
    IGNORE = "ignore"  # uncertain → masked out of the loss and the metrics


@dataclass(frozen=True)
class Finding:
    name: str  # canonical key, e.g. "pleural_effusion"
    display: str
    reader_study: bool
    aliases: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]  # vocabulary → dataset columns

    @property
    def words(self) -> str:
        """How the finding reads in a prompt."""
        return self.display.lower()


@dataclass(frozen=True)
class FindingsMap:
    path: str
    findings: tuple[Finding, ...]
    unmapped: dict[str, tuple[str, ...]]
    metadata_columns: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.findings)

    @property
    def reader_study(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.findings if f.reader_study)

    def get(self, name: str) -> Finding:
        return self.findings[self.names.index(self.resolve(name))]

    def resolve(self, name: str) -> str:
        """Canonical name for a name or alias (case and '_'/' ' insensitive), or a UsageError."""
        key = _norm(name)
        for f in self.findings:
            if key == _norm(f.name) or key in {_norm(a) for a in f.aliases} or key == _norm(f.display):
                return f.name
        known = ", ".join(f.name for f in self.findings)
        raise UsageError(f"unknown finding {name!r} (not in {self.path})", hint=f"use one of: {known}")

    def source_columns(self, vocabulary: str) -> set[str]:
        cols = {c for f in self.findings for c in f.sources.get(vocabulary, ())}
        return cols | set(self.unmapped.get(vocabulary, ()))

    def combine(
        self,
        columns: dict[str, np.ndarray],
        vocabulary: str,
        policy: UncertainPolicy,
        names: tuple[str, ...] | None = None,
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Per finding, OR of its source columns present in `columns` (values 1/0/-1/NaN).

        Returns (float32 [N, F] with 1/0/NaN, finding names). A finding none of whose columns
        is present is left out. Blank (not mentioned) counts as negative, as CheXpert's labeler
        intends; uncertain follows `policy`.
        """
        names = names or self.names
        n = len(next(iter(columns.values()))) if columns else 0
        out, kept = [], []
        for name in names:
            cols = [columns[c] for c in self.get(name).sources.get(vocabulary, ()) if c in columns]
            if not cols:
                continue
            stack = np.stack([np.asarray(c, dtype=np.float32) for c in cols])
            positive = (stack == 1).any(axis=0)
            uncertain = (stack == -1).any(axis=0) & ~positive
            value = positive.astype(np.float32)
            if policy is UncertainPolicy.ONES:
                value[uncertain] = 1.0
            elif policy is UncertainPolicy.IGNORE:
                value[uncertain] = np.nan
            out.append(value)
            kept.append(name)
        return (np.stack(out, axis=1) if out else np.zeros((n, 0), np.float32)), tuple(kept)


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").lower().split())


def use_findings_map(path: str | Path | None) -> FindingsMap:
    """Make a user's mapping file (same keys as findings.yaml) the one every later load uses —
    `edgegen --findings-map PATH ...` or EDGEGEN_FINDINGS_MAP. Validated at once."""
    import os

    if path is None:
        os.environ.pop(FINDINGS_MAP_ENV, None)
        return load_findings_map()
    fmap = _load_findings_map(str(Path(path).expanduser().resolve()))
    os.environ[FINDINGS_MAP_ENV] = fmap.path
    return fmap


def load_findings_map(path: str | None = None) -> FindingsMap:
    """The findings map: `path`, else the one chosen with --findings-map / EDGEGEN_FINDINGS_MAP,
    else the embedded findings.yaml."""
    import os

    return _load_findings_map(str(path or os.environ.get(FINDINGS_MAP_ENV) or FINDINGS_MAP))


@lru_cache(maxsize=8)
def _load_findings_map(path: str) -> FindingsMap:
    import yaml

    file = Path(path).expanduser()
    try:
        raw = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise DataError(f"findings map {file} does not exist") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{file}: not valid YAML ({type(exc).__name__})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), dict) or not raw["findings"]:
        raise DataError(f"{file}: needs a 'findings' mapping", hint=f"see {FINDINGS_MAP}")
    findings = []
    for name, spec in raw["findings"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("sources"), dict):
            raise DataError(f"{file}: findings.{name} needs a 'sources' mapping (vocabulary → columns)")
        sources = {str(k): tuple(str(c) for c in v) for k, v in spec["sources"].items()}
        findings.append(
            Finding(
                str(name),
                str(spec.get("display", name)),
                bool(spec.get("reader_study", False)),
                tuple(str(a) for a in spec.get("aliases", ())),
                sources,
            )
        )
    unmapped = {str(k): tuple(str(c) for c in v) for k, v in (raw.get("unmapped") or {}).items()}
    return FindingsMap(str(file), tuple(findings), unmapped, tuple(str(c) for c in raw.get("metadata_columns") or ()))


def multi_hot_from_names(label_lists: list[list[str]], names: tuple[str, ...]) -> np.ndarray:
    """[['pleural_effusion'], []] → float32 multi-hot over `names` (used by synthetic folders)."""
    out = np.zeros((len(label_lists), len(names)), np.float32)
    for i, labels in enumerate(label_lists):
        for label in labels:
            if label in names:
                out[i, names.index(label)] = 1.0
    return out
