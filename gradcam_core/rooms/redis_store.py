"""The rooms' store on Redis (redis-py): for replicas on several boxes (``GRADCAM_ROOMS_URL=redis://…``).

Behaves exactly as :class:`~gradcam_core.rooms.sqlite_store.SQLiteStore` (one test suite runs on both).

Keys. Every key of a room is ``gradcam:room:<code>:…`` and expires with the room (``PEXPIREAT`` its
expiry, set on every write), so Redis drops a forgotten room by itself:

=====================  =========================================================================
``…:meta``             hash: key_hash, created, expires, exercise (JSON), bytes_used
``…:version``          the room's version, raised by ``INCR`` on every write a page should see
``…:people``           hash pid → JSON [nickname, joined, seq]
``…:exercises``        set of the exercise ids that have answers (to find their keys)
``…:answers:<id>``     hash pid → JSON [body, at, seq]: one answer per person and exercise
``…:blobs``            hash name → bytes (``bytes_used`` in ``meta`` counts them exactly)
``…:subs``             hash sid → JSON submission
``…:subidx``           hash JSON [exercise_id, pid] → sid: one submission per person and exercise
=====================  =========================================================================

and one key outside the rooms, ``gradcam:rooms``: a sorted set of the open codes scored by expiry,
to count open rooms (``max_rooms``) and find expired ones.

Writes are optimistic transactions (``WATCH`` the room's keys, read, ``MULTI``/``EXEC``; a
concurrent write to a watched key makes ``EXEC`` fail and the write is tried again), so writers on
any number of processes and boxes are serialised per room and lose nothing. Durability across a
crash of Redis itself is Redis's: run it with ``--appendonly yes`` (the tests do).
"""
from __future__ import annotations

import functools
import json
import re
import secrets
import time
from typing import Any, Callable, TypeVar

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from gradcam_core.base.errors import Refusal
from gradcam_core.rooms.records import (Answer, Clock, Person, Room, Submission, blob_name_of, check_status,
                                        valid_code)

PREFIX = "gradcam:room:"
INDEX = "gradcam:rooms"

T = TypeVar("T")


