"""The room_* API against the launched app (``python app.py`` as a subprocess), through gradio_client:
the security rules as a caller meets them, the README's example round as it stands, and a
``kill -9`` in the middle of an exercise that loses no room, answer or nickname (SQLite)."""
from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from bench._server import free_port_in, stop_server
from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
#: this module's servers listen on ports of this range (the session's own)
PORTS = range(7500, 7600)
PASSWORD = "workshop password 7"
#: a phone that is not on this machine: uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind HAProxy
REMOTE = {"X-Forwarded-For": "203.0.113.7"}


def port_in_range() -> int:
    return free_port_in(PORTS[0], PORTS[-1])

def start(port: int, env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--concurrency", "1", "--threads", "1"],
                            cwd=ROOT, stdout=open(log, "a"), stderr=subprocess.STDOUT,
                            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", **env))
    for _ in range(1200):
        try:
            Client(f"http://127.0.0.1:{port}/", verbose=False)
            return proc
        except Exception:  # noqa: BLE001 - not listening yet
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()[-3000:])
            import time
            time.sleep(0.25)
    stop_server(proc)
    raise RuntimeError("server did not start")


def client(url: str, **headers: str) -> Client:
    return Client(url, verbose=False, ssl_verify=False, headers=headers or None)


def message(key: str, **values) -> str:
    """A refusal as a gradio_client caller reads it (the page's gr.Error text, HTML-escaped)."""
    return html.escape(say(key, **values))


