"""TensorRT engines for the bench's `trt` legs, built (or reused) before the legs run.

Engines cover the profile's shape ranges widened to the bench's batch sizes and image size, so
every timed call fits; `edgegen.export.build` checks INT8 graphs against TensorRT's Q/DQ rules
first. A leg whose engines cannot be built is skipped with the reason; the others go on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from edgegen.benchmark.legs import LegSpec
from edgegen.types import Backend, Component, Precision


def engine_plan(legs: list[LegSpec]) -> dict[str, set[tuple[Component, Precision]]]:
    """Export folder → the (component, precision) engines its runnable `trt` legs need. Pure."""
    plan: dict[str, set[tuple[Component, Precision]]] = defaultdict(set)
    for leg in legs:
        if leg.backend is Backend.TENSORRT and not leg.skip_reason and leg.artifacts:
            plan[leg.artifacts] |= {(Component(c), Precision(p)) for c, p in leg.precisions.items()}
    return dict(plan)


def prepare_engines(
    legs: list[LegSpec],
    profile,
    batch_sizes: dict[str, tuple[int, ...]],
    size: int,
    progress: Callable[[str], None] = lambda _m: None,
) -> dict[str, str]:
    """Build what `engine_plan` lists; returns folder → why its engines could not be built.
    `batch_sizes`: per folder, the images per call its legs time (diffusion or GAN)."""
    from pathlib import Path

    from edgegen.errors import EdgegenError
    from edgegen.export.build import build_engines
    from edgegen.export.shape_profiles import profile_ranges, widened

    failed = {}
    for folder, pairs in engine_plan(legs).items():
        progress(f"TensorRT engines for {Path(folder).name}: {', '.join(sorted(f'{c}.{p}' for c, p in pairs))}")
        ranges = widened(profile_ranges(profile), batch_sizes.get(folder, ()), size)
        try:
            build_engines(Path(folder), profile.path or profile.name, wanted=pairs, ranges=ranges)
        except EdgegenError as exc:
            failed[folder] = f"engine build failed: {exc.one_line()}"
    return failed


def mark_unbuilt(legs: list[LegSpec], failed: dict[str, str]) -> list[LegSpec]:
    """The legs, with the `trt` ones of a failed folder skipped for that reason. Pure."""
    return [
        LegSpec(**{**leg.__dict__, "skip_reason": failed[leg.artifacts]})
        if leg.backend is Backend.TENSORRT and not leg.skip_reason and leg.artifacts in failed
        else leg
        for leg in legs
    ]
