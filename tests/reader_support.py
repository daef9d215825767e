"""Shared pieces of the reader-study tests: tiny real and synthetic folders carrying every kind
of metadata a study must strip, a study built from them, a real `edgegen reader serve`
subprocess, and an HTTP reader that answers the way a browser's form would."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from edgegen.runtime.provenance import append_line, png_bytes

# Names that must never reach a reader's browser.
SOURCE_NAMES = ("diffzfp32", "ganqq")
SECRET_FILE = "secretfile"


def _image(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.integers(40, 200, (size // 4, size // 4), dtype=np.uint8)
    return np.asarray(Image.fromarray(base).resize((size, size), Image.BILINEAR))


def write_real_folder(root: Path, per_class: int = 6, size: int = 40, seed: int = 1) -> Path:
    """normal/ and pneumonia/ PNGs, each with a tEXt chunk (a patient name) and EXIF."""
    rng = np.random.default_rng(seed)
    for cls in ("normal", "pneumonia"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            info = PngInfo()
            info.add_text("PatientName", "DOE^JANE")
            exif = Image.Exif()
            exif[0x010E] = f"{SECRET_FILE} real description"  # ImageDescription
            Image.fromarray(_image(rng, size)).save(
                root / cls / f"{SECRET_FILE}-real-{i:03d}.png", pnginfo=info, exif=exif.tobytes()
            )
    return root


def write_synthetic_folder(
    root: Path, name: str, n: int = 6, size: int = 32, findings: tuple[str, ...] = (), seed: int = 2
) -> Path:
    """An `edgegen generate`-shaped folder: <class>/<file>.png with provenance chunks + manifest.jsonl."""
    rng = np.random.default_rng(seed)
    cls = "+".join(findings) if findings else "pneumonia"
    (root / cls).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel = f"{cls}/{SECRET_FILE}-{name}-{i:03d}.png"
        tags = {
            "model": f"{name}-model",
            "backend": "ort-cpu",
            "precision": "fp32",
            "seed": i,
            "prompt": f"a chest X-ray, {cls}",
        }
        (root / rel).write_bytes(png_bytes(_image(rng, size), tags))
        append_line(
            root / "manifest.jsonl",
            {"file": rel, "class": cls, "population": "adult", "findings": list(findings), "synthetic": True, **tags},
        )
    return root


def make_study(
    tmp: Path,
    per_source: int = 3,
    sources: int = 2,
    findings: bool = False,
    second_trial: bool = False,
    readers: tuple[str, ...] = ("ann",),
    seed: int = 0,
):
    """A study of `per_source` images from each of `sources` (1 or 2) synthetic folders and as many
    real ones in all; the synthetic folders hold a few more images than asked for."""
    from edgegen.reader.create import CreateRequest, SyntheticSource, create_study

    n = per_source + 3
    real = write_real_folder(tmp / "real", per_class=(per_source * sources + 1) // 2 + 2)
    synth = [
        SyntheticSource(
            SOURCE_NAMES[0],
            write_synthetic_folder(
                tmp / "fp32", SOURCE_NAMES[0], n, findings=("pleural_effusion",) if findings else ()
            ),
        )
    ]
    if sources > 1:
        synth.append(SyntheticSource(SOURCE_NAMES[1], write_synthetic_folder(tmp / "gan", SOURCE_NAMES[1], n, seed=3)))
    request = CreateRequest(
        tmp / "study", str(real), tuple(synth), per_source, None, findings, second_trial, 48, "test", seed, readers
    )
    return create_study(request)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """`edgegen reader serve` in a subprocess, as a user runs it."""

    study: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        import httpx

        cmd = [
            sys.executable,
            "-c",
            "from edgegen.cli.app import main; main()",
            "reader",
            "serve",
            str(self.study),
            "--port",
            str(self.port),
        ]
        log = self.study.parent / "server.log"
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/", timeout=2.0).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@dataclass(frozen=True)
class Page:
    image_id: str | None
    csrf: str | None
    trial: int | None
    finding: str | None
    counter: str | None
    html: str


def parse_page(html: str) -> Page:
    def field(name: str) -> str | None:
        m = re.search(rf'name="{name}" value="([^"]*)"', html)
        return m.group(1) if m else None

    finding = re.search(r"<legend>Does it show (.+?)\?</legend>", html)
    counter = re.search(r'<span id="counter">([^<]*)</span>', html)
    trial = field("trial")
    return Page(
        field("image_id"),
        field("csrf"),
        int(trial) if trial else None,
        finding.group(1) if finding else None,
        counter.group(1) if counter else None,
        html,
    )


class HttpReader:
    """A reader driving the app over HTTP with its own cookie jar (httpx.Client or TestClient)."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.token = token

    def sign_in(self):
        return self.client.get(f"/r/{self.token}", follow_redirects=False)

    def page(self) -> Page:
        r = self.client.get("/read")
        r.raise_for_status()
        return parse_page(r.text)

    def answer(
        self, page: Page, verdict: str = "synthetic", confidence: int = 3, likert: int = 4, cue: str = ""
    ) -> int:
        data = {
            "csrf": page.csrf,
            "image_id": page.image_id,
            "trial": str(page.trial),
            "verdict": verdict,
            "confidence": str(confidence),
            "cue": cue,
            "client_ms": "1234",
        }
        if page.finding:
            data["finding_likert"] = str(likert)
        return self.client.post("/answer", data=data, follow_redirects=False).status_code


def key_of(study: Path) -> dict:
    return json.loads((study / "key.json").read_text())["images"]
