"""Shared option aliases and rendering helpers for every command."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgegen.schema import to_plain

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
ProfileOption = Annotated[
    str, typer.Option("--profile", "-p", help="Device profile name (see `edgegen profiles list`) or a YAML path.")
]
RayOption = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="ADDRESS",
        help=(
            "Run on a Ray cluster: 'auto' (a running one), 'local' (start one on this machine) or HOST:PORT "
            "(needs the ray extra: `pip install -e '.\\[ray]'`)."
        ),
    ),
]
RayActorsOption = Annotated[
    int | None, typer.Option("--ray-actors", help="With --ray: at most this many actors (default: as many as fit).")
]

console = Console()
err_console = Console(stderr=True)  # warnings: never mixed into --json output


def warn(text: str) -> None:
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(to_plain(obj), indent=2, ensure_ascii=False) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        # the first column (names) is never wrapped; the others keep room for their figures
        t.add_column(c, no_wrap=(i == 0), min_width=None if i == 0 else min(len(c), 10))
    for r in rows:
        # Text, not markup: values such as "pip install 'edgegen[gpu]'" must print as they are.
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    return t
