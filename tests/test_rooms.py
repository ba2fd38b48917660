"""The workshop room service (issue 26), in-process: who may open a room, keys, codes, nicknames,
rate limits, answers, the reveal's numbers, moderation, results, expiry and what survives a new
store (a restart), each on SQLite and on Redis (a redis-server of its own). The launched app and its
room_* API are tests/test_rooms_app.py."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gradcam_core.base.errors import Refusal
from gradcam_core.present.words import say, text_of
from gradcam_core.services import rooms as R

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "examples" / "animals" / "chelsea_cat.jpg"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of this module's own (Debian's package; the Redis tests skip without it)."""
    from bench._redis import WHY_MISSING, redis_available, start_redis, stop_redis

    if not redis_available():
        pytest.skip(WHY_MISSING)
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        stop_redis(proc)


@pytest.fixture(autouse=True, params=["sqlite", "redis"])
def fresh_store(request, tmp_path, monkeypatch):
    """Each test, on each backend: an empty store (its own SQLite file, or the module's Redis emptied),
    default limits, no password, empty rate limits. The service reads the store from the environment."""
    for name in ("GRADCAM_FACILITATOR_PASSWORD", "GRADCAM_MAX_ROOMS", "GRADCAM_ROOM_MAX_PEOPLE", "GRADCAM_ROOM_HOURS",
                 "GRADCAM_ROOM_UPLOAD_MB", "GRADCAM_ROOM_JOINS_PER_MINUTE", "GRADCAM_ROOM_ANSWERS_PER_MINUTE",
                 "GRADCAM_ROOMS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADCAM_ROOMS_DIR", str(tmp_path / "rooms"))
    if request.param == "redis":
        import redis

        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("GRADCAM_ROOMS_URL", url)
    R.use_store(None)
    yield tmp_path
    R.use_store(None)


def refused(key: str, fn, *args, **kw) -> Refusal:
    with pytest.raises(Refusal) as info:
        fn(*args, **kw)
    assert info.value.key == key, info.value.code()
    return info.value


def opened() -> R.Opened:
    return R.open_room(None, local=True, workshop=False)


def synthetic_guess(code: str, key: str, cam: np.ndarray) -> R.Exercise:
    """A guess exercise with a CAM of the test's choosing (the picture a grey square), pushed the way
    push_guess keeps one: the numbers of the reveal are then known in advance."""
    R.check_key(code, key)
    ex = R.Exercise(id="synth" + str(int(cam.sum() * 1000) % 997), kind="guess", model="test", model_title="Test net",
                    target=7, class_name="test class", grid=tuple(cam.shape), image_blob="ex-synth.png",
                    cam=cam.tolist(), picture="digit:0")
    R.store().put_blob(code, ex.image_blob, R._png(np.full((56, 56, 3), 128, np.uint8)), R.upload_cap())
    R._keep_exercise(code, ex)
    return ex


# --------------------------------------------------------------------------- who may open a room
@pytest.mark.parametrize("host, forwarded, local", [
    ("127.0.0.1", None, True), ("::1", "", True), ("localhost", None, True), ("127.0.0.1", "127.0.0.1", True),
    ("192.168.1.5", None, False), ("203.0.113.9", "127.0.0.1", False), (None, None, False),
    # behind HAProxy on the laptop: the peer is loopback, the phone it forwarded for is not
    ("127.0.0.1", "192.168.1.23", False), ("127.0.0.1", "127.0.0.1, 10.0.0.2", False), ("not an ip", None, False)])
def test_is_local_means_loopback_and_not_forwarded_from_elsewhere(host, forwarded, local):
    assert R.is_local(host, forwarded) is local


def test_on_the_laptop_anyone_opens_a_room(monkeypatch):
    for local, workshop in ((True, False), (False, True), (True, True)):
        assert R.rooms_allowed(local, workshop) == (True, None)
        assert not R.needs_password(local, workshop)
        o = R.open_room(None, local, workshop)
        assert len(o.code) == R.CODE_LENGTH and set(o.code) <= set(R.CODE_ALPHABET)
        assert len(o.key) >= 32


def test_public_without_a_password_rooms_are_off_and_the_sentence_says_how_to_turn_them_on():
    assert R.rooms_allowed(False, False) == (False, "room.off_public")
    err = refused("room.off_public", R.open_room, "anything", False, False)
    assert "GRADCAM_FACILITATOR_PASSWORD" in text_of(err)


