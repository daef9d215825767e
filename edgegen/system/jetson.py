"""Recognise an NVIDIA Jetson module from the files L4T puts on every Jetson."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TEGRA_RELEASE = Path("/etc/nv_tegra_release")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")

_RELEASE = re.compile(r"#\s*R(?P<major>\d+)\s*\(release\),\s*REVISION:\s*(?P<rev>[\d.]+)")


@dataclass(frozen=True)
class JetsonInfo:
    model: str  # e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: str  # e.g. "36.4.0"


def parse_tegra_release(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.0, GCID: ...' → '36.4.0'."""
    m = _RELEASE.search(text)
    return f"{m['major']}.{m['rev']}" if m else None


def detect_jetson(release: Path = TEGRA_RELEASE, model_file: Path = DEVICE_TREE_MODEL) -> JetsonInfo | None:
    if not release.is_file():
        return None
    l4t = parse_tegra_release(release.read_text(errors="replace")) or "unknown"
    model = (
        model_file.read_bytes().rstrip(b"\x00").decode(errors="replace").strip()
        if model_file.is_file()
        else "NVIDIA Jetson (unknown model)"
    )
    return JetsonInfo(model=model, l4t=l4t)