def refused_with(text: str, fn, *args, **kw) -> None:
    with pytest.raises(Exception) as info:
        fn(*args, **kw)
    assert text in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a facilitator password and low rate limits (as a public server would run it)."""
    folder = tmp_path_factory.mktemp("rooms")
    port = port_in_range()
    proc = start(port, {"GRADCAM_ROOMS_DIR": str(folder), "GRADCAM_FACILITATOR_PASSWORD": PASSWORD,
                        "GRADCAM_ROOM_ANSWERS_PER_MINUTE": "5", "GRADCAM_ROOM_JOINS_PER_MINUTE": "4",
                        "GRADCAM_ROOM_MAX_PEOPLE": "6", "GRADCAM_ROOM_UPLOAD_MB": "1"},
                 folder / "server.log")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def room(server):
    facilitator = client(server)
    opened = facilitator.predict(api_name="/room_open")
    return facilitator, opened["code"], opened["key"]


def test_every_room_action_has_an_api_name_starting_room(server):
    from gradcam_core.ui.room_api import ENDPOINTS

    named = set(client(server).view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {f"/{n}" for n in ENDPOINTS} <= named
    assert all(n.startswith("/room_") for n in named if "room" in n)


def test_opening_a_room_from_this_machine_needs_no_password_and_answers_code_key_and_links(server, room):
    _, code, key = room
    assert len(code) == 5 and len(key) >= 32
    again = client(server).predict(api_name="/room_open")
    assert again["join_url"].endswith(f"/?room={again['code']}")
    assert again["facilitator_url"].endswith(f"/facilitator?room={again['code']}&key={again['key']}")


def test_from_elsewhere_only_the_facilitator_password_opens_a_room(server):
    remote = client(server, **REMOTE)
    refused_with(message("room.password_needed"), remote.predict, api_name="/room_open")
    refused_with(message("room.wrong_password"), remote.predict, "not it", api_name="/room_open")
    opened = remote.predict(PASSWORD, api_name="/room_open")
    assert len(opened["code"]) == 5
    # a forwarded-for header naming this machine, added by the phone itself, does not make it local
    spoof = client(server, **{"X-Forwarded-For": "127.0.0.1, 203.0.113.7"})
    refused_with(message("room.password_needed"), spoof.predict, api_name="/room_open")


def test_missing_or_wrong_codes_and_keys_get_clear_messages(server, room):
    facilitator, code, key = room
    other = client(server).predict(api_name="/room_open")
    for api in ("/room_status", "/room_results", "/room_close", "/room_reveal"):
        refused_with(message("room.no_code"), facilitator.predict, "", key, api_name=api)
        refused_with(message("room.unknown_code", code="AAAAA"), facilitator.predict, "AAAAA", key, api_name=api)
        refused_with(message("room.no_key"), facilitator.predict, code, "", api_name=api)
        refused_with(message("room.wrong_key"), facilitator.predict, code, "guessed-key", api_name=api)
        refused_with(message("room.wrong_key"), facilitator.predict, code, other["key"], api_name=api)
    refused_with(message("room.wrong_key"), facilitator.predict, code, other["key"], "guess", "digit:1",
                 api_name="/room_push")
    refused_with(message("room.wrong_key"), facilitator.predict, code, other["key"], "x", "approve",
                 api_name="/room_moderate")
    refused_with(message("room.no_code"), client(server).predict, "", "Ada", api_name="/room_join")
    refused_with(message("room.unknown_code", code="AAAAA"), client(server).predict, "AAAAA", "Ada",
                 api_name="/room_join")


def test_a_long_or_html_nickname_is_capped_and_kept_as_text(server, room):
    _, code, _ = room
    me = client(server).predict(code, "<img src=x onerror=alert(1)>" + "z" * 50, api_name="/room_join")
    assert me["nickname"] == "<img src=x onerror=alert(1)>"[:24] and len(me["nickname"]) == 24


def test_a_flood_of_joins_or_answers_from_one_session_is_refused(server, room):
    facilitator, code, key = room
    phone = client(server)
    pids = [phone.predict(code, f"p{i}", api_name="/room_join")["pid"] for i in range(4)]
    refused_with("Too many joins", phone.predict, code, "p5", api_name="/room_join")
    facilitator.predict(code, key, "guess", "digit:3", api_name="/room_push")
    for i in range(5):
        phone.predict(code, pids[0], [i], api_name="/room_answer")
    refused_with("Too many answers", phone.predict, code, pids[0], [9], api_name="/room_answer")
    assert client(server).predict(code, pids[0], api_name="/room_view")["my_cells"] == [4]


def test_bad_cells_and_answers_after_the_reveal_are_refused(server):
    facilitator = client(server)
    opened = facilitator.predict(api_name="/room_open")
    code, key = opened["code"], opened["key"]
    phone = client(server)
    pid = phone.predict(code, "", api_name="/room_join")["pid"]
    ex = facilitator.predict(code, key, "guess", "digit:7", api_name="/room_push")["exercise"]
    last = ex["grid"][0] * ex["grid"][1] - 1
    refused_with(message("room.too_many_cells", most=3), phone.predict, code, pid, [1, 2, 3, 4], api_name="/room_answer")
    refused_with(html.escape(say("room.not_a_cell", value="999", last=last)), phone.predict, code, pid, "999",
                 api_name="/room_answer")
    assert phone.predict(code, pid, "1,2", api_name="/room_answer") == {"cells": [1, 2]}
    facilitator.predict(code, key, api_name="/room_reveal")
    refused_with(message("room.answers_closed"), phone.predict, code, pid, [3], api_name="/room_answer")


def test_the_room_takes_at_most_the_set_number_of_phones(server):
    opened = client(server).predict(api_name="/room_open")
    code = opened["code"]
    for i in range(6):
        client(server).predict(code, f"p{i}", api_name="/room_join")
    refused_with(message("store.room_full", max_people=6), client(server).predict, code, "late", api_name="/room_join")


def test_nothing_a_phone_receives_carries_the_key_and_a_submission_waits_for_approval(server):
    facilitator = client(server)
    opened = facilitator.predict(api_name="/room_open")
    code, key = opened["code"], opened["key"]
    phone = client(server)
    me = phone.predict(code, "Ada", api_name="/room_join")
    answers = [me]
    facilitator.predict(code, key, "fool", api_name="/room_push")
    sub = phone.predict(code, me["pid"], handle_file(str(CAT)), api_name="/room_submit")
    answers.append(sub)
    assert len(sub["top5"]) == 5 and sub["top5"][0]["name"]
    answers.append(phone.predict(code, me["pid"], api_name="/room_view"))
    answers.append(phone.predict(code, api_name="/room_version"))
    assert all(key not in repr(a) for a in answers)
    queue = facilitator.predict(code, key, api_name="/room_queue")["submissions"]
    assert [(q["sid"], q["status"], q["nickname"]) for q in queue] == [(sub["sid"], "pending", "Ada")]
    assert facilitator.predict(code, key, "approved", api_name="/room_queue")["submissions"] == []
    facilitator.predict(code, key, sub["sid"], "approve", api_name="/room_moderate")
    assert [q["sid"] for q in facilitator.predict(code, key, "approved", api_name="/room_queue")["submissions"]] == [sub["sid"]]
    # a bad photo is refused like every other upload (the loader's own message, no stack trace)
    bad = Path(os.environ.get("TMPDIR", "/tmp")) / f"not-a-photo-{code}.png"
    bad.write_text("text, not pixels")
    with pytest.raises(Exception) as info:
        phone.predict(code, me["pid"], handle_file(str(bad)), api_name="/room_submit")
    assert "plain text, not image data" in str(info.value) and "Traceback" not in str(info.value)


def test_results_are_a_json_and_a_csv_file(server):
    facilitator = client(server)
    opened = facilitator.predict(api_name="/room_open")
    code, key = opened["code"], opened["key"]
    phone = client(server)
    pid = phone.predict(code, "Bo", api_name="/room_join")["pid"]
    facilitator.predict(code, key, "guess", "digit:3", api_name="/room_push")
    phone.predict(code, pid, [10, 11], api_name="/room_answer")
    assert facilitator.predict(code, key, api_name="/room_results")["slides"] == []  # nothing revealed yet
    facilitator.predict(code, key, api_name="/room_reveal")
    res = facilitator.predict(code, key, api_name="/room_results")
    import csv
    import json

    # one picture of the reveal, for slides: the class's taps, the Grad-CAM, the overlap side by side
    from PIL import Image
    (slide,) = res["slides"]
    w, h = Image.open(slide).size
    assert w > 2.5 * h

    data = json.loads(Path(res["json"]).read_text())
    assert data["exercises"][0]["answers"][0]["cells"] == [10, 11] and data == res["results"]
    rows = list(csv.DictReader(open(res["csv"], encoding="utf-8")))
    assert [(r["nickname"], r["cells"], r["kind"]) for r in rows] == [("Bo", "10 11", "guess")]


# --------------------------------------------------------------------------- restart, and the README's example
@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """The app as on a laptop: no password, default limits, its own rooms' folder. A test may kill and
    restart it (``holder["proc"]``): the fixture stops whichever process runs at the end."""
    folder = tmp_path_factory.mktemp("restart")
    env = {"GRADCAM_ROOMS_DIR": str(folder)}
    port = port_in_range()
    holder = {"url": f"http://127.0.0.1:{port}/", "port": port, "env": env, "log": folder / "server.log"}
    holder["proc"] = start(port, env, holder["log"])
    try:
        yield holder
    finally:
        stop_server(holder["proc"])


def test_on_a_public_server_without_a_password_rooms_are_off_and_the_message_says_how_to_turn_them_on(plain_server):
    refused_with("GRADCAM_FACILITATOR_PASSWORD", client(plain_server["url"], **REMOTE).predict, api_name="/room_open")
    refused_with(message("room.off_public"), client(plain_server["url"], **REMOTE).predict, "a guess",
                 api_name="/room_open")


def test_kill_9_mid_exercise_loses_no_room_answer_or_nickname(plain_server):
    url = plain_server["url"]
    facilitator = client(url)
    opened = facilitator.predict(api_name="/room_open")
    code, key = opened["code"], opened["key"]
    phones = [(client(url), n) for n in ("Ada", "Bo", "")]
    people = [(c, c.predict(code, n, api_name="/room_join")) for c, n in phones]
    ex = facilitator.predict(code, key, "guess", "example:chelsea_cat.jpg", api_name="/room_push")["exercise"]
    people[0][0].predict(code, people[0][1]["pid"], [8, 9], api_name="/room_answer")
    people[1][0].predict(code, people[1][1]["pid"], "24", api_name="/room_answer")
    assert facilitator.predict(code, key, api_name="/room_status")["answered"] == 2
    plain_server["proc"].send_signal(signal.SIGKILL)
    plain_server["proc"].wait(timeout=30)
    plain_server["proc"] = start(plain_server["port"], plain_server["env"], plain_server["log"])
    phone = client(url)
    for (_, me), cells in zip(people, ([8, 9], [24], [])):
        view = phone.predict(code, me["pid"], api_name="/room_view")
        assert (view["nickname"], view["my_cells"], view["exercise"]["id"]) == (me["nickname"], cells, ex["id"])
    back = phone.predict(code, "", people[2][1]["pid"], api_name="/room_join")
    assert back == people[2][1]  # a reloaded phone is back under its default nickname
    status = client(url).predict(code, key, api_name="/room_status")
    assert (status["people"], status["answered"]) == (3, 2)
    reveal = client(url).predict(code, key, api_name="/room_reveal")
    assert reveal["numbers"]["answered"] == 2
    assert {name: row["cells"] for name, row in reveal["scores"].items()} == {"Ada": [8, 9], "Bo": [24]}


def test_the_readme_example_runs_a_whole_round_as_it_stands(plain_server):
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "room_client_example.py"), plain_server["url"]],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "joined: Ada" in out and "joined: Grace" in out
    assert "3 phones joined, 3 answered" in out and " closed" in out
    assert out.count(": cells [") == 3  # each phone's own score after the reveal