def test_public_with_a_password_only_the_right_one_opens(monkeypatch):
    monkeypatch.setenv("GRADCAM_FACILITATOR_PASSWORD", "correct horse")
    assert R.rooms_allowed(False, False) == (True, None) and R.needs_password(False, False)
    refused("room.password_needed", R.open_room, "", False, False, "s1")
    refused("room.wrong_password", R.open_room, "correct hors", False, False, "s1")
    refused("room.wrong_password", R.open_room, "correct horse ", False, False, "s1")
    o = R.open_room("correct horse", False, False, "s1")
    assert R.store().room(o.code) is not None
    # the laptop still needs none
    assert R.open_room(None, True, False).code != o.code


def test_password_guessing_is_rate_limited_per_session(monkeypatch):
    monkeypatch.setenv("GRADCAM_FACILITATOR_PASSWORD", "pw")
    for _ in range(10):
        refused("room.wrong_password", R.open_room, "guess", False, False, "attacker")
    refused("room.too_fast_password", R.open_room, "pw", False, False, "attacker")
    assert R.open_room("pw", False, False, "someone else").code


def test_a_server_holds_at_most_the_set_number_of_rooms(monkeypatch):
    monkeypatch.setenv("GRADCAM_MAX_ROOMS", "2")
    a, b = opened(), opened()
    err = refused("store.too_many_rooms", opened)
    assert err.values["max_rooms"] == 2
    R.close(a.code, a.key)
    assert opened().code not in (a.code, b.code)


def test_rooms_expire_after_the_set_hours(monkeypatch):
    monkeypatch.setenv("GRADCAM_ROOM_HOURS", "1")
    o = opened()
    room = R.store().room(o.code)
    assert room.expires - room.created == pytest.approx(3600.0)
    assert R.store().purge_expired(now=room.expires + 1) == 1
    refused("room.unknown_code", R.check_key, o.code, o.key)


# --------------------------------------------------------------------------- codes and keys
def test_the_key_is_kept_only_as_its_sha256():
    o = opened()
    room = R.store().room(o.code)
    assert room.key_hash == hashlib.sha256(o.key.encode()).hexdigest()
    assert o.key not in repr(room)


def test_every_facilitator_action_checks_code_and_key():
    a, b = opened(), opened()
    actions = [lambda c, k: R.status(c, k), lambda c, k: R.push_fool(c, k), lambda c, k: R.reveal(c, k),
               lambda c, k: R.results(c, k), lambda c, k: R.moderate(c, k, "x", "approve"),
               lambda c, k: R.push_locked(c, k, "mnist", ["layer"]), lambda c, k: R.queue(c, k),
               lambda c, k: R.close(c, k)]
    for act in actions:
        refused("room.no_code", act, "", a.key)
        refused("room.unknown_code", act, "ZZZZZ", a.key)   # Z is not in the alphabet
        refused("room.unknown_code", act, "AAAAA", a.key)   # well formed, not open
        refused("room.no_key", act, a.code, "")
        refused("room.wrong_key", act, a.code, "not-the-key")
        refused("room.wrong_key", act, a.code, b.key)       # another room's key
    assert R.status(a.code.lower(), a.key).people == 0     # a code typed in lower case is the same room


def test_codes_use_the_unambiguous_alphabet_only():
    assert not set(R.CODE_ALPHABET) & set("0O1IL2Z5S8BG6")
    codes = {opened().code for _ in range(15)}
    assert all(len(c) == 5 and set(c) <= set(R.CODE_ALPHABET) for c in codes)


# --------------------------------------------------------------------------- joining
def test_a_long_or_html_nickname_is_capped_and_stripped_of_control_characters():
    o = opened()
    p = R.join(o.code, "  <script>alert(1)</script>\x00\u202e" + "x" * 100, None, "s")
    assert len(p.nickname) == R.NICKNAME_MAX
    assert p.nickname == "<script>alert(1)</script>xxxxxxxx"[:R.NICKNAME_MAX]
    assert "\x00" not in p.nickname and "\u202e" not in p.nickname
    assert R.clean_nickname("  Ada \n\t Lovelace ") == "Ada Lovelace"


def test_an_empty_nickname_gets_a_friendly_default_from_the_catalogue():
    o = opened()
    names = {R.join(o.code, "   ", None, f"s{i}").nickname for i in range(6)}
    animals = {say(f"room.animal.{a}") for a in R.ANIMALS}
    for n in names:
        animal, number = n.rsplit(" ", 1)
        assert animal in animals and 10 <= int(number) <= 99
    assert len(names) == 6  # never one already taken


