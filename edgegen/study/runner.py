"""Runs a study: checks every source before any training, generates the on-demand sources, then
trains one classifier per unit (arm × source × setting × seed) and evaluates it on the real test
split. Each unit writes its own result files (units/<id>.json + .npz, atomically): a run killed
at any point and started again continues where it stopped and recomputes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_bytes, atomic_write_json
from edgegen.data.imageset import ImageSet
from edgegen.errors import DataError, UsageError
from edgegen.study.arms import Unit, plan_units, training_set
from edgegen.study.sources import Source, generate_source, load_source
from edgegen.study.spec import StudySpec


@dataclass
class RealData:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    names: tuple[str, ...]  # classes, or findings
    findings: tuple[str, ...]  # () for a classes task

    def targets(self, split: ImageSet) -> np.ndarray:
        if self.findings:
            from edgegen.classifiers.train import finding_targets

            return finding_targets(split, self.findings)
        return split.labels


@dataclass
class StudyState:
    folder: Path
    spec: StudySpec
    real: RealData
    sources: dict[str, Source]
    units: list[Unit]
    done: dict[str, dict] = field(default_factory=dict)  # unit id → its result


def spec_hash(spec: StudySpec) -> str:
    from edgegen.schema import to_plain

    return hashlib.sha256(json.dumps(to_plain(spec), sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_real(spec: StudySpec) -> RealData:
    from edgegen.data.findings import UncertainPolicy, load_findings_map
    from edgegen.data.load import is_split_aware, load_dataset

    size = spec.classifier.size
    policy = UncertainPolicy(spec.real.uncertain)
    if not is_split_aware(spec.real.data) and not (spec.real.val and spec.real.test):
        raise UsageError(
            f"real data {spec.real.data!r} has no splits", hint="use a split-aware set or give real.val and real.test"
        )
    train = load_dataset(spec.real.data, "train", size, uncertain=policy)
    val = load_dataset(spec.real.val or spec.real.data, "val", size, train.class_names, uncertain=policy)
    test = load_dataset(spec.real.test or spec.real.data, "test", size, train.class_names, uncertain=policy)
    if spec.task == "findings":
        fmap = load_findings_map()
        findings = tuple(fmap.resolve(f) for f in spec.findings) or fmap.reader_study
        return RealData(train, val, test, findings, findings)
    if spec.classes:
        missing = [c for c in spec.classes if c not in train.class_names]
        if missing:
            raise UsageError(
                f"classes {missing} are not classes of {spec.real.data}", hint=f"it has: {', '.join(train.class_names)}"
            )
        keep = lambda d: d.subset(np.flatnonzero(np.isin(d.labels, [d.class_names.index(c) for c in spec.classes])))  # noqa: E731
        from edgegen.data.load import _aligned

        train, val, test = (_aligned(keep(d), tuple(spec.classes)) for d in (train, val, test))
    return RealData(train, val, test, train.class_names, ())


def prepare(spec: StudySpec, folder: Path, progress: Callable[[str], None] = lambda _m: None) -> StudyState:
    """Everything that can fail before training: the spec folder, real data, every source."""
    folder = Path(folder)
    stamp = folder / "spec.json"
    h = spec_hash(spec)
    if stamp.is_file() and json.loads(stamp.read_text()).get("hash") != h:
        raise UsageError(
            f"{folder} holds a different study", hint="use another --out, or delete the folder to start over"
        )
    real = load_real(spec)
    units = plan_units(spec)
    _check_models(spec, real)
    sources: dict[str, Source] = {}
    for name, src in spec.sources.items():  # folder sources: checked now, before anything is generated or trained
        if src.folder is not None:
            sources[name] = load_source(
                name, Path(src.folder), spec.classifier.size, real.train.class_names, real.findings
            )
    _check_supply([u for u in units if u.source in sources], real, sources)
    folder.mkdir(parents=True, exist_ok=True)
    from edgegen.schema import to_plain

    atomic_write_json(stamp, {"hash": h, "spec": to_plain(spec)})
    for name, src in spec.sources.items():
        if src.generate is None:
            continue
        path = folder / "sources" / name
        progress(
            f"source {name}: generating {src.generate.per_class} per condition "
            f"({src.generate.model}, {src.generate.backend}, {src.generate.precision}); resumable"
        )
        classes = list(real.train.class_names) if not real.findings else None
        findings = list(real.findings) + ["no_finding"] if real.findings else None
        generate_source(name, src.generate, path, classes, findings)
        sources[name] = load_source(name, path, spec.classifier.size, real.train.class_names, real.findings)
    _check_supply(units, real, sources)
    state = StudyState(folder, spec, real, sources, units)
    for u in units:
        path = folder / "units" / f"{u.id}.json"
        if path.is_file() and (folder / "units" / f"{u.id}.npz").is_file():
            rec = json.loads(path.read_text())
            if rec.get("spec_hash") == h:
                state.done[u.id] = rec
    return state


def _check_models(spec: StudySpec, real: RealData) -> None:
    """Every on-demand source's model exists and knows the conditions the study asks of it, before
    the first source is generated (a missing GAN must not surface after an hour of diffusion)."""
    from edgegen.conditions import Conditioning, resolve_conditions
    from edgegen.models.source import resolve_model

    for name, src in spec.sources.items():
        if src.generate is None:
            continue
        source = resolve_model(src.generate.model)
        if source.kind == "preset":
            continue  # random weights: no vocabulary to hold the study to
        vocab = _vocabulary(source)
        classes = list(real.train.class_names) if not real.findings else None
        findings = list(real.findings) if real.findings else None
        try:
            resolve_conditions(vocab or Conditioning.from_dict(None), classes, findings, None)
        except UsageError as exc:
            raise UsageError(f"source {name} ({src.generate.model}): {exc.message}", hint=exc.hint) from None


def _vocabulary(source):
    """A model's conditioning vocabulary from its training card (diffusion) or GAN card."""
    from edgegen.conditions import FINDINGS_TEMPLATE, Conditioning

    if source.family == "gan":
        from edgegen.gan.folder import CARD

        card = json.loads((source.path / CARD).read_text())
        return Conditioning.from_dict(card.get("conditioning"), (), FINDINGS_TEMPLATE)
    from edgegen.train.finetune import TRAINING_CARD

    card_path = source.path / TRAINING_CARD
    if not card_path.is_file():
        return None
    card = json.loads(card_path.read_text())
    return Conditioning.from_dict(
        card.get("conditioning"), card.get("class_names", ()), card.get("config", {}).get("prompt_template", "")
    )


