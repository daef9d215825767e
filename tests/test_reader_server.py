"""`edgegen reader serve` as a real process: concurrent readers lose nothing, and a `kill -9`
mid-study loses no acknowledged answer; readers resume where they were."""

from __future__ import annotations

import sqlite3
import threading

import pytest

pytest.importorskip("uvicorn", reason="the reader extra is not installed: pip install -e '.[reader]'")
httpx = pytest.importorskip("httpx")

from tests.reader_support import HttpReader, Server, free_port, make_study  # noqa: E402


def _answers(study) -> list[tuple[str, str, int]]:
    with sqlite3.connect(study / "answers.sqlite") as db:
        return db.execute(
            "SELECT r.name, a.image_id, a.trial FROM answers a JOIN readers r ON r.id = a.reader_id"
        ).fetchall()


def _read_to_the_end(
    reader: HttpReader, acked: list, stop: threading.Event | None = None, errors: list | None = None
) -> None:
    try:
        while not (stop and stop.is_set()):
            page = reader.page()
            if page.image_id is None:
                return
            if reader.client.get(f"/img/{page.image_id}").status_code != 200:
                raise AssertionError("image not served")
            if reader.answer(page, verdict="real" if len(acked) % 2 else "synthetic", confidence=2) != 303:
                raise AssertionError("answer not accepted")
            acked.append(page.image_id)
    except httpx.TransportError:
        pass  # the server was killed under us
    except Exception as exc:  # noqa: BLE001 - reported by the test thread
        if errors is not None:
            errors.append(exc)


def test_ten_concurrent_readers_times_fifty_answers_lose_nothing(tmp_path):
    names = tuple(f"reader{i}" for i in range(10))
    study = make_study(tmp_path, per_source=25, sources=1, readers=names)
    server = Server(study.study, free_port()).start()
    try:
        readers = [HttpReader(httpx.Client(base_url=server.url, timeout=60), study.reader_tokens[n]) for n in names]
        for r in readers:
            assert r.sign_in().status_code == 303
        acked = {n: [] for n in names}
        errors: list = []
        threads = [
            threading.Thread(target=_read_to_the_end, args=(r, acked[n], None, errors))
            for r, n in zip(readers, names, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        rows = _answers(study.study)
        assert len(rows) == 500 and len(set(rows)) == 500
        for n in names:
            assert len(acked[n]) == 50 and sorted(acked[n]) == sorted(i for r, i, _ in rows if r == n)
        assert all("Thank you" in r.client.get("/read").text for r in readers)
    finally:
        server.stop()


def test_kill_9_mid_study_loses_no_answer_and_readers_resume(tmp_path):
    names = ("ann", "bob", "cem", "dia")
    study = make_study(tmp_path, per_source=6, readers=names)  # 24 images
    total = 24
    server = Server(study.study, free_port()).start()
    clients = {n: httpx.Client(base_url=server.url, timeout=30) for n in names}
    readers = {n: HttpReader(clients[n], study.reader_tokens[n]) for n in names}
    try:
        for r in readers.values():
            assert r.sign_in().status_code == 303
        acked = {n: [] for n in names}
        stop = threading.Event()
        errors: list = []
        threads = [threading.Thread(target=_read_to_the_end, args=(readers[n], acked[n], stop, errors)) for n in names]
        for t in threads:
            t.start()
        while sum(map(len, acked.values())) < 30 and any(t.is_alive() for t in threads):
            threading.Event().wait(0.01)
        server.kill9()  # answers are in flight on four threads
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        stored = _answers(study.study)
        for n in names:
            assert set(acked[n]) <= {i for r, i, _ in stored if r == n}  # every acknowledged answer survived
        assert sum(map(len, acked.values())) < len(names) * total
        server.start()  # same folder, same port: the browsers' cookies still hold
        for n in names:
            done = len([1 for r, _, _ in stored if r == n])
            page = readers[n].page()
            assert page.counter.startswith(f"Image {done + 1} of {total}")
            assert page.image_id not in {i for r, i, _ in stored if r == n}
        for n in names:
            _read_to_the_end(readers[n], acked[n], None, errors)
        assert not errors, errors
        rows = _answers(study.study)
        assert len(rows) == len(names) * total and len(set(rows)) == len(rows)
    finally:
        server.stop()
        for c in clients.values():
            c.close()