def test_a_phone_that_reloads_is_back_under_its_nickname():
    o = opened()
    first = R.join(o.code, "Ada", None, "page-1")
    again = R.join(o.code, "", first.pid, "page-2")
    assert (again.pid, again.nickname) == (first.pid, "Ada")
    renamed = R.join(o.code, "Ada L.", first.pid, "page-3")
    assert (renamed.pid, renamed.nickname) == (first.pid, "Ada L.")
    assert [p.nickname for p in R.store().people(o.code)] == ["Ada L."]
    # a pid this room does not know (or a malformed one) is a new person, with a new pid
    other = R.join(o.code, "Bo", "<bad pid>", "page-4")
    assert other.pid != first.pid and len(R.store().people(o.code)) == 2


def test_two_people_never_share_a_nickname():
    o = opened()
    first = R.join(o.code, "Ada", None, "1")
    second = R.join(o.code, "Ada", None, "2")
    third = R.join(o.code, "Ada", None, "3")
    assert (first.nickname, second.nickname, third.nickname) == ("Ada", "Ada 2", "Ada 3")
    long = "L" * R.NICKNAME_MAX
    assert R.join(o.code, long, None, "4").nickname == long
    assert R.join(o.code, long, None, "5").nickname == "L" * (R.NICKNAME_MAX - 2) + " 2"
    # renaming to someone else's name gets a number; keeping one's own name does not
    assert R.join(o.code, "Ada", second.pid, "6").nickname == "Ada 2"
    assert R.join(o.code, "Ada", first.pid, "7").nickname == "Ada"


def test_a_room_takes_at_most_the_set_number_of_phones(monkeypatch):
    monkeypatch.setenv("GRADCAM_ROOM_MAX_PEOPLE", "2")
    o = opened()
    a = R.join(o.code, "a", None, "1")
    R.join(o.code, "b", None, "2")
    err = refused("store.room_full", R.join, o.code, "c", None, "3")
    assert err.values["max_people"] == 2
    assert R.join(o.code, "", a.pid, "4").pid == a.pid  # someone already in comes back


def test_a_flood_of_joins_from_one_session_is_refused_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("GRADCAM_ROOM_JOINS_PER_MINUTE", "3")
    o = opened()
    for _ in range(3):
        R.join(o.code, "", None, "flood")
    err = refused("room.too_fast_join", R.join, o.code, "", None, "flood")
    assert err.values["limit"] == 3 and 1 <= err.values["seconds"] <= 60
    assert "3" in text_of(err)
    assert R.join(o.code, "calm", None, "another session").nickname == "calm"
    assert len(R.store().people(o.code)) == 4


def test_joining_needs_an_open_room():
    refused("room.no_code", R.join, "  ", "x", None, "s")
    refused("room.unknown_code", R.join, "AAAAA", "x", None, "s")
    refused("room.unknown_code", R.join, "<b>" * 50, "x", None, "s")


# --------------------------------------------------------------------------- answering
def test_cells_are_parsed_from_lists_or_text_and_checked():
    grid = (7, 7)
    assert R.parse_cells("3,10,17", grid) == [3, 10, 17]
    assert R.parse_cells([17, 3, 3], grid) == [3, 17]
    assert R.parse_cells(" 48 ", grid) == [48]
    assert R.parse_cells([2.0], grid) == [2]
    refused("room.no_cells", R.parse_cells, "", grid)
    refused("room.no_cells", R.parse_cells, [], grid)
    refused("room.no_cells", R.parse_cells, {"a": 1}, grid)
    refused("room.too_many_cells", R.parse_cells, [1, 2, 3, 4], grid)
    refused("room.not_a_cell", R.parse_cells, [49], grid)
    refused("room.not_a_cell", R.parse_cells, [-1], grid)
    refused("room.not_a_cell", R.parse_cells, "a,b", grid)
    refused("room.not_a_cell", R.parse_cells, [True], grid)
    refused("room.not_a_cell", R.parse_cells, [2.5], grid)


def test_one_answer_per_participant_sending_again_replaces_it():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    ex = synthetic_guess(o.code, o.key, np.ones((7, 7)))
    assert R.answer(o.code, p.pid, [1, 2], "s") == [1, 2]
    assert R.answer(o.code, p.pid, "40", "s") == [40]
    answers = R.store().answers(o.code, ex.id)
    assert [(a.pid, a.body["cells"]) for a in answers] == [(p.pid, [40])]
    assert R.status(o.code, o.key).answered == 1
    assert R.phone_view(o.code, p.pid).my_cells == [40]


