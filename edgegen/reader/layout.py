"""A study folder: where each file lives, and the two JSON files that describe it.

STUDY/study.json       public facts the server may show: counts, questions, image IDs
STUDY/key.json         the answer key (truth, source, class, origin per image); never served
STUDY/images/<id>.png  re-encoded plain PNGs under opaque random IDs
STUDY/answers.sqlite   readers, sessions and answers (WAL)
STUDY/analysis/        `edgegen reader analyze` output
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.atomic import read_versioned_json

SCHEMA_VERSION = 1
IMAGE_ID = re.compile(r"[0-9a-f]{16}")  # secrets.token_hex(8): opaque, fixed shape, no path characters
REAL = "real"
SYNTHETIC = "synthetic"
VERDICTS = ("real", "synthetic", "unsure")


@dataclass(frozen=True)
class StudyLayout:
    root: Path

    @property
    def study_json(self) -> Path:
        return self.root / "study.json"

    @property
    def key_json(self) -> Path:
        return self.root / "key.json"

    @property
    def images(self) -> Path:
        return self.root / "images"

    def image(self, image_id: str) -> Path:
        if not IMAGE_ID.fullmatch(image_id):
            raise ValueError(f"not an image ID: {image_id!r}")
        return self.images / f"{image_id}.png"

    @property
    def database(self) -> Path:
        return self.root / "answers.sqlite"

    @property
    def analysis(self) -> Path:
        return self.root / "analysis"


@dataclass(frozen=True)
class StudyImage:
    """What a reader may learn about an image: its ID and the finding asked about, if any."""

    id: str
    finding: str | None = None  # canonical findings.yaml name


@dataclass(frozen=True)
class StudyInfo:
    """study.json: nothing here tells real from synthetic."""

    name: str
    created: str
    image_size: int
    seed: int
    second_trial: bool
    findings_question: bool
    images: list[StudyImage]
    schema_version: int = SCHEMA_VERSION

    @property
    def ids(self) -> list[str]:
        return [im.id for im in self.images]

    @property
    def trials(self) -> tuple[int, ...]:
        return (1, 2) if self.second_trial else (1,)


@dataclass(frozen=True)
class KeyEntry:
    """key.json, per image: the truth and where the image came from."""

    truth: str  # "real" or "synthetic"
    source: str  # "real" or the --synthetic NAME
    class_name: str
    population: str = ""
    findings: list[str] = field(default_factory=list)
    origin: str = ""  # file relative to its source folder, or "<dataset>:<split>#<index>"
    details: dict[str, str] = field(default_factory=dict)  # model, backend, precision, seed... from the manifest


def load_study(root: Path) -> StudyInfo:
    raw = read_versioned_json(
        StudyLayout(Path(root)).study_json, "reader study", SCHEMA_VERSION, "edgegen reader create"
    )
    images = [StudyImage(i["id"], i.get("finding")) for i in raw["images"]]
    return StudyInfo(
        raw["name"],
        raw["created"],
        int(raw["image_size"]),
        int(raw["seed"]),
        bool(raw["second_trial"]),
        bool(raw["findings_question"]),
        images,
    )


def load_key(root: Path) -> dict[str, KeyEntry]:
    raw = read_versioned_json(StudyLayout(Path(root)).key_json, "answer key", SCHEMA_VERSION, "edgegen reader create")
    return {i: KeyEntry(**e) for i, e in raw["images"].items()}


def load_sources(root: Path) -> dict[str, dict]:
    """The key's per-source facts (path or dataset spec, image count), for the operator's eyes."""
    raw = read_versioned_json(StudyLayout(Path(root)).key_json, "answer key", SCHEMA_VERSION, "edgegen reader create")
    return raw.get("sources", {})
