"""The study spec (study.yaml): what is compared, validated before anything runs.

    name: int8-vs-fp32
    real: {data: kermany-128}            # split-aware DATA, or give val/test explicitly
    task: classes                         # classes | findings
    classes: [normal, pneumonia]          # default: every class of the real data
    findings: []                          # task findings: default the four reader-study findings
    classifier: {arch: cxr_cnn_small, size: 64, epochs: 8, batch_size: 64, lr: 0.003, patience: 3}
    seeds: 3
    sources:
      diffusion-fp32: {generate: {model: default, backend: ort-cpu, precision: fp32, per_class: 300}}
      cloud: {folder: runs/dalle3}
    arms:
      - {kind: real-only}
      - {kind: synthetic-only, sources: [diffusion-fp32]}
      - {kind: hybrid, sources: [diffusion-fp32], ratios: [0.5, 1.0]}
      - {kind: scarce, real_fractions: [0.1, 0.25], sources: [diffusion-fp32], ratios: [0.0, 1.0]}
      - {kind: rebalance, sources: [diffusion-fp32]}

The first problem is reported on one line with its dotted key and the fix, and how many more there are (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgegen.errors import UsageError
from edgegen.schema import RuleError, SchemaViolation, load_dataclass

ARM_KINDS = ("real-only", "synthetic-only", "hybrid", "scarce", "rebalance")
TASKS = ("classes", "findings")


def _need(cond: bool, field_name: str, problem: str, fix: str) -> None:
    if not cond:
        raise RuleError(field_name, problem, fix)


@dataclass(frozen=True)
class RealSpec:
    data: str = "default"
    val: str | None = None  # default: the val split of `data`
    test: str | None = None  # default: the test split of `data`
    uncertain: str = "zeros"


@dataclass(frozen=True)
class ClassifierSpec:
    arch: str = "cxr_cnn_small"
    size: int = 64
    epochs: int = 8
    batch_size: int = 64
    lr: float = 0.003
    patience: int = 3

    def __post_init__(self) -> None:
        _need(
            self.size >= 16 and self.epochs >= 1 and self.batch_size >= 2,
            "size",
            "size ≥ 16, epochs ≥ 1, batch_size ≥ 2 needed",
            "fix the classifier block",
        )


@dataclass(frozen=True)
class GenerateSpec:
    model: str = "default"
    backend: str = "ort-cpu"
    precision: str = "fp32"
    per_class: int = 300
    steps: int | None = None
    guidance: float | None = None
    profile: str = "cpu-x86"
    seed: int = 0

    def __post_init__(self) -> None:
        _need(self.per_class >= 1, "per_class", "must be ≥ 1", "e.g. 300")
        _need(
            self.precision in ("fp32", "fp16", "int8"),
            "precision",
            f"{self.precision!r} is not fp32, fp16 or int8",
            "use fp32, fp16 or int8",
        )


@dataclass(frozen=True)
class SourceSpec:
    folder: str | None = None  # a synthetic folder with manifest.jsonl
    generate: GenerateSpec | None = None  # or: made on demand into the study folder

    def __post_init__(self) -> None:
        _need(
            (self.folder is None) != (self.generate is None),
            "folder",
            "give exactly one of folder or generate",
            "a source is a folder, or a generate block",
        )


@dataclass(frozen=True)
class ArmSpec:
    kind: str
    sources: tuple[str, ...] = ()
    ratios: tuple[float, ...] = (1.0,)  # synthetic images per real training image
    real_fractions: tuple[float, ...] = (1.0,)
    synthetic_classes: str = "balanced"  # how synthetic images split over classes: balanced | proportional

    def __post_init__(self) -> None:
        _need(self.kind in ARM_KINDS, "kind", f"{self.kind!r} is not an arm kind", f"use one of {', '.join(ARM_KINDS)}")
        _need(
            self.kind == "real-only" or bool(self.sources),
            "sources",
            f"a {self.kind} arm needs sources",
            "name one or more sources",
        )
        _need(
            self.kind != "real-only" or not self.sources,
            "sources",
            "a real-only arm takes no sources",
            "remove sources",
        )
        _need(bool(self.ratios), "ratios", "is empty", "give at least one ratio, e.g. [0.5, 1.0]")
        _need(bool(self.real_fractions), "real_fractions", "is empty", "give at least one, e.g. [0.1, 1.0]")
        _need(all(r >= 0 for r in self.ratios), "ratios", "ratios must be ≥ 0", "e.g. [0.5, 1.0, 2.0]")
        _need(
            all(0 < f <= 1 for f in self.real_fractions),
            "real_fractions",
            "fractions must be in (0, 1]",
            "e.g. [0.1, 0.25, 1.0]",
        )
        _need(
            self.synthetic_classes in ("balanced", "proportional"),
            "synthetic_classes",
            f"{self.synthetic_classes!r}",
            "use balanced or proportional",
        )


@dataclass(frozen=True)
class StudySpec:
    name: str
    real: RealSpec = field(default_factory=RealSpec)
    task: str = "classes"
    classes: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    classifier: ClassifierSpec = field(default_factory=ClassifierSpec)
    seeds: int = 3
    bootstrap: int = 1000
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    arms: tuple[ArmSpec, ...] = ()
    quality: bool = True  # score each source with the quality module

    def __post_init__(self) -> None:
        _need(self.task in TASKS, "task", f"{self.task!r} is not a task", "use classes or findings")
        _need(self.seeds >= 1, "seeds", "must be ≥ 1", "e.g. 3")
        _need(bool(self.arms), "arms", "no arms", "add at least one arm, e.g. {kind: real-only}")
        unknown = sorted({s for a in self.arms for s in a.sources} - set(self.sources))
        _need(
            not unknown,
            "arms",
            f"unknown source(s) {', '.join(unknown)}",
            f"define them under sources (have: {', '.join(self.sources) or 'none'})",
        )


def parse_spec(raw: dict, where: str = "study spec") -> StudySpec:
    try:
        return load_dataclass(StudySpec, raw)
    except SchemaViolation as exc:
        first = exc.issues[0] if getattr(exc, "issues", None) else None
        if first is not None:
            more = f" (and {len(exc.issues) - 1} more problem(s))" if len(exc.issues) > 1 else ""
            raise UsageError(f"{where}: {first.key}: {first.problem}{more}", hint=first.fix) from None
        raise UsageError(f"{where}: {exc}") from None


def load_spec(path: Path) -> StudySpec:
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"study spec {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a study spec is a YAML mapping", hint="see studies/README.md")
    return parse_spec(raw, str(path))


def default_spec() -> StudySpec:
    """The default study: on the embedded data and models, the question no published anchor asks —
    does data from the INT8 edge model train a classifier as well as data from the FP32 model?"""
    gen = lambda **kw: SourceSpec(generate=GenerateSpec(per_class=300, **kw))  # noqa: E731
    return StudySpec(
        name="default: pediatric normal/pneumonia, diffusion FP32 vs INT8 vs GAN",
        real=RealSpec("kermany-128"),
        classes=("normal", "pneumonia"),
        sources={
            "diffusion-fp32": gen(precision="fp32"),
            "diffusion-int8": gen(precision="int8"),
            "gan": gen(model="gan", precision="fp32"),
        },
        arms=(
            ArmSpec("real-only"),
            ArmSpec("synthetic-only", ("diffusion-fp32", "diffusion-int8", "gan")),
            ArmSpec("hybrid", ("diffusion-fp32", "diffusion-int8", "gan"), ratios=(0.5,)),
        ),
    )