def test_answers_need_a_joined_phone_an_open_guess_and_no_reveal_yet():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    refused("room.no_guess", R.answer, o.code, p.pid, [1], "s")
    synthetic_guess(o.code, o.key, np.ones((7, 7)))
    refused("room.not_joined", R.answer, o.code, "", [1], "s")
    refused("room.not_joined", R.answer, o.code, "A" * 22, [1], "s")
    R.answer(o.code, p.pid, [1], "s")
    R.reveal(o.code, o.key)
    err = refused("room.answers_closed", R.answer, o.code, p.pid, [2], "s")
    assert "revealed" in text_of(err)
    R.push_fool(o.code, o.key)
    refused("room.no_guess", R.answer, o.code, p.pid, [1], "s")


def test_a_flood_of_answers_from_one_session_is_refused(monkeypatch):
    monkeypatch.setenv("GRADCAM_ROOM_ANSWERS_PER_MINUTE", "5")
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    synthetic_guess(o.code, o.key, np.ones((7, 7)))
    for i in range(5):
        R.answer(o.code, p.pid, [i], "s")
    err = refused("room.too_fast_answer", R.answer, o.code, p.pid, [9], "s")
    assert err.values["limit"] == 5
    assert R.phone_view(o.code, p.pid).my_cells == [4]  # the refused one changed nothing


# --------------------------------------------------------------------------- the reveal
def _cam() -> np.ndarray:
    cam = np.zeros((7, 7))
    cam.flat[10] = 3.0  # the hottest cell
    cam.flat[11] = 1.0
    return cam


def test_the_reveal_scores_every_phone_from_the_numbers():
    o = opened()
    a, b, c = (R.join(o.code, n, None, n) for n in ("Ada", "Bo", "Cy"))
    synthetic_guess(o.code, o.key, _cam())
    R.answer(o.code, a.pid, [10], "Ada")
    R.answer(o.code, b.pid, [11, 12], "Bo")
    before = R.phone_view(o.code, a.pid)
    assert before.cam is None and before.my_score is None and not before.revealed
    r = R.reveal(o.code, o.key)
    assert r.class_score.answered == 2 and r.class_score.hits == 1
    assert r.scores[a.pid].hit and r.scores[a.pid].heat_share == pytest.approx(0.75)
    assert r.scores[a.pid].area_share == pytest.approx(1 / 49)
    assert not r.scores[b.pid].hit and r.scores[b.pid].heat_share == pytest.approx(0.25)
    assert r.scores[b.pid].area_share == pytest.approx(2 / 49)
    assert c.pid not in r.scores
    assert r.nicknames[a.pid] == "Ada" and r.class_name == "test class"
    view = R.phone_view(o.code, a.pid)
    assert view.revealed and view.my_score.hit and view.my_score.heat_share == pytest.approx(0.75)
    assert np.array_equal(view.cam, _cam())
    assert R.phone_view(o.code, c.pid).my_score is None  # no taps, no score
    assert R.revealed(o.code, o.key).class_score.hits == 1


def test_every_reveal_is_kept_for_the_slides_its_own_map_and_the_other_class():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    assert R.reveals(o.code, o.key) == []
    ex = R.push_guess(o.code, o.key, "digit:3")
    R.answer(o.code, p.pid, [5, 6], "s")
    assert R.reveals(o.code, o.key) == []  # pushed, not revealed
    R.reveal(o.code, o.key)
    (own,) = R.reveals(o.code, o.key)
    assert own.class_name == ex.class_name and np.array_equal(own.cam, np.asarray(ex.cam))
    other = 3 if ex.target != 3 else 4
    R.reveal(o.code, o.key, None, other)
    own2, against = R.reveals(o.code, o.key)
    assert np.array_equal(own2.cam, np.asarray(ex.cam)) and against.class_name == str(other)
    assert not np.array_equal(against.cam, own2.cam)
    assert own2.class_score.answered == against.class_score.answered == 1
    with pytest.raises(Refusal):
        R.reveals(o.code, "not-the-key")


