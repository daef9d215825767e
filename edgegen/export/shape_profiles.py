"""TensorRT shape profiles: the min/opt/max input shapes an engine is built for, from a device
profile's batch and resolution ranges and the manifest's recorded input dims. Pure.

`edgegen build`, ORT's TensorRT execution provider and the runtime's engine selection all use
these same functions, so an engine and the shapes it is asked to run always agree.
"""

from __future__ import annotations

from edgegen.errors import ArtifactError
from edgegen.export.artifacts import ComponentArtifact
from edgegen.export.components import EXPORTS

Triple = tuple[int, int, int]
InputShapes = dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]


def profile_ranges(profile) -> tuple[Triple, Triple]:
    """(images per call, image side) min/opt/max of a device profile."""
    s = profile.shapes
    return (s.batch.min, s.batch.opt, s.batch.max), (s.resolution.min, s.resolution.opt, s.resolution.max)


def widened(ranges: tuple[Triple, Triple], batches: tuple[int, ...], size: int | None) -> tuple[Triple, Triple]:
    """The ranges grown to cover extra batch sizes and an image side (what `bench` runs)."""
    (b_lo, b_opt, b_hi), (r_lo, r_opt, r_hi) = ranges
    batches = tuple(batches) or (b_opt,)
    sizes = (size,) if size else ()
    return (
        (min(b_lo, *batches), b_opt, max(b_hi, *batches)),
        (min(r_lo, *sizes) if sizes else r_lo, r_opt, max(r_hi, *sizes) if sizes else r_hi),
    )


def _shape(artifact: ComponentArtifact, name: str, batch: int, side: int) -> tuple[int, ...]:
    divisor = artifact.spatial_divisors.get(name, 1)
    shape = []
    for d in artifact.inputs[name]:
        if d == "batch":
            shape.append(batch)
        elif d in ("height", "width"):
            shape.append(side // divisor)
        elif isinstance(d, int) and d > 0:
            shape.append(d)
        else:
            raise ArtifactError(f"{artifact.file}: input {name} has an unknown dynamic axis {d!r}")
    return tuple(shape)


def trt_input_shapes(artifact: ComponentArtifact, image_batch: Triple, resolution: Triple) -> InputShapes:
    """min/opt/max per input from the manifest's recorded dims: 'batch' becomes the component
    batch, 'height'/'width' the image side ÷ the input's spatial divisor."""
    batches = EXPORTS[artifact.component].component_batches(image_batch)
    return {
        name: tuple(_shape(artifact, name, b, side) for b, side in zip(batches, resolution, strict=True))
        for name in artifact.inputs
    }


def needed_shapes(artifact: ComponentArtifact, image_batch: int, image_size: int) -> dict[str, tuple[int, ...]]:
    """The concrete input shapes one call at this batch and image side feeds the component."""
    batch = image_batch * EXPORTS[artifact.component].batch_multiplier
    return {name: _shape(artifact, name, batch, image_size) for name in artifact.inputs}


def covers(shapes: dict[str, list[list[int]]], need: dict[str, tuple[int, ...]]) -> bool:
    """Whether an engine's min/opt/max shapes (as recorded) admit every needed input shape."""
    for name, shape in need.items():
        if name not in shapes:
            return False
        lo, _, hi = shapes[name]
        if len(lo) != len(shape) or any(not (a <= s <= b) for a, s, b in zip(lo, shape, hi, strict=True)):
            return False
    return True


def ort_profile_options(shapes: InputShapes) -> dict[str, str]:
    """ORT TensorRT EP options `trt_profile_{min,opt,max}_shapes`: 'name:1x4x64x64,other:2'."""

    def fmt(i: int) -> str:
        return ",".join(f"{name}:{'x'.join(str(d) for d in triple[i])}" for name, triple in sorted(shapes.items()))

    return {
        "trt_profile_min_shapes": fmt(0),
        "trt_profile_opt_shapes": fmt(1),
        "trt_profile_max_shapes": fmt(2),
    }
