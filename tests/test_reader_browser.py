"""A whole reader session in a real browser: Debian's chromium, headless, driven by playwright
(no browser download). Open the invitation link, answer with the keyboard, reload half-way and
resume, close the browser and come back, finish both trials; then `edgegen reader analyze`.

Chromium is found on PATH, else installed with apt-get (as root, or through password-less sudo);
the test skips, saying why, only where neither is possible. CI (.ci/run) installs it before the suite."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
pytest.importorskip("uvicorn", reason="the reader extra is not installed: pip install -e '.[reader]'")

from tests.reader_support import Server, free_port, make_study  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _which_chromium() -> str | None:
    return os.environ.get("EDGEGEN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = _which_chromium()
    if path:
        return path
    if shutil.which("apt-get") is None:
        pytest.skip(
            "no chromium on PATH and no apt-get to install it (Debian/Ubuntu: "
            "apt-get install chromium, or set EDGEGEN_CHROMIUM)"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:  # not root: password-less sudo, or a clear skip
        can_sudo = shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        if not can_sudo:
            pytest.skip("no chromium on PATH, and installing it with apt-get needs root (apt-get install chromium)")
        prefix = ["sudo", "-n", "--preserve-env=DEBIAN_FRONTEND"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, timeout=900, check=False)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "chromium"], env=env, timeout=1800, check=False)
    path = _which_chromium()
    if not path:
        pytest.fail("apt-get could not install chromium")
    return path


def _answer(page, i: int) -> None:
    """One image, keyboard only (plus typing the optional cue)."""
    page.wait_for_function(
        "() => { const im = document.getElementById('cxr'); return im.complete && im.naturalWidth === 48; }"
    )
    verdict = "synthetic" if i % 2 else "real"
    page.keyboard.press(verdict[0])
    page.keyboard.press(str(1 + i % 5))
    if page.locator("#finding").count():
        page.keyboard.press("v")  # agree
        assert page.is_checked("input[name=finding_likert][value='4']")
    assert page.is_checked(f"input[name=verdict][value={verdict}]") and page.is_checked(
        f"input[name=confidence][value='{1 + i % 5}']"
    )
    with page.expect_navigation():
        if i % 4 == 1:
            page.fill("#cue", "too smooth ribs")
            page.keyboard.press("Enter")  # Enter in the text field submits the form
        elif i % 4 == 3:
            page.fill("#cue", "blurry ribs")
            page.keyboard.press("Escape")  # leave the field; the shortcut submits
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("Enter")


def test_a_whole_reader_session_in_chromium(tmp_path, chromium, run_cli):
    from playwright.sync_api import sync_playwright

    result = make_study(tmp_path, per_source=2, findings=True, second_trial=True)  # 8 images, two trials
    invite = result.reader_tokens["ann"]
    server = Server(result.study, free_port()).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{server.url}/r/{invite}")
            assert page.url == f"{server.url}/read" and page.inner_text("#counter").startswith("Image 1 of 8")
            # Window/level and zoom from the keyboard, then reset.
            page.keyboard.press("ArrowUp")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("+")
            style = page.get_attribute("#cxr", "style")
            assert "brightness(1.1)" in style and "contrast(1.1)" in style and "scale(1.25)" in style
            page.keyboard.press("0")
            assert "brightness(1)" in page.get_attribute("#cxr", "style")
            for i in range(8):
                if i == 4:  # reload half-way: the same next image, the same count
                    before = page.input_value("input[name=image_id]")
                    page.reload()
                    assert (
                        page.inner_text("#counter").startswith("Image 5 of 8")
                        and page.input_value("input[name=image_id]") == before
                    )
                if i == 6:  # close the browser; the invitation link resumes
                    context.close()
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(f"{server.url}/r/{invite}")
                    assert page.inner_text("#counter").startswith("Image 7 of 8")
                assert page.inner_text("#counter").startswith(f"Image {i + 1} of 8")
                assert abs(float(page.get_attribute("#progress", "value")) - i) < 1e-9
                _answer(page, i)
            # Trial 2: the same images, feedback after each answer.
            assert page.is_visible("#intro") and page.inner_text("#counter").startswith("Image 1 of 8 · part 2 of 2")
            for i in range(8):
                _answer(page, i)
                if i < 7:
                    assert page.is_visible("#feedback") and "it was" in page.inner_text("#feedback")
            assert page.is_visible("#done")
            browser.close()
    finally:
        server.stop()

    with sqlite3.connect(result.study / "answers.sqlite") as db:
        rows = db.execute("SELECT trial, client_ms, seconds, cue FROM answers").fetchall()
    assert len(rows) == 16 and sorted({r[0] for r in rows}) == [1, 2]
    assert all(r[1] is not None and r[1] > 0 and r[2] is not None and r[2] >= 0 for r in rows)
    code, out, err = run_cli("reader", "analyze", str(result.study), "--json")
    assert code == 0, err
    analysis = json.loads(out)
    assert [t["pooled"]["answers"] for t in analysis["trials"]] == [8, 8]
    assert dict(analysis["cue_words"])["ribs"] == 8
    with open(result.study / "analysis" / "answers.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 16
    assert (result.study / "analysis" / "report.html").read_text().count("<table>") >= 5