def test_reveal_against_another_class_scores_the_same_taps_on_its_map():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    ex = R.push_guess(o.code, o.key, "digit:3")
    assert (ex.model, ex.grid, ex.model_title) == ("lenet", (4, 4), say("model.title.lenet"))
    assert ex.class_name == str(ex.target) and 0 <= ex.target <= 9
    # LeNet's pool2 cells (R.DIGIT_LAYER: finger-sized) sit over their receptive fields' centres, 4 pixels
    # apart on the 28 × 28 frame
    assert R.DIGIT_LAYER == "pool2"
    assert ex.frame == [28, 28] and ex.centres == [[7.5 + 4 * i for i in range(4)]] * 2
    shown = R.phone_view(o.code, p.pid).exercise
    assert (shown["centres"], shown["frame"]) == (ex.centres, ex.frame)
    from gradcam_core.services import mnist
    digit = np.clip(mnist.held_out(3)[0] * 255.0, 0, 255).astype(np.uint8)
    assert np.array_equal(R.phone_view(o.code, p.pid).image, np.stack([digit] * 3, axis=-1))  # the digit itself
    own_cam = np.asarray(ex.cam)
    hottest = int(np.argmax(own_cam))
    R.answer(o.code, p.pid, [hottest], "s")
    first = R.reveal(o.code, o.key)
    assert first.scores[p.pid].hit and first.exercise.against is None
    other = "1" if ex.class_name != "1" else "7"
    second = R.reveal(o.code, o.key, None, other)
    assert second.class_name == other and second.exercise.against["class_name"] == other
    assert not np.allclose(second.cam, own_cam)
    from gradcam_core.analysis import pointing
    assert second.scores[p.pid] == pointing.score(second.cam, [hottest])
    # a phone keeps its score on the map the class guessed (the exercise's own class): a reload after the
    # projector's comparison must not put the other class's numbers under the exercise's class name
    view = R.phone_view(o.code, p.pid)
    assert np.array_equal(view.cam, own_cam) and view.my_score == pointing.score(own_cam, [hottest])
    assert view.my_score.hit and view.exercise["class_name"] == ex.class_name
    assert view.exercise["against"]["class_name"] == other
    # results keep the exercise's own numbers, and the other class's beside them
    res = R.results(o.code, o.key)["exercises"][-1]
    assert res["answers"][0]["hit"] is True and res["against"]["class_name"] == other
    assert res["answers"][0]["against"]["heat_share"] == pytest.approx(second.scores[p.pid].heat_share, abs=1e-6)
    back = R.reveal(o.code, o.key)  # no class, no model: its own map again
    assert back.exercise.against is None and back.scores[p.pid].hit


def test_a_digit_is_read_by_lenet_only_and_a_photo_by_an_imagenet_model():
    o = opened()
    refused("room.digit_model", R.push_guess, o.code, o.key, "digit:1", "resnet18")
    refused("room.photo_model", R.push_guess, o.code, o.key, "example:chelsea_cat.jpg", "lenet")
    refused("room.bad_picture", R.push_guess, o.code, o.key, "file:/etc/passwd")
    refused("room.unknown_example", R.push_guess, o.code, o.key, "example:../../etc/passwd")
    refused("room.upload_path", R.push_guess, o.code, o.key, f"upload:{CAT}")


def test_a_guess_on_an_example_photo_keeps_its_picture_and_the_model_grid():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    ex = R.push_guess(o.code, o.key, "example:chelsea_cat.jpg")
    assert ex.grid == np.asarray(ex.cam).shape and ex.class_name and ex.model
    assert ex.centres is None and ex.frame is None  # a photo's grid is the stretched one
    view = R.phone_view(o.code, p.pid)
    assert view.image.shape[:2] == (224, 224) and view.exercise["grid"] == list(ex.grid)
    assert "cam" not in view.exercise and view.cam is None  # the map only after the reveal


# --------------------------------------------------------------------------- locked view
def test_a_locked_view_names_a_tab_and_its_controls():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    ex = R.push_locked(o.code, o.key, "MNIST", "layer, digit-grid", "tab=mnist&layer=relu1")
    assert (ex.tab, ex.controls, ex.link) == ("mnist", ["layer", "digit-grid"], "tab=mnist&layer=relu1")
    shown = R.phone_view(o.code, p.pid).exercise
    assert shown["kind"] == "locked" and shown["controls"] == ["layer", "digit-grid"]
    refused("room.bad_tab", R.push_locked, o.code, o.key, "admin", [])
    refused("room.bad_controls", R.push_locked, o.code, o.key, "mnist", ["<img src=x>"])
    refused("room.bad_link", R.push_locked, o.code, o.key, "mnist", [], "https://evil.example/")
    refused("room.bad_link", R.push_locked, o.code, o.key, "mnist", [], "javascript:alert(1)")


