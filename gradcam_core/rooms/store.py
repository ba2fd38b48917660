"""The rooms' store: what a workshop room holds, and the one interface its two backends implement.

A room (issue 26) is a short code, the hash of its facilitator's key, an expiry, a version number,
the current exercise (a plain dict), the people who joined (pid → nickname), one answer per person
and exercise, blobs (pictures: the exercise's image, the phones' submissions) counted toward the
room's byte cap, and the submissions of the "fool the model" exercise with their moderation status.

Two backends implement :class:`RoomStore` exactly, so a room behaves the same on either:

* :class:`~gradcam_core.rooms.sqlite_store.SQLiteStore`, the embedded default: one file, shared by
  every process on the box (the replicas of ``deploy/replicas.sh``), surviving a restart or a
  ``kill -9``;
* :class:`~gradcam_core.rooms.redis_store.RedisStore` for several boxes (``GRADCAM_ROOMS_URL=redis://…``).

:func:`open_store` picks one from a URL or the environment. The **version** of a room goes up by one
on every write a phone or the facilitator should see (an exercise set, a person joining or renaming,
an answer, a submission, a moderation), so a page polls :meth:`RoomStore.version` (one cheap read)
and fetches the rest only when it changed. Writing a blob alone does not change it: blobs are only
read through something that does (an exercise naming its picture, a submission).

Limits are the caller's (the service reads them from the environment) and are passed in; a limit
reached is a :class:`~gradcam_core.base.errors.Refusal` with the limit as its number, worded from the
catalogue's ``[store]`` section. This package imports only :mod:`gradcam_core.base`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from gradcam_core.base.errors import Refusal
# the records live in their own module so the backends can import them without importing this one
# (which imports the backends when it opens one): re-exported here, where the contract names them
from gradcam_core.rooms.records import (STATUSES, Answer, Clock, Person, Room, Submission, blob_name_of,  # noqa: F401
                                        check_status, valid_code)

#: ``$GRADCAM_ROOMS_URL``: ``redis://host:port/db`` or ``sqlite:////abs/path/rooms.sqlite3``
URL_ENV = "GRADCAM_ROOMS_URL"
#: ``$GRADCAM_ROOMS_DIR``: the folder of the default SQLite file (default: ``<tempdir>/gradcam-explorer-rooms``)
DIR_ENV = "GRADCAM_ROOMS_DIR"
FILE_NAME = "rooms.sqlite3"

@runtime_checkable
class RoomStore(Protocol):
    """What both backends do. Every method is safe from several threads and several processes."""

    def create_room(self, code: str, key_hash: str, ttl: float, max_rooms: int) -> Room | None:
        """A new room expiring ``ttl`` seconds from now; ``None`` if ``code`` is taken (draw another).
        ``Refusal("store.too_many_rooms", max_rooms=)`` when ``max_rooms`` rooms are already open."""
        ...

    def room(self, code: str) -> Room | None:
        """The room, or ``None``: unknown, closed or expired (an expired room is purged on the way)."""
        ...

    def version(self, code: str) -> int | None:
        """The room's version (the cheapest read: pages poll it), ``None`` as for :meth:`room`."""
        ...

    def close_room(self, code: str) -> None:
        """Delete the room and all it holds: people, answers, blobs, submissions. No-op if unknown."""
        ...

    def set_exercise(self, code: str, exercise: dict) -> int:
        """Replace the current exercise; returns the new version."""
        ...

    def join(self, code: str, pid: str, nickname: str, max_people: int) -> Person:
        """Add a person; the same pid again is the same person (nickname updated if not empty).
        ``Refusal("store.room_full", max_people=)`` when a new pid would be one too many."""
        ...

    def person(self, code: str, pid: str) -> Person | None:
        ...

    def people(self, code: str) -> list[Person]:
        """Everyone in the room, in the order they joined."""
        ...

    def put_answer(self, code: str, exercise_id: str, pid: str, body: dict) -> int:
        """Store ``pid``'s answer to the exercise, replacing an earlier one; returns the new version."""
        ...

    def answers(self, code: str, exercise_id: str) -> list[Answer]:
        """The exercise's answers, one per person, oldest first."""
        ...

    def counts(self, code: str, exercise_id: str | None) -> tuple[int, int]:
        """(people in the room, answers to ``exercise_id``): two cheap counts; (0, 0) for no room."""
        ...

    def put_blob(self, code: str, name: str, data: bytes, cap_bytes: int) -> None:
        """Keep ``data`` under ``name``; it counts toward the room's bytes (a replaced blob's old size
        is freed). ``Refusal("store.upload_cap", cap_bytes=)`` if the room would hold more."""
        ...

    def blob(self, code: str, name: str) -> bytes | None:
        ...

    def add_submission(self, code: str, exercise_id: str, pid: str, meta: dict, image: bytes, cap_bytes: int) -> str:
        """A submission, pending; one per (exercise, pid): a new one replaces the old and its image.
        The image is kept as blob ``"sub-<sid>"``; returns the sid."""
        ...

    def submissions(self, code: str, exercise_id: str | None = None, status: str | None = None) -> list[Submission]:
        """The room's submissions (of one exercise, of one status), oldest first."""
        ...

    def set_status(self, code: str, sid: str, status: str) -> int:
        """Moderate a submission (``pending``, ``approved``, ``removed``); returns the new version."""
        ...

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every room expired at ``now`` (default: the store's clock) and all it holds;
        returns how many rooms went."""
        ...


def default_path() -> Path:
    """The default SQLite file: ``$GRADCAM_ROOMS_DIR/rooms.sqlite3`` (default folder:
    ``<tempdir>/gradcam-explorer-rooms``)."""
    folder = os.environ.get(DIR_ENV, "").strip() or str(Path(tempfile.gettempdir()) / "gradcam-explorer-rooms")
    return Path(folder).expanduser() / FILE_NAME


def open_store(url: str | None = None) -> RoomStore:
    """The store named by ``url``, else ``$GRADCAM_ROOMS_URL``, else the SQLite file of :func:`default_path`.

    ``redis://…`` / ``rediss://…`` / ``unix://…`` → :class:`RedisStore` (needs the ``redis`` package);
    ``sqlite:///abs/path.sqlite3`` (or ``sqlite:////abs/path``) → :class:`SQLiteStore` on that file.
    Anything else is ``Refusal("store.bad_url")``."""
    from gradcam_core.rooms.sqlite_store import SQLiteStore

    url = (url if url is not None else os.environ.get(URL_ENV, "")).strip()
    if not url:
        return SQLiteStore(default_path())
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        from gradcam_core.rooms.redis_store import RedisStore

        return RedisStore(url)
    if scheme == "sqlite" and url.lower().startswith("sqlite:///") and len(url) > len("sqlite:///"):
        # sqlite:///abs/path and sqlite:////abs/path both mean /abs/path
        return SQLiteStore(Path("/" + url[len("sqlite:///"):].lstrip("/")))
    raise Refusal("store.bad_url", url=url, env=URL_ENV)
