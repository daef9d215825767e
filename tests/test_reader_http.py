"""The reader app over HTTP (Starlette's TestClient): who may see what, and what readers never see."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace

import pytest

pytest.importorskip("starlette", reason="the reader extra is not installed: pip install -e '.[reader]'")

from edgegen.reader.blinding import png_chunk_types  # noqa: E402
from tests.reader_support import SECRET_FILE, SOURCE_NAMES, HttpReader, key_of, make_study  # noqa: E402


@pytest.fixture
def study(tmp_path):
    return make_study(tmp_path, per_source=3, readers=("ann", "bob"), second_trial=True)


@pytest.fixture
def client_for(study):
    from starlette.testclient import TestClient

    from edgegen.reader.app import make_app

    app = make_app(study.study)
    clients = []

    def new():
        c = TestClient(app, base_url="http://testserver")
        clients.append(c)
        return c

    yield new
    for c in clients:
        c.close()


def _reader(study, client_for, name="ann") -> HttpReader:
    r = HttpReader(client_for(), study.reader_tokens[name])
    assert r.sign_in().status_code == 303
    return r


def _count(study, where: str = "1") -> int:
    with sqlite3.connect(study.study / "answers.sqlite") as db:
        return db.execute(f"SELECT COUNT(*) FROM answers WHERE {where}").fetchone()[0]


def test_invitation_sets_a_strict_http_only_cookie_and_stores_only_hashes(study, client_for):
    r = HttpReader(client_for(), study.reader_tokens["ann"])
    resp = r.sign_in()
    assert resp.status_code == 303 and resp.headers["location"] == "/read"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    raw = (study.study / "answers.sqlite").read_bytes()
    assert study.reader_tokens["ann"].encode() not in raw and study.admin_token.encode() not in raw


@pytest.mark.parametrize(
    "path",
    ["/read", "/img/0123456789abcdef", "/admin", "/admin/answers.csv", "/r/" + "x" * 43, "/r/short", "/a/" + "y" * 43],
)
def test_missing_or_bad_token_is_403(client_for, path):
    assert client_for().get(path, follow_redirects=False).status_code == 403


def test_post_without_session_or_with_a_bad_csrf_token_is_403(study, client_for):
    r = _reader(study, client_for)
    page = r.page()
    anonymous = client_for()
    form = {"csrf": page.csrf, "image_id": page.image_id, "trial": "1", "verdict": "real", "confidence": "3"}
    assert anonymous.post("/answer", data=form).status_code == 403
    assert r.client.post("/answer", data={**form, "csrf": "forged"}).status_code == 403
    assert r.client.post("/answer", data=form, headers={"origin": "http://evil.example"}).status_code == 403
    assert r.client.post("/answer", data=form, headers={"origin": "null"}).status_code == 403
    assert _count(study) == 0
    assert (
        r.client.post("/answer", data=form, headers={"origin": "http://testserver"}, follow_redirects=False).status_code
        == 303
    )


def test_a_reader_session_is_not_an_admin_session(study, client_for):
    r = _reader(study, client_for)
    assert r.client.get("/admin").status_code == 403 and r.client.get("/admin/answers.csv").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/img/0123456789abcdef",
        "/img/..%2Fkey.json",
        "/img/%2e%2e%2fkey.json",
        "/img/../key.json",
        "/static/..%2Fkey.json",
        "/static/",
        "/static/reader.py",
        "/key.json",
        "/study.json",
        "/answers.sqlite",
        "/images/",
        "/img/",
        "/img/ABCDEF0123456789",
        "/img/0123456789abcdef.png",
        "/etc/passwd",
    ],
)
def test_path_traversal_and_unknown_ids_are_404(study, client_for, path):
    r = _reader(study, client_for)
    assert r.client.get(path).status_code == 404


def test_image_files_are_reachable_only_by_id(study, client_for):
    r = _reader(study, client_for)
    image_id = next(iter(key_of(study.study)))
    assert r.client.get(f"/img/{image_id}").status_code == 200
    assert r.client.get(f"/images/{image_id}.png").status_code == 404


def _normalised(html: str, page) -> str:
    html = html.replace(page.image_id, "ID").replace(page.csrf, "CSRF")
    html = re.sub(r'<progress id="progress" value="\d+"', "<progress", html)
    return re.sub(r'<span id="counter">[^<]*</span>', "", html)


def test_no_served_byte_tells_the_source_label_or_file(study, client_for):
    """A whole session (both trials): every page and image a reader receives is collected."""
    key = key_of(study.study)
    r = _reader(study, client_for)
    served: list[bytes] = [
        r.client.get("/").content,
        r.client.get("/static/reader.css").content,
        r.client.get("/static/reader.js").content,
    ]
    page_shapes = {"real": set(), "synthetic": set()}
    for _ in range(len(key)):
        resp = r.client.get("/read")
        assert (
            resp.headers["cache-control"] == "no-store"
            and "script-src 'self'" in resp.headers["content-security-policy"]
        )
        page = r.page()
        served.append(resp.content)
        img = r.client.get(f"/img/{page.image_id}")
        assert img.headers["content-type"] == "image/png" and img.headers["cache-control"] == "no-store"
        assert png_chunk_types(img.content) == ["IHDR", "IDAT", "IEND"]
        served.append(img.content)
        page_shapes[key[page.image_id]["truth"]].add(_normalised(resp.text, page))
        assert r.answer(page, verdict="unsure") == 303
    # Trial 1 pages of real and synthetic images are the same page apart from ID, token and count.
    assert len(page_shapes["real"]) == 1 and page_shapes["real"] == page_shapes["synthetic"]
    secrets = [
        *SOURCE_NAMES,
        SECRET_FILE,
        "DOE^JANE",
        "edgegen",
        "ort-cpu",
        "pneumonia",
        "normal",
        "key.json",
        "manifest",
        "study.json",
        "images/",
    ]
    for blob in served:
        for s in secrets:
            assert s.encode() not in blob, s
    # The other reader's answers are nowhere in ann's pages either.
    bob = _reader(study, client_for, "bob")
    bob.answer(bob.page(), verdict="real", cue="zebra-stripes")
    assert b"zebra" not in r.client.get("/read").content


def test_answers_resume_retries_do_not_duplicate_and_trial_two_gives_feedback(study, client_for):
    key = key_of(study.study)
    r = _reader(study, client_for)
    first = r.page()
    assert first.counter.startswith("Image 1 of 12")
    assert r.answer(first, verdict="synthetic") == 303
    assert r.answer(first, verdict="real") == 303  # a retried post: ignored, the first answer stands
    assert _count(study) == 1 and _count(study, "verdict = 'synthetic'") == 1
    # A new browser (new session from the same invitation) resumes at image 2.
    again = HttpReader(client_for(), study.reader_tokens["ann"])
    again.sign_in()
    second = again.page()
    assert second.counter.startswith("Image 2 of 12") and second.image_id != first.image_id
    # Part 2 may not be answered before part 1 is done.
    assert again.answer(replace(second, trial=2)) == 409
    for _ in range(11):
        p = again.page()
        assert again.answer(p, verdict="real") == 303
    p = again.page()
    assert p.trial == 2 and 'id="intro"' in p.html and 'id="feedback"' not in p.html
    assert again.answer(p, verdict="synthetic") == 303
    html = again.page().html
    truth = key[p.image_id]["truth"]
    assert f"you answered <b>synthetic</b>, it was <b>{truth}</b>" in html
    assert ("(right)" in html) == (truth == "synthetic")
    assert _count(study, "trial = 2") == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"verdict": "maybe"}, 400),
        ({"confidence": "9"}, 400),
        ({"confidence": "x"}, 400),
        ({"trial": "3"}, 400),
        ({"image_id": "0123456789abcdef"}, 404),
        ({"image_id": "../key"}, 404),
    ],
)
def test_malformed_answers_are_refused(study, client_for, change, status):
    r = _reader(study, client_for)
    page = r.page()
    form = {"csrf": page.csrf, "image_id": page.image_id, "trial": "1", "verdict": "real", "confidence": "3", **change}
    assert r.client.post("/answer", data=form).status_code == status
    assert _count(study) == 0


def test_the_finding_question_must_be_answered(tmp_path):
    from starlette.testclient import TestClient

    from edgegen.reader.app import make_app

    result = make_study(tmp_path, per_source=3, findings=True)
    r = HttpReader(TestClient(make_app(result.study)), result.reader_tokens["ann"])
    r.sign_in()
    while (page := r.page()).finding is None:
        r.answer(page)
    form = {"csrf": page.csrf, "image_id": page.image_id, "trial": "1", "verdict": "real", "confidence": "3"}
    assert r.client.post("/answer", data=form).status_code == 400
    assert r.client.post("/answer", data={**form, "finding_likert": "5"}, follow_redirects=False).status_code == 303


def test_admin_sees_progress_and_the_csv(study, client_for):
    r = _reader(study, client_for)
    r.answer(r.page(), verdict="synthetic", cue="=cmd|' /C calc'!A0")
    admin = client_for()
    assert admin.get(f"/a/{study.admin_token}", follow_redirects=False).status_code == 303
    page = admin.get("/admin")
    assert page.status_code == 200 and "1 / 12" in page.text and "ann" in page.text
    csv_text = admin.get("/admin/answers.csv").text
    lines = csv_text.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("reader,trial,image_id,truth,source")
    assert ",'=cmd" in lines[1]  # no spreadsheet formula from free text


def test_invite_adds_readers_whose_links_work_at_once(study, client_for, run_cli):
    code, out, err = run_cli("reader", "invite", str(study.study), "cem", "--admin", "--json")
    assert code == 0, err
    links = json.loads(out)
    token = links["readers"]["cem"].rsplit("/r/", 1)[1]
    assert HttpReader(client_for(), token).sign_in().status_code == 303
    old_admin = client_for()
    assert old_admin.get(f"/a/{study.admin_token}", follow_redirects=False).status_code == 403  # replaced
    assert client_for().get(links["admin"].split("8000", 1)[1], follow_redirects=False).status_code == 303
    code, _, err = run_cli("reader", "invite", str(study.study), "cem")
    assert code == 2 and "already exists" in err


def test_serve_binds_loopback_unless_asked_and_warns_when_asked(study, run_cli, monkeypatch):
    import edgegen.reader.app as app_module

    calls = []
    monkeypatch.setattr(app_module, "serve", lambda root, host, port: calls.append((host, port)))
    code, _, err = run_cli("reader", "serve", str(study.study))
    assert code == 0 and calls[-1] == ("127.0.0.1", 8000) and "warning" not in err
    code, _, err = run_cli("reader", "serve", str(study.study), "--host", "0.0.0.0", "--port", "9001")
    assert code == 0 and calls[-1] == ("0.0.0.0", 9001) and "warning" in err and "0.0.0.0" in err
    assert (
        app_module.is_loopback("::1") and app_module.is_loopback("localhost") and not app_module.is_loopback("10.0.0.1")
    )