# --------------------------------------------------------------------------- fool the model
@pytest.fixture
def fool_room(fresh_store):
    o = opened()
    people = [R.join(o.code, n, None, n) for n in ("Ada", "Bo")]
    R.push_fool(o.code, o.key)
    photo = fresh_store / "cat.jpg"
    shutil.copy(CAT, photo)
    return o, people, photo


def test_a_submission_stays_off_the_gallery_until_approved_and_can_be_removed(fool_room):
    o, (ada, _), photo = fool_room
    expl, sid = R.submit(o.code, ada.pid, str(photo), "Ada")
    assert expl.top5[0][1] and len(expl.top5) == 5
    assert R.gallery(o.code) == []
    pending = R.queue(o.code, o.key)
    assert [s.sid for s, _ in pending] == [sid] and pending[0][1][:2] == b"\xff\xd8"  # a JPEG, re-encoded
    assert R.status(o.code, o.key).pending == 1
    assert R.phone_view(o.code, ada.pid).my_submission["status"] == "pending"
    R.moderate(o.code, o.key, sid, "approve")
    assert [s.sid for s, _ in R.gallery(o.code)] == [sid]
    R.moderate(o.code, o.key, sid, "remove")
    assert R.gallery(o.code) == []
    refused("room.bad_action", R.moderate, o.code, o.key, sid, "delete everything")
    refused("room.unknown_submission", R.moderate, o.code, o.key, "nope", "approve")
    refused("room.wrong_key", R.moderate, o.code, "x" * 32, sid, "approve")
    sub = R.results(o.code, o.key)["exercises"][-1]["submissions"]
    assert sub == [{"nickname": "Ada", "top1": expl.top5[0][1], "top1_index": expl.top5[0][0],
                    "prob": pytest.approx(expl.top5[0][2]), "status": "removed"}]


def test_a_bad_photo_is_refused_like_every_other_upload(fool_room):
    o, (ada, _), photo = fool_room
    fake = photo.parent / "fake.png"
    fake.write_text("this is not a picture")
    with pytest.raises(ValueError) as info:
        R.submit(o.code, ada.pid, str(fake), "Ada")
    assert "plain text, not image data" in text_of(info.value)
    refused("room.upload_path", R.submit, o.code, ada.pid, str(CAT), "Ada")  # a server file, not an upload
    assert R.queue(o.code, o.key, None) == []


def test_uploads_over_the_rooms_byte_cap_are_refused(fool_room, monkeypatch):
    o, (ada, bo), photo = fool_room
    R.submit(o.code, ada.pid, str(photo), "Ada")
    used = R.store().room(o.code).bytes_used
    monkeypatch.setenv("GRADCAM_ROOM_UPLOAD_MB", str((used + 1000) / (1024 * 1024)))
    err = refused("store.upload_cap", R.submit, o.code, bo.pid, str(photo), "Bo")
    assert err.values["cap_bytes"] == R.upload_cap()
    # replacing one's own submission frees its old size: still within the cap
    R.submit(o.code, ada.pid, str(photo), "Ada")
    assert len(R.queue(o.code, o.key, None)) == 1


# --------------------------------------------------------------------------- results, close, restart
def test_results_have_one_row_per_exercise_and_nickname():
    o = opened()
    a, b = R.join(o.code, "=cmd|' /C calc'!A0", None, "a"), R.join(o.code, "Bo", None, "b")
    synthetic_guess(o.code, o.key, _cam())
    R.answer(o.code, a.pid, [10], "a")
    R.answer(o.code, b.pid, [11, 12], "b")
    res = R.results(o.code, o.key)
    assert res["room"] == o.code and res["people"] == 2
    (ex,) = res["exercises"]
    assert ex["reveal"]["answered"] == 2 and ex["reveal"]["hits"] == 1
    rows = R.results_rows(res)
    assert [(r["nickname"], r["cells"], r["hit"]) for r in rows] == [("=cmd|' /C calc'!A0", "10", 1), ("Bo", "11 12", 0)]
    assert rows[1]["heat_share"] == pytest.approx(0.25) and rows[1]["area_share"] == pytest.approx(2 / 49, abs=1e-6)
    json.dumps(res)  # plain JSON
    from gradcam_core.ui.room_api import csv_text
    import csv
    import io
    table = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert [r["nickname"] for r in table] == ["'=cmd|' /C calc'!A0", "Bo"]  # a spreadsheet will not run it
    assert [r["cells"] for r in table] == ["10", "11 12"] and table[0]["hit"] == "1"


