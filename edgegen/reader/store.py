"""The SQLite store of a study: readers (invitation tokens kept as sha256 hashes), the admin
token, browser sessions with their CSRF token, when each image was first shown, and answers.

WAL journal with synchronous=FULL: each answer is one transaction, fsynced at commit, so a
`kill -9` (or a power cut) loses no acknowledged answer (first-view times skip the fsync).
UNIQUE(reader, image, trial) with INSERT OR IGNORE makes a retried post harmless. One connection
per thread (the web server runs handlers in a thread pool).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edgegen.errors import ArtifactError, UsageError

SCHEMA_VERSION = "1"
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,128}")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS readers(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS admin(
  id INTEGER PRIMARY KEY CHECK (id = 1), token_hash TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  id_hash TEXT PRIMARY KEY, reader_id INTEGER REFERENCES readers(id), is_admin INTEGER NOT NULL DEFAULT 0,
  csrf TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS views(
  reader_id INTEGER NOT NULL REFERENCES readers(id), image_id TEXT NOT NULL, trial INTEGER NOT NULL,
  first_shown REAL NOT NULL, PRIMARY KEY(reader_id, image_id, trial));
CREATE TABLE IF NOT EXISTS answers(
  id INTEGER PRIMARY KEY, reader_id INTEGER NOT NULL REFERENCES readers(id), image_id TEXT NOT NULL,
  trial INTEGER NOT NULL CHECK (trial IN (1, 2)),
  verdict TEXT NOT NULL CHECK (verdict IN ('real', 'synthetic', 'unsure')),
  confidence INTEGER NOT NULL CHECK (confidence BETWEEN 1 AND 5),
  finding_likert INTEGER CHECK (finding_likert BETWEEN 1 AND 5),
  cue TEXT NOT NULL DEFAULT '', client_ms INTEGER, seconds REAL, answered_at REAL NOT NULL,
  UNIQUE(reader_id, image_id, trial));
"""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Reader:
    id: int
    name: str


@dataclass(frozen=True)
class Session:
    reader: Reader | None
    is_admin: bool
    csrf: str


@dataclass(frozen=True)
class Answer:
    reader_id: int
    image_id: str
    trial: int
    verdict: str
    confidence: int
    finding_likert: int | None = None
    cue: str = ""
    client_ms: int | None = None


@dataclass(frozen=True)
class AnswerRow:
    reader: str
    image_id: str
    trial: int
    verdict: str
    confidence: int
    finding_likert: int | None
    cue: str
    client_ms: int | None
    seconds: float | None
    answered_at: float


