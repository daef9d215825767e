"""`run_study`: prepare (checks, sources), run the units (resumable), score the sources' image
quality, analyse, report. The one entry point the CLI and the benchmarks call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.study.analysis import StudyResult, analyse
from edgegen.study.spec import StudySpec


@dataclass
class StudyOutcome:
    result: StudyResult
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)


def source_quality(state, size: int = 128) -> dict[str, dict]:
    """Each source against held-out real images of the study's real data, beside the floor."""
    import hashlib
    import json

    from edgegen.atomic import atomic_write_json
    from edgegen.cli.quality import load_real_pools
    from edgegen.quality.assess import assess_quality
    from edgegen.quality.features import FeatureNetwork
    from edgegen.quality.sources import load_image_pool

    held, net, out, floors = None, None, {}, {}
    for name, src in state.sources.items():
        # Scored once per source content: a resumed or re-analysed study does not score it again.
        manifest = Path(src.folder) / "manifest.jsonl"
        key = hashlib.sha256(
            (manifest.read_bytes() if manifest.is_file() else b"") + f"{state.spec.real.data}:{size}".encode()
        ).hexdigest()[:16]
        cache = state.folder / "quality" / f"{name}.json"
        if cache.is_file() and json.loads(cache.read_text()).get("key") == key:
            out[name] = json.loads(cache.read_text())["quality"]
            continue
        if held is None:
            held, _ = load_real_pools(state.spec.real.data, "held-out", size, None, False)
            net = FeatureNetwork()
        pool = load_image_pool(src.folder, size)
        res = assess_quality(pool, held, None, net, bootstrap=100, floor_cache=floors)
        bits = [
            f"{q.condition}: KID {q.kid.value:.4f} (floor {q.kid_floor.value:.4f}), detectability "
            f"{q.detectability.auroc.value:.2f} (floor {q.detectability_floor.auroc.value:.2f})"
            for q in res.conditions
            if not q.skipped
        ]
        from edgegen.schema import to_plain

        out[name] = {"summary": "; ".join(bits) or "not scored", "detail": to_plain(res.conditions)}
        atomic_write_json(cache, {"key": key, "quality": out[name]})
    return out


def run_study(
    spec: StudySpec,
    out: Path,
    progress: Callable[[str], None] = lambda _m: None,
    unit_progress=None,
    ray_address: str | None = None,
) -> StudyOutcome:
    import json

    from edgegen.schema import to_plain
    from edgegen.study.report import versions, write_study_report
    from edgegen.study.runner import prepare, run_units

    state = prepare(spec, out, progress)
    progress(f"{len(state.units)} units ({len(state.done)} already done)")
    run_units(state, unit_progress, ray_address)
    quality = {}
    if spec.quality:
        progress("source quality (quality module, beside the real floor)")
        quality = source_quality(state)
    result = analyse(state, quality=quality)
    raw = {uid: rec for uid, rec in state.done.items()}
    files = write_study_report(result, Path(out), json.loads(json.dumps(to_plain(spec))), raw, versions())
    return StudyOutcome(result, Path(out), files)