def test_closing_deletes_the_room_and_all_it_holds():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    synthetic_guess(o.code, o.key, _cam())
    R.close(o.code, o.key)
    assert R.store().room(o.code) is None and R.store().blob(o.code, "ex-synth.png") is None
    refused("room.unknown_code", R.phone_view, o.code, p.pid)
    assert R.version(o.code) is None


def test_a_new_store_on_the_same_file_keeps_room_exercise_answers_and_nicknames():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    ex = synthetic_guess(o.code, o.key, _cam())
    R.answer(o.code, p.pid, [10, 11], "s")
    R.use_store(None)  # what a restart does: the next call opens the file again
    view = R.phone_view(o.code, p.pid)
    assert (view.nickname, view.my_cells, view.exercise["id"]) == ("Ada", [10, 11], ex.id)
    assert R.reveal(o.code, o.key).class_score.answered == 1


def test_nothing_a_phone_receives_carries_the_key():
    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    for push in (lambda: synthetic_guess(o.code, o.key, _cam()), lambda: R.push_fool(o.code, o.key),
                 lambda: R.push_locked(o.code, o.key, "mnist", ["layer"])):
        push()
        view = R.phone_view(o.code, p.pid)
        assert o.key not in repr(view) and R._hash_key(o.key) not in repr(view)
    assert o.key not in repr(R.join(o.code, "", p.pid, "s")) and o.key not in repr(R.gallery(o.code))


# --------------------------------------------------------------------------- the API's JSON (in-process)
def test_the_apis_reveal_and_phone_view_carry_sentences_made_from_their_numbers():
    from gradcam_core.analysis import pointing
    from gradcam_core.present import room_view as words
    from gradcam_core.ui import room_api

    o = opened()
    a, b = R.join(o.code, "Ada", None, "a"), R.join(o.code, "Bo", None, "b")
    synthetic_guess(o.code, o.key, _cam())
    R.answer(o.code, a.pid, [10], "a")
    R.answer(o.code, b.pid, [11, 12], "b")
    before = room_api.room_view(o.code, a.pid)
    assert before["sentence"] is None and before["cam"] is None and before["my_score"] is None
    assert before["image"].startswith("data:image/png;base64,")
    assert room_api.room_view(o.code, b.pid)["image"] is before["image"]  # encoded once for every phone
    out = room_api.room_reveal(o.code, o.key)
    cs = pointing.score_class(_cam(), [[10], [11, 12]])
    assert out["sentence"] == words.reveal_text(cs, "test class", "Test net")
    assert out["alt"] == words.reveal_alt(cs, "test class", cam=_cam())
    assert (out["numbers"]["answered"], out["numbers"]["hits"]) == (2, 1)
    assert out["scores"]["Ada"]["hit"] is True and out["scores"]["Bo"]["heat_share"] == pytest.approx(0.25)
    assert (out["scores"]["Ada"]["cells"], out["scores"]["Bo"]["cells"]) == ([10], [11, 12])
    after = room_api.room_view(o.code, a.pid)
    assert after["sentence"] == words.own_text(pointing.score(_cam(), [10]), "test class")
    assert after["my_score"]["hit"] is True and after["cam"] == _cam().tolist()
    assert o.key not in repr(after) and o.key not in repr(before)


def test_the_api_refuses_with_the_catalogue_sentence():
    import gradio as gr

    from gradcam_core.ui import room_api

    o = opened()
    with pytest.raises(gr.Error) as info:
        room_api.room_status(o.code, "wrong")
    assert info.value.message == __import__("html").escape(say("room.wrong_key"))
    with pytest.raises(gr.Error) as info:
        room_api.room_push(o.code, o.key, "quiz")
    assert info.value.message == say("room.bad_kind", choices="guess, fool, locked")


