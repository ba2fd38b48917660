"""The records a room holds (``Room``, ``Person``, ``Answer``, ``Submission``) and the small rules
both backends share. Re-exported by :mod:`gradcam_core.rooms.store`, where callers import them from."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from gradcam_core.base.errors import Refusal

STATUSES = ("pending", "approved", "removed")

#: what a room code may be in the store (the service draws codes from a narrower alphabet): letters,
#: digits, ``_`` and ``-``, so a code can never reach into another room's keys
_CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Room:
    code: str
    key_hash: str
    created: float
    expires: float
    version: int
    exercise: dict | None
    bytes_used: int


@dataclass(frozen=True)
class Person:
    pid: str
    nickname: str
    joined: float


@dataclass(frozen=True)
class Answer:
    pid: str
    exercise_id: str
    body: dict
    at: float


@dataclass(frozen=True)
class Submission:
    sid: str
    pid: str
    exercise_id: str
    meta: dict
    status: str  # "pending" | "approved" | "removed"
    at: float
    size: int


def valid_code(code: object) -> bool:
    """A code the store can hold (letters, digits, ``_``, ``-``; at most 64)."""
    return isinstance(code, str) and _CODE_RE.fullmatch(code) is not None


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise Refusal("store.bad_status", status=status, choices=", ".join(STATUSES))
    return status


def blob_name_of(sid: str) -> str:
    """The blob a submission's image is kept under."""
    return f"sub-{sid}"
