"""`export_model`: a SD pipeline (+ a classifier) → validated FP32/FP16/INT8 ONNX + manifest.

Per component: torch → ONNX (fp32, basic graph optimisation) → validated against torch at two
shapes → FP16 and/or INT8 derived from the fp32 graph and validated the same way. FP16 that
produces NaN/Inf falls back to the fp32 graph and says so. INT8 is made in the profile's scheme
(`edgegen.export.int8_schemes`) or taken from a user's ModelOpt graph (`int8_onnx`), and graphs
meant for TensorRT must pass the Q/DQ conformance check. A re-run with the same model and
settings reuses every artifact whose hash (and INT8 scheme) still matches the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_json
from edgegen.errors import ArtifactError
from edgegen.export.artifacts import (
    ArtifactKind,
    ComponentArtifact,
    ExportManifest,
    artifact_path,
    load_manifest,
    sha256_file,
    verify_artifact,
)
from edgegen.export.component_exporter import ComponentExporter
from edgegen.export.components import EXPORTS
from edgegen.export.components.unet import vae_scale_factor
from edgegen.export.int8_schemes import Int8Scheme, recorded_scheme, scheme_for_profile
from edgegen.train.prompts import DEFAULT_TEMPLATE
from edgegen.types import Component, Precision

SD_COMPONENTS = (Component.TEXT_ENCODER, Component.UNET, Component.VAE_DECODER, Component.VAE_ENCODER)


@dataclass(frozen=True)
class ExportRequest:
    model: str
    profile: str
    out_root: Path
    precisions: tuple[Precision, ...] | None = None  # None: fp32 + the profile's per component
    components: tuple[Component, ...] = SD_COMPONENTS + (Component.CLASSIFIER,)
    classifier: str | None = "default"
    calibration_data: str | None = None  # None: the model's own training set when embedded, else 'default'
    calibration_samples: int = 16
    image_size: int | None = None  # None: the profile's default resolution
    opset: int = 17
    seed: int = 0
    trust_pickle: bool = False
    openvino: bool = False  # also write NNCF INT8 OpenVINO IRs for INT8 components
    int8_scheme: Int8Scheme | None = None  # None: the profile's (TensorRT profiles: trt-s8s8)
    int8_onnx: tuple[tuple[Component, Path], ...] = ()  # user-supplied (ModelOpt) QDQ graphs

    def settings_hash(self, image_size: int) -> str:
        """What every artifact depends on. Precisions and --openvino are left out: they choose
        which artifacts exist, so a narrower export adds to the manifest instead of replacing it."""
        relevant = {
            "calibration": [self.calibration_data, self.calibration_samples],
            "image_size": image_size,
            "opset": self.opset,
            "seed": self.seed,
            "classifier": self.classifier,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


@dataclass
class ExportResult:
    folder: Path
    manifest: ExportManifest
    exported: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0


def wanted_precisions(request: ExportRequest, profile, component: Component) -> tuple[Precision, ...]:
    """fp32 always (reference and fallback) plus what the request or the profile asks for."""
    asked = request.precisions or (getattr(profile.precision, component.value),)
    supplied = (Precision.INT8,) if component in dict(request.int8_onnx) else ()
    return tuple(dict.fromkeys((Precision.FP32, *asked, *supplied)))


def reusable(old: ComponentArtifact, scheme: Int8Scheme, user_sha256: str | None) -> bool:
    """An INT8 artifact is reused only in the scheme (and, user-supplied, from the file) asked for."""
    if old.precision is not Precision.INT8:
        return True
    if user_sha256 is not None:
        return (old.int8 or {}).get("source_sha256") == user_sha256
    return recorded_scheme(old.int8) is scheme


def openvino_ir_current(xml: Path, art: ComponentArtifact) -> bool:
    """The NNCF IR recorded with an INT8 artifact is on disk, unchanged."""
    ir = (art.int8 or {}).get("openvino")
    if not ir or not xml.is_file() or not xml.with_suffix(".bin").is_file():
        return False
    return sha256_file(xml) == ir.get("sha256") and sha256_file(xml.with_suffix(".bin")) == ir.get("bin_sha256")


def _tool_versions() -> dict[str, str]:
    import diffusers
    import onnx
    import onnxruntime
    import torch
    import transformers

    import edgegen

    return {
        "edgegen": edgegen.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }


def pipeline_info(pipe, source) -> dict:
    """What the runtime needs besides the graphs (PipelineInfo), plus class prompts if trained."""
    from edgegen.train.finetune import TRAINING_CARD

    info = {
        "vae_scale_factor": vae_scale_factor(pipe),
        "latent_channels": int(pipe.vae.config.latent_channels),
        "max_length": int(pipe.tokenizer.model_max_length),
        "class_names": [],
        "prompt_template": "",
        "conditioning": None,
        "native_resolution": native_resolution(pipe),
    }
    card = source.path / TRAINING_CARD if source.path else None
    if card is not None and card.is_file():
        trained = json.loads(card.read_text())
        info["class_names"] = trained.get("class_names", [])
        info["prompt_template"] = trained.get("config", {}).get("prompt_template", "")
        info["conditioning"] = trained.get("conditioning")
    return info


def training_data_name(source) -> str:
    """The embedded dataset a model was trained on (its training card's data source, e.g.
    'cxr-128:train' → 'cxr-128'), else 'default': INT8 calibrates on the distribution it will see."""
    from edgegen.data.embedded import EMBEDDED_DATASETS
    from edgegen.train.finetune import TRAINING_CARD

    card = source.path / TRAINING_CARD if source.path else None
    if card is not None and card.is_file():
        name = str(json.loads(card.read_text()).get("data", {}).get("source", "")).split(":")[0]
        if all(part in EMBEDDED_DATASETS for part in name.split("+")) and name:
            return name
    return "default"


def native_resolution(pipe) -> int:
    """The image side a SD pipeline was built for: its UNet's latent sample size × the VAE factor."""
    return int(pipe.unet.config.sample_size) * vae_scale_factor(pipe)


