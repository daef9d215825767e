"""Report pieces every report shares (bench, quality, study, reader): Markdown tables, a minimal
Markdown → self-contained HTML renderer, matplotlib figures and image grids as PNG bytes, and
writing a report folder (report.md with PNG files beside it, report.html with them inlined)."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgegen.atomic import atomic_write_bytes, atomic_write_text


def fmt(value, spec: str = "{:.3g}", none: str = "–") -> str:
    if value is None:
        return none
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return str(value)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_grid(images: np.ndarray, cols: int = 8, pad: int = 2, fill: int = 255) -> np.ndarray:
    """uint8 [N,H,W] (or [N,H,W,3]) → one uint8 [H', W'] mosaic, `cols` images a row."""
    if images.ndim == 4:
        images = images.mean(axis=-1).round().astype(np.uint8)
    n, h, w = images.shape
    rows = max(1, -(-n // cols))
    grid = np.full((rows * (h + pad) + pad, min(n, cols) * (w + pad) + pad), fill, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return grid


def png_bytes(gray: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="PNG")
    return buf.getvalue()


def markdown_to_html(md: str, title: str) -> str:
    """Minimal Markdown → HTML for our own reports (headings, tables, lists, images, bold, code)."""
    body, lines, i = [], md.splitlines(), 0
    inline = lambda t: re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", re.sub(r"`(.+?)`", r"<code>\1</code>", html.escape(t)))  # noqa: E731
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not lines[i].startswith("|---"):
                    rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, *rest = rows
            body.append(
                "<table><tr>"
                + "".join(f"<th>{inline(c)}</th>" for c in head)
                + "</tr>"
                + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rest)
                + "</table>"
            )
            continue
        if m := re.match(r"!\[(.*?)\]\((.*?)\)", line):
            body.append(f'<img alt="{html.escape(m[1])}" src="{m[2]}">')
        elif line.startswith("### "):
            body.append(f"<h3>{inline(line[4:])}</h3>")
        elif line.startswith("## "):
            body.append(f"<h2>{inline(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{inline(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
        i += 1
    style = (
        "body{font-family:sans-serif;max-width:1400px;margin:auto}"
        "table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}"
        "img{max-width:100%}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(
    folder: Path, render: Callable[[dict[str, str]], str], pngs: dict[str, bytes], title: str
) -> dict[str, Path]:
    """report.md (PNG files beside it) and report.html (PNGs inlined): `render(image_sources)`
    returns the Markdown given each PNG's name → its source (a file name or a data: URI)."""
    folder = Path(folder)
    for name, data in pngs.items():
        atomic_write_bytes(folder / name, data)
    atomic_write_text(folder / "report.md", render({n: n for n in pngs}))
    inline = render({n: "data:image/png;base64," + base64.b64encode(d).decode() for n, d in pngs.items()})
    atomic_write_text(folder / "report.html", markdown_to_html(inline, title))
    return {"markdown": folder / "report.md", "html": folder / "report.html", **{n: folder / n for n in pngs}}
