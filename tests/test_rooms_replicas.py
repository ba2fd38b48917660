"""Issue 26, "beyond one box": one workshop room across two replicas, and a kill -9 that loses nothing.

* **Redis** (several boxes): Debian's ``redis-server`` (started here, AOF on) and two ``python app.py``
  on two ports with the same ``GRADCAM_ROOMS_URL``. The facilitator opens the room on replica A,
  phones join on A and on B, the facilitator pushes on A, everyone answers, the facilitator reveals
  on B: every answer is counted. Then both replicas *and* Redis are killed with SIGKILL and started
  again: the room, its exercise, every answer and nickname are back (``room_view`` with the old pid,
  asked of the other replica), and the reveal gives the same numbers.
* **SQLite** (one box): ``bash deploy/replicas.sh 2 PORT``, whose replicas share one file in
  ``$RUN_DIR/rooms``. The facilitator goes through HAProxy (from this machine: X-Forwarded-For is
  loopback, so it may open a room), the phones straight to each replica. Both replicas are killed with
  SIGKILL and two new ones started on the same ports and file: nothing is lost, through either
  replica and through HAProxy again.

All through ``gradio_client`` and the ``room_*`` API, as a script or a page would.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from bench._redis import WHY_MISSING, redis_available, start_redis, stop_redis
from bench._server import free_port, make_client, start_server, stop_server

ROOT = Path(__file__).resolve().parents[1]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
#: four phones: a nickname (one left empty: the friendly default), the replica it joins on, its cells
PHONES = [("Ada", 0, [0, 1]), ("Bo", 0, [9]), ("", 1, [10, 11, 12]), ("Di <b>", 1, "14, 15")]


def _env(**extra: str) -> dict:
    env = {"GRADCAM_ALLOW_DOWNLOAD": "0", "GRADCAM_HOST": "127.0.0.1"}
    env.update(extra)
    return env


def _start(port: int, env: dict) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:port (one torch thread: four of them share two cores)."""
    for name in ("GRADCAM_ROOMS_URL", "GRADCAM_ROOMS_DIR"):
        if name not in env:
            env[name] = ""  # this process's own setting must not leak into the replica
    proc, _ = start_server(port, concurrency=1, env=env, extra_args=["--host", "127.0.0.1", "--threads", "1"])
    return proc


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _kill_9(proc: subprocess.Popen | int) -> None:
    if isinstance(proc, int):
        try:
            os.kill(proc, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(100):  # the replica is the script's child: wait until it is gone (or a zombie)
            try:
                if Path(f"/proc/{proc}/stat").read_text().split(") ")[1][0] == "Z":
                    return
            except OSError:
                return
            time.sleep(0.1)
        return
    proc.kill()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _show_logs(paths: list[Path]) -> None:
    """On a failure: the end of every log, in the test's captured output (pytest shows it)."""
    for path in paths:
        try:
            lines = path.read_text(errors="replace").splitlines()[-25:]
        except OSError:
            continue
        print(f"--- the end of {path}", *lines, sep="\n")


def _play_round(facilitator_url: str, replica_urls: list[str]) -> dict:
    """Open a room (on ``facilitator_url``), push a guess on replica A, join and answer the phones on
    their replicas, reveal on replica B. Returns what must survive."""
    fac = make_client(facilitator_url)
    opened = fac.predict(api_name="/room_open")
    code, key = opened["code"], opened["key"]
    fac_a, fac_b = make_client(replica_urls[0]), make_client(replica_urls[1])
    pushed = fac_a.predict(code, key, "guess", "digit:3", "", "", "", "", "", api_name="/room_push")["exercise"]
    assert pushed["kind"] == "guess" and pushed["model"] == "lenet" and not pushed["revealed"]
    phones = []
    for nickname, replica, cells in PHONES:
        client = make_client(replica_urls[replica])
        joined = client.predict(code, nickname, "", api_name="/room_join")
        kept = client.predict(code, joined["pid"], cells, api_name="/room_answer")["cells"]
        phones.append({"client": client, "replica": replica, "pid": joined["pid"], "nickname": joined["nickname"],
                       "cells": kept})
    assert [p["cells"] for p in phones] == [[0, 1], [9], [10, 11, 12], [14, 15]]
    assert phones[0]["nickname"] == "Ada" and phones[2]["nickname"]  # a friendly default, not empty
    # the counts reach the facilitator on either replica
    for f in (fac_a, fac_b):
        status = f.predict(code, key, api_name="/room_status")
        assert (status["people"], status["answered"], status["kind"]) == (4, 4, "guess")
    revealed = fac_b.predict(code, key, "", "", api_name="/room_reveal")
    numbers = revealed["numbers"]
    assert numbers["answered"] == 4 and sum(map(sum, numbers["counts"])) == 1 + 2 + 3 + 2
    assert set(revealed["scores"]) == {p["nickname"] for p in phones}
    for p in phones:  # each phone, on its own replica, sees the reveal and its own score
        view = p["client"].predict(code, p["pid"], api_name="/room_view")
        assert view["revealed"] and view["my_cells"] == p["cells"] and view["nickname"] == p["nickname"]
        assert view["my_score"] == revealed["scores"][p["nickname"]] and view["my_score"]["cells"] == p["cells"]
        p["score"] = view["my_score"]
    return {"code": code, "key": key, "exercise": pushed, "numbers": numbers, "scores": revealed["scores"],
            "phones": [{k: v for k, v in p.items() if k != "client"} for p in phones]}


def _assert_round_survived(kept: dict, replica_urls: list[str], facilitator_url: str | None = None) -> None:
    code, key = kept["code"], kept["key"]
    for p in kept["phones"]:
        other = make_client(replica_urls[1 - p["replica"]])  # asked of the replica it did not join on
        view = other.predict(code, p["pid"], api_name="/room_view")
        assert view["nickname"] == p["nickname"] and view["my_cells"] == p["cells"]
        assert view["revealed"] and view["my_score"] == p["score"]
        assert view["exercise"]["id"] == kept["exercise"]["id"]
        # a phone that reloads joins with its old pid and is back under its nickname
        again = other.predict(code, "", p["pid"], api_name="/room_join")
        assert again == {"pid": p["pid"], "nickname": p["nickname"]}
    for url in [*replica_urls, *([facilitator_url] if facilitator_url else [])]:
        fac = make_client(url)
        status = fac.predict(code, key, api_name="/room_status")
        assert (status["people"], status["answered"], status["revealed"]) == (4, 4, True)
    again = make_client(replica_urls[0]).predict(code, key, "", "", api_name="/room_reveal")
    assert again["numbers"] == kept["numbers"] and again["scores"] == kept["scores"]


@pytest.mark.skipif(not redis_available(), reason=WHY_MISSING)
def test_a_room_across_two_replicas_on_redis_survives_kill_9(tmp_path):
    redis_proc, url = start_redis(tmp_path / "redis")
    redis_port = int(re.search(r":(\d+)/", url).group(1))
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}/" for p in ports]
    apps = [_start(p, _env(GRADCAM_ROOMS_URL=url)) for p in ports]
    try:
        kept = _play_round(urls[0], urls)
        for app in apps:  # both replicas crash
            _kill_9(app)
        stop_redis(redis_proc, kill=True)  # and so does Redis
        assert redis_proc.returncode == -signal.SIGKILL
        redis_proc, url = start_redis(tmp_path / "redis", port=redis_port)  # its append-only file
        apps = [_start(p, _env(GRADCAM_ROOMS_URL=url)) for p in ports]
        _assert_round_survived(kept, urls)
    except BaseException:
        _show_logs([ROOT / "test-artifacts" / f"bench-server-{p}.log" for p in ports] + [tmp_path / "redis" / "redis.log"])
        raise
    finally:
        for app in apps:
            stop_server(app)
        stop_redis(redis_proc)


