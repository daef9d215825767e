"""Study units on a Ray cluster: `run_units` hands the units still to do to
`edgegen.distributed`, which trains them on actors and saves each unit's files from the driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator


def run_units_on_ray(
    state, todo: list, address: str, progress: Callable[[int, int, str], None] | None = None
) -> Iterator[dict]:
    """Yield each unit's record once its files (units/<id>.npz, then units/<id>.json) are written."""
    from edgegen.distributed.orchestrator import RayRequest, run_study_units

    yield from run_study_units(state, todo, RayRequest(address), progress)
    if progress:
        progress(len(state.done), len(state.units), "done")
