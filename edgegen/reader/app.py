"""The reader web app: Starlette routes over a study folder, server-rendered Jinja2 pages.

    GET  /r/{token}        invitation link → reader session cookie → /read
    GET  /read             the reader's next image (or the end page)
    POST /answer           one answer (CSRF token in the form, same-origin only) → /read
    GET  /img/{id}         an image by opaque ID, to a signed-in reader or admin
    GET  /a/{token}        admin link → admin session cookie → /admin
    GET  /admin            progress per reader; /admin/answers.csv: every answer with the key
    GET  /static/{name}    the page's CSS and JS (a fixed list, not a folder)

Readers see no label, file name, source or other reader's answer: pages carry opaque IDs only,
the key is read into memory for second-trial feedback and the admin CSV and is never served.
Tokens and session IDs are stored as sha256 hashes; cookies are HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edgegen.reader.flow import current_trial, position
from edgegen.reader.layout import IMAGE_ID, VERDICTS, StudyLayout, load_key, load_study
from edgegen.reader.store import Answer, Session, Store

READER_COOKIE = "reader_session"
ADMIN_COOKIE = "admin_session"
COOKIE_MAX_AGE = 60 * 60 * 24 * 60  # a study may run for weeks; the invitation link opens a new session anyway
STATIC = {"reader.css": "text/css; charset=utf-8", "reader.js": "text/javascript; charset=utf-8"}
LIKERT = (
    (1, "strongly disagree", "z"),
    (2, "disagree", "x"),
    (3, "neither", "c"),
    (4, "agree", "v"),
    (5, "strongly agree", "b"),
)
MAX_CUE = 500
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src "
        "'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


@dataclass(frozen=True)
class Feedback:
    verdict: str
    truth: str
    right: bool


class SecurityHeaders:
    """Pure ASGI middleware: every response gets the headers above unless it set its own."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import MutableHeaders

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    if k not in headers:
                        headers[k] = v
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ReaderApp:
    """The study's state (read once at start) and the route handlers."""

    def __init__(self, root: Path) -> None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        from edgegen.data.findings import load_findings_map

        self.layout = StudyLayout(Path(root))
        self.study = load_study(root)
        self.key = load_key(root)
        self.store = Store.open(self.layout.database)
        self.ids = tuple(self.study.ids)
        self.id_set = frozenset(self.ids)
        fmap = load_findings_map()
        self.finding = {im.id: fmap.get(im.finding).display for im in self.study.images if im.finding}
        here = Path(__file__).parent
        self.env = Environment(
            loader=FileSystemLoader(here / "templates"), autoescape=select_autoescape(default=True), auto_reload=False
        )
        self.static = {name: (here / "static" / name).read_bytes() for name in STATIC}
        self._images: dict[str, bytes] = {}

    # -- helpers ----------------------------------------------------------------------------
    def page(self, template: str, status: int = 200, **context):
        from starlette.responses import HTMLResponse

        return HTMLResponse(self.env.get_template(template).render(**context), status_code=status)

    def refuse(self, status: int, text: str):
        heading = {403: "Not allowed", 404: "Not found", 400: "Bad request", 409: "Not yet"}.get(status, "Error")
        return self.page("message.html", status=status, heading=heading, text=text)

    def session(self, request, cookie: str) -> Session | None:
        return self.store.session(request.cookies.get(cookie))

    def answered(self, reader_id: int) -> dict[int, set[str]]:
        return {t: self.store.answered(reader_id, t) for t in self.study.trials}

    def feedback(self, reader_id: int, trial: int | None) -> Feedback | None:
        if trial != 2 and not (trial is None and self.study.second_trial):
            return None
        last = self.store.last_answer(reader_id, 2)
        if last is None:
            return None
        truth = self.key[last.image_id].truth
        return Feedback(last.verdict, truth, last.verdict == truth)

    def _signed_in(self, cookie_name: str, session: str, target: str):
        from starlette.responses import RedirectResponse

        response = RedirectResponse(target, status_code=303)
        response.set_cookie(cookie_name, session, max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict", path="/")
        return response

    # -- routes -----------------------------------------------------------------------------
    def home(self, request):
        return self.page("message.html", heading="Reader study", text="Open the invitation link you were given.")

    def invitation(self, request):
        reader = self.store.reader_for_token(request.path_params["token"])
        if reader is None:
            return self.refuse(403, "This invitation link is not valid.")
        return self._signed_in(READER_COOKIE, self.store.open_session(reader), "/read")

    def admin_link(self, request):
        if not self.store.is_admin_token(request.path_params["token"]):
            return self.refuse(403, "This admin link is not valid.")
        return self._signed_in(ADMIN_COOKIE, self.store.open_session(None, is_admin=True), "/admin")

    def read(self, request):
        s = self.session(request, READER_COOKIE)
        if s is None or s.reader is None:
            return self.refuse(403, "Open your invitation link to start or resume.")
        rid = s.reader.id
        pos = position(self.ids, self.study.seed, self.study.trials, rid, self.answered(rid))
        if pos.done:
            return self.page("done.html", total=pos.total, trials=pos.trials, feedback=self.feedback(rid, None))
        self.store.mark_shown(rid, pos.image_id, pos.trial)
        return self.page(
            "read.html",
            pos=pos,
            step=pos.step,
            steps=pos.total * pos.trials,
            csrf=s.csrf,
            finding=self.finding.get(pos.image_id),
            likert=LIKERT,
            intro=pos.trial == 2 and pos.answered == 0,
            feedback=self.feedback(rid, pos.trial),
        )

    async def answer(self, request):
        from starlette.concurrency import run_in_threadpool

        form = await request.form(max_files=0, max_fields=20, max_part_size=4096)
        fields = {k: str(v) for k, v in form.items()}
        return await run_in_threadpool(self._answer, request, fields)

    def _answer(self, request, form: dict[str, str]):
        from starlette.responses import RedirectResponse

        s = self.session(request, READER_COOKIE)
        if s is None or s.reader is None:
            return self.refuse(403, "Open your invitation link to start or resume.")
        if not secrets.compare_digest(form.get("csrf", "").encode(), s.csrf.encode()) or not _same_origin(request):
            return self.refuse(403, "This form has expired; reload the page.")
        image_id = form.get("image_id", "")
        if not IMAGE_ID.fullmatch(image_id) or image_id not in self.id_set:
            return self.refuse(404, "No such image.")
        try:
            answer = _parse_answer(s.reader.id, image_id, form, self.study.trials, image_id in self.finding)
        except ValueError as exc:
            return self.refuse(400, str(exc))
        now_trial = current_trial(self.study.trials, self.ids, self.answered(s.reader.id))
        if now_trial is not None and answer.trial > now_trial:
            return self.refuse(409, "Finish part 1 first.")
        self.store.record(answer)
        return RedirectResponse("/read", status_code=303)

    async def image(self, request):
        """Async: a primary-key read (WAL readers never wait) and bytes cached in memory, so no
        thread-pool hop on the hottest route."""
        from starlette.responses import Response

        image_id = request.path_params["image_id"]
        if self.session(request, READER_COOKIE) is None and self.session(request, ADMIN_COOKIE) is None:
            return self.refuse(403, "Open your invitation link first.")
        if not IMAGE_ID.fullmatch(image_id) or image_id not in self.id_set:
            return self.refuse(404, "No such image.")
        data = self._images.get(image_id)
        if data is None:
            data = self._images[image_id] = self.layout.image(image_id).read_bytes()
        return Response(data, media_type="image/png")

    async def static_file(self, request):
        from starlette.responses import Response

        name = request.path_params["name"]
        if name not in self.static:
            return self.refuse(404, "Not found.")
        return Response(self.static[name], media_type=STATIC[name], headers={"cache-control": "private, max-age=600"})

    def admin(self, request):
        s = self.session(request, ADMIN_COOKIE)
        if s is None or not s.is_admin:
            return self.refuse(403, "Open the admin link first.")
        rows = [
            {"name": p.reader, "answered": p.answered, "last": _utc(p.last_answer) if p.last_answer else None}
            for p in self.store.progress()
        ]
        return self.page("admin.html", readers=rows, n_images=len(self.ids), trials=len(self.study.trials))

    def admin_csv(self, request):
        from starlette.responses import Response

        from edgegen.reader.report import answers_csv

        s = self.session(request, ADMIN_COOKIE)
        if s is None or not s.is_admin:
            return self.refuse(403, "Open the admin link first.")
        return Response(
            answers_csv(self.store.answers(), self.key),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="answers.csv"'},
        )


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _same_origin(request) -> bool:
    """A browser's Origin (or Referer) must name this host; tools that send neither pass, the
    CSRF token being the check that matters."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host", "")


def _parse_answer(
    reader_id: int, image_id: str, form: dict[str, str], trials: tuple[int, ...], asks_finding: bool
) -> Answer:
    verdict = form.get("verdict", "")
    if verdict not in VERDICTS:
        raise ValueError("Choose real, synthetic or unsure.")
    try:
        trial = int(form.get("trial", ""))
        confidence = int(form.get("confidence", ""))
        likert = int(form["finding_likert"]) if form.get("finding_likert") else None
        client_ms = int(form["client_ms"]) if form.get("client_ms") else None
    except ValueError:
        raise ValueError("Trial, confidence and ratings must be whole numbers.") from None
    if trial not in trials:
        raise ValueError("No such part of the study.")
    if not 1 <= confidence <= 5:
        raise ValueError("Confidence is 1 to 5.")
    if asks_finding and (likert is None or not 1 <= likert <= 5):
        raise ValueError("Answer the finding question (1 to 5).")
    if client_ms is not None and not 0 <= client_ms <= 86_400_000:
        client_ms = None
    cue = " ".join(form.get("cue", "").split())[:MAX_CUE]
    return Answer(reader_id, image_id, trial, verdict, confidence, likert if asks_finding else None, cue, client_ms)


def make_app(root: Path):
    """The ASGI application for the study folder `root`."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route

    state = ReaderApp(root)
    routes = [
        Route("/", state.home),
        Route("/r/{token}", state.invitation),
        Route("/a/{token}", state.admin_link),
        Route("/read", state.read),
        Route("/answer", state.answer, methods=["POST"], max_body_size=16384),
        Route("/img/{image_id}", state.image),
        Route("/static/{name}", state.static_file),
        Route("/admin", state.admin),
        Route("/admin/answers.csv", state.admin_csv),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.reader = state
    return app


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(root: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn until interrupted (no access log: paths carry invitation tokens)."""
    import uvicorn

    app = make_app(root)
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False, proxy_headers=False
    )