@dataclass(frozen=True)
class Progress:
    reader: str
    answered: dict[int, int]  # trial → answers
    last_answer: float | None


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    # -- connections ------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self, sql: str, args: tuple = (), durable: bool = True) -> sqlite3.Cursor:
        """One statement in its own transaction. `durable=False` skips the fsync at commit: the
        write still survives a killed process (WAL), only not a power cut."""
        conn = self.conn()
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(sql, args)
                conn.execute("COMMIT")
                return cur
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous=FULL")

    @classmethod
    def create(cls, path: Path) -> Store:
        store = cls(path)
        conn = store.conn()
        conn.executescript(SCHEMA)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        return store

    @classmethod
    def open(cls, path: Path) -> Store:
        if not Path(path).is_file():
            raise ArtifactError(f"no answer database at {path}", hint="run `edgegen reader create` first")
        store = cls(path)
        try:
            row = store.conn().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(f"{path} is not a reader-study database ({exc})") from exc
        if not row or row[0] != SCHEMA_VERSION:
            raise ArtifactError(f"{path} has database schema {row[0] if row else None}, expected {SCHEMA_VERSION}")
        return store

    # -- readers and tokens -----------------------------------------------------------------
    def add_reader(self, name: str) -> str:
        """A new reader; returns the invitation token (only its hash is kept)."""
        name = " ".join(name.split())
        if not name or len(name) > 80:
            raise UsageError(f"reader name {name!r} must be 1-80 characters")
        token = new_token()
        try:
            self._write(
                "INSERT INTO readers(name, token_hash, created) VALUES (?, ?, ?)",
                (name, token_hash(token), time.time()),
            )
        except sqlite3.IntegrityError:
            raise UsageError(f"reader {name!r} already exists", hint="choose another name") from None
        return token

    def set_admin_token(self) -> str:
        """A new admin token, replacing the previous one (its open admin sessions end too)."""
        token = new_token()
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT OR REPLACE INTO admin(id, token_hash, created) VALUES (1, ?, ?)",
                (token_hash(token), time.time()),
            )
            conn.execute("DELETE FROM sessions WHERE is_admin = 1")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return token

    def reader_for_token(self, token: str) -> Reader | None:
        if not TOKEN_SHAPE.fullmatch(token):
            return None
        row = self.conn().execute("SELECT id, name FROM readers WHERE token_hash = ?", (token_hash(token),)).fetchone()
        return Reader(*row) if row else None

    def is_admin_token(self, token: str) -> bool:
        if not TOKEN_SHAPE.fullmatch(token):
            return False
        row = self.conn().execute("SELECT token_hash FROM admin WHERE id = 1").fetchone()
        return bool(row) and secrets.compare_digest(row[0], token_hash(token))

    def readers(self) -> list[Reader]:
        return [Reader(*r) for r in self.conn().execute("SELECT id, name FROM readers ORDER BY id")]

    # -- sessions ---------------------------------------------------------------------------
    def open_session(self, reader: Reader | None, is_admin: bool = False) -> str:
        token = new_token()
        self._write(
            "INSERT INTO sessions(id_hash, reader_id, is_admin, csrf, created) VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), reader.id if reader else None, int(is_admin), secrets.token_urlsafe(24), time.time()),
        )
        return token

    def session(self, token: str | None) -> Session | None:
        if not token or not TOKEN_SHAPE.fullmatch(token):
            return None
        row = (
            self.conn()
            .execute(
                "SELECT s.reader_id, r.name, s.is_admin, s.csrf "
                "FROM sessions s LEFT JOIN readers r ON r.id = s.reader_id WHERE s.id_hash = ?",
                (token_hash(token),),
            )
            .fetchone()
        )
        if not row:
            return None
        reader = Reader(row[0], row[1]) if row[0] is not None else None
        return Session(reader, bool(row[2]), row[3])

    # -- views and answers ------------------------------------------------------------------
    def mark_shown(self, reader_id: int, image_id: str, trial: int) -> None:
        """Remember when a reader first saw an image (a reload keeps the first time)."""
        conn = self.conn()
        if conn.execute(
            "SELECT 1 FROM views WHERE reader_id = ? AND image_id = ? AND trial = ?", (reader_id, image_id, trial)
        ).fetchone():
            return
        self._write(
            "INSERT OR IGNORE INTO views(reader_id, image_id, trial, first_shown) VALUES (?, ?, ?, ?)",
            (reader_id, image_id, trial, time.time()),
            durable=False,
        )

    def record(self, a: Answer) -> bool:
        """Store an answer in one transaction; False when this reader already answered this
        image in this trial (the first answer stands)."""
        now = time.time()
        cur = self._write(
            """INSERT OR IGNORE INTO answers(reader_id, image_id, trial, verdict, confidence, finding_likert, cue,
                                             client_ms, seconds, answered_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                       ? - (SELECT first_shown FROM views WHERE reader_id = ? AND image_id = ? AND trial = ?), ?)""",
            (
                a.reader_id,
                a.image_id,
                a.trial,
                a.verdict,
                a.confidence,
                a.finding_likert,
                a.cue,
                a.client_ms,
                now,
                a.reader_id,
                a.image_id,
                a.trial,
                now,
            ),
        )
        return cur.rowcount == 1

    def answered(self, reader_id: int, trial: int) -> set[str]:
        return {
            r[0]
            for r in self.conn().execute(
                "SELECT image_id FROM answers WHERE reader_id = ? AND trial = ?", (reader_id, trial)
            )
        }

    def last_answer(self, reader_id: int, trial: int) -> AnswerRow | None:
        rows = self._answers(
            "WHERE a.reader_id = ? AND a.trial = ? ORDER BY a.answered_at DESC, a.id DESC LIMIT 1", (reader_id, trial)
        )
        return rows[0] if rows else None

    def answers(self) -> list[AnswerRow]:
        return self._answers("ORDER BY a.reader_id, a.trial, a.answered_at, a.id", ())

    def _answers(self, tail: str, args: tuple) -> list[AnswerRow]:
        sql = (
            "SELECT r.name, a.image_id, a.trial, a.verdict, a.confidence, "
            "a.finding_likert, a.cue, a.client_ms, a.seconds, a.answered_at "
            "FROM answers a JOIN readers r ON r.id = a.reader_id " + tail
        )
        return [AnswerRow(*row) for row in self.conn().execute(sql, args)]

    def progress(self) -> list[Progress]:
        counts: dict[str, dict[int, int]] = {r.name: {} for r in self.readers()}
        last: dict[str, float] = {}
        for name, trial, n, latest in self.conn().execute(
            "SELECT r.name, a.trial, COUNT(*), MAX(a.answered_at) "
            "FROM answers a JOIN readers r ON r.id = a.reader_id GROUP BY r.name, a.trial"
        ):
            counts[name][trial] = n
            last[name] = max(latest, last.get(name, 0.0))
        return [Progress(name, c, last.get(name)) for name, c in counts.items()]
