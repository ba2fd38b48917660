"""The rooms' store (gradcam_core/rooms/): every RoomStore method, on SQLite and on Redis, with values.

One suite, parametrized over both backends, so a room behaves the same on either. Redis is Debian's
``redis-server``, started here on a free port (skipped with the reason if it is not installed).
Expiry uses an injected clock (near the real time: Redis expires keys by its own clock). Writers
from threads and from two processes lose nothing; a writer killed with SIGKILL loses no committed
write (and, on Redis, neither does the server killed with SIGKILL and started again on its AOF).
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench._redis import WHY_MISSING, redis_available, start_redis, stop_redis
from gradcam_core.base.errors import Refusal
from gradcam_core.rooms import store as S
from gradcam_core.rooms.sqlite_store import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
CODE = "ACDEF"
BIG = 10**9  # a limit that is never reached


class Clock:
    """A clock the test moves: starts at the real time (Redis's own key expiry must not fire early)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if not redis_available():
        pytest.skip(WHY_MISSING)
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    stop_redis(proc)


def _make(kind: str, url: str, clock) -> S.RoomStore:
    if kind == "sqlite":
        return SQLiteStore(url[len("sqlite:///"):], clock=clock)
    from gradcam_core.rooms.redis_store import RedisStore

    return RedisStore(url, clock=clock)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    """(kind, url) of an empty store of each kind."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'rooms' / 'rooms.sqlite3'}"
        return
    url = request.getfixturevalue("redis_url")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield "redis", url


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(backend, clock):
    s = _make(*backend, clock)
    yield s
    s.close()


def _refused(fn, *args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- rooms
def test_both_backends_implement_the_protocol(store):
    assert isinstance(store, S.RoomStore)


def test_create_room_and_read_it_back(store, clock):
    room = store.create_room(CODE, "hash-1", ttl=3600, max_rooms=BIG)
    assert room == S.Room(code=CODE, key_hash="hash-1", created=clock.now, expires=clock.now + 3600, version=1,
                          exercise=None, bytes_used=0)
    assert store.room(CODE) == room
    assert store.version(CODE) == 1
    # the code is taken: None (the caller draws another); the first room is unchanged
    assert store.create_room(CODE, "hash-2", ttl=10, max_rooms=BIG) is None
    assert store.room(CODE).key_hash == "hash-1"
    assert store.room("ZZZZZ") is None and store.version("ZZZZZ") is None


def test_codes_that_could_reach_other_keys_are_no_rooms(store):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    for bad in (f"{CODE}:meta", "../x", "", "A" * 65, "a b"):
        assert store.room(bad) is None and store.version(bad) is None
    assert _refused(store.create_room, "a:b", "h", 10, BIG).key == "store.bad_code"


def test_set_exercise_replaces_it_and_raises_the_version(store):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    ex1 = {"id": "e1", "kind": "guess", "grid": [7, 7], "cam": [[0.0, 0.5], [1.0, 0.25]]}
    assert store.set_exercise(CODE, ex1) == 2
    assert store.room(CODE).exercise == ex1
    ex2 = {"id": "e2", "kind": "fool"}
    assert store.set_exercise(CODE, ex2) == 3
    assert store.room(CODE).exercise == ex2 and store.version(CODE) == 3


def test_max_rooms_counts_only_open_rooms(store, clock):
    store.create_room("AAAAA", "h", ttl=100, max_rooms=2)
    store.create_room("CCCCC", "h", ttl=1000, max_rooms=2)
    err = _refused(store.create_room, "DDDDD", "h", 1000, 2)
    assert err.key == "store.too_many_rooms" and err.values == {"max_rooms": 2}
    store.close_room("AAAAA")  # a closed room frees its place
    assert store.create_room("DDDDD", "h", ttl=1000, max_rooms=2) is not None
    assert _refused(store.create_room, "EEEEE", "h", 1000, 2).key == "store.too_many_rooms"
    clock.advance(1001)  # every room expired: none counts
    assert store.create_room("EEEEE", "h", ttl=1000, max_rooms=2).code == "EEEEE"
    assert store.create_room("FFFFF", "h", ttl=1000, max_rooms=2).code == "FFFFF"


# --------------------------------------------------------------------------- people
def test_join_and_rejoin(store, clock):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    t0 = clock.now
    assert store.join(CODE, "p1", "Otter 17", max_people=BIG) == S.Person("p1", "Otter 17", t0)
    assert store.version(CODE) == 2  # the facilitator's count changed
    clock.advance(5)
    assert store.join(CODE, "p2", "Ada", max_people=BIG) == S.Person("p2", "Ada", t0 + 5)
    assert store.version(CODE) == 3
    # the same pid again (a reload): the same person, joined time kept; no nickname keeps the old one
    assert store.join(CODE, "p1", "", max_people=BIG) == S.Person("p1", "Otter 17", t0)
    assert store.join(CODE, "p1", "Otter 17", max_people=BIG) == S.Person("p1", "Otter 17", t0)
    assert store.version(CODE) == 3  # nothing anyone sees changed
    assert store.join(CODE, "p1", "Grace", max_people=BIG) == S.Person("p1", "Grace", t0)
    assert store.version(CODE) == 4
    assert store.person(CODE, "p1") == S.Person("p1", "Grace", t0)
    assert store.person(CODE, "nobody") is None
    assert [p.pid for p in store.people(CODE)] == ["p1", "p2"]  # in the order they joined
    assert [p.nickname for p in store.people(CODE)] == ["Grace", "Ada"]


def test_max_people(store):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    store.join(CODE, "p1", "A", max_people=2)
    store.join(CODE, "p2", "B", max_people=2)
    err = _refused(store.join, CODE, "p3", "C", 2)
    assert err.key == "store.room_full" and err.values == {"max_people": 2}
    assert store.join(CODE, "p2", "B2", max_people=2).nickname == "B2"  # someone already in may come back
    assert store.counts(CODE, None) == (2, 0)


# --------------------------------------------------------------------------- answers
def test_one_answer_per_person_and_exercise(store, clock):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    for pid in ("p1", "p2", "p3"):
        store.join(CODE, pid, pid.upper(), BIG)
    v = store.version(CODE)
    assert store.put_answer(CODE, "e1", "p1", {"cells": [3, 10]}) == v + 1
    t1 = clock.now
    clock.advance(1)
    assert store.put_answer(CODE, "e1", "p2", {"cells": [24]}) == v + 2
    clock.advance(1)
    # p1 sends again: the answer is replaced, not added
    assert store.put_answer(CODE, "e1", "p1", {"cells": [17]}) == v + 3
    got = store.answers(CODE, "e1")
    assert [(a.pid, a.body, a.exercise_id) for a in got] == [("p2", {"cells": [24]}, "e1"), ("p1", {"cells": [17]}, "e1")]
    assert got[0].at == t1 + 1 and got[1].at == t1 + 2
    # another exercise keeps its own answers
    store.put_answer(CODE, "e2", "p3", {"cells": [0, 1, 2]})
    assert [a.pid for a in store.answers(CODE, "e2")] == ["p3"]
    assert store.counts(CODE, "e1") == (3, 2)
    assert store.counts(CODE, "e2") == (3, 1)
    assert store.counts(CODE, "e9") == (3, 0)
    assert store.counts(CODE, None) == (3, 0)
    assert store.answers(CODE, "e9") == []
    assert store.counts("ZZZZZ", "e1") == (0, 0)


# --------------------------------------------------------------------------- blobs and the byte cap
def test_blobs_count_toward_the_cap_and_replacing_frees(store):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    v = store.version(CODE)
    store.put_blob(CODE, "image", b"a" * 60, cap_bytes=100)
    assert store.blob(CODE, "image") == b"a" * 60 and store.room(CODE).bytes_used == 60
    assert store.version(CODE) == v  # a blob alone changes nothing a page shows
    err = _refused(store.put_blob, CODE, "other", b"b" * 41, 100)
    assert err.key == "store.upload_cap" and err.values["cap_bytes"] == 100
    assert store.blob(CODE, "other") is None and store.room(CODE).bytes_used == 60
    store.put_blob(CODE, "other", b"b" * 40, cap_bytes=100)  # exactly the cap is allowed
    assert store.room(CODE).bytes_used == 100
    store.put_blob(CODE, "image", b"c" * 10, cap_bytes=100)  # replacing frees the old 60
    assert store.room(CODE).bytes_used == 50 and store.blob(CODE, "image") == b"c" * 10
    # a replacement that would not fit is refused and the old blob stays
    assert _refused(store.put_blob, CODE, "image", b"d" * 61, 100).key == "store.upload_cap"
    assert store.blob(CODE, "image") == b"c" * 10 and store.room(CODE).bytes_used == 50
    # bytes are bytes: zeros and every byte value survive
    raw = bytes(range(256)) * 2
    store.put_blob(CODE, "bin", raw, cap_bytes=10_000)
    assert store.blob(CODE, "bin") == raw and store.room(CODE).bytes_used == 50 + 512
    assert store.blob(CODE, "nope") is None


# --------------------------------------------------------------------------- submissions
def test_submissions_one_per_person_and_exercise_moderated(store, clock):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    v = store.version(CODE)
    s1 = store.add_submission(CODE, "f1", "p1", {"top1": "tabby", "prob": 0.61}, b"1" * 30, cap_bytes=100)
    assert store.version(CODE) == v + 1
    assert store.blob(CODE, S.blob_name_of(s1)) == b"1" * 30 and S.blob_name_of(s1) == f"sub-{s1}"
    clock.advance(1)
    s2 = store.add_submission(CODE, "f1", "p2", {"top1": "toaster", "prob": 0.2}, b"2" * 50, cap_bytes=100)
    assert store.room(CODE).bytes_used == 80
    subs = store.submissions(CODE)
    assert [(s.sid, s.pid, s.exercise_id, s.meta, s.status, s.size) for s in subs] == [
        (s1, "p1", "f1", {"top1": "tabby", "prob": 0.61}, "pending", 30),
        (s2, "p2", "f1", {"top1": "toaster", "prob": 0.2}, "pending", 50)]
    # the cap counts submissions: p3's 30 bytes would make 110
    err = _refused(store.add_submission, CODE, "f1", "p3", {}, b"3" * 30, 100)
    assert err.key == "store.upload_cap" and [s.sid for s in store.submissions(CODE)] == [s1, s2]
    # p1 submits again: the old submission and its image go, its bytes are freed before the new one counts
    s1b = store.add_submission(CODE, "f1", "p1", {"top1": "lynx", "prob": 0.4}, b"4" * 45, cap_bytes=100)
    assert s1b != s1 and store.blob(CODE, S.blob_name_of(s1)) is None
    assert store.room(CODE).bytes_used == 95
    assert [s.sid for s in store.submissions(CODE)] == [s2, s1b]
    # moderation
    assert store.set_status(CODE, s2, "approved") == store.version(CODE)
    assert [s.sid for s in store.submissions(CODE, status="approved")] == [s2]
    assert [s.sid for s in store.submissions(CODE, status="pending")] == [s1b]
    store.set_status(CODE, s2, "removed")
    assert store.submissions(CODE, status="approved") == [] and store.blob(CODE, S.blob_name_of(s2)) == b"2" * 50
    assert [s.sid for s in store.submissions(CODE, exercise_id="f1", status="removed")] == [s2]
    assert store.submissions(CODE, exercise_id="f2") == []
    assert _refused(store.set_status, CODE, s2, "published").key == "store.bad_status"
    assert _refused(store.submissions, CODE, None, "published").key == "store.bad_status"
    err = _refused(store.set_status, CODE, "0000", "approved")
    assert err.key == "store.unknown_submission" and err.values == {"sid": "0000"}
    # another exercise: the same person may submit again there
    store.add_submission(CODE, "f2", "p1", {}, b"", cap_bytes=100)
    assert len(store.submissions(CODE)) == 3 and len(store.submissions(CODE, exercise_id="f2")) == 1


# --------------------------------------------------------------------------- closing and expiry
def _fill(store, code: str = CODE) -> None:
    store.join(code, "p1", "A", BIG)
    store.set_exercise(code, {"id": "e1"})
    store.put_answer(code, "e1", "p1", {"cells": [1]})
    store.put_blob(code, "image", b"x" * 10, BIG)
    store.add_submission(code, "f1", "p1", {}, b"y" * 5, BIG)


def _room_rows(backend, code: str) -> int:
    """What the backend still holds of a room, counted in its own terms (rows / keys)."""
    kind, url = backend
    if kind == "sqlite":
        db = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return sum(db.execute(f"SELECT COUNT(*) FROM {t} WHERE code = ?", (code,)).fetchone()[0]
                       for t in ("rooms", "people", "answers", "blobs", "submissions"))
        finally:
            db.close()
    import redis

    client = redis.Redis.from_url(url)
    try:
        return len(list(client.scan_iter(f"gradcam:room:{code}:*"))) + (client.zscore("gradcam:rooms", code) is not None)
    finally:
        client.close()


def test_close_deletes_everything(store, backend):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    store.create_room("KEEPS", "h", ttl=3600, max_rooms=BIG)
    _fill(store)
    _fill(store, "KEEPS")
    assert _room_rows(backend, CODE) > 5
    store.close_room(CODE)
    assert _room_rows(backend, CODE) == 0
    assert store.room(CODE) is None and store.version(CODE) is None
    assert store.people(CODE) == [] and store.answers(CODE, "e1") == [] and store.submissions(CODE) == []
    assert store.blob(CODE, "image") is None and store.counts(CODE, "e1") == (0, 0)
    # the other room is untouched
    assert store.counts("KEEPS", "e1") == (1, 1) and store.blob("KEEPS", "image") == b"x" * 10
    # the same code again is a new, empty room
    store.create_room(CODE, "h2", ttl=3600, max_rooms=BIG)
    assert store.people(CODE) == [] and store.blob(CODE, "image") is None and store.room(CODE).bytes_used == 0
    store.close_room("NEVER")  # closing an unknown room is no error


def test_writes_to_no_room_are_refused(store):
    for fn, args in [(store.set_exercise, (CODE, {})), (store.join, (CODE, "p", "n", BIG)),
                     (store.put_answer, (CODE, "e", "p", {})), (store.put_blob, (CODE, "b", b"", BIG)),
                     (store.add_submission, (CODE, "e", "p", {}, b"", BIG)), (store.set_status, (CODE, "s", "approved"))]:
        err = _refused(fn, *args)
        assert err.key == "store.unknown_room" and err.values == {"code": CODE}, fn.__name__
    assert store.person(CODE, "p") is None and store.people(CODE) == [] and store.submissions(CODE) == []


def test_an_expired_room_is_gone_and_purged(store, clock, backend):
    store.create_room(CODE, "h", ttl=60, max_rooms=BIG)
    _fill(store)
    clock.advance(59)
    assert store.version(CODE) is not None
    clock.advance(1)  # expires at created + ttl
    assert store.room(CODE) is None and store.version(CODE) is None
    assert store.counts(CODE, "e1") == (0, 0) and store.answers(CODE, "e1") == [] and store.blob(CODE, "image") is None
    assert _refused(store.put_answer, CODE, "e1", "p1", {}).key == "store.unknown_room"
    assert _room_rows(backend, CODE) == 0  # purged when it was read


def test_purge_expired(store, clock, backend):
    now = clock.now
    store.create_room("SHORT", "h", ttl=10, max_rooms=BIG)
    store.create_room("MIDDL", "h", ttl=50, max_rooms=BIG)
    store.create_room("LONGR", "h", ttl=100, max_rooms=BIG)
    for code in ("SHORT", "MIDDL", "LONGR"):
        _fill(store, code)
    assert store.purge_expired(now + 5) == 0
    assert store.purge_expired(now + 60) == 2  # SHORT and MIDDL, and all they hold
    assert _room_rows(backend, "SHORT") == 0 and _room_rows(backend, "MIDDL") == 0
    assert store.counts("LONGR", "e1") == (1, 1)
    assert store.purge_expired() == 0  # the store's own clock: nothing expired yet
    clock.advance(100)
    assert store.purge_expired() == 1 and _room_rows(backend, "LONGR") == 0


def test_redis_keys_expire_with_their_room(redis_url):
    """Every key of a room carries the room's expiry, so Redis drops a forgotten room by itself."""
    import redis

    from gradcam_core.rooms.redis_store import RedisStore

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    store = RedisStore(redis_url)
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    _fill(store)
    keys = sorted(k.decode() for k in client.scan_iter(f"gradcam:room:{CODE}:*"))
    assert {k.rsplit(":", 1)[-1] for k in keys} >= {"meta", "version", "people", "e1", "blobs", "subs", "subidx", "exercises"}
    ttls = {k: client.pttl(k) for k in keys}
    assert all(3_590_000 < t <= 3_600_001 for t in ttls.values()), ttls
    # a short-lived room's keys really go, without anyone reading them
    store.create_room("BRIEF", "h", ttl=0.3, max_rooms=BIG)
    store.join("BRIEF", "p", "n", BIG)
    deadline = time.monotonic() + 10
    while list(client.scan_iter("gradcam:room:BRIEF:*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(client.scan_iter("gradcam:room:BRIEF:*")) == []
    store.close()
    client.close()


def test_redis_that_does_not_answer_is_a_refusal():
    from bench._server import free_port
    from gradcam_core.rooms.redis_store import RedisStore

    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    err = _refused(RedisStore(url).version, CODE)
    assert err.key == "store.unreachable" and "secret" not in err.values["url"]


# --------------------------------------------------------------------------- open_store
def test_open_store_reads_the_url_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(S.URL_ENV, raising=False)
    monkeypatch.setenv(S.DIR_ENV, str(tmp_path / "roomsdir"))
    s = S.open_store()
    assert isinstance(s, SQLiteStore) and s.path == tmp_path / "roomsdir" / "rooms.sqlite3" and s.path.exists()
    monkeypatch.delenv(S.DIR_ENV)
    import tempfile

    assert S.default_path() == Path(tempfile.gettempdir()) / "gradcam-explorer-rooms" / "rooms.sqlite3"
    rel = str(tmp_path).lstrip("/")  # sqlite:///tmp/x (the contract's form) and sqlite:////tmp/x (SQLAlchemy's)
    for url in (f"sqlite:///{rel}/a.sqlite3", f"sqlite:////{rel}/a.sqlite3"):
        assert S.open_store(url).path == tmp_path / "a.sqlite3"
    monkeypatch.setenv(S.URL_ENV, f"sqlite:///{tmp_path}/b.sqlite3")
    assert S.open_store().path == tmp_path / "b.sqlite3"
    for bad in ("postgres://x", "sqlite://", "rooms.sqlite3"):
        err = _refused(S.open_store, bad)
        assert err.key == "store.bad_url" and err.values["url"] == bad


def test_open_store_opens_redis_from_the_environment(monkeypatch, redis_url):
    from gradcam_core.rooms.redis_store import RedisStore

    monkeypatch.setenv(S.URL_ENV, redis_url)
    store = S.open_store()
    assert isinstance(store, RedisStore) and store.version("NONE1") is None
    store.close()


# --------------------------------------------------------------------------- several stores, threads, processes
def test_two_stores_on_one_backend_see_each_others_writes(backend, clock):
    a, b = _make(*backend, clock), _make(*backend, clock)
    a.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    assert b.room(CODE) == a.room(CODE)
    b.join(CODE, "p1", "Ada", BIG)
    a.put_answer(CODE, "e1", "p1", {"cells": [5]})
    b.put_blob(CODE, "image", b"z" * 7, BIG)
    assert a.people(CODE) == b.people(CODE) == [S.Person("p1", "Ada", clock.now)]
    assert b.answers(CODE, "e1")[0].body == {"cells": [5]}
    assert a.blob(CODE, "image") == b"z" * 7 and a.room(CODE).bytes_used == 7
    assert a.version(CODE) == b.version(CODE) == 3
    a.close_room(CODE)
    assert b.room(CODE) is None
    a.close()
    b.close()


def test_concurrent_writers_from_threads_lose_nothing(store):
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    threads, per, errors = 8, 15, []

    def work(t: int) -> None:
        try:
            for i in range(per):
                pid = f"t{t}-{i}"
                store.join(CODE, pid, pid, BIG)
                store.put_answer(CODE, "e1", pid, {"t": t, "i": i})
                store.put_blob(CODE, f"b{t}", bytes([t]) * (i + 1), BIG)  # replaced: only the last counts
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    n = threads * per
    assert store.counts(CODE, "e1") == (n, n)
    assert store.version(CODE) == 1 + 2 * n  # every join and every answer raised it by exactly one
    assert sorted(a.body["i"] for a in store.answers(CODE, "e1")) == sorted(list(range(per)) * threads)
    assert store.room(CODE).bytes_used == threads * per  # each thread's blob holds its last `per` bytes


_WRITER = textwrap.dedent("""
    import os, sys, time, types
    # the package's __init__ imports the CAM engine (torch: ~4 s of one core's CPU per writer); a writer
    # needs only the rooms' store, so the package is entered without running its __init__ (the store's
    # own modules are the real ones, imported as the app imports them)
    package = types.ModuleType("gradcam_core")
    package.__path__ = [os.path.join(os.getcwd(), "gradcam_core")]
    sys.modules["gradcam_core"] = package
    from gradcam_core.rooms.store import open_store
    assert "torch" not in sys.modules
    url, code, prefix, n, mode = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    store = open_store(url)
    if mode == "fill":
        store.create_room(code, "key-hash", 3600, 10**9)
        store.set_exercise(code, {"id": "e1", "kind": "guess", "grid": [7, 7]})
        store.put_blob(code, "image", b"\\x89PNG" + bytes(range(256)), 10**9)
    print("go", flush=True)
    sys.stdin.readline() if mode == "race" else None   # both processes start writing together
    for i in range(n):
        pid = f"{prefix}{i}"
        store.join(code, pid, "Nick " + pid, 10**9)
        store.put_answer(code, "e1", pid, {"cells": [i % 49, (i * 7) % 49]})
        print("done", i, flush=True)
    if mode == "fill":
        time.sleep(600)   # killed here (or earlier) with SIGKILL
""")


def _writer(url: str, code: str, prefix: str, n: int, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, url, code, prefix, str(n), mode], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == "go"
    return proc


def test_two_processes_writing_at_once_lose_nothing(backend, clock):
    kind, url = backend
    store = _make(kind, url, clock)
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    store.set_exercise(CODE, {"id": "e1"})
    n = 40
    procs = [_writer(url, CODE, prefix, n, "race") for prefix in ("a", "b")]
    for p in procs:  # release both
        p.stdin.write("\n")
        p.stdin.flush()
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0 and out.splitlines()[-1] == f"done {n - 1}"
    assert store.counts(CODE, "e1") == (2 * n, 2 * n)
    assert store.version(CODE) == 2 + 2 * 2 * n
    assert {p.nickname for p in store.people(CODE)} == {f"Nick {x}{i}" for x in "ab" for i in range(n)}
    store.close()


def _kill_writer_midway(url: str, at_least: int) -> int:
    """A writer fills a room, then answers one by one; SIGKILLed once it has reported ``at_least``
    committed answers. Returns the number it reported (every one of them must survive)."""
    proc = _writer(url, CODE, "p", 10_000, "fill")
    done = -1
    while done < at_least:
        line = proc.stdout.readline()
        assert line.startswith("done"), line
        done = int(line.split()[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return done + 1


def _assert_room_survived(store, answered: int) -> None:
    room = store.room(CODE)
    assert room is not None and room.key_hash == "key-hash"
    assert room.exercise == {"id": "e1", "kind": "guess", "grid": [7, 7]}
    assert store.blob(CODE, "image") == b"\x89PNG" + bytes(range(256))
    people, answers = store.counts(CODE, "e1")
    assert people >= answered and answers >= answered  # ≥: the killed writer may have got one further
    got = {a.pid: a.body for a in store.answers(CODE, "e1")}
    for i in range(answered):
        assert got[f"p{i}"] == {"cells": [i % 49, (i * 7) % 49]}
        assert store.person(CODE, f"p{i}").nickname == f"Nick p{i}"
    assert room.version == 2 + people + answers  # created, the exercise, then one for each join and each answer


def test_kill_9_of_a_writer_loses_no_committed_write_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'rooms.sqlite3'}"
    answered = _kill_writer_midway(url, at_least=25)
    store = S.open_store(url)
    _assert_room_survived(store, answered)
    store.close()


def test_kill_9_of_the_writer_and_of_redis_loses_nothing(tmp_path):
    if not redis_available():
        pytest.skip(WHY_MISSING)
    folder = tmp_path / "redis"
    proc, url = start_redis(folder)
    try:
        answered = _kill_writer_midway(url, at_least=25)
        stop_redis(proc, kill=True)  # Redis itself crashes too
        assert proc.returncode == -signal.SIGKILL
        proc, url = start_redis(folder, port=int(url.rsplit(":", 1)[1].split("/")[0]))  # same folder: its AOF
        store = S.open_store(url)
        _assert_room_survived(store, answered)
        store.close()
    finally:
        stop_redis(proc)


def test_json_values_round_trip_exactly(store):
    """An exercise carries the raw CAM (floats) and nested dicts: they come back equal, not rounded."""
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    cam = [[0.1 + 1e-12 * i * j for j in range(7)] for i in range(7)]
    ex = {"id": "e1", "cam": cam, "against": {"model": "resnet18", "target": 281}, "revealed": False, "link": ""}
    store.set_exercise(CODE, ex)
    assert store.room(CODE).exercise == ex
    assert json.dumps(store.room(CODE).exercise) == json.dumps(ex)


def test_a_file_locked_by_another_process_for_too_long_is_a_refusal(tmp_path, monkeypatch):
    """A writer that holds the SQLite file's write lock past the busy timeout: the next write is a
    clear refusal (store.busy), not an OperationalError, and nothing is half written."""
    from gradcam_core.rooms import sqlite_store

    path = tmp_path / "rooms.sqlite3"
    store = SQLiteStore(path)
    store.create_room(CODE, "h", ttl=3600, max_rooms=BIG)
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 200)
    other = SQLiteStore(path)  # opened after the patch: waits 0.2 s for the lock
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        err = _refused(other.join, CODE, "p1", "Ada", BIG)
        assert err.key == "store.busy" and err.values["seconds"] == 0.2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert other.join(CODE, "p1", "Ada", BIG).nickname == "Ada"  # the lock gone, the write goes through
    assert store.counts(CODE, None) == (1, 0)
    other.close()
    store.close()
