"""A rich progress bar for step loops, shared by training and generation commands.

Where stdout is not a terminal (nohup, CI logs) rich draws nothing live, so the bar falls back to
a plain line every 30 s and at the end: long runs stay observable in their log."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from edgegen.cli.output import console

LOG_EVERY_S = 30.0


@contextlib.contextmanager
def step_progress(title: str, enabled: bool = True) -> Iterator:
    """Yield `update(done, total, **fields)`; a no-op when disabled (e.g. with --json)."""
    if not enabled:
        yield lambda *a, **k: None
        return
    if not console.is_terminal:
        first: list[float] = []  # (time, done) of the first update: the rate ignores set-up time
        last = [0.0]

        def log(done: int, total: int, info: str = "") -> None:
            now = time.perf_counter()
            if not first:
                first.extend((now, done))
                last[0] = now
            if now - last[0] >= LOG_EVERY_S or done == total:
                last[0] = now
                elapsed = now - first[0]
                rate = (done - first[1]) / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / rate if rate > 0 else float("nan")
                print(f"{title}: {done}/{total} {info} elapsed {elapsed:.0f} s, eta {eta:.0f} s", flush=True)

        yield log
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(title, total=None, info="")

        def update(done: int, total: int, info: str = "") -> None:
            bar.update(task, completed=done, total=total, info=info)

        yield update