def test_an_uploaded_picture_is_kept_so_the_reveal_can_show_another_class_on_it():
    import base64

    o = opened()
    p = R.join(o.code, "Ada", None, "s")
    url = "data:image/jpeg;base64," + base64.b64encode(CAT.read_bytes()).decode()
    ex = R.push_guess(o.code, o.key, "upload:" + url)
    assert ex.picture == "upload" and R.store().blob(o.code, f"ex-{ex.id}.src")[:2] == b"\xff\xd8"
    R.answer(o.code, p.pid, [int(np.argmax(ex.cam))], "s")
    assert R.reveal(o.code, o.key).scores[p.pid].hit
    other = R.reveal(o.code, o.key, None, "golden retriever")
    assert other.class_name == "golden retriever" and other.exercise.against["target"] == 207
    assert other.cam.shape == tuple(ex.grid) and not np.allclose(other.cam, np.asarray(ex.cam))
    assert R.results(o.code, o.key)["exercises"][0]["picture"] == "upload"  # the photo's data is not repeated


def test_another_models_map_is_brought_onto_the_exercises_grid():
    """VGG-16's 14 × 14 map against a 7 × 7 exercise: each cell the mean of its 2 × 2 block (area);
    a coarser map is interpolated; the same grid is left as it is."""
    fine = np.arange(196, dtype=float).reshape(14, 14)
    small = R._resized(fine, (7, 7))
    assert small.shape == (7, 7) and small[0, 0] == pytest.approx(fine[:2, :2].mean())
    assert small[6, 6] == pytest.approx(fine[12:, 12:].mean())
    coarse = np.array([[0.0, 1.0], [1.0, 2.0]])
    grown = R._resized(coarse, (4, 4))
    assert grown.shape == (4, 4) and grown.min() >= 0 and grown[0, 0] < grown[3, 3]
    same = np.ones((7, 7))
    assert R._resized(same, (7, 7)) is same


def test_the_readme_shows_the_room_example_exactly_as_the_file_the_app_test_runs():
    """README's "A whole round through the API" block is docs/room_client_example.py, character for
    character, so the app test that runs the file runs what the README shows."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    marker = "<!-- room_client_example:"
    assert readme.count(marker) == 1
    block = readme.split(marker, 1)[1].split("```python\n", 1)[1].split("```\n", 1)[0]
    assert block == (root / "docs" / "room_client_example.py").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the phones' cheap poll
def test_the_phone_stamp_changes_with_the_exercise_and_the_reveal_only():
    """What the phones poll changes when their view must (a push, the reveal, the room gone), and not
    when other phones join or answer: those change the facilitator's version, not the stamp."""
    assert R.phone_stamp("") is None and R.phone_stamp("ZZZZZ") is None and R.phone_stamp("<b>") is None
    o = opened()
    empty = R.phone_stamp(o.code)
    assert empty == "-.0"
    a = R.join(o.code, "Ada", None, "a")
    v0 = R.version(o.code)
    assert R.phone_stamp(o.code) == empty
    ex = synthetic_guess(o.code, o.key, _cam())
    pushed = R.phone_stamp(o.code)
    assert pushed == f"{ex.id}.0"
    R.join(o.code, "Bo", None, "b")
    R.answer(o.code, a.pid, [3], "a")
    assert R.version(o.code) > v0 and R.phone_stamp(o.code) == pushed  # the facilitator sees them; phones need not
    R.reveal(o.code, o.key)
    assert R.phone_stamp(o.code) == f"{ex.id}.1"
    assert R.phone_stamp(o.code.lower()) == f"{ex.id}.1"  # a code as typed
    R.close(o.code, o.key)
    assert R.phone_stamp(o.code) is None


def test_the_stamp_route_answers_before_gradio_and_passes_everything_else_on():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from gradcam_core.ui.serving import RoomStamp

    inner = Starlette(routes=[Route("/other", lambda request: PlainTextResponse("gradio"))])
    http = TestClient(RoomStamp(inner))
    o = opened()
    r = http.get("/room_stamp", params={"code": o.code})
    assert r.status_code == 200 and r.json() == {"stamp": "-.0"} and r.headers["cache-control"] == "no-store"
    ex = synthetic_guess(o.code, o.key, _cam())
    assert http.get("/room_stamp", params={"code": o.code}).json() == {"stamp": f"{ex.id}.0"}
    assert http.get("/some/prefix/room_stamp", params={"code": o.code}).json() == {"stamp": f"{ex.id}.0"}
    for code in ("", "NOPE1", "x" * 500, "'; drop table rooms; --"):
        gone = http.get("/room_stamp", params={"code": code})
        assert gone.status_code == 404 and gone.json() == {"stamp": None}
    assert http.post("/room_stamp", params={"code": o.code}).status_code == 405
    assert http.get("/other").text == "gradio"
