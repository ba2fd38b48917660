"""The rooms' store in one SQLite file: the embedded default, shared by every process on one box.

* **WAL** (readers never wait for the writer, and a reader sees the last committed write of any
  process) and a **busy timeout**, so a writer waits for another instead of failing.
* **A connection per thread** (and per process: a forked child opens its own): sqlite3 connections
  are not shared, and Gradio runs handlers on a thread pool.
* **Every write is one ``BEGIN IMMEDIATE`` transaction**: it takes the file's write lock before it
  reads what it will change (the room's version, the number of people, the bytes used), so two
  processes writing at once are serialised and lose nothing.
* ``synchronous=NORMAL`` in WAL mode: a committed transaction survives the process being killed
  (``kill -9``): it is in the WAL file, which the next connection replays. (Only a power cut may
  lose the last transactions, as the docs say.)
* Expired rooms are purged when read (:meth:`room`, :meth:`version`) and by :meth:`purge_expired`,
  which :meth:`create_room` also runs, so expired rooms never count toward the limit.
* Blobs live in a table; the room's ``bytes_used`` is kept exactly in the same transaction as the
  blob it counts.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gradcam_core.base.errors import Refusal
from gradcam_core.rooms.records import (Answer, Clock, Person, Room, Submission, blob_name_of, check_status,
                                        valid_code)

#: how long a writer waits for another process's transaction before giving up (ms)
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, key_hash TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    version INTEGER NOT NULL, exercise TEXT, bytes_used INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS rooms_expires ON rooms (expires);
CREATE TABLE IF NOT EXISTS people (
    code TEXT NOT NULL, pid TEXT NOT NULL, nickname TEXT NOT NULL, joined REAL NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (code, pid));
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, exercise_id TEXT NOT NULL, pid TEXT NOT NULL, body TEXT NOT NULL, at REAL NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (code, exercise_id, pid));
CREATE TABLE IF NOT EXISTS blobs (
    code TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (code, name));
CREATE TABLE IF NOT EXISTS submissions (
    sid TEXT PRIMARY KEY, code TEXT NOT NULL, exercise_id TEXT NOT NULL, pid TEXT NOT NULL, meta TEXT NOT NULL,
    status TEXT NOT NULL, at REAL NOT NULL, size INTEGER NOT NULL, seq INTEGER NOT NULL,
    UNIQUE (code, exercise_id, pid));
CREATE INDEX IF NOT EXISTS submissions_code ON submissions (code);
"""

#: the tables holding a room's things (deleted with the room)
_ROOM_TABLES = ("people", "answers", "blobs", "submissions")