def gan_pipeline_info(generator, card: dict) -> dict:
    """PipelineInfo fields of a GAN export (its config and conditioning vocabulary)."""
    from edgegen.runtime.loader import _gan_info
    from edgegen.schema import to_plain

    return to_plain(_gan_info(generator.config, card))


def _save_runtime_files(pipe, folder: Path, classifier) -> None:
    """Tokenizer, scheduler config and classifier card beside the graphs: the folder runs alone."""
    from edgegen.atomic import atomic_dir

    with atomic_dir(folder / "tokenizer") as tmp:
        pipe.tokenizer.save_pretrained(tmp)
    with atomic_dir(folder / "scheduler") as tmp:
        pipe.scheduler.save_config(tmp)
    if classifier is not None:
        atomic_write_json(folder / "classifier_card.json", classifier[1])


RELEASE_ABOVE_BYTES = 1 << 30  # torch weights worth freeing before INT8 calibration (SD 1.5's UNet: 3.4 GB)
# Only the UNet: the text encoder and the VAE make the calibration inputs of later components.
_PIPE_ATTR = {Component.UNET: "unet"}


def _releaser(pipe, component: Component):
    """A callback freeing a big torch component once its INT8 references are computed (its graphs
    are exported by then; nothing later in the export needs its weights), or None."""
    attr = _PIPE_ATTR.get(component)
    module = getattr(pipe, attr, None) if attr else None
    if module is None:
        return None
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    if size < RELEASE_ABOVE_BYTES:
        return None

    def release() -> None:
        from edgegen.runtime.backends.base import return_freed_memory

        module.to_empty(device="meta")
        return_freed_memory()

    return release


def _stack(samples: list[dict[str, np.ndarray]], batch: int) -> dict[str, np.ndarray]:
    """Concatenate per-sample input dicts along the batch axis and keep the first `batch` rows."""
    return {k: np.concatenate([s[k] for s in samples])[:batch] for k in samples[0]}


def _supplied_int8(request: ExportRequest) -> dict[Component, tuple[Path, str]]:
    """Component → (user's QDQ graph, its sha256); a missing file is refused before any work."""
    out = {}
    for component, path in request.int8_onnx:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ArtifactError(f"--int8-onnx {component.value}={path}: no such file")
        out[component] = (path, sha256_file(path))
    return out


