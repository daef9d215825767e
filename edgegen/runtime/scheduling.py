"""Diffusion schedulers by name (diffusers' implementations), built from the model's config."""

from __future__ import annotations

from typing import Any

from edgegen.types import SchedulerName


def make_scheduler(name: SchedulerName, config: dict[str, Any]):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

    clean = {k: v for k, v in config.items() if not k.startswith("_")}
    if name is SchedulerName.DDIM:
        return DDIMScheduler.from_config(clean)
    if name is SchedulerName.EULER:
        return EulerDiscreteScheduler.from_config(clean)
    return DPMSolverMultistepScheduler.from_config({**clean, "algorithm_type": "dpmsolver++", "solver_order": 2})
