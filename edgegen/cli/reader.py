"""`edgegen reader create|invite|serve|analyze`: a blinded real-vs-synthetic reader study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgegen.cli.output import JsonOption, console, print_json, table, warn

app = typer.Typer(
    help="Reader studies: radiologists judge blinded real and synthetic images in a web app.", no_args_is_help=True
)

StudyArgument = Annotated[Path, typer.Argument(help="The study folder.")]
BaseUrlOption = Annotated[
    str, typer.Option(help="Where readers will reach `edgegen reader serve`, for the printed links.")
]
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def _links(base_url: str, admin: str | None, readers: dict[str, str]) -> None:
    base = base_url.rstrip("/")
    if admin:
        console.print(
            f"admin link (shown once, keep it private): {base}/a/{admin}", markup=False, highlight=False, soft_wrap=True
        )
    for name, token in readers.items():
        console.print(f"invitation for {name}: {base}/r/{token}", markup=False, highlight=False, soft_wrap=True)


@app.command("create")
def create_cmd(
    study: StudyArgument,
    real: Annotated[
        str, typer.Option(help="Real images: an embedded set (default, kermany-128, nih-cxr14-128) or a folder.")
    ],
    synthetic: Annotated[
        list[str], typer.Option(help="NAME=DIR of a synthetic folder (repeatable), e.g. fp32=synth/fp32.")
    ],
    per_source: Annotated[int, typer.Option(help="Images from each synthetic source.")] = 50,
    real_n: Annotated[
        int | None, typer.Option(help="Real images (default: --per-source × synthetic sources, a balanced set).")
    ] = None,
    findings: Annotated[
        bool, typer.Option("--findings", help="Ask 'does it show <finding>?' of images labelled with a finding.")
    ] = False,
    second_trial: Annotated[
        bool,
        typer.Option("--second-trial", help="A second pass over the same images, with feedback after each answer."),
    ] = False,
    size: Annotated[
        int,
        typer.Option("--size", "--resolution", help="Image side in pixels (every image is re-encoded at this size)."),
    ] = 128,
    split: Annotated[str, typer.Option(help="Split of an embedded real set: train, val or test.")] = "test",
    seed: Annotated[int, typer.Option(help="Seed of the image selection and reading orders.")] = 0,
    reader: Annotated[
        list[str] | None, typer.Option(help="Invite a reader by name (repeatable; more later with `invite`).")
    ] = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    json_out: JsonOption = False,
) -> None:
    """A balanced, seeded, blinded study folder: plain PNGs under random IDs, the key kept apart."""
    from edgegen.reader.create import CreateRequest, create_study, parse_synthetic

    request = CreateRequest(
        study,
        real,
        parse_synthetic(synthetic),
        per_source,
        real_n,
        findings,
        second_trial,
        size,
        split,
        seed,
        tuple(reader or ()),
    )
    result = create_study(request)
    for w in result.warnings:
        warn(w)
    if json_out:
        print_json(result)
        return
    rows = [
        [name, str(n), str(result.finding_questions[name]) if findings else "–"] for name, n in result.counts.items()
    ]
    console.print(table(f"{result.study}: {result.n_images} images", ["source", "images", "finding questions"], rows))
    _links(base_url, result.admin_token, result.reader_tokens)
    console.print(f"next: edgegen reader serve {result.study}", markup=False, highlight=False)


@app.command("invite")
def invite_cmd(
    study: StudyArgument,
    names: Annotated[list[str] | None, typer.Argument(help="Reader names, one invitation link each.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Issue a new admin link (the old one stops working).")] = False,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
    json_out: JsonOption = False,
) -> None:
    """Invitation links for new readers (random tokens; only their hashes are stored)."""
    from edgegen.errors import UsageError
    from edgegen.reader.layout import StudyLayout, load_study
    from edgegen.reader.store import Store

    load_study(study)
    if not names and not admin:
        raise UsageError("nothing to do", hint="name readers to invite, or pass --admin for a new admin link")
    store = Store.open(StudyLayout(study).database)
    readers = {name: store.add_reader(name) for name in names or []}
    admin_token = store.set_admin_token() if admin else None
    store.close()
    if json_out:
        base = base_url.rstrip("/")
        print_json(
            {
                "readers": {n: f"{base}/r/{t}" for n, t in readers.items()},
                "admin": f"{base}/a/{admin_token}" if admin_token else None,
            }
        )
        return
    _links(base_url, admin_token, readers)


@app.command("serve")
def serve_cmd(
    study: StudyArgument,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback exposes the study to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """The reader web app (Ctrl+C stops it; answers are saved as they come)."""
    from edgegen.errors import UsageError
    from edgegen.reader.app import is_loopback, serve
    from edgegen.reader.layout import load_study

    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port")
    info = load_study(study)
    if not is_loopback(host):
        warn(
            f"listening on {host}: anyone who can reach this machine can open the "
            "study pages, and links travel unencrypted (put a TLS proxy in front)"
        )
    console.print(
        f"serving {info.name} ({len(info.images)} images) at http://{host}:{port} (Ctrl+C to stop)",
        markup=False,
        highlight=False,
    )
    serve(study, host, port)


@app.command("analyze")
def analyze_cmd(
    study: StudyArgument,
    out: Annotated[Path | None, typer.Option(help="Report folder (default: STUDY/analysis).")] = None,
    quality: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "NAME=PATH of an `edgegen quality --out` results.json "
                "(PATH alone with one synthetic source); repeatable."
            )
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Accuracy, sensitivity/specificity, κ, per source / class / finding, cues: Markdown, HTML, CSV."""
    from edgegen.reader.report import analyze_study, pct, perf_rows

    done = analyze_study(study, quality, out)
    a = done.analysis
    if json_out:
        print_json(a)
        return
    for t in a.trials:
        rows = [[r[0], r[1], r[2], r[3], r[6]] for r in perf_rows([*t.readers, t.pooled])]
        console.print(
            table(
                f"trial {t.trial}: {t.pooled.answers} answers",
                ["reader", "answers", "accuracy (decided)", "P vs 50%", "unsure"],
                rows,
            )
        )
        if t.fleiss and t.fleiss.kappa is not None:
            console.print(f"Fleiss' κ {t.fleiss.kappa:.3f} over {t.fleiss.images} images")
        for s in t.sources:
            console.print(f"  {s.source}: accuracy {pct(s.performance.accuracy)}", markup=False, highlight=False)
    console.print(f"report: {done.files['html']}", markup=False, highlight=False)
