"""Reader web app latency: `edgegen reader serve` in a subprocess on 127.0.0.1 (random port),
10 simulated readers on threads, each fetching its page and then the page's image (one
"page + image" sample) and posting an answer, until every reader has answered every image.
The target: p95 of page + image ≤ 50 ms with 10 concurrent readers on this CPU. Each reader's
first page (cold) is kept apart from the rest. Writes bench/results/reader_latency.json.

The study: 30 real images (the embedded `default` set, test split) and 30 "synthetic" ones (a
generate-shaped folder written from its val split, with provenance chunks and a manifest; the
serving cost does not depend on where the pixels came from), re-encoded at 512 px.

    .venv/bin/python bench/reader_latency.py [--readers 10] [--per-source 30] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "reader_latency.json"
TARGET_P95_MS = 50.0


def synthetic_folder(root: Path, n: int) -> Path:
    from edgegen.data.load import load_dataset
    from edgegen.runtime.provenance import append_line, png_bytes

    data = load_dataset("default", "val", 128)
    for i in range(n):
        cls = data.class_names[data.labels[i]]
        rel = f"{cls}/{i:05d}.png"
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(png_bytes(data.images[i], {"model": "bench", "seed": i}))
        append_line(root / "manifest.jsonl", {"file": rel, "class": cls, "findings": [], "synthetic": True, "seed": i})
    return root


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reader_loop(
    url: str,
    token: str,
    think_s: tuple[float, float],
    seed: int,
    page_image_ms: list[float],
    post_ms: list[float],
    cold_ms: list[float],
    errors: list[str],
) -> None:
    import httpx

    rng = np.random.default_rng(seed)

    with httpx.Client(base_url=url, timeout=30) as c:
        if c.get(f"/r/{token}", follow_redirects=True).status_code != 200:
            errors.append("sign-in failed")
            return
        first = True
        while True:
            t0 = time.perf_counter()
            page = c.get("/read")
            m = re.search(r'name="image_id" value="([0-9a-f]{16})"', page.text)
            if m is None:
                return  # done page
            image = c.get(f"/img/{m.group(1)}")
            elapsed = (time.perf_counter() - t0) * 1000
            if page.status_code != 200 or image.status_code != 200:
                errors.append(f"status {page.status_code}/{image.status_code}")
                return
            (cold_ms if first else page_image_ms).append(elapsed)
            first = False
            if think_s[1] > 0:
                time.sleep(rng.uniform(*think_s))  # looking at the image
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            trial = re.search(r'name="trial" value="(\d)"', page.text).group(1)
            t1 = time.perf_counter()
            r = c.post(
                "/answer",
                data={"csrf": csrf, "image_id": m.group(1), "trial": trial, "verdict": "real", "confidence": "3"},
                follow_redirects=False,
            )
            post_ms.append((time.perf_counter() - t1) * 1000)
            if r.status_code != 303:
                errors.append(f"post status {r.status_code}")
                return


def pct(xs: list[float]) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(xs, q)), 2) for q in (50, 95, 99)}


def run_phase(url: str, tokens: list[str], think_s: tuple[float, float]) -> dict:
    """Every reader answers every image; page + image latency excludes each reader's cold start."""
    page_image, posts, cold, errors = [], [], [], []
    threads = [
        threading.Thread(target=reader_loop, args=(url, tok, think_s, i, page_image, posts, cold, errors))
        for i, tok in enumerate(tokens)
    ]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    if errors:
        sys.exit(f"reader_latency: {len(errors)} error(s), first: {errors[0]}")
    return {
        "think_s": list(think_s),
        "samples": len(page_image),
        "page_plus_image_ms": pct(page_image),
        "cold_first_page_plus_image_ms": pct(cold),
        "post_answer_ms": pct(posts),
        "steps_per_s": round((len(page_image) + len(cold)) / wall, 1),
        "meets_target": bool(np.percentile(page_image, 95) <= TARGET_P95_MS),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readers", type=int, default=10)
    ap.add_argument("--per-source", type=int, default=30)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(0.25, 0.75),
        metavar=("MIN_S", "MAX_S"),
        help="A reader's time on an image (uniform); real readers take seconds.",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--note", default="", help="What else ran on the machine, for the record.")
    args = ap.parse_args()

    import httpx

    from edgegen.reader.create import CreateRequest, SyntheticSource, create_study

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth = synthetic_folder(tmp / "synth", args.per_source)
        names = tuple(f"reader{i}" for i in range(2 * args.readers))  # one set per phase
        study = create_study(
            CreateRequest(
                tmp / "study",
                "default",
                (SyntheticSource("bench", synth),),
                args.per_source,
                None,
                False,
                False,
                args.size,
                "test",
                0,
                names,
            )
        )
        image_kb = np.mean([p.stat().st_size for p in (study.study / "images").iterdir()]) / 1024
        port = free_port()
        cmd = [
            sys.executable,
            "-c",
            "from edgegen.cli.app import main; main()",
            "reader",
            "serve",
            str(study.study),
            "--port",
            str(port),
        ]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            tokens = [study.reader_tokens[n] for n in names]
            readers = run_phase(url, tokens[: args.readers], tuple(args.think))
            stress = run_phase(url, tokens[args.readers :], (0.0, 0.0))
        finally:
            server.terminate()
            server.wait(timeout=30)
    import uvicorn

    result = {
        "what": (
            "page + image latency (GET /read, then GET /img/<id>) per reader step, ms; readers: "
            "simulated readers who look at each image for think_s; stress: no pause at all"
        ),
        "concurrent_readers": args.readers,
        "images": study.n_images,
        "image_px": args.size,
        "mean_image_kb": round(float(image_kb), 1),
        "target_p95_ms": TARGET_P95_MS,
        "readers": readers,
        "stress": stress,
        "server": {"uvicorn": uvicorn.__version__, "http_parser": "httptools" if _has("httptools") else "h11"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