def _check_supply(units: list[Unit], real: RealData, sources: dict[str, Source]) -> None:
    """Every unit gets the synthetic images its ratio asks for, or the study stops before training."""
    from edgegen.study.arms import synthetic_shortfall

    worst: dict[tuple[str, str], tuple[int, int, str]] = {}
    for u in units:
        if u.source is None:
            continue
        for group, (have, need) in synthetic_shortfall(
            u, real.train, sources[u.source].data, bool(real.findings)
        ).items():
            key = (u.source, group)
            if key not in worst or need > worst[key][1]:
                worst[key] = (have, need, u.label())
    if worst:
        (src, group), (have, need, label) = next(iter(sorted(worst.items())))
        more = f" (and {len(worst) - 1} more shortfall(s))" if len(worst) > 1 else ""
        raise DataError(
            f"source {src} has {have} {group!r} image(s) but arm '{label}' needs {need}{more}",
            hint="generate more images for that source (per_class) or lower the ratio",
        )


def run_unit(state: StudyState, unit: Unit) -> dict:
    """Train and evaluate one unit; write its result files atomically; return its record."""
    record, probs = train_unit(state, unit)
    save_unit(state.folder, record, probs)
    return record


def train_unit(state: StudyState, unit: Unit) -> tuple[dict, np.ndarray]:
    """(record, test-set probabilities) of one unit; writes nothing (a Ray worker trains, the
    driver saves)."""
    from edgegen.classifiers.predict import predict_probs
    from edgegen.classifiers.train import TrainConfig, fit_classifier
    from edgegen.study.statistics import metrics

    spec, real = state.spec, state.real
    synthetic = state.sources[unit.source].data if unit.source else None
    train, info = training_set(unit, real.train, synthetic, by_condition=bool(real.findings))
    if train is None or len(train) == 0:
        raise DataError(f"unit {unit.id} has no training images")
    c = spec.classifier
    config = TrainConfig(
        c.arch,
        c.size,
        c.epochs,
        c.batch_size,
        c.lr,
        1e-4,
        c.patience,
        True,
        True,
        unit.seed,
        0,
        "findings" if real.findings else "classes",
        real.findings,
    )
    t0 = time.perf_counter()
    fitted = fit_classifier(config, train, real.val)
    probs = predict_probs(fitted.model, real.test.images, fitted.card)
    y = real.targets(real.test)
    thresholds = None
    if real.findings:  # per-finding thresholds chosen on the real val split (max F1), as train-classifier does
        from edgegen.classifiers.multilabel import choose_thresholds
        from edgegen.study.statistics import at_threshold

        thresholds = choose_thresholds(
            predict_probs(fitted.model, real.val.images, fitted.card), real.targets(real.val)
        )
        probs = at_threshold(probs, thresholds).astype(np.float32)
    record = {
        "unit": asdict(unit),
        "id": unit.id,
        "setting": unit.setting,
        "spec_hash": spec_hash(spec),
        "train": info,
        "epochs_run": len(fitted.history),
        "best_epoch": fitted.best_epoch,
        "seconds": round(time.perf_counter() - t0, 2),
        "metrics": metrics(probs, y, real.findings),
    }
    if thresholds is not None:
        record["val_thresholds"] = {n: round(float(t), 6) for n, t in zip(real.findings, thresholds, strict=True)}
        record["probs_note"] = "test probabilities shifted in logit space so that 0.5 is each finding's val threshold"
    return record, probs


def save_unit(folder: Path, record: dict, probs: np.ndarray) -> None:
    buf = __import__("io").BytesIO()
    np.savez_compressed(buf, probs=probs.astype(np.float32))
    units = Path(folder) / "units"
    atomic_write_bytes(units / f"{record['id']}.npz", buf.getvalue())
    atomic_write_json(units / f"{record['id']}.json", record)  # written last: its presence marks the unit done


def run_units(
    state: StudyState, progress: Callable[[int, int, str], None] | None = None, ray_address: str | None = None
) -> None:
    todo = [u for u in state.units if u.id not in state.done]
    if ray_address is not None and todo:
        from edgegen.study.remote import run_units_on_ray

        for rec in run_units_on_ray(state, todo, ray_address, progress):
            state.done[rec["id"]] = rec
        return
    for unit in todo:
        if progress:
            progress(len(state.done), len(state.units), unit.label())
        state.done[unit.id] = run_unit(state, unit)
    if progress:
        progress(len(state.done), len(state.units), "done")


def unit_probs(state: StudyState, unit_id: str) -> np.ndarray:
    return np.load(state.folder / "units" / f"{unit_id}.npz")["probs"]
