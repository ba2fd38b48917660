"""The ImageNet page's answer through the launched app, with the floor and one Lite0 forward in the same run
(issue 27's ImageNet target: a page's answer ≤ floor + 2× a forward, server CPU).

    python bench/bench_page_served.py                          # this checkout, n = 40, 2 rounds
    python bench/bench_page_served.py --n 30 /tmp/base .       # two checkouts, A B A B
    python bench/bench_page_served.py --json served.json
    python bench/bench_page_served.py --clients 30 --per-client 2 --rounds 2 /tmp/base .   # §5: pages at once
    python bench/bench_page_served.py --clients 30 --rounds 1 --spy .                       # + py-spy on the server

What one answer is here: what a phone's page makes the server do for one new photo with every
accordion closed, driven over HTTP from the app's own config (no browser on the shared cores):

1. the photo's upload (``POST /gradio_api/upload``) and the photo's ``upload`` events that run on the
   server (the page fires them: any dependency targeting ``(photo, "upload")`` with a Python function);
2. the page's private answer event (``imagenet_run``, or ``imagenet_explain`` on a checkout from before
   the page had its own event), joined through the queue with its ``fn_index`` as the page does
   (gradio_client refuses private events), its stream read to the end;
3. the follow-ups the page makes because of that answer: the ``change`` events of the gr.States the
   answer changed (``changed_state_ids``) and the events chained after it (``.then``/``.success``) that
   run Python; the files the answer names in a gallery (the page fetches them at once).

Server CPU per answer = the app process's utime + stime (/proc/PID/stat) over ``n`` answers after 3 to
warm up, ÷ n, split by phase (CPU read between the phases; the server is idle in between). The same
server's CPU over an idle period as long as the answers is measured after them and reported (background
threads), not subtracted. The floor is bench_cost's bare Blocks app (one event returning a small
gr.Label) launched and called the same way (queue join, stream); the forward is bench_cost's: one Lite0
forward, 224², batch 1, inference mode, CPU; the minimum of 30 with 2 threads is the issue's measure.
After the answers, the steps are opened 10 times (each after a new answer, not counted): the expand
event ``imagenet_open_steps`` and the gallery's file fetches; CPU, bytes, and bytes ÷ 4 Mbit/s + CPU.

``--clients N``: N pages at once (threads, each its own session: the page's config and one untimed answer
first, as BENCHMARKS §5's clients), each ``--per-client`` new photos one after the other; p50/p95 of the
time to the answer, throughput, and §5's ideal last answer = ceil(N / 2 workers) × one page's answer alone
(median of 7); the server's CPU per answer over the run. The checkouts in the same order each round.
Ports 7900–7949.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_cost  # noqa: E402
from _photos import turned_cats  # noqa: E402
from _server import free_port_in, stop_server  # noqa: E402

PORTS = (7900, 7949)
SETTINGS = ("efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)


def port() -> int:
    return free_port_in(*PORTS)


bench_cost.port_in_range = lambda lo=PORTS[0], hi=PORTS[1]: free_port_in(lo, hi)  # this bench's ports


class Page:
    """A page's session on a launched app: its config, and the calls the page makes."""

    def __init__(self, http, url: str):
        self.http, self.url = http, url
        self.config = http.get(url + "config").json()
        self.deps = {d["id"]: d for d in self.config["dependencies"]}
        self.by_api = {d.get("api_name"): d for d in self.config["dependencies"] if d.get("api_name")}
        self.components = {c["id"]: c for c in self.config["components"]}
        self.session = uuid.uuid4().hex[:11]
        self.bytes_in = 0

    def component(self, elem_id: str) -> int:
        return next(i for i, c in self.components.items() if c.get("props", {}).get("elem_id") == elem_id)

    def _data(self, dep: dict, given: dict[int, object]) -> list:
        return [given.get(i) for i in dep["inputs"]]

    def call(self, dep: dict, given: dict[int, object] | None = None, trigger: int | None = None) -> dict:
        """One event as the page sends it (queued: join + stream; not queued: ``/run/predict``)."""
        body = {"data": self._data(dep, given or {}), "event_data": None, "fn_index": dep["id"],
                "trigger_id": trigger, "session_hash": self.session}
        if not dep.get("queue", True) or dep.get("queue") is False:
            r = self.http.post(self.url + "gradio_api/run/predict", json=body)
            r.raise_for_status()
            self.bytes_in += len(r.content)
            return r.json()
        r = self.http.post(self.url + "gradio_api/queue/join", json=body)
        r.raise_for_status()
        with self.http.stream("GET", self.url + "gradio_api/queue/data",
                              params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                self.bytes_in += len(line) + 1
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        if not msg.get("success", False):
                            raise RuntimeError(str(msg)[:400])
                        return msg["output"]
        raise RuntimeError("the stream ended before the answer")

    def upload(self, path: str) -> dict:
        with open(path, "rb") as f:
            r = self.http.post(self.url + "gradio_api/upload", files={"files": (Path(path).name, f, "image/jpeg")})
        r.raise_for_status()
        server_path = r.json()[0]
        return {"path": server_path, "url": f"{self.url}gradio_api/file={server_path}", "orig_name": Path(path).name,
                "size": os.path.getsize(path), "mime_type": "image/jpeg", "meta": {"_type": "gradio.FileData"}}

    def python_deps(self, target: int, event: str) -> list[dict]:
        """The events the page fires on ``target``'s ``event`` that run Python on the server."""
        return [d for d in self.deps.values() if d.get("backend_fn") and [target, event] in
                [list(t) for t in d.get("targets", [])]]

    def chained(self, dep: dict) -> list[dict]:
        """The events chained after ``dep`` (.then / .success) that run Python."""
        return [d for d in self.deps.values() if d.get("trigger_after") == dep["id"] and d.get("backend_fn")
                and not d.get("trigger_only_on_failure")]


def _gallery_urls(page: Page, dep: dict, output: dict) -> list[str]:
    urls = []
    for comp_id, value in zip(dep["outputs"], output.get("data", [])):
        if page.components.get(comp_id, {}).get("type") != "gallery" or not value:
            continue
        items = value.get("value", value) if isinstance(value, dict) else value
        for item in items or []:
            img = item.get("image") if isinstance(item, dict) else None
            if isinstance(img, dict) and img.get("url"):
                urls.append(img["url"])
    return urls


class Flow:
    """What the page of ``root``'s app does for one new photo (see the module's text), found in its config."""

    def __init__(self, page: Page):
        self.page = page
        self.run = page.by_api.get("imagenet_run") or page.by_api["imagenet_explain"]
        self.photo_id = page.component("imagenet-photo")
        self.on_upload = page.python_deps(self.photo_id, "upload")
        self.after = page.chained(self.run)
        # before issue 27 the page's router re-set the other queue's hidden box too, so that queue's
        # event ran (and did nothing) with every answer; since, the router leaves it alone (``undefined``)
        route = next((d for d in page.deps.values() if [self.photo_id, "change"] in [list(t) for t in d["targets"]]
                      and d.get("js")), None)
        other = page.by_api.get("imagenet_run_slow")
        self.other = other if route is not None and "undefined" not in route["js"] and other else None

    def answer(self, path: str, token: str, pid: int | None = None, phases: dict | None = None,
               counts: dict | None = None) -> tuple[float, float]:
        """One new photo, as the page handles it; (seconds to the answer, seconds to the last follow-up).
        With ``pid``, the server's CPU is added to ``phases`` by phase."""
        page, t = self.page, time.perf_counter()
        phases = phases if phases is not None else {}
        counts = counts if counts is not None else {}
        c = bench_cost.cpu_of(pid) if pid else 0.0

        def tick(name: str) -> None:
            nonlocal c
            if pid:
                now = bench_cost.cpu_of(pid)
                phases[name] = phases.get(name, 0.0) + now - c
                c = now

        photo = page.upload(path)
        tick("upload")
        for d in self.on_upload:
            page.call(d, {self.photo_id: photo}, trigger=self.photo_id)
            counts["upload events"] = counts.get("upload events", 0) + 1
        tick("upload events")
        given = {self.photo_id: photo}
        for comp_id, value in zip(self.run["inputs"], _run_values(self.run, page, token)):
            given.setdefault(comp_id, value)
        before = page.bytes_in
        out = page.call(self.run, given)
        shown = time.perf_counter() - t
        counts["answer KB"] = counts.get("answer KB", 0) + (page.bytes_in - before) / 1000
        tick("answer")
        if self.other is not None:
            page.call(self.other, given)
            counts["other queue"] = counts.get("other queue", 0) + 1
        tick("other queue")
        for sid in out.get("changed_state_ids") or []:
            for d in page.python_deps(sid, "change"):
                page.call(d, {}, trigger=sid)
                counts["state changes"] = counts.get("state changes", 0) + 1
        tick("state changes")
        for d in self.after:
            page.call(d, {})
            counts["chained"] = counts.get("chained", 0) + 1
        tick("chained")
        for u in _gallery_urls(page, self.run, out):
            counts["gallery KB"] = counts.get("gallery KB", 0) + len(page.http.get(u).content) / 1000
            counts["gallery fetches"] = counts.get("gallery fetches", 0) + 1
        tick("gallery fetches")
        return shown, time.perf_counter() - t


PHASES = ("upload", "upload events", "answer", "other queue", "state changes", "chained", "gallery fetches")


def launch(root: Path, concurrency: int = 2) -> tuple[subprocess.Popen, str, object]:
    p = port()
    url = f"http://127.0.0.1:{p}/"
    log = open(Path(tempfile.gettempdir()) / f"bench-page-served-{p}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(p), "--concurrency", str(concurrency)], cwd=root,
                            stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", **bench_cost.SERVER_ENV))
    return proc, url, log


def wait_page(http, url: str, proc: subprocess.Popen) -> Page:
    for _ in range(900):
        try:
            return Page(http, url)
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None:
                raise RuntimeError("app.py exited") from None
            time.sleep(0.5)
    raise RuntimeError("app.py did not answer")


def page_answers(root: Path, photos: list[str], n: int, concurrency: int = 2) -> dict:
    """``n`` page answers (after 3 to warm up) on ``root``'s launched app; CPU per phase."""
    import httpx

    proc, url, log = launch(root, concurrency)
    try:
        with httpx.Client(timeout=180) as http:
            flow = Flow(wait_page(http, url, proc))
            for i in range(3):
                flow.answer(photos[i], f"force:{i}")
            phases: dict = {}
            counts: dict = {}
            walls = []
            c0, t0 = bench_cost.cpu_of(proc.pid), time.perf_counter()
            for i in range(3, n + 3):
                shown, _ = flow.answer(photos[i], f"force:{i}", proc.pid, phases, counts)
                walls.append(shown)
            spent, elapsed = bench_cost.cpu_of(proc.pid) - c0, time.perf_counter() - t0
            opening = open_steps(flow, proc.pid, photos, n)
            time.sleep(1.0)
            idle0 = bench_cost.cpu_of(proc.pid)
            time.sleep(min(elapsed, 20.0))
            idle = (bench_cost.cpu_of(proc.pid) - idle0) * elapsed / min(elapsed, 20.0)
            return {"checkout": str(root), "event": flow.run.get("api_name"), "n": n,
                    "cpu_ms": spent / n * 1000, "idle_ms": idle / n * 1000,
                    "phases_ms": {k: phases.get(k, 0.0) / n * 1000 for k in PHASES},
                    "counts_per_answer": {k: v / n for k, v in counts.items()},
                    "wall_ms_median": statistics.median(walls) * 1000,
                    "answer_json_kb": counts.get("answer KB", 0) / n, "gallery_kb": counts.get("gallery KB", 0) / n,
                    "opening_steps": opening, "load": os.getloadavg()[0]}
    finally:
        stop_server(proc)
        log.close()


def open_steps(flow: Flow, pid: int, photos: list[str], n: int, times: int = 10) -> dict | None:
    """Opening the steps after an answer, as the page does: the accordion's expand event
    (``imagenet_open_steps``) on the session's kept result, then the page fetches the gallery's files.
    Each opening follows a new answer (not counted); server CPU, bytes (JSON + files) and wall per opening.
    None on a checkout without the event (the steps came with every answer)."""
    page = flow.page
    dep = page.by_api.get("imagenet_open_steps")
    if dep is None:
        return None
    look = {c["id"]: v for c, v in zip((page.components[i] for i in dep["inputs"]), (None, "max", "jet", 0.5, False))}
    cpu = walls = kb = 0.0
    for k in range(times):
        flow.answer(photos[k % len(photos)], f"force:open{k}")
        c, t, before = bench_cost.cpu_of(pid), time.perf_counter(), page.bytes_in
        out = page.call(dep, look)
        size = (page.bytes_in - before) / 1000
        for u in _gallery_urls(page, dep, out):
            size += len(page.http.get(u).content) / 1000
        walls += time.perf_counter() - t
        cpu += bench_cost.cpu_of(pid) - c
        kb += size
    return {"cpu_ms": cpu / times * 1000, "kb": kb / times, "wall_ms": walls / times * 1000, "times": times,
            "at_4mbit_s": kb / times * 1000 * 8 / 4e6 + cpu / times}


def load(root: Path, photos: list[str], clients: int, per_client: int, concurrency: int = 2, spy: bool = False) -> dict:
    """``clients`` pages at once, each ``per_client`` new photos one after the other (each after its previous
    answer and follow-ups), as BENCHMARKS §5 runs its clients; before that, the single answer's wall time
    (median of 7, one page alone) for the ideal last answer = ceil(clients / concurrency) × single."""
    import math
    import threading

    import httpx

    proc, url, log = launch(root, concurrency)
    try:
        with httpx.Client(timeout=300) as http:
            flow = Flow(wait_page(http, url, proc))
            for i in range(3):
                flow.answer(photos[i], f"force:{i}")
            singles = [flow.answer(photos[3 + i], f"force:s{i}")[0] for i in range(7)]
        single = statistics.median(singles)
        todo = photos[10:]
        lat: list[float] = []
        errors = [0]
        lock = threading.Lock()
        start = threading.Barrier(clients + 1)

        def client(k: int) -> None:
            with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=4)) as h:
                f = Flow(Page(h, url))  # opening the page: its config, and one untimed answer (§5's clients do)
                try:
                    f.answer(todo[-1 - k], f"force:{k}:warm")
                finally:
                    start.wait()
                for j in range(per_client):
                    try:
                        shown, _ = f.answer(todo[(k * per_client + j) % len(todo)], f"force:{k}:{j}")
                        with lock:
                            lat.append(shown)
                    except Exception:  # noqa: BLE001 - counted
                        with lock:
                            errors[0] += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for th in threads:
            th.start()
        start.wait()  # every page open and warm: the answers start together
        c0, t0 = bench_cost.cpu_of(proc.pid), time.perf_counter()
        recorder = bench_cost._spy_start(proc.pid, "load") if spy else None
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        cpu = bench_cost.cpu_of(proc.pid) - c0
        profile = bench_cost._spy_stop(*recorder) if recorder is not None else None
        lat.sort()

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(math.ceil(q * len(lat))) - 1)] if lat else float("nan")

        ideal = math.ceil(clients / concurrency) * single
        return {"checkout": str(root), "event": flow.run.get("api_name"), "clients": clients, "requests": len(lat),
                "errors": errors[0], "single_s": single, "p50_s": pct(0.5), "p95_s": pct(0.95),
                "throughput": len(lat) / wall, "ideal_s": ideal, "p95_over_ideal": pct(0.95) / ideal,
                "cpu_ms_per_answer": cpu / max(1, len(lat)) * 1000, "wall_s": wall, "load": os.getloadavg()[0],
                "spy": profile}
    finally:
        stop_server(proc)
        log.close()