def _masked(url: str) -> str:
    """The URL without its password (for a message)."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def _answering(fn: Callable[..., T]) -> Callable[..., T]:
    """A Redis that does not answer becomes ``Refusal("store.unreachable")``, not a stack trace."""

    @functools.wraps(fn)
    def wrapper(self: "RedisStore", *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self, *args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as err:
            raise Refusal("store.unreachable", url=_masked(self.url), why=type(err).__name__) from err

    return wrapper


def _s(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """:class:`~gradcam_core.rooms.store.RoomStore` on the Redis server at ``url`` (or on a client).

    ``clock`` is the time source (tests inject one near the real time: Redis expires keys by its own
    clock)."""

    def __init__(self, url: str | redis.Redis, clock: Clock = time.time) -> None:
        if isinstance(url, redis.Redis):
            self.r, self.url = url, "redis://"
        else:
            self.url = url
            self.r = redis.Redis.from_url(url, decode_responses=False, socket_connect_timeout=5, socket_timeout=30)
        self.clock = clock

    def __repr__(self) -> str:
        return f"RedisStore({_masked(self.url)!r})"

    def close(self) -> None:
        self.r.close()

    # ------------------------------------------------------------------ keys and transactions
    @staticmethod
    def _k(code: str, part: str) -> str:
        return f"{PREFIX}{code}:{part}"

    def _tx(self, fn: Callable[[Any], Any], *keys: str) -> Any:
        """Run ``fn(pipe)`` as an optimistic transaction watching ``keys``: ``fn`` reads (at once),
        calls ``pipe.multi()`` and queues its writes; it returns a value, or a function of the
        queued commands' results. Tried again whenever a watched key changed meanwhile."""
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*keys)
                    out = fn(pipe)
                    results = pipe.execute() if pipe.explicit_transaction else []
                    return out(results) if callable(out) else out
                except WatchError:
                    continue

    def _live_expires(self, pipe: Any, code: str) -> float:
        """Inside a watched transaction: the live room's expiry, else ``Refusal("store.unknown_room")``."""
        raw = pipe.hget(self._k(code, "meta"), "expires") if valid_code(code) else None
        if raw is None or float(raw) <= self.clock():
            raise Refusal("store.unknown_room", code=code)
        return float(raw)

    @staticmethod
    def _expire(pipe: Any, expires: float, *keys: str) -> None:
        at = int(expires * 1000) + 1
        for key in keys:
            pipe.pexpireat(key, at)

    def _alive(self, code: str) -> bool:
        return self.version(code) is not None

    # ------------------------------------------------------------------ rooms
    @_answering
    def create_room(self, code: str, key_hash: str, ttl: float, max_rooms: int) -> Room | None:
        if not valid_code(code):
            raise Refusal("store.bad_code", code=code)
        now = self.clock()
        self.purge_expired(now)
        meta, version = self._k(code, "meta"), self._k(code, "version")
        room = Room(code=code, key_hash=key_hash, created=now, expires=now + float(ttl), version=1, exercise=None,
                    bytes_used=0)

        def fn(pipe: Any) -> Room | None:
            if pipe.exists(meta, version):
                return None
            if pipe.zcount(INDEX, f"({now!r}", "+inf") >= max_rooms:
                raise Refusal("store.too_many_rooms", max_rooms=max_rooms)
            pipe.multi()
            pipe.hset(meta, mapping={"key_hash": key_hash, "created": repr(room.created),
                                     "expires": repr(room.expires), "bytes_used": 0})
            pipe.set(version, room.version)
            pipe.zadd(INDEX, {code: room.expires})
            self._expire(pipe, room.expires, meta, version)
            return room

        return self._tx(fn, INDEX, meta, version)

    @_answering
    def room(self, code: str) -> Room | None:
        if not valid_code(code):
            return None
        with self.r.pipeline(transaction=True) as pipe:
            meta, version = pipe.hgetall(self._k(code, "meta")).get(self._k(code, "version")).execute()
        if not meta or version is None:
            return None
        meta = {_s(k): v for k, v in meta.items()}
        expires = float(meta["expires"])
        if expires <= self.clock():
            self._purge_one(code, expires)
            return None
        exercise = meta.get("exercise")
        return Room(code=code, key_hash=_s(meta["key_hash"]), created=float(meta["created"]), expires=expires,
                    version=int(version), exercise=None if exercise is None else json.loads(exercise),
                    bytes_used=int(meta.get("bytes_used", 0)))

    @_answering
    def version(self, code: str) -> int | None:
        if not valid_code(code):
            return None
        with self.r.pipeline(transaction=False) as pipe:
            version, expires = pipe.get(self._k(code, "version")).hget(self._k(code, "meta"), "expires").execute()
        if version is None or expires is None:
            return None
        if float(expires) <= self.clock():
            self._purge_one(code, float(expires))
            return None
        return int(version)

    def _delete(self, code: str, only_if_expired_at: float | None = None) -> bool:
        """Delete a room and every key it has; with ``only_if_expired_at``, only if it is expired then
        (checked inside the transaction). True if something was there to delete or unindex."""
        meta, exercises = self._k(code, "meta"), self._k(code, "exercises")

        def fn(pipe: Any) -> bool:
            raw = pipe.hget(meta, "expires")
            indexed = pipe.zscore(INDEX, code) is not None
            if only_if_expired_at is not None and raw is not None and float(raw) > only_if_expired_at:
                return False
            eids = [_s(e) for e in pipe.smembers(exercises)]
            pipe.multi()
            pipe.delete(*[self._k(code, p) for p in ("meta", "version", "people", "exercises", "blobs", "subs", "subidx")],
                        *[self._k(code, f"answers:{e}") for e in eids])
            pipe.zrem(INDEX, code)
            return raw is not None or indexed

        return self._tx(fn, meta, exercises, INDEX)

    def _purge_one(self, code: str, expires: float) -> None:
        self._delete(code, only_if_expired_at=self.clock())

    @_answering
    def close_room(self, code: str) -> None:
        if valid_code(code):
            self._delete(code)

    @_answering
    def set_exercise(self, code: str, exercise: dict) -> int:
        text = json.dumps(exercise)
        meta, version = self._k(code, "meta"), self._k(code, "version")

        def fn(pipe: Any) -> Callable[[list], int]:
            self._live_expires(pipe, code)
            pipe.multi()
            pipe.hset(meta, "exercise", text)
            pipe.incr(version)
            return lambda res: int(res[-1])

        return self._tx(fn, meta, version)

    # ------------------------------------------------------------------ people
    @_answering
    def join(self, code: str, pid: str, nickname: str, max_people: int) -> Person:
        now = self.clock()
        meta, version, people = self._k(code, "meta"), self._k(code, "version"), self._k(code, "people")

        def fn(pipe: Any) -> Person:
            expires = self._live_expires(pipe, code)
            seq = int(pipe.get(version)) + 1
            raw = pipe.hget(people, pid)
            if raw is not None:
                old_name, joined, old_seq = json.loads(raw)
                if not nickname or nickname == old_name:
                    return Person(pid=pid, nickname=old_name, joined=joined)
                pipe.multi()
                pipe.hset(people, pid, json.dumps([nickname, joined, old_seq]))
                pipe.incr(version)
                return Person(pid=pid, nickname=nickname, joined=joined)
            if pipe.hlen(people) >= max_people:
                raise Refusal("store.room_full", max_people=max_people)
            pipe.multi()
            pipe.hset(people, pid, json.dumps([nickname, now, seq]))
            pipe.incr(version)
            self._expire(pipe, expires, people)
            return Person(pid=pid, nickname=nickname, joined=now)

        return self._tx(fn, meta, version, people)

    @_answering
    def person(self, code: str, pid: str) -> Person | None:
        if not self._alive(code):
            return None
        raw = self.r.hget(self._k(code, "people"), pid)
        if raw is None:
            return None
        nickname, joined, _ = json.loads(raw)
        return Person(pid=pid, nickname=nickname, joined=joined)

    @_answering
    def people(self, code: str) -> list[Person]:
        if not self._alive(code):
            return []
        rows = [(_s(pid), *json.loads(raw)) for pid, raw in self.r.hgetall(self._k(code, "people")).items()]
        rows.sort(key=lambda r: (r[3], r[2]))
        return [Person(pid=pid, nickname=nickname, joined=joined) for pid, nickname, joined, _ in rows]

    # ------------------------------------------------------------------ answers
    @_answering
    def put_answer(self, code: str, exercise_id: str, pid: str, body: dict) -> int:
        now = self.clock()
        text = json.dumps(body)  # before the transaction: a body that is no JSON fails here, not halfway
        meta, version = self._k(code, "meta"), self._k(code, "version")
        answers, exercises = self._k(code, f"answers:{exercise_id}"), self._k(code, "exercises")

        def fn(pipe: Any) -> int:
            expires = self._live_expires(pipe, code)
            seq = int(pipe.get(version)) + 1
            pipe.multi()
            pipe.hset(answers, pid, json.dumps([json.loads(text), now, seq]))
            pipe.sadd(exercises, exercise_id)
            pipe.incr(version)
            self._expire(pipe, expires, answers, exercises)
            return seq

        return self._tx(fn, meta, version)

    @_answering
    def answers(self, code: str, exercise_id: str) -> list[Answer]:
        if not self._alive(code):
            return []
        rows = [(_s(pid), *json.loads(raw)) for pid, raw in self.r.hgetall(self._k(code, f"answers:{exercise_id}")).items()]
        rows.sort(key=lambda r: r[3])
        return [Answer(pid=pid, exercise_id=exercise_id, body=body, at=at) for pid, body, at, _ in rows]

    @_answering
    def counts(self, code: str, exercise_id: str | None) -> tuple[int, int]:
        if not valid_code(code):
            return (0, 0)
        with self.r.pipeline(transaction=False) as pipe:
            pipe.hget(self._k(code, "meta"), "expires").hlen(self._k(code, "people"))
            pipe.hlen(self._k(code, f"answers:{exercise_id}"))
            expires, people, answered = pipe.execute()
        if expires is None or float(expires) <= self.clock():
            return (0, 0)
        return (int(people), 0 if exercise_id is None else int(answered))

    # ------------------------------------------------------------------ blobs
    @staticmethod
    def _room_bytes(pipe: Any, meta: str) -> int:
        return int(pipe.hget(meta, "bytes_used") or 0)

    @_answering
    def put_blob(self, code: str, name: str, data: bytes, cap_bytes: int) -> None:
        data = bytes(data)
        meta, blobs = self._k(code, "meta"), self._k(code, "blobs")

        def fn(pipe: Any) -> None:
            expires = self._live_expires(pipe, code)
            used = self._room_bytes(pipe, meta) - pipe.hstrlen(blobs, name) + len(data)
            if used > cap_bytes:
                raise Refusal("store.upload_cap", cap_bytes=cap_bytes, cap_mb=cap_bytes / 1e6)
            pipe.multi()
            pipe.hset(blobs, name, data)
            pipe.hset(meta, "bytes_used", used)
            self._expire(pipe, expires, blobs)

        self._tx(fn, meta, blobs)

    @_answering
    def blob(self, code: str, name: str) -> bytes | None:
        if not self._alive(code):
            return None
        return self.r.hget(self._k(code, "blobs"), name)

    # ------------------------------------------------------------------ submissions
    @_answering
    def add_submission(self, code: str, exercise_id: str, pid: str, meta: dict, image: bytes, cap_bytes: int) -> str:
        sid = secrets.token_hex(8)
        image = bytes(image)
        now = self.clock()
        text = json.dumps(meta)
        mkey, version, blobs = self._k(code, "meta"), self._k(code, "version"), self._k(code, "blobs")
        subs, subidx = self._k(code, "subs"), self._k(code, "subidx")
        field = json.dumps([exercise_id, pid])

        def fn(pipe: Any) -> str:
            expires = self._live_expires(pipe, code)
            seq = int(pipe.get(version)) + 1
            old = _s(pipe.hget(subidx, field))
            freed = pipe.hstrlen(blobs, blob_name_of(old)) if old else 0
            used = self._room_bytes(pipe, mkey) - freed + len(image)
            if used > cap_bytes:
                raise Refusal("store.upload_cap", cap_bytes=cap_bytes, cap_mb=cap_bytes / 1e6)
            pipe.multi()
            if old:
                pipe.hdel(blobs, blob_name_of(old))
                pipe.hdel(subs, old)
            pipe.hset(blobs, blob_name_of(sid), image)
            pipe.hset(subs, sid, json.dumps({"pid": pid, "exercise_id": exercise_id, "meta": json.loads(text),
                                             "status": "pending", "at": now, "size": len(image), "seq": seq}))
            pipe.hset(subidx, field, sid)
            pipe.hset(mkey, "bytes_used", used)
            pipe.incr(version)
            self._expire(pipe, expires, blobs, subs, subidx)
            return sid

        return self._tx(fn, mkey, version, blobs, subs, subidx)

    @_answering
    def submissions(self, code: str, exercise_id: str | None = None, status: str | None = None) -> list[Submission]:
        if status is not None:
            check_status(status)
        if not self._alive(code):
            return []
        rows = [(_s(sid), json.loads(raw)) for sid, raw in self.r.hgetall(self._k(code, "subs")).items()]
        rows = [(sid, d) for sid, d in rows if (exercise_id is None or d["exercise_id"] == exercise_id)
                and (status is None or d["status"] == status)]
        rows.sort(key=lambda r: r[1]["seq"])
        return [Submission(sid=sid, pid=d["pid"], exercise_id=d["exercise_id"], meta=d["meta"], status=d["status"],
                           at=d["at"], size=d["size"]) for sid, d in rows]

    @_answering
    def set_status(self, code: str, sid: str, status: str) -> int:
        check_status(status)
        meta, version, subs = self._k(code, "meta"), self._k(code, "version"), self._k(code, "subs")

        def fn(pipe: Any) -> Callable[[list], int]:
            self._live_expires(pipe, code)
            raw = pipe.hget(subs, sid)
            if raw is None:
                raise Refusal("store.unknown_submission", sid=sid)
            d = json.loads(raw)
            d["status"] = status
            pipe.multi()
            pipe.hset(subs, sid, json.dumps(d))
            pipe.incr(version)
            return lambda res: int(res[-1])

        return self._tx(fn, meta, version, subs)

    # ------------------------------------------------------------------ expiry
    @_answering
    def purge_expired(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        codes = [_s(c) for c in self.r.zrangebyscore(INDEX, "-inf", now)]
        return sum(1 for code in codes if self._delete(code, only_if_expired_at=now))