def export_model(request: ExportRequest, progress=None) -> ExportResult:
    """Export, validate and record every requested component and precision."""
    from edgegen.classifiers.card import load_classifier
    from edgegen.data.load import is_split_aware, load_dataset
    from edgegen.errors import UsageError
    from edgegen.export.calibration import classifier_calibration, iter_sd_calibration, sd_calibration
    from edgegen.models.embedded import resolve_classifier_dir
    from edgegen.models.source import resolve_model
    from edgegen.profiles import load_profile

    started = time.perf_counter()
    profile = load_profile(request.profile)
    scheme = request.int8_scheme or scheme_for_profile(profile)
    supplied = _supplied_int8(request)
    source = resolve_model(request.model, trust_pickle=request.trust_pickle)
    pipe = source.load_pipeline(seed=request.seed)
    gan = source.family == "gan"
    if gan:
        generator, gan_card = pipe
        image_size = generator.config.resolution
        if request.image_size not in (None, image_size):
            raise UsageError(
                f"this GAN generates {image_size} px images only", hint=f"drop --size or pass {image_size}"
            )
        components = (Component.GENERATOR,) + (
            (Component.CLASSIFIER,) if Component.CLASSIFIER in request.components else ()
        )
        # Validation at two batch sizes (one image, and a batch) on fresh z draws.
        sd_shapes = [(1, image_size), (4, image_size)]
    else:
        image_size = request.image_size or source.native_resolution or profile.generation.resolution
        factor = vae_scale_factor(pipe)
        if image_size % factor:
            raise UsageError(f"image size {image_size} is not a multiple of the VAE factor {factor}")
        components = tuple(c for c in request.components if c is not Component.GENERATOR)
        # Two validation shapes exercise the dynamic axes: batch 1 at the default size, batch 2 larger.
        sd_shapes = [(1, image_size), (2, image_size + 8 * factor)]
    folder = artifact_path(request.out_root, source.name, profile.name, ArtifactKind.MANIFEST).parent
    settings = request.settings_hash(image_size)
    source_hash = source.fingerprint()
    previous = None
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        try:
            old = load_manifest(manifest_path)
            if old.source_sha256 == source_hash and old.settings_sha256 == settings:
                previous = old
        except ArtifactError:
            previous = None  # unreadable manifest: export afresh
    calib_name = request.calibration_data or training_data_name(source)
    loaded: dict[str, object] = {}

    def calibration_set(split: str = "train"):
        """Calibration samples from the train split; INT8 checks on held-out images (the val split
        of split-aware data; other data is one pool, drawn with a different seed)."""
        if split != "train" and not is_split_aware(calib_name):
            split = "train"
        if split not in loaded:
            loaded[split] = load_dataset(calib_name, split, image_size)
        return loaded[split]

    classifier = None
    classifier_info = None
    if Component.CLASSIFIER in request.components and request.classifier:
        clf_dir = resolve_classifier_dir(request.classifier)
        classifier = load_classifier(clf_dir)
        classifier_info = {
            "path": str(clf_dir),
            "sha256": sha256_file(clf_dir / "model.safetensors"),
            "arch": classifier[1].arch,
            "class_names": list(classifier[1].class_names),
        }

    template = "" if gan else (pipeline_info(pipe, source)["prompt_template"] or DEFAULT_TEMPLATE)
    result = ExportResult(folder, None)  # type: ignore[arg-type]
    artifacts: list[ComponentArtifact] = []
    for component in components:
        if component is Component.GENERATOR:
            from edgegen.export.calibration import gan_calibration

            spec = EXPORTS[component](generator)
            shapes = sd_shapes
            calib = lambda: gan_calibration(
                generator.config, gan_card, max(request.calibration_samples, 32), request.seed
            )  # noqa: E731
            real = lambda b, s, seed: _stack(
                gan_calibration(generator.config, gan_card, b, request.seed + 1000 + seed), b
            )  # noqa: E731
        elif component is Component.CLASSIFIER:
            if classifier is None:
                continue
            spec = EXPORTS[component](classifier)
            shapes = [(1, classifier[1].input_size), (4, classifier[1].input_size)]
            calib = lambda: classifier_calibration(
                classifier[1], calibration_set(), max(request.calibration_samples, 32), request.seed
            )  # noqa: E731
            real = lambda b, s, seed: _stack(
                classifier_calibration(classifier[1], calibration_set("val"), b, request.seed + 1000 + seed, b), b
            )  # noqa: E731
        else:
            spec = EXPORTS[component](pipe)
            shapes = sd_shapes
            calib = lambda c=component: iter_sd_calibration(
                pipe, c, calibration_set(), image_size, request.calibration_samples, request.seed, template
            )  # noqa: E731
            real = lambda b, s, seed, c=component: _stack(
                sd_calibration(pipe, c, calibration_set("val"), s, max(b, 2), request.seed + 1000 + seed, template), b
            )  # noqa: E731
        paths = lambda p, c=component: artifact_path(
            request.out_root, source.name, profile.name, ArtifactKind.ONNX, c, p
        )  # noqa: E731
        precisions = wanted_precisions(request, profile, component)
        release = None
        if not gan and component is not Component.CLASSIFIER and precisions[-1] is Precision.INT8:
            release = _releaser(pipe, component)
        exporter = ComponentExporter(spec, folder, paths, shapes, request.opset, calib, real, release)
        fp32 = None
        for precision in precisions:
            label = f"{component.value}.{precision.value}"
            old = previous.find(component, precision) if previous else None
            user = supplied.get(component) if precision is Precision.INT8 else None
            if (
                old is not None
                and verify_artifact(folder, old) is None
                and reusable(old, scheme, user[1] if user else None)
            ):
                ir = artifact_path(
                    request.out_root, source.name, profile.name, ArtifactKind.OPENVINO_IR, component, precision
                )
                if precision is Precision.INT8 and request.openvino and not openvino_ir_current(ir, old):
                    # The ONNX INT8 is reused; the IR asked for now (or changed on disk) is made.
                    if progress:
                        progress(f"{label}.openvino")
                    old.int8["openvino"] = exporter.openvino_int8(fp32, ir)
                    result.exported.append(f"{label}.openvino")
                artifacts.append(old)
                result.reused.append(label)
                fp32 = old if precision is Precision.FP32 else fp32
                continue
            if progress:
                progress(label)
            if precision is Precision.FP32:
                art = exporter.fp32()
            else:
                art = exporter.derived(precision, fp32, scheme, user[0] if user else None)
            if precision is Precision.INT8 and request.openvino:
                art.int8["openvino"] = exporter.openvino_int8(
                    fp32,
                    artifact_path(
                        request.out_root, source.name, profile.name, ArtifactKind.OPENVINO_IR, component, precision
                    ),
                )
            fp32 = art if precision is Precision.FP32 else fp32
            artifacts.append(art)
            result.exported.append(label)
    if not gan:
        _save_runtime_files(pipe, folder, classifier)
    elif classifier is not None:
        atomic_write_json(folder / "classifier_card.json", classifier[1])
    # Artifacts of an earlier export with the same model and settings that this run did not ask
    # for stay in the manifest (a narrower export adds, it never forgets files on disk).
    done = {(a.component, a.precision) for a in artifacts}
    kept = [
        a
        for a in (previous.components if previous else [])
        if (a.component, a.precision) not in done and verify_artifact(folder, a) is None
    ]
    result.reused += [f"{a.component.value}.{a.precision.value}" for a in kept]
    manifest = ExportManifest(
        model=source.name,
        model_kind="gan" if gan else source.kind,
        source_sha256=source_hash,
        profile=profile.name,
        settings_sha256=settings,
        tool_versions=_tool_versions(),
        components=kept + artifacts,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        classifier=classifier_info,
        pipeline=gan_pipeline_info(generator, gan_card) if gan else pipeline_info(pipe, source),
    )
    atomic_write_json(manifest_path, manifest)
    result.manifest = manifest
    result.seconds = time.perf_counter() - started
    return result