def _run_values(run: dict, page: Page, token: str) -> list:
    """The values the page sends with its answer event, by the inputs' kind: the token first (the hidden
    box), the photo (set by the caller), the settings in order, None for the state, False for a checkbox."""
    settings = iter(SETTINGS)
    out = []
    for k, comp_id in enumerate(run["inputs"]):
        kind = page.components[comp_id]["type"]
        if kind == "state":
            out.append(None)
        elif kind == "checkbox":
            out.append(False)
        elif kind == "textbox" and k == 0 and run.get("api_name", "").startswith("imagenet_run"):
            out.append(token)
        elif kind == "image":
            out.append(None)  # the photo: given by the caller
        else:
            out.append(next(settings, None))
    return out


def measure_floor(n: int) -> dict:
    """bench_cost's bare app, called as the page calls an event (queue join, stream)."""
    import httpx

    script = Path(tempfile.mkdtemp(prefix="bench-page-floor-")) / "floor_app.py"
    script.write_text(bench_cost.FLOOR_APP)
    p = port()
    url = f"http://127.0.0.1:{p}/"
    proc = subprocess.Popen([sys.executable, str(script), str(p)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    try:
        with httpx.Client(timeout=120) as http:
            for _ in range(600):
                try:
                    page = Page(http, url)
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.5)
            dep = page.by_api["floor"]
            box = dep["inputs"][0]
            for i in range(3):
                page.call(dep, {box: f"hello {i}"})
            c0 = bench_cost.cpu_of(proc.pid)
            for i in range(n):
                page.call(dep, {box: f"hello {i}"})
            return {"cpu_ms": (bench_cost.cpu_of(proc.pid) - c0) / n * 1000, "n": n}
    finally:
        stop_server(proc)


def run(roots: list[Path], n: int, rounds: int) -> dict:
    photos = turned_cats(rounds * len(roots) * (n + 3), Path(tempfile.mkdtemp(prefix="bench-page-served-")))
    out: dict = {"n": n, "rounds": [], "loadavg_start": os.getloadavg()}
    k = 0
    for r in range(rounds):
        rnd: dict = {"floor": measure_floor(max(60, n)), "answers": []}
        print(f"[served] round {r + 1}: floor {rnd['floor']['cpu_ms']:.1f} ms", file=sys.stderr, flush=True)
        for root in (roots if r % 2 == 0 else list(reversed(roots))):
            chunk = photos[k * (n + 3):(k + 1) * (n + 3)]
            k += 1
            res = page_answers(root, chunk, n)
            print(f"[served] {root}: {res['cpu_ms']:.1f} ms per answer {res['phases_ms']}", file=sys.stderr,
                  flush=True)
            rnd["answers"].append(res)
        rnd["forward_2"] = bench_cost.measure_forward(2)
        rnd["forward_1"] = bench_cost.measure_forward(bench_cost.server_threads())
        rnd["load_end"] = os.getloadavg()
        out["rounds"].append(rnd)
    return out


def run_load(roots: list[Path], clients: int, per_client: int, rounds: int, spy: bool = False) -> dict:
    photos = turned_cats(10 + clients * (per_client + 1), Path(tempfile.mkdtemp(prefix="bench-page-load-")))
    out: dict = {"clients": clients, "per_client": per_client, "rounds": [], "loadavg_start": os.getloadavg()}
    for r in range(rounds):
        rnd = []
        for root in roots:  # A B, A B: the same order each round
            res = load(root, photos, clients, per_client, spy=spy)
            print(f"[load] round {r + 1} {root}: {json.dumps(res)}", file=sys.stderr, flush=True)
            rnd.append(res)
        out["rounds"].append(rnd)
    return out


def report(res: dict) -> str:
    lines = [f"n = {res['n']} answers per checkout and round (after 3 to warm up); load average at the start "
             f"{res['loadavg_start'][0]:.1f}.", "",
             "| round | checkout (event) | server CPU per answer | floor | forward 2 thr (min; median) | forward 1 thr | "
             "answer − floor, in forwards | target ≤ floor + 2× forward | phases: " + " / ".join(PHASES) +
             " | idle (not subtracted) | JSON | gallery | wall to the answer (median) | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r, rnd in enumerate(res["rounds"], 1):
        floor, f2, f1 = rnd["floor"]["cpu_ms"], rnd["forward_2"], rnd["forward_1"]
        for a in rnd["answers"]:
            ratio = (a["cpu_ms"] - floor) / f2["cpu_min_ms"]
            ph = a["phases_ms"]
            limit = floor + 2 * f2["cpu_min_ms"]
            lines.append(
                f"| {r} | {a['checkout']} ({a['event']}) | **{a['cpu_ms']:.1f} ms** | {floor:.1f} ms | "
                f"{f2['cpu_min_ms']:.1f}; {f2['cpu_ms']:.1f} ms | {f1['cpu_min_ms']:.1f} ms | {ratio:.2f}× | "
                f"{limit:.1f} ms: {'pass' if a['cpu_ms'] <= limit else 'FAIL'} | "
                + " / ".join(f"{ph.get(k, 0.0):.1f}" for k in PHASES) +
                f" | {a['idle_ms']:.1f} ms | {a['answer_json_kb']:.0f} KB | {a['gallery_kb']:.0f} KB | "
                f"{a['wall_ms_median']:.0f} ms | {a['load']:.1f} |")
    for r, rnd in enumerate(res["rounds"], 1):
        for a in rnd["answers"]:
            o = a.get("opening_steps")
            if o:
                lines.append(f"\nOpening the steps after an answer (round {r}, {a['checkout']}, {o['times']} times): "
                             f"server CPU {o['cpu_ms']:.1f} ms, {o['kb']:.0f} KB (JSON + the gallery's files), "
                             f"wall {o['wall_ms']:.0f} ms here; at 4 Mbit/s: bytes ÷ rate + server CPU = "
                             f"{o['at_4mbit_s']:.2f} s (target ≤ 1 s).")
    return "\n".join(lines)


def report_load(res: dict) -> str:
    lines = [f"{res['clients']} pages at once, {res['per_client']} new photos each; load average at the start "
             f"{res['loadavg_start'][0]:.1f}.", "",
             "| round | checkout (event) | requests | errors | single (s) | p50 (s) | p95 (s) | throughput (answers/s) | "
             "ideal last answer (s) | p95 / ideal | server CPU per answer | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r, rnd in enumerate(res["rounds"], 1):
        for a in rnd:
            lines.append(f"| {r} | {a['checkout']} ({a['event']}) | {a['requests']} | {a['errors']} | "
                         f"{a['single_s']:.2f} | {a['p50_s']:.2f} | {a['p95_s']:.2f} | {a['throughput']:.1f} | "
                         f"{a['ideal_s']:.2f} | {a['p95_over_ideal']:.2f} | {a['cpu_ms_per_answer']:.0f} ms | "
                         f"{a['load']:.1f} |")
    for r, rnd in enumerate(res["rounds"], 1):
        for a in rnd:
            if a.get("spy"):
                sp = a["spy"]
                lines.append(f"\npy-spy, round {r}, {a['checkout']} ({sp['samples']} busy samples): "
                             + ", ".join(f"{k} {v:.0%}" for k, v in sp["buckets"].items()) + ". Top leaves: "
                             + ", ".join(f"`{k}` {v:.0%}" for k, v in list(sp["top_leaves"].items())[:8]) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", default=["."], help="checkouts (default: this one)")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=0, help="instead: this many pages at once (BENCHMARKS §5)")
    ap.add_argument("--per-client", type=int, default=2)
    ap.add_argument("--spy", action="store_true", help="with --clients: py-spy on the server while they run")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    roots = [Path(r).resolve() for r in args.roots]
    if args.clients:
        res = run_load(roots, args.clients, args.per_client, args.rounds, args.spy)
        text = report_load(res)
    else:
        res = run(roots, args.n, args.rounds)
        text = report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
