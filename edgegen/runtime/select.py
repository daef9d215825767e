"""Which backend to use: the flag if given (and runnable), else the profile's first runnable one."""

from __future__ import annotations

from edgegen.errors import BackendUnavailableError
from edgegen.types import Backend


def choose_backend(
    preferred: tuple[Backend, ...], usable: dict[Backend, str | None], requested: Backend | None = None
) -> Backend:
    """Pure: `usable` maps backend → None (runs here) or the reason it cannot."""
    if requested is not None:
        reason = usable.get(requested, "unknown backend")
        if reason is not None:
            alternatives = [b.value for b in preferred if usable.get(b) is None]
            hint = f"use --backend {alternatives[0]}" if alternatives else "run `edgegen doctor`"
            raise BackendUnavailableError(f"backend {requested.value} cannot run here: {reason}", hint=hint)
        return requested
    for backend in preferred:
        if usable.get(backend) is None:
            return backend
    reasons = "; ".join(f"{b.value}: {usable.get(b)}" for b in preferred)
    raise BackendUnavailableError(
        f"none of the profile's backends can run here ({reasons})", hint="run `edgegen doctor`"
    )
