"""Workshop rooms under load (issue 26): 30 phones in a room, a quick request beside them, the reveal.

    python bench/bench_rooms.py                       # SQLite store (the default), 30 phones
    python bench/bench_rooms.py --store redis         # a redis-server started here (Debian's package)
    python bench/bench_rooms.py --phones 30 --reps 40 --rounds 3 --period 1.5

Starts a fresh ``python app.py`` on a free loopback port (its rooms' store in a new temp folder, or
on a Redis started here). The phones and the facilitator are ``gradio_client`` Clients (one per
phone, each on a thread of its own, as 30 phones are 30 sessions); the timed quick request goes over
plain HTTP (``/gradio_api/call/…`` and its event stream, as a browser's request is answered), since
gradio_client's own wait loop rounds every latency up to the next 50 ms:

1. the facilitator opens a room and pushes a guess exercise (a held-out digit); one phone's two
   polls are timed alone; then --phones phones join (one gradio_client session each);
2. four phases, in turn, --rounds times (so the machine's drift falls on each alike), each timing
   --reps quick requests one after another (``/mnist_explain_index``, a held-out digit with LeNet:
   the quickest real explanation):
   * **alone**: the phones are silent;
   * **idle**: each phone polls as the page does: every --period seconds the plain route
     ``/room_stamp`` (no Gradio event; ``ui.serving.RoomStamp``), and ``room_view`` (picture, grid,
     own cells) only when the stamp changed (a push, the reveal);
   * **busy**: besides polling, every phone sends an answer (1–3 random cells) at half of its
     ticks (≈ phones ÷ (2 × period) answers a second, a class answering far faster than a real one;
     answers change the facilitator's version, not the phones' stamp, so no phone refetches its view);
   * **busy, no views**: the same answers and stamp polls, and no phone fetches its view even on a
     change (kept from the version-polling design, where it told the two costs apart);
3. **reveal**: answers stop (every phone has answered at least once), the phones poll; the
   facilitator calls ``room_reveal``; the time from that call until every phone's ``room_view``
   shows the reveal is the time to reveal for everyone.

Before its quick requests, each phase also runs 4 periods with the phones alone (no quick request):
the server's CPU then is what the phones cost it, a figure other work on the machine barely moves.

Reported: p50 and p95 of the quick request in each phase, the ratios idle ÷ alone and busy ÷ alone
(within this one run), the phones' request rate, the server's CPU per second in each phase (from
/proc) and this process's (the phones' clients share the machine with the server), the reveal's
times (the call; the first, median and last phone seeing it), and the store's own cost per call.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._server import free_port, make_client, start_server, stop_server  # noqa: E402

QUICK = "/mnist_explain_index"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, q))


class Phone(threading.Thread):
    """One phone: joins, then polls the version every ``period`` s and fetches its view on a change;
    in ``busy`` mode it also answers at half of its ticks."""

    def __init__(self, url: str, code: str, period: float, grid: tuple[int, int], seed: int) -> None:
        super().__init__(daemon=True)
        import httpx

        self.client = make_client(url)
        self.http = httpx.Client(timeout=60)  # the stamp route is plain HTTP, read as the page's script reads it
        self.url = url.rstrip("/")
        self.code, self.period, self.grid = code, period, grid
        self.rng = random.Random(seed)
        self.pid = self.client.predict(code, "", "", api_name="/room_join")["pid"]
        self.mode = "off"  # off (silent), idle (polls), busy (polls and answers)
        self.stop = threading.Event()
        self.stamp = None
        self.revealed_at: float | None = None
        self.requests = self.answers = 0
        self.errors: list[str] = []

    def answer(self) -> None:
        cells = self.rng.sample(range(self.grid[0] * self.grid[1]), self.rng.randint(1, 3))
        self.client.predict(self.code, self.pid, cells, api_name="/room_answer")
        self.requests += 1
        self.answers += 1

    def run(self) -> None:
        next_tick = time.monotonic() + self.rng.uniform(0, self.period)  # phones are not in step
        while not self.stop.is_set():
            delay = next_tick - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            next_tick += self.period
            if self.mode == "off":
                continue
            try:
                if self.mode in ("busy", "answers") and self.rng.random() < 0.5:
                    self.answer()
                r = self.http.get(f"{self.url}/room_stamp", params={"code": self.code})  # as the page polls
                self.requests += 1
                stamp = r.json().get("stamp")
                if stamp != self.stamp and self.mode != "answers":
                    view = self.client.predict(self.code, self.pid, api_name="/room_view")
                    self.requests += 1
                    self.stamp = stamp
                    if view["revealed"] and self.revealed_at is None:
                        self.revealed_at = time.perf_counter()
            except Exception as err:  # noqa: BLE001 (counted and reported, the phone goes on)
                self.errors.append(f"{type(err).__name__}: {err}"[:200])


def store_costs(url: str, phones: int) -> dict[str, float]:
    """µs per call of the store's own operations, in this process (no server): a room with
    ``phones`` people and answers; each the median of 5 runs of a loop."""
    from gradcam_core.rooms.store import open_store

    store = open_store(url)
    code = "BENCH"
    store.close_room(code)
    store.create_room(code, "h", 3600, 10**6)
    store.set_exercise(code, {"id": "e1", "kind": "guess", "grid": [7, 7], "cam": [[0.5] * 7] * 7})
    for i in range(phones):
        store.join(code, f"p{i:04d}", f"Nick {i}", 10**6)
        store.put_answer(code, "e1", f"p{i:04d}", {"cells": [i % 49]})
    calls = {"version": (lambda: store.version(code), 2000), "counts": (lambda: store.counts(code, "e1"), 1000),
             "room (with its exercise)": (lambda: store.room(code), 1000),
             f"answers ({phones})": (lambda: store.answers(code, "e1"), 200),
             "put_answer": (lambda: store.put_answer(code, "e1", "p0000", {"cells": [1, 2]}), 300)}
    out = {}
    for name, (fn, n) in calls.items():
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(n):
                fn()
            runs.append((time.perf_counter() - t) / n * 1e6)
        out[name] = statistics.median(runs)
    store.close_room(code)
    store.close()
    return out


class Http:
    """One endpoint call over plain HTTP, as a browser's request is answered: ``POST
    /gradio_api/call/<name>`` then its event stream, read until the result arrives. (gradio_client
    waits for its stream's messages in 50 ms sleeps, which would round every latency up to the next
    50 ms: the quick request is timed without it.)"""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=60)

    def call(self, api_name: str, data: list) -> list:
        import json

        name = api_name.lstrip("/")
        r = self.http.post(f"{self.url}/gradio_api/call/{name}", json={"data": data})
        r.raise_for_status()
        event = None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{name}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    if event == "error":
                        raise RuntimeError(f"{api_name}: {line[5:].strip()}")
                    return json.loads(line[5:])
        raise RuntimeError(f"{api_name}: the stream ended without a result")


def quick_args(url: str) -> list:
    """The quick request's arguments: a digit index, then every other parameter's default."""
    info = make_client(url).view_api(print_info=False, return_format="dict")["named_endpoints"][QUICK]
    return [0, *[p.get("parameter_default") for p in info["parameters"][1:]]]


def quick_run(http: Http, args: list, reps: int, offset: int) -> list[float]:
    out = []
    for i in range(reps):
        t = time.perf_counter()
        http.call(QUICK, [(offset + i) % 1000, *args[1:]])
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phones", type=int, default=30)
    ap.add_argument("--reps", type=int, default=40, help="quick requests per phase and round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the phases (alone, idle, busy, busy without views)")
    ap.add_argument("--period", type=float, default=1.5, help="seconds between a phone's polls (the page's gr.Timer)")
    ap.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()

    load = os.getloadavg()[0]  # other work on the machine: the figures are only as quiet as it is
    folder = Path(tempfile.mkdtemp(prefix="bench-rooms-"))
    env = {"GRADCAM_ROOMS_DIR": str(folder / "rooms"), "GRADCAM_ROOMS_URL": "",
           "GRADCAM_ALLOW_DOWNLOAD": "0"}
    redis_proc = None
    if args.store == "redis":
        from bench._redis import WHY_MISSING, redis_available, start_redis

        if not redis_available():
            raise SystemExit(WHY_MISSING)
        redis_proc, env["GRADCAM_ROOMS_URL"] = start_redis(folder / "redis")
    costs = store_costs(env["GRADCAM_ROOMS_URL"] or f"sqlite:///{folder / 'costs.sqlite3'}", args.phones)
    port = free_port()
    server, _ = start_server(port, concurrency=args.concurrency, env=env)
    url = f"http://127.0.0.1:{port}/"
    phones: list[Phone] = []
    try:
        quick, qargs = Http(url), quick_args(url)
        quick_run(quick, qargs, 3, 900)  # warm up
        modes = {"alone": "off", "idle": "idle", "busy": "busy", "busy, no views": "answers"}
        phases = {name: {"lat": [], "cpu": 0.0, "client_cpu": 0.0, "requests": 0, "seconds": 0.0,
                         "own_cpu": 0.0, "own_seconds": 0.0, "own_requests": 0} for name in modes}

        def phones_only(name: str, seconds: float) -> None:
            """The server's CPU with only the phones at work (no quick request): what they cost it."""
            c0, r0, t0 = _cpu_seconds(server.pid), sum(p.requests for p in phones), time.perf_counter()
            time.sleep(seconds)
            ph = phases[name]
            ph["own_seconds"] += time.perf_counter() - t0
            ph["own_cpu"] += _cpu_seconds(server.pid) - c0
            ph["own_requests"] += sum(p.requests for p in phones) - r0

        def measure(name: str, offset: int) -> None:
            c0, r0, t0 = _cpu_seconds(server.pid), sum(p.requests for p in phones), time.perf_counter()
            b0 = time.process_time()
            lat = quick_run(quick, qargs, args.reps, offset)
            ph = phases[name]
            ph["lat"] += lat
            ph["seconds"] += time.perf_counter() - t0
            ph["cpu"] += _cpu_seconds(server.pid) - c0
            ph["client_cpu"] += time.process_time() - b0
            ph["requests"] += sum(p.requests for p in phones) - r0
            print(f"{name}: p50 {_pct(lat, 50) * 1000:.0f} ms, p95 {_pct(lat, 95) * 1000:.0f} ms", flush=True)

        fac = make_client(url)
        opened = fac.predict(api_name="/room_open")
        code, key = opened["code"], opened["key"]
        exercise = fac.predict(code, key, "guess", "digit:3", "", "", "", "", "", api_name="/room_push")["exercise"]
        grid = tuple(exercise["grid"])
        # one phone's two polls, alone (median of 20 each): the cheap one, and the view it fetches on a change
        probe = make_client(url)
        probe_pid = probe.predict(code, "probe", "", api_name="/room_join")["pid"]
        single = {}
        for name, call in (("room_stamp", lambda: quick.http.get(f"{quick.url}/room_stamp", params={"code": code})),
                           ("room_version", lambda: quick.call("/room_version", [code])),
                           ("room_view", lambda: quick.call("/room_view", [code, probe_pid]))):
            times = []
            for _ in range(20):
                t = time.perf_counter()
                call()
                times.append(time.perf_counter() - t)
            single[name] = statistics.median(times)
        t_join = time.perf_counter()
        phones = [Phone(url, code, args.period, grid, seed=i) for i in range(args.phones)]
        join_s = time.perf_counter() - t_join
        for p in phones:
            p.start()
        # alone, idle, busy, in turn, --rounds times: the machine's drift falls on every phase alike
        for r in range(args.rounds):
            for k, (name, mode) in enumerate(modes.items()):
                for p in phones:
                    p.mode = mode
                time.sleep(args.period + 0.5)  # every phone has had a tick in its new mode
                phones_only(name, 4 * args.period)
                measure(name, 400 * r + 100 * k)
        for p in phones:
            p.mode = "idle"
        time.sleep(args.period)
        for p in phones:
            if p.answers == 0:
                p.answer()
        status = fac.predict(code, key, api_name="/room_status")
        assert status["people"] == args.phones + 1 and status["answered"] == args.phones, status
        time.sleep(2 * args.period)  # every phone has seen the last answers' version
        t0 = time.perf_counter()
        revealed = fac.predict(code, key, "", "", api_name="/room_reveal")
        call_s = time.perf_counter() - t0
        deadline = time.monotonic() + 60
        while any(p.revealed_at is None for p in phones) and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = sorted((p.revealed_at - t0) for p in phones if p.revealed_at is not None)
        assert revealed["numbers"]["answered"] == args.phones
        for p in phones:
            p.stop.set()
        for p in phones:
            p.join(timeout=30)
        errors = [e for p in phones for e in p.errors]
    finally:
        for p in phones:
            p.stop.set()
        stop_server(server)
        if redis_proc is not None:
            from bench._redis import stop_redis

            stop_redis(redis_proc)

    alone = _pct(phases["alone"]["lat"], 95)
    print()
    print(f"{platform.machine()} · {os.cpu_count()} cores (load average before: {load:.2f}) · store {args.store} · {args.phones} phones polling every "
          f"{args.period} s · {args.rounds} rounds × {args.reps} quick requests ({QUICK}) per phase · concurrency {args.concurrency}")
    print()
    print("| phase | quick p50 | quick p95 | p95 ÷ alone | phones' requests/s | server CPU (cores) | phones' CPU, this process (cores) "
          "| the phones alone: server CPU (cores), per phone request |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ph in phases.items():
        p95 = _pct(ph["lat"], 95)
        own = ph["own_cpu"] / ph["own_seconds"]
        per = f"{ph['own_cpu'] / ph['own_requests'] * 1000:.1f} ms" if ph["own_requests"] else "–"
        print(f"| {name} | {_pct(ph['lat'], 50) * 1000:.0f} ms | {p95 * 1000:.0f} ms | {p95 / alone:.2f}× | "
              f"{ph['requests'] / ph['seconds']:.1f} | {ph['cpu'] / ph['seconds']:.2f} | {ph['client_cpu'] / ph['seconds']:.2f} "
              f"| {own:.3f}, {per} |")
    print()
    print(f"one phone's requests alone (median of 20): room_stamp {single['room_stamp'] * 1000:.1f} ms (plain route), "
          f"room_version {single['room_version'] * 1000:.0f} ms, "
          f"room_view {single['room_view'] * 1000:.0f} ms")
    print(f"{args.phones} phones joined in {join_s:.1f} s (one after another, each a new gradio_client session).")
    print(f"reveal: the call took {call_s * 1000:.0f} ms; phones saw it after {seen[0]:.2f} s (first), "
          f"{statistics.median(seen):.2f} s (median), {seen[-1]:.2f} s (last of {len(seen)}/{args.phones})")
    print("store operations in-process, µs per call: " + ", ".join(f"{k} {v:.0f}" for k, v in costs.items()))
    print(f"phone errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))


if __name__ == "__main__":
    main()