@pytest.mark.skipif(not Path(HAPROXY).exists(), reason="HAProxy is not installed: tests/run.sh (or "
                    "deploy/replicas.sh) installs Debian's haproxy with apt-get")
def test_a_room_across_deploy_replicas_on_one_sqlite_file_survives_kill_9(tmp_path):
    run_dir = tmp_path / "run"
    port = free_port()
    env = dict(os.environ, GRADCAM_REPLICAS_DIR=str(run_dir), GRADIO_ANALYTICS_ENABLED="False", **_env())
    for name in ("GRADCAM_ROOMS_URL", "GRADCAM_ROOMS_DIR", "GRADCAM_LINK_DIR"):
        env.pop(name, None)
    out_path = tmp_path / "script.out"
    script = subprocess.Popen(["bash", "deploy/replicas.sh", "2", str(port), "--threads", "1"], cwd=ROOT, env=env,
                              stdout=open(out_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    restarted: list[subprocess.Popen] = []
    replicas: list[tuple[int, int]] = []
    try:
        deadline = time.time() + 400
        while "Ctrl-C stops them all" not in out_path.read_text():
            assert script.poll() is None, out_path.read_text()
            assert time.time() < deadline, out_path.read_text()
            time.sleep(0.5)
        text = out_path.read_text()
        replicas = [(int(pid), int(p)) for pid, p in re.findall(r"replica r\d: pid (\d+), 127\.0\.0\.1:(\d+)", text)]
        assert len(replicas) == 2, text
        rooms_file = run_dir / "rooms" / "rooms.sqlite3"
        assert f"workshop rooms in {rooms_file}" in text
        urls = [f"http://127.0.0.1:{p}/" for _, p in replicas]
        balancer = f"http://127.0.0.1:{port}/"
        # the script prints its address as it starts HAProxy in the background: wait until it listens
        deadline = time.time() + 60
        while not _listening(port):
            assert script.poll() is None and time.time() < deadline, out_path.read_text()
            time.sleep(0.2)
        kept = _play_round(balancer, urls)  # opened through HAProxy: from this machine, so allowed
        assert rooms_file.stat().st_size > 0
        for pid, _ in replicas:
            _kill_9(pid)
        restarted = [_start(p, _env(GRADCAM_ROOMS_DIR=str(run_dir / "rooms"))) for _, p in replicas]
        deadline = time.time() + 60  # HAProxy takes the replicas back at its next health check
        while True:
            try:
                make_client(balancer)
                break
            except Exception:  # noqa: BLE001 (503 until a replica is up again)
                assert time.time() < deadline, "HAProxy did not take the restarted replicas back"
                time.sleep(1)
        _assert_round_survived(kept, urls, balancer)
    except BaseException:
        _show_logs([out_path, *sorted(run_dir.glob("*.log")),
                    *[ROOT / "test-artifacts" / f"bench-server-{p}.log" for p in (port_ for _, port_ in replicas)]])
        raise
    finally:
        for app in restarted:
            stop_server(app)
        if script.poll() is None:
            script.send_signal(signal.SIGINT)
            try:
                script.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(script.pid, signal.SIGKILL)
