"""Runs the legs' worker processes side by side: cold starts one at a time, then timed rounds in
rotating order across every leg (each leg a few calls per round), so every ratio compares
samples taken seconds apart; then the shared quality plan on each generating leg.

A worker that dies or answers with an error marks its leg failed; the others go on.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgegen.benchmark.legs import GenSettings, LegSpec
from edgegen.benchmark.stats import round_order
from edgegen.schema import to_plain


class WorkerFailed(Exception):
    pass


def batch_plan(leg: LegSpec, gen: GenSettings) -> list[tuple[int, int]]:
    """(batch size, calls per round) for a leg. Pure."""
    if leg.kind == "classifier":
        return [(gen.classifier_batch, gen.calls_per_round)]
    if leg.kind == "gan":
        return [(b, gen.calls_per_round * 4 if b == 1 else 1) for b in gen.gan_batch_sizes]
    return [(b, gen.calls_per_round if b == 1 else 1) for b in gen.batch_sizes]


class WorkerHandle:
    """A leg's worker process and its line-based JSON protocol."""

    def __init__(self, leg: LegSpec, gen: GenSettings, folder: Path, watts: float, timeout_s: float) -> None:
        self.leg, self.timeout_s = leg, timeout_s
        self.dir = folder / "legs" / leg.name.replace("/", "_")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "leg.json").write_text(
            json.dumps({"leg": to_plain(leg), "gen": to_plain(gen), "load_watts": watts})
        )
        self._stderr = (self.dir / "stderr.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgegen.benchmark.worker", str(self.dir / "leg.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.error: str | None = None

    def call(self, op: str, timeout_s: float | None = None, **kw) -> dict:
        if self.error:
            raise WorkerFailed(self.error)
        try:
            self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s or self.timeout_s)
        if not ready:
            self.proc.kill()
            self.error = f"{op} timed out after {timeout_s or self.timeout_s:.0f} s"
            raise WorkerFailed(self.error)
        line = self.proc.stdout.readline()
        if not line:
            self._died()
        reply = json.loads(line)
        if not reply.pop("ok", False):
            self.error = reply.get("error", "unknown error")
            (self.dir / "traceback.txt").write_text(reply.get("traceback", ""))
            raise WorkerFailed(self.error)
        return reply

    def _died(self) -> None:
        code = self.proc.wait()
        killed = " (killed: out of memory?)" if code in (-9, 137) else ""
        tail = (self.dir / "stderr.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        self.error = f"worker died with code {code}{killed}: {tail[0][:300]}"
        raise WorkerFailed(self.error)

    def close(self) -> None:
        try:
            if self.proc.poll() is None and not self.error:
                self.call("quit", timeout_s=30)
        except WorkerFailed:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._stderr.close()


@dataclass
class LegRun:
    leg: LegSpec
    handle: WorkerHandle | None = None
    status: str = "ok"  # "ok" | "failed" | "skipped"
    error: str | None = None
    load: dict = field(default_factory=dict)
    rounds: dict[str, list[list[float]]] = field(default_factory=dict)  # batch → per-round seconds per call
    components: dict[str, list[list[float]]] = field(default_factory=dict)  # per-component seconds, per round (batch 1)
    quality_file: str | None = None
    stats: dict = field(default_factory=dict)

    def fail(self, error: str) -> None:
        self.status, self.error = "failed", error


def run_legs(
    legs: list[LegSpec],
    gen: GenSettings,
    folder: Path,
    watts: float,
    timeout_s: float,
    quality: bool,
    progress: Callable[[str], None] = lambda _m: None,
) -> list[LegRun]:
    runs = [LegRun(leg, status="skipped", error=leg.skip_reason) if leg.skip_reason else LegRun(leg) for leg in legs]
    active = [r for r in runs if r.status == "ok"]
    try:
        for r in active:  # cold starts one at a time: no leg loads while another computes
            progress(f"load {r.leg.name}")
            try:
                r.handle = WorkerHandle(r.leg, gen, folder, watts, timeout_s)
                r.load = r.handle.call("load")
            except WorkerFailed as exc:
                r.fail(str(exc))
        live = {r.leg.name: r for r in active if r.status == "ok"}
        for r in live.values():  # untimed warm-up at every shape (allocator growth, compilation)
            for batch, _ in batch_plan(r.leg, gen):
                try:
                    r.handle.call("time", batch=batch, calls=1, round=-1)
                except WorkerFailed as exc:
                    r.fail(str(exc))
        total = max(gen.rounds_for(r.leg.kind) for r in live.values()) if live else 0
        for k in range(total):
            progress(f"round {k + 1}/{total}")
            here = [n for n, r in live.items() if r.status == "ok" and k < gen.rounds_for(r.leg.kind)]
            for name in round_order(here, k):
                r = live[name]
                for batch, calls in batch_plan(r.leg, gen):
                    try:
                        reply = r.handle.call("time", batch=batch, calls=calls, round=k)
                    except WorkerFailed as exc:
                        r.fail(str(exc))
                        break
                    r.rounds.setdefault(str(batch), []).append(reply["seconds"])
                    if batch == 1:
                        for key, values in reply["components"].items():
                            r.components.setdefault(key, []).append(values)
        if quality:
            for r in live.values():
                # optimum's pipeline is the outside reference for speed; its graphs are ORT FP32's
                if r.status == "ok" and r.leg.generates and r.leg.kind != "optimum":
                    progress(f"quality images {r.leg.name}")
                    try:
                        r.quality_file = r.handle.call("quality", n_per_condition=gen.quality_per_class)["file"]
                    except WorkerFailed as exc:
                        r.fail(str(exc))
        for r in live.values():
            if r.status == "ok":
                try:
                    r.stats = r.handle.call("stats")
                except WorkerFailed as exc:
                    r.fail(str(exc))
    finally:
        for r in runs:
            if r.handle is not None:
                r.handle.close()
    return runs


def wall(t0: float) -> float:
    return time.perf_counter() - t0