class SQLiteStore:
    """:class:`~gradcam_core.rooms.store.RoomStore` on one SQLite file (created with its folder).

    ``clock`` is the time source (tests inject one to expire rooms without waiting)."""

    def __init__(self, path: str | os.PathLike, clock: Clock = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._db().executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connections and transactions
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (a new one in a forked child: a connection never crosses a fork)."""
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                 check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
            with self._all_lock:
                self._all.append(db)
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the file's write lock from its start (``BEGIN IMMEDIATE``):
        committed if the block ends, rolled back if it raises."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:  # another process held the file's write lock for the whole busy timeout
            raise Refusal("store.busy", seconds=BUSY_TIMEOUT_MS / 1000, path=str(self.path)) from err
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened (tests; the app keeps its store for its life)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for db in conns:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _room_of(row: tuple) -> Room:
        code, key_hash, created, expires, version, exercise, bytes_used = row
        return Room(code=code, key_hash=key_hash, created=created, expires=expires, version=version,
                    exercise=None if exercise is None else json.loads(exercise), bytes_used=bytes_used)

    @staticmethod
    def _delete(db: sqlite3.Connection, code: str) -> None:
        for table in _ROOM_TABLES:
            db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
        db.execute("DELETE FROM rooms WHERE code = ?", (code,))

    @staticmethod
    def _bump(db: sqlite3.Connection, code: str) -> int:
        db.execute("UPDATE rooms SET version = version + 1 WHERE code = ?", (code,))
        return db.execute("SELECT version FROM rooms WHERE code = ?", (code,)).fetchone()[0]

    @contextmanager
    def _room_write(self, code: str) -> Iterator[sqlite3.Connection]:
        """A write transaction on a live room; ``Refusal("store.unknown_room")`` if there is none
        (unknown, closed or expired: an expired room is purged by the next read or purge)."""
        with self._write() as db:
            row = db.execute("SELECT expires FROM rooms WHERE code = ?", (code,)).fetchone() if valid_code(code) else None
            if row is None or row[0] <= self.clock():
                raise Refusal("store.unknown_room", code=code)
            yield db

    def _purge_if_expired(self, code: str, expires: float) -> None:
        if expires <= self.clock():
            with self._write() as db:
                row = db.execute("SELECT expires FROM rooms WHERE code = ?", (code,)).fetchone()
                if row is not None and row[0] <= self.clock():
                    self._delete(db, code)

    # ------------------------------------------------------------------ rooms
    def create_room(self, code: str, key_hash: str, ttl: float, max_rooms: int) -> Room | None:
        if not valid_code(code):
            raise Refusal("store.bad_code", code=code)
        now = self.clock()
        with self._write() as db:
            self._purge(db, now)
            if db.execute("SELECT 1 FROM rooms WHERE code = ?", (code,)).fetchone():
                return None
            if db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] >= max_rooms:
                raise Refusal("store.too_many_rooms", max_rooms=max_rooms)
            room = Room(code=code, key_hash=key_hash, created=now, expires=now + float(ttl), version=1,
                        exercise=None, bytes_used=0)
            db.execute("INSERT INTO rooms VALUES (?, ?, ?, ?, ?, NULL, 0)",
                       (code, key_hash, room.created, room.expires, room.version))
        return room

    def room(self, code: str) -> Room | None:
        if not valid_code(code):
            return None
        row = self._db().execute("SELECT code, key_hash, created, expires, version, exercise, bytes_used "
                                 "FROM rooms WHERE code = ?", (code,)).fetchone()
        if row is None:
            return None
        if row[3] <= self.clock():
            self._purge_if_expired(code, row[3])
            return None
        return self._room_of(row)

    def version(self, code: str) -> int | None:
        if not valid_code(code):
            return None
        row = self._db().execute("SELECT version, expires FROM rooms WHERE code = ?", (code,)).fetchone()
        if row is None:
            return None
        if row[1] <= self.clock():
            self._purge_if_expired(code, row[1])
            return None
        return row[0]

    def close_room(self, code: str) -> None:
        if not valid_code(code):
            return
        with self._write() as db:
            self._delete(db, code)

    def set_exercise(self, code: str, exercise: dict) -> int:
        text = json.dumps(exercise)
        with self._room_write(code) as db:
            db.execute("UPDATE rooms SET exercise = ? WHERE code = ?", (text, code))
            return self._bump(db, code)

    # ------------------------------------------------------------------ people
    def join(self, code: str, pid: str, nickname: str, max_people: int) -> Person:
        now = self.clock()
        with self._room_write(code) as db:
            row = db.execute("SELECT nickname, joined FROM people WHERE code = ? AND pid = ?", (code, pid)).fetchone()
            if row is not None:
                if nickname and nickname != row[0]:
                    db.execute("UPDATE people SET nickname = ? WHERE code = ? AND pid = ?", (nickname, code, pid))
                    self._bump(db, code)
                    return Person(pid=pid, nickname=nickname, joined=row[1])
                return Person(pid=pid, nickname=row[0], joined=row[1])
            n = db.execute("SELECT COUNT(*) FROM people WHERE code = ?", (code,)).fetchone()[0]
            if n >= max_people:
                raise Refusal("store.room_full", max_people=max_people)
            db.execute("INSERT INTO people VALUES (?, ?, ?, ?, ?)", (code, pid, nickname, now, self._bump(db, code)))
            return Person(pid=pid, nickname=nickname, joined=now)

    def person(self, code: str, pid: str) -> Person | None:
        if self.version(code) is None:
            return None
        row = self._db().execute("SELECT pid, nickname, joined FROM people WHERE code = ? AND pid = ?",
                                 (code, pid)).fetchone()
        return None if row is None else Person(*row)

    def people(self, code: str) -> list[Person]:
        if self.version(code) is None:
            return []
        rows = self._db().execute("SELECT pid, nickname, joined FROM people WHERE code = ? ORDER BY seq, joined",
                                  (code,)).fetchall()
        return [Person(*r) for r in rows]

    # ------------------------------------------------------------------ answers
    def put_answer(self, code: str, exercise_id: str, pid: str, body: dict) -> int:
        text = json.dumps(body)
        now = self.clock()
        with self._room_write(code) as db:
            version = self._bump(db, code)
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code, exercise_id, pid) "
                       "DO UPDATE SET body = excluded.body, at = excluded.at, seq = excluded.seq",
                       (code, exercise_id, pid, text, now, version))
            return version

    def answers(self, code: str, exercise_id: str) -> list[Answer]:
        if self.version(code) is None:
            return []
        rows = self._db().execute("SELECT pid, exercise_id, body, at FROM answers WHERE code = ? AND exercise_id = ? "
                                  "ORDER BY seq", (code, exercise_id)).fetchall()
        return [Answer(pid=p, exercise_id=e, body=json.loads(b), at=at) for p, e, b, at in rows]

    def counts(self, code: str, exercise_id: str | None) -> tuple[int, int]:
        if self.version(code) is None:
            return (0, 0)
        db = self._db()
        people = db.execute("SELECT COUNT(*) FROM people WHERE code = ?", (code,)).fetchone()[0]
        answered = 0 if exercise_id is None else db.execute(
            "SELECT COUNT(*) FROM answers WHERE code = ? AND exercise_id = ?", (code, exercise_id)).fetchone()[0]
        return (people, answered)

    # ------------------------------------------------------------------ blobs
    @staticmethod
    def _put_blob(db: sqlite3.Connection, code: str, name: str, data: bytes, cap_bytes: int) -> None:
        used = db.execute("SELECT bytes_used FROM rooms WHERE code = ?", (code,)).fetchone()[0]
        old = db.execute("SELECT length(data) FROM blobs WHERE code = ? AND name = ?", (code, name)).fetchone()
        new_used = used - (old[0] if old else 0) + len(data)
        if new_used > cap_bytes:
            raise Refusal("store.upload_cap", cap_bytes=cap_bytes, cap_mb=cap_bytes / 1e6)
        db.execute("INSERT INTO blobs VALUES (?, ?, ?) ON CONFLICT (code, name) DO UPDATE SET data = excluded.data",
                   (code, name, sqlite3.Binary(data)))
        db.execute("UPDATE rooms SET bytes_used = ? WHERE code = ?", (new_used, code))

    @staticmethod
    def _drop_blob(db: sqlite3.Connection, code: str, name: str) -> None:
        old = db.execute("SELECT length(data) FROM blobs WHERE code = ? AND name = ?", (code, name)).fetchone()
        if old:
            db.execute("DELETE FROM blobs WHERE code = ? AND name = ?", (code, name))
            db.execute("UPDATE rooms SET bytes_used = bytes_used - ? WHERE code = ?", (old[0], code))

    def put_blob(self, code: str, name: str, data: bytes, cap_bytes: int) -> None:
        with self._room_write(code) as db:
            self._put_blob(db, code, name, bytes(data), cap_bytes)

    def blob(self, code: str, name: str) -> bytes | None:
        if self.version(code) is None:
            return None
        row = self._db().execute("SELECT data FROM blobs WHERE code = ? AND name = ?", (code, name)).fetchone()
        return None if row is None else bytes(row[0])

    # ------------------------------------------------------------------ submissions
    def add_submission(self, code: str, exercise_id: str, pid: str, meta: dict, image: bytes, cap_bytes: int) -> str:
        sid = secrets.token_hex(8)
        text = json.dumps(meta)
        now = self.clock()
        with self._room_write(code) as db:
            old = db.execute("SELECT sid FROM submissions WHERE code = ? AND exercise_id = ? AND pid = ?",
                             (code, exercise_id, pid)).fetchone()
            if old is not None:  # the old image's bytes are freed before the new one is counted
                self._drop_blob(db, code, blob_name_of(old[0]))
                db.execute("DELETE FROM submissions WHERE sid = ?", (old[0],))
            self._put_blob(db, code, blob_name_of(sid), bytes(image), cap_bytes)
            version = self._bump(db, code)
            db.execute("INSERT INTO submissions VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                       (sid, code, exercise_id, pid, text, now, len(image), version))
        return sid

    def submissions(self, code: str, exercise_id: str | None = None, status: str | None = None) -> list[Submission]:
        if status is not None:
            check_status(status)
        if self.version(code) is None:
            return []
        sql = "SELECT sid, pid, exercise_id, meta, status, at, size FROM submissions WHERE code = ?"
        args: list = [code]
        if exercise_id is not None:
            sql += " AND exercise_id = ?"
            args.append(exercise_id)
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        rows = self._db().execute(sql + " ORDER BY seq", args).fetchall()
        return [Submission(sid=s, pid=p, exercise_id=e, meta=json.loads(m), status=st, at=at, size=size)
                for s, p, e, m, st, at, size in rows]

    def set_status(self, code: str, sid: str, status: str) -> int:
        check_status(status)
        with self._room_write(code) as db:
            if db.execute("UPDATE submissions SET status = ? WHERE code = ? AND sid = ?", (status, code, sid)).rowcount != 1:
                raise Refusal("store.unknown_submission", sid=sid)
            return self._bump(db, code)

    # ------------------------------------------------------------------ expiry
    def _purge(self, db: sqlite3.Connection, now: float) -> int:
        codes = [r[0] for r in db.execute("SELECT code FROM rooms WHERE expires <= ?", (now,)).fetchall()]
        for code in codes:
            self._delete(db, code)
        return len(codes)

    def purge_expired(self, now: float | None = None) -> int:
        with self._write() as db:
            return self._purge(db, self.clock() if now is None else now)

