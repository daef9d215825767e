"""A rich progress bar for step loops, shared by training and generation commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from edgegen.cli.output import console


@contextlib.contextmanager
def step_progress(title: str, enabled: bool = True) -> Iterator:
    """Yield `update(done, total, **fields)`; a no-op when disabled (e.g. with --json)."""
    if not enabled:
        yield lambda *a, **k: None
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(title, total=None, info="")

        def update(done: int, total: int, info: str = "") -> None:
            bar.update(task, completed=done, total=total, info=info)

        yield update
