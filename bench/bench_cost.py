"""Server CPU per answer (issue 27): each answer as ``floor + handler + the rest``.

    python bench/bench_cost.py                       # every row, N = 20 answers each
    python bench/bench_cost.py --n 5 --only floor,mnist_index
    python bench/bench_cost.py --json cost.json      # the figures, machine-readable
    python bench/bench_cost.py --no-options --no-profile   # only the table
    python bench/bench_cost.py --report cost.json    # print a saved run's report again

What it measures, in one run, on this machine:

* **answer**: ``python app.py`` launched on a port of 7700–7799; a ``gradio_client`` calls one
  endpoint sequentially, 3 answers to warm up, then ``--n`` answers; the server process's CPU time
  (utime + stime from /proc/PID/stat) over those answers ÷ n. Rows: ``/mnist_explain_index``
  (a different held-out digit each time), ``/mnist_explain_upload`` (a different digit photo each
  time), ``/imagenet_explain`` (EfficientNet-Lite0, Grad-CAM, a new photo each time:
  ``_photos.turned_cats``), ``/room_answer`` (one phone's guess in an open guess exercise).
  The bytes one answer sends are counted too: the JSON the client receives (images inline as
  data URLs) plus the files it names (what the page then fetches; "closed" when the output sits
  in a closed accordion).
* **floor**: a bare Blocks app (one button, one event returning a small gr.Label), written to a
  temporary file, launched and called the same way.
* **forward**: one Lite0 forward (224², batch 1, 2 threads, inference mode), in this process;
  the issue's targets are ratios to it.
* **handler**: the event function of the same endpoint (taken from Gradio's event table by
  api_name, as tools/trace_request.py does), called directly in this process with the same kind
  of input; CPU time (time.process_time), split by timers around named functions (exclusive: a
  function's time excludes the timed functions it calls): ``model`` (cam.engine.BaseCAM._run:
  forward, backward, the map), ``service`` (services.*.explain_*: decoding, preprocessing,
  analysis, minus the model), ``drawing`` (present.*_view: draw / view / overlay_panel /
  download_images), ``encoding`` (PIL Image.save, codec.png_bytes: PNG or any format), ``other``.
* **gradio**: the same handler's values through each output component's ``postprocess`` and
  ``async_move_files_to_cache`` (what Gradio does per output), in process; and, on a second
  launched server with ``GRADIO_PROFILING=1``, Gradio's own phase timers per request (wall ms:
  preprocess, fn_call, postprocess) and a py-spy profile of the server (when py-spy is installed).
* **the rest** = answer − floor − handler (Gradio's processing, the queue, the transport).
* **options** (``--no-options`` to skip): the overlay and the MNIST images encoded as PNG at
  zlib levels 0/1/3/6/9, WebP and JPEG, at the size the app sends and at phone widths (bytes,
  encode ms); a plain ``gr.Image(format=…)`` output against the app's inline ``ResultImage``; the
  outputs of each event, with those drawn every answer while hidden in a closed accordion.
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tools"))
from _photos import turned_cats  # noqa: E402
from _server import free_port_in, make_client, start_server, stop_server  # noqa: E402

ROWS = ("floor", "forward", "mnist_index", "mnist_upload", "imagenet", "room_answer")
API = {"mnist_index": "mnist_explain_index", "mnist_upload": "mnist_explain_upload",
       "imagenet": "imagenet_explain", "room_answer": "room_answer", "floor": "floor"}
MODEL = "efficientnet_lite0"
MNIST_TAIL = ("predicted", "strongest", "relu2", "jet", "receptive field")
IMAGENET_TAIL = (MODEL, "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)
#: the server's environment: no example cache (every photo is new anyway), room answers unthrottled
SERVER_ENV = {"GRADCAM_EXAMPLE_CACHE": "off", "GRADCAM_ROOM_ANSWERS_PER_MINUTE": "1000000",
              "GRADCAM_ROOM_JOINS_PER_MINUTE": "1000000"}

FLOOR_APP = textwrap.dedent('''
    import sys
    import gradio as gr

    with gr.Blocks() as demo:
        box = gr.Textbox()
        button = gr.Button()
        out = gr.Label()
        button.click(lambda text: {"ok": 1.0}, box, out, api_name="floor")
        # the same answer with 31 more small outputs: what each output adds in Gradio
        many = [gr.Markdown() for _ in range(31)]
        button.click(lambda text: [{"ok": 1.0}] + [f"line {k}" for k in range(31)], box, [out] + many,
                     api_name="floor32")
    demo.queue().launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), show_error=True)
''')


# --------------------------------------------------------------------------- helpers
def port_in_range(lo: int = 7700, hi: int = 7799) -> int:
    """A free port of this bench's range (bench._server.free_port_in)."""
    return free_port_in(lo, hi)

def cpu_of(pid: int) -> float:
    """A process's CPU time so far (user + system), seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_client(url: str, proc: subprocess.Popen, timeout: float = 300):
    t0 = time.perf_counter()
    while True:
        try:
            return make_client(url)
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                raise
            time.sleep(0.5)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# --------------------------------------------------------------------------- inputs
def digit_photos(n: int, folder: Path) -> list[str]:
    """``n`` different phone-like photos of held-out digits (dark ink on light paper, 200×200),
    as tools/trace_request.py draws one."""
    import numpy as np
    from PIL import Image

    from gradcam_core.services import mnist as svc

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        digit, _ = svc.held_out(10 + i)
        ink = (255 - digit * 255).astype(np.uint8)
        path = folder / f"digit{i}.png"
        Image.fromarray(ink).resize((200, 200), Image.Resampling.BILINEAR).convert("RGB").save(path)
        out.append(str(path))
    return out


class Inputs:
    """The same kind of input for the launched app (client) and the in-process handler."""

    def __init__(self, n: int, folder: Path):
        total = n + 3
        self.cats = turned_cats(total, folder / "cats", ROOT)
        self.digits = digit_photos(total, folder / "digits")
        self.n = total

    def client_args(self, row: int | str, i: int, room: dict | None = None) -> tuple:
        from gradio_client import handle_file

        if row == "mnist_index":
            return (100 + i, *MNIST_TAIL)
        if row == "mnist_upload":
            return (handle_file(self.digits[i % self.n]), *MNIST_TAIL)
        if row == "imagenet":
            return (handle_file(self.cats[i % self.n]), *IMAGENET_TAIL)
        if row == "room_answer":
            return (room["code"], room["pid"], [i % 7, (i + 3) % 7 + 7])
        if row == "floor":
            return (f"hello {i}",)
        raise KeyError(row)

    def handler_args(self, row: str, i: int, room: dict | None = None) -> tuple:
        if row == "mnist_index":
            return (100 + i, *MNIST_TAIL)
        if row == "mnist_upload":  # gr.Image(type="filepath") hands the handler a path
            return (self.digits[i % self.n], *MNIST_TAIL)
        if row == "imagenet":  # preprocess=False: the FileData dict as it arrives
            return ({"path": self.cats[i % self.n], "meta": {"_type": "gradio.FileData"}}, *IMAGENET_TAIL)
        if row == "room_answer":
            return (room["code"], room["pid"], [i % 7, (i + 3) % 7 + 7])
        raise KeyError(row)


# --------------------------------------------------------------------------- the launched servers
def measure_floor(n: int) -> dict:
    script = Path(tempfile.mkdtemp(prefix="bench-cost-floor-")) / "floor_app.py"
    script.write_text(FLOOR_APP)
    port = port_in_range()
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    try:
        client = wait_for_client(f"http://127.0.0.1:{port}/", proc)
        res = _sequential(client, proc.pid, n, lambda i: (f"hello {i}",), "/floor")
        res.pop("_last", None)
        many = _sequential(client, proc.pid, n, lambda i: (f"hello {i}",), "/floor32")
        res["outputs32_cpu_ms"] = many["cpu_ms"]
        return res
    finally:
        stop_server(proc)


def _sequential(client, pid: int, n: int, args_of: Callable[[int], tuple], api_name: str,
                sizes: Callable[[Any], dict] | None = None) -> dict:
    retries = [0]

    def call(i: int):
        try:
            return client.predict(*args_of(i), api_name=api_name)
        except Exception as exc:  # noqa: BLE001 - on a loaded machine gradio_client's stream is sometimes cancelled
            retries[0] += 1
            print(f"[bench_cost] {api_name}: call {i} failed ({type(exc).__name__}), once more", file=sys.stderr)
            return client.predict(*args_of(i), api_name=api_name)

    for i in range(3):
        call(i)
    walls, size = [], Counter()
    c0 = cpu_of(pid)
    for i in range(3, 3 + n):
        t = time.perf_counter()
        out = call(i)
        walls.append(time.perf_counter() - t)
        if sizes is not None:
            size.update(sizes(out))
    per = (cpu_of(pid) - c0) / n
    return {"cpu_ms": per * 1000, "wall_ms": _median(walls) * 1000,
            "bytes": {k: v / n for k, v in size.items()} if sizes is not None else None, "_last": out,
            "retries": retries[0]}


def file_urls(value, closed: set[int]) -> tuple[list[str], list[str]]:
    """The file URLs an answer names: (outputs shown at first, outputs in closed accordions)."""
    shown, hidden = [], []

    def walk(v, into: list):
        if isinstance(v, dict):
            if isinstance(v.get("url"), str) and v["url"].startswith("http"):
                into.append(v["url"])
            for x in v.values():
                walk(x, into)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x, into)

    for k, v in enumerate(value if isinstance(value, (list, tuple)) else [value]):
        walk(v, hidden if k in closed else shown)
    return shown, hidden


def measure_fetches(pid: int, urls: list[str], rounds: int = 5) -> dict:
    """Server CPU of the page fetching ``urls`` (each once per round), per URL and per answer."""
    import urllib.request

    if not urls:
        return {"files": 0}
    for u in urls:
        urllib.request.urlopen(u, timeout=30).read()
    c0 = cpu_of(pid)
    for _ in range(rounds):
        for u in urls:
            urllib.request.urlopen(u, timeout=30).read()
    spent = (cpu_of(pid) - c0) / rounds
    return {"files": len(urls), "cpu_ms_per_answer": spent * 1000, "cpu_ms_per_file": spent * 1000 / len(urls)}


def _answer_bytes(closed_paths: set[int]) -> Callable[[Any], dict]:
    """Bytes of one answer: the JSON the client got (inline images included) and the files it names
    (which the page fetches), those of outputs in closed accordions counted apart."""

    def walk(value, found: list):
        if isinstance(value, dict):
            if value.get("path") and Path(str(value["path"])).is_file():
                found.append(Path(value["path"]).stat().st_size)
            for v in value.values():
                walk(v, found)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, found)

    def sizes(out) -> dict:
        outs = out if isinstance(out, (list, tuple)) else [out]
        res = {"json": len(json.dumps(out, default=str))}
        for k, v in enumerate(outs):
            found: list = []
            walk(v, found)
            key = "files_closed" if k in closed_paths else "files"
            res[key] = res.get(key, 0) + sum(found)
        return res

    return sizes


def measure_app(rows: list[str], n: int, inputs: Inputs, profile: bool = False, spy: bool = False) -> dict:
    """Each row's answers through one launched app. ``profile``: Gradio's phase timers on (and
    py-spy, when ``spy``) — a separate server, so the CPU figures of the plain one stay clean."""
    port = port_in_range()
    env = dict(SERVER_ENV, GRADCAM_ROOMS_DIR=tempfile.mkdtemp(prefix="bench-cost-rooms-"))
    if profile:
        env["GRADIO_PROFILING"] = "1"
    proc, _ = start_server(port, env=env)
    out: dict = {}
    try:
        url = f"http://127.0.0.1:{port}/"
        client = wait_for_client(url, proc)
        closed = CLOSED_BY_API  # filled by outputs_table (the app built in process)
        room = None
        if "room_answer" in rows:
            room = open_room_with_client(url)
        for row in rows:
            if row not in API or row == "floor":
                continue
            if row == "room_answer" and room is None:
                out[row] = {"skipped": "no /room_answer in this app"}
                continue
            print(f"[bench_cost] {'profiled ' if profile else ''}{row}: {n} answers", file=sys.stderr, flush=True)
            recorder = _spy_start(proc.pid, row) if spy else None
            if profile:
                _profiling_clear(url)
            res = _sequential(client, proc.pid, n, functools.partial(inputs.client_args, row, room=room),
                              "/" + API[row], _answer_bytes(closed.get(API[row], set())))
            last = res.pop("_last", None)
            if not profile and last is not None:
                shown, hidden = file_urls(last, closed.get(API[row], set()))
                if shown or hidden:
                    res["fetch_shown"] = measure_fetches(proc.pid, shown)
                    res["fetch_closed"] = measure_fetches(proc.pid, hidden)
            if profile:
                res["phases"] = _profiling_phases(url, API[row])
            if recorder is not None:
                res["spy"] = _spy_stop(*recorder)
            out[row] = res
    finally:
        stop_server(proc)
    return out


#: by api_name, the API positions of the outputs hidden at first (filled by :func:`outputs_table`)
CLOSED_BY_API: dict[str, set[int]] = {}


def open_room_with_client(url: str) -> dict | None:
    """Open a room, join one phone, push a guess exercise on the example cat (None: no room API)."""
    fac = make_client(url)
    if not any(e.strip("/") == "room_open" for e in fac.view_api(print_info=False, return_format="dict")
               ["named_endpoints"]):
        return None
    room = fac.predict(api_name="/room_open")
    phone = make_client(url)
    me = phone.predict(room["code"], "bench", api_name="/room_join")
    fac.predict(room["code"], room["key"], "guess", "example:chelsea_cat.jpg", api_name="/room_push")
    return {"code": room["code"], "key": room["key"], "pid": me["pid"]}


def _profiling_clear(url: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(url + "gradio_api/profiling/clear", method="POST"), timeout=10)


def _profiling_phases(url: str, api_name: str) -> dict:
    """Gradio's own phase timers (GRADIO_PROFILING=1), medians over the row's requests (wall ms)."""
    import urllib.request

    with urllib.request.urlopen(url + "gradio_api/profiling/traces", timeout=10) as r:
        traces = json.loads(r.read())
    traces = traces.get("traces", traces) if isinstance(traces, dict) else traces
    mine = [t for t in traces if t.get("fn_name") != "gradio_file_upload"]  # the row's requests (cleared before)
    uploads = [float(t.get("upload_ms", 0.0)) for t in traces if t.get("fn_name") == "gradio_file_upload"]
    keys = ("queue_wait_ms", "preprocess_ms", "fn_call_ms", "postprocess_ms", "postprocess_move_to_cache_ms",
            "postprocess_update_state_in_config_ms", "preprocess_move_to_cache_ms", "save_file_to_cache_ms", "total_ms")
    return ({k: _median([float(t.get(k, 0.0)) for t in mine]) for k in keys}
            | {"requests": len(mine), "api_name": api_name, "upload_ms": _median(uploads) if uploads else 0.0})


def _spy_start(pid: int, row: str):
    import shutil

    exe = shutil.which("py-spy")
    if exe is None:
        return None
    path = Path(tempfile.mkdtemp(prefix="bench-cost-spy-")) / f"{row}.txt"
    proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "250",
                             "--nonblocking", "--output", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return proc, path


#: py-spy buckets, (name, test of one frame "function (file:line)"): the first bucket with a matching frame
#: in a sample's stack names it. Gradio's postprocess first: it runs the app's ResultImage.postprocess (PNG
#: encoding) in a worker thread (anyio.to_thread), where only the component's own frame names it.
SPY_BUCKETS: list[tuple[str, Callable[[str], bool]]] = [
    ("gradio postprocess (incl. the app's ResultImage PNG encoding)",
     lambda f: "postprocess_data" in f or "move_files_to_cache" in f or f.split(" (")[0].endswith("postprocess")),
    ("gradio preprocess", lambda f: "preprocess_data" in f or ("gradio/" in f and "preprocess" in f.split(" (")[0])),
    ("handler (the event function)", lambda f: "gradcam_core/" in f or "torch/" in f),
    ("gradio other processing", lambda f: "process_api" in f),
    ("queue, SSE and HTTP", lambda f: any(p in f for p in ("queueing.py", "routes.py", "route_utils.py", "starlette",
                                                          "uvicorn", "h11", "httptools", "fastapi", "anyio",
                                                          "brotli", "gzip", "asyncio"))),
]


#: leaves that are waits, not work
IDLE_LEAVES = {"EpollSelector.select", "select", "Condition.wait", "wait", "_wait_for_tstate_lock", "sleep",
               "Event.wait", "Thread._wait_for_tstate_lock", "poll", "accept", "SimpleQueue.get", "Queue.get",
               "Blocks.block_thread"}  # (the main thread's sleep loop)


def _spy_stop(proc: subprocess.Popen, path: Path) -> dict:
    proc.send_signal(2)  # SIGINT: py-spy writes its file and exits
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {}
    if not path.exists():
        return {}
    buckets, leaves, total = Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        try:
            k = int(count)
        except ValueError:
            continue
        frames = stack.split(";")
        if frames and frames[-1].split(" (")[0] in IDLE_LEAVES:
            continue  # a thread waiting (py-spy samples some waits as busy)
        total += k
        name = "other (threads, GC, imports)"
        for label, test in SPY_BUCKETS:
            if any(test(f) for f in frames):
                name = label
                break
        buckets[name] += k
        leaves[frames[-1].split(" (")[0] if frames else "?"] += k
    return {"samples": total, "buckets": {k: v / total for k, v in buckets.most_common()} if total else {},
            "top_leaves": {k: v / total for k, v in leaves.most_common(12)} if total else {}}


# --------------------------------------------------------------------------- in process
def server_threads(concurrency: int = 2) -> int:
    """The torch threads ``python app.py`` uses (its main(): cores ÷ concurrency, at least 1)."""
    return max(1, (os.cpu_count() or 1) // concurrency)


def measure_forward(threads: int = 2, reps: int = 30) -> dict:
    """One Lite0 forward on the example cat (224², batch 1, inference mode, denormals flushed as the
    app does), CPU and wall, median of ``reps``; torch's thread count is restored afterwards."""
    import torch

    from gradcam_core.models.registry import REGISTRY
    from gradcam_core.services import imagenet as svc

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    spec = REGISTRY[MODEL]
    model = spec.load()
    x = spec.preprocess(svc.load_photo(str(ROOT / "examples" / "animals" / "chelsea_cat.jpg")))
    for _ in range(3):
        with torch.inference_mode():
            model(x)
    cpus, walls = [], []
    for _ in range(reps):
        c, t = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            model(x)
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - t)
    torch.set_num_threads(before)
    return {"cpu_ms": _median(cpus) * 1000, "wall_ms": _median(walls) * 1000, "threads": threads,
            "cpu_min_ms": min(cpus) * 1000}


class Timers:
    """Exclusive CPU time of named functions: each wrapped function is charged its own time minus the
    time of wrapped functions it calls (a stack per thread)."""

    def __init__(self):
        self.spent: Counter = Counter()
        self._local = threading.local()
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, bucket: str) -> None:
        original = getattr(owner, name)
        timers = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            stack = timers._stack()
            start = time.process_time()
            stack.append([bucket, 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                b, inner = stack.pop()
                total = time.process_time() - start
                timers.spent[b] += total - inner
                if stack:
                    stack[-1][1] += total

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def _stack(self) -> list:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def undo(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def _install_timers() -> Timers:
    from PIL import Image

    from gradcam_core.cam import engine
    from gradcam_core.present import codec, imagenet_view, mnist_view
    from gradcam_core.services import imagenet as isvc
    from gradcam_core.services import mnist as msvc
    from gradcam_core.ui import files

    t = Timers()
    t.wrap(engine.BaseCAM, "_run", "model")
    for name in ("explain_source",):
        t.wrap(isvc, name, "service")
    for name in ("explain_index", "explain_upload", "explain_digit", "explain_drawing"):
        t.wrap(msvc, name, "service")
    for name in ("draw", "overlay_panel", "download_images", "restyle"):
        t.wrap(imagenet_view, name, "drawing")
    t.wrap(mnist_view, "view", "drawing")
    t.wrap(Image.Image, "save", "encoding")
    t.wrap(codec, "png_bytes", "encoding")
    t.wrap(files, "_save_png", "encoding")
    return t


def _install_where() -> Timers:
    """Timers by what the work is for (inclusive of everything under it): the step gallery (drawn and
    written as files), the downloads, the raw map; the rest of the handler is what the screen shows
    first (overlay, top-5, texts) and the model."""
    from gradcam_core.present import imagenet_view, mnist_view
    from gradcam_core.ui import files

    t = Timers()
    t.wrap(imagenet_view, "_steps", "steps (drawn)")
    t.wrap(files, "write_pngs", "steps (PNG files)")
    t.wrap(files, "write_downloads", "downloads (drawn + PNG files)")
    t.wrap(imagenet_view, "heatmap_image", "raw map (drawn)")
    t.wrap(mnist_view, "build_steps", "steps incl. the overlay (drawn)")
    return t


def build_app_in_process():
    """The app's Blocks in this process, set up as app.py's main() sets up the server (its torch
    threads, denormals flushed, its malloc arenas), so the handlers cost here what they cost there."""
    os.environ.update(SERVER_ENV, GRADIO_ANALYTICS_ENABLED="False")
    os.environ["GRADCAM_ROOMS_DIR"] = tempfile.mkdtemp(prefix="bench-cost-rooms-")
    import torch

    import app
    from gradcam_core.ui import serving

    serving.tune_allocator()
    torch.set_num_threads(server_threads())
    torch.set_flush_denormal(True)

    return app.build_app()


def event_of(demo, api_name: str):
    for dep in demo.fns.values():
        if getattr(dep, "api_name", None) == api_name:
            return dep
    raise KeyError(api_name)


def open_room_in_process() -> dict:
    from gradcam_core.services import rooms as rsvc

    opened = rsvc.open_room(None, True, False, "bench")
    me = rsvc.join(opened.code, "bench", None, "bench")
    rsvc.push_guess(opened.code, opened.key, "example:chelsea_cat.jpg")
    return {"code": opened.code, "key": opened.key, "pid": me.pid}


def measure_handlers(demo, rows: list[str], n: int, inputs: Inputs) -> dict:
    """Each row's event function called directly, CPU per call split by :func:`_install_timers`,
    and each output's Gradio postprocess (+ move to cache), CPU per call."""
    out = {}
    room = open_room_in_process() if "room_answer" in rows else None
    for row in rows:
        if row not in API or row == "floor":
            continue
        try:
            dep = event_of(demo, API[row])
        except KeyError:
            out[row] = {"skipped": f"no /{API[row]} in this app"}
            continue
        fn = dep.fn
        for i in range(3):
            fn(*inputs.handler_args(row, i, room))
        from gradio.state_holder import SessionState

        session = SessionState(demo)  # one session answered again and again, as one gradio_client
        real: list[float] = []
        timers, where = _install_timers(), _install_where()
        per_output: dict[str, list[float]] = {}
        totals = []
        try:
            for i in range(3, 3 + n):
                c = time.process_time()
                value = fn(*inputs.handler_args(row, i, room))
                totals.append(time.process_time() - c)
                where.undo()
                timers.undo()
                for label, spent in postprocess_costs(dep, value).items():
                    per_output.setdefault(label, []).append(spent)
                c = time.process_time()  # Gradio's own Blocks.postprocess_data, everything it does per output
                asyncio.run(demo.postprocess_data(dep, value, session))
                real.append(time.process_time() - c)
                timers, where = _reinstall(timers, _install_timers), _reinstall(where, _install_where)
        finally:
            where.undo()
            timers.undo()
        total = sum(totals) / n
        split = {k: v / n * 1000 for k, v in timers.spent.items()}
        split["other"] = total * 1000 - sum(split.values())
        by_use = {k: v / n * 1000 for k, v in where.spent.items()}
        post = {k: _median(v) * 1000 for k, v in per_output.items()}
        out[row] = {"handler_ms": total * 1000, "split_ms": split, "by_use_ms": by_use, "postprocess_ms": post,
                    "postprocess_total_ms": sum(post.values()), "outputs": len(dep.outputs),
                    "postprocess_data_ms": _median(real) * 1000 if real else float("nan")}
    return out


def _reinstall(old: Timers, install: Callable[[], Timers]) -> Timers:
    new = install()
    new.spent = old.spent
    return new


def _label_of(block) -> str:
    label = getattr(block, "label", None) or getattr(block, "elem_id", None) or ""
    return f"{type(block).__name__}#{block._id} {str(label)[:28]}".strip()


def postprocess_costs(dep, value) -> dict[str, float]:
    """CPU seconds of Gradio's per-output work on one handler value: ``block.postprocess`` then
    ``async_move_files_to_cache``, as Blocks.postprocess_data does them."""
    from gradio import processing_utils
    from gradio.data_classes import GradioModel, GradioRootModel

    outs = list(dep.outputs)
    if isinstance(value, dict):
        values = [value.get(b, value.get(getattr(b, "_id", None))) for b in outs]
    elif len(outs) == 1:
        values = [value]
    else:
        values = list(value)
    res = {}
    for block, v in zip(outs, values):
        if getattr(block, "stateful", False) or v is None:
            continue
        c = time.process_time()
        pv = block.postprocess(v)
        ser = pv.model_dump() if isinstance(pv, (GradioModel, GradioRootModel)) else pv
        asyncio.run(processing_utils.async_move_files_to_cache(ser, block, postprocess=True))
        res[_label_of(block)] = time.process_time() - c
    return res


# --------------------------------------------------------------------------- the options
def _hidden_reason(block) -> str | None:
    """'closed accordion' / 'hidden' when the block (or a parent) is not on screen at first."""
    import gradio as gr

    b = block
    while b is not None:
        if getattr(b, "visible", True) is False:
            return "hidden"
        if isinstance(b, gr.Accordion) and not getattr(b, "open", True):
            return "closed accordion"
        b = getattr(b, "parent", None)
    return None


def outputs_table(demo) -> dict:
    """Each measured event's outputs: how many, their kinds, and which sit in closed accordions."""
    res = {}
    for row, api_name in API.items():
        if row == "floor":
            continue
        try:
            dep = event_of(demo, api_name)
        except KeyError:
            continue
        items = []
        for k, b in enumerate(dep.outputs):
            items.append({"pos": k, "kind": type(b).__name__, "label": str(getattr(b, "label", "") or "")[:40],
                          "state": bool(getattr(b, "stateful", False)), "where": _hidden_reason(b)})
        api_pos = [it for it in items if not it["state"]]
        CLOSED_BY_API[api_name] = {k for k, it in enumerate(api_pos) if it["where"]}
        res[row] = {"outputs": len(items), "api_outputs": len(api_pos), "items": items}
    return res


def _encode(img, fmt: str, **kw) -> tuple[int, float]:
    times, size = [], 0
    for _ in range(5):
        buf = io.BytesIO()
        c = time.process_time()
        img.save(buf, format=fmt, **kw)
        times.append(time.process_time() - c)
        size = buf.tell()
    return size, _median(times) * 1000


def encoding_options(demo, inputs: Inputs) -> dict:
    """The overlay (ImageNet) and one MNIST answer's images in every format, at the sizes sent."""
    from PIL import Image

    from gradcam_core.present import codec, imagenet_view
    from gradcam_core.services import imagenet as isvc
    from gradcam_core.services import mnist as msvc
    from gradcam_core.present import mnist_view

    raw = isvc.explain_source(isvc.photo_of({"path": inputs.cats[0]}), MODEL, "_head_act", "Grad-CAM", "predicted",
                              None, norm="max", cmap="jet", alpha=0.5)
    expl = imagenet_view.draw(raw)
    overlay = codec.to_pil(imagenet_view.overlay_panel(expl)).convert("RGB")
    heat = codec.to_pil(expl.heatmap).convert("RGB")
    steps = [codec.to_pil(s.image).convert("RGB") for s in expl.steps.values()]
    formats = [("PNG level 0", "PNG", dict(compress_level=0)), ("PNG level 1 (app)", "PNG", dict(compress_level=1)),
               ("PNG level 3", "PNG", dict(compress_level=3)), ("PNG level 6 (PIL default)", "PNG", dict(compress_level=6)),
               ("PNG level 9", "PNG", dict(compress_level=9)),
               ("WebP q80", "WEBP", dict(quality=80, method=0)), ("WebP q90", "WEBP", dict(quality=90, method=0)),
               ("WebP q80 method 4", "WEBP", dict(quality=80, method=4)),
               ("WebP lossless", "WEBP", dict(lossless=True, method=0)),
               ("JPEG q85", "JPEG", dict(quality=85)), ("JPEG q90", "JPEG", dict(quality=90))]
    res: dict = {"overlay_size": list(overlay.size), "heatmap_size": list(heat.size),
                 "steps_sizes": [list(s.size) for s in steps], "overlay": {}, "overlay_390": {}, "overlay_780": {},
                 "steps_all": {}}
    sized = {"overlay": overlay}
    for w in (390, 780):
        if overlay.width > w:
            h = round(overlay.height * w / overlay.width)
            sized[f"overlay_{w}"] = overlay.resize((w, h), Image.Resampling.LANCZOS)
    for name, img in sized.items():
        for label, fmt, kw in formats:
            res[name][label] = dict(zip(("bytes", "ms"), _encode(img, fmt, **kw)))
    for label, fmt, kw in formats:
        if fmt == "JPEG":
            continue
        b = m = 0.0
        for s in steps:
            size, ms = _encode(s, fmt, **kw)
            b, m = b + size, m + ms
        res["steps_all"][label] = {"bytes": b, "ms": m}
    # MNIST: one answer's ten images (overlay, what the model saw, eight steps)
    view = mnist_view.view(msvc.explain_index(100, *MNIST_TAIL))
    imgs = [x for x in [view.overlay, view.seen, *view.steps[1::3]] if x is not None]
    imgs = [codec.to_pil(x) for x in imgs]
    res["mnist_sizes"] = [list(i.size) for i in imgs]
    res["mnist_all"] = {}
    for label, fmt, kw in formats:
        if fmt == "JPEG":
            continue
        b = m = 0.0
        for im in imgs:
            size, ms = _encode(im.convert("RGB") if fmt == "WEBP" else im, fmt, **kw)
            b, m = b + size, m + ms
        res["mnist_all"][label] = {"bytes": b, "ms": m}
    res["gradio_image"] = gradio_image_options(overlay)
    return res


def gradio_image_options(overlay) -> dict:
    """The overlay as an output: the app's inline ResultImage (a PNG data URL) against gr.Image with
    each ``format`` (written into Gradio's cache, fetched by the page as a file): CPU of
    postprocess + move to cache, and the bytes."""
    import gradio as gr
    import numpy as np
    from gradio import processing_utils

    from gradcam_core.ui.common import ResultImage

    arr = np.asarray(overlay)
    res = {}
    with gr.Blocks():
        cands = {"ResultImage (app: inline PNG level 1)": ResultImage(),
                 **{f"gr.Image(format={f!r})": gr.Image(format=f, type="numpy") for f in ("png", "webp", "jpeg")}}
    for label, block in cands.items():
        times, size = [], 0
        for _ in range(5):
            c = time.process_time()
            pv = block.postprocess(arr)
            ser = pv.model_dump()
            ser = asyncio.run(processing_utils.async_move_files_to_cache(ser, block, postprocess=True))
            times.append(time.process_time() - c)
            url = ser.get("url") or ""
            size = len(url) if url.startswith("data:") else Path(ser["path"]).stat().st_size
        res[label] = {"ms": _median(times) * 1000, "bytes": size}
    return res


# --------------------------------------------------------------------------- the report
def report(fig: dict) -> str:
    lines = []
    floor = fig.get("floor", {}).get("cpu_ms")
    # the 2-thread forward's minimum: on a machine shared with other jobs, a 2-thread forward's CPU time is
    # inflated by OpenMP's spinning while the other thread waits for a core; the minimum is the least disturbed
    fwd = fig.get("forward", {}).get("cpu_min_ms") or fig.get("forward", {}).get("cpu_ms")
    head = (f"Floor (a bare Blocks app, one event returning a gr.Label): **{floor:.1f} ms** of server CPU per answer."
            if floor else "Floor: not measured.")
    if fwd:
        one = fig.get("forward_server_threads", {})
        head += (f" One Lite0 forward (224², batch 1): **{fwd:.1f} ms** CPU with 2 threads, the minimum of 30 (median "
                 f"{fig['forward']['cpu_ms']:.1f} ms; {fig['forward']['wall_ms']:.1f} ms wall); "
                 f"{one.get('cpu_ms', float('nan')):.1f} ms CPU with {one.get('threads', '?')} thread(s), as the"
                 f" server runs it ({one.get('wall_ms', float('nan')):.1f} ms wall).")
    if floor and "outputs32_cpu_ms" in fig.get("floor", {}):
        o32 = fig["floor"]["outputs32_cpu_ms"]
        head += (f" The same bare answer with 32 small outputs (a gr.Label and 31 gr.Markdown): {o32:.1f} ms, i.e."
                 f" {(o32 - floor) / 31:.2f} ms per extra output.")
    head += f" n = {fig['n']} answers per row; load average at the start {' '.join(fig['loadavg'])}."
    lines.append(head)
    lines.append("")
    lines.append("| answer | server CPU per answer | = floor | + handler | + the rest | the rest: Gradio postprocess_data "
                 "(in process) + remainder | handler split: model / service / drawing / encoding / other | wall (median) "
                 "| bytes: JSON + files shown (+ files in closed accordions) | the page's file fetches, server CPU |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for row in ("mnist_index", "mnist_upload", "imagenet", "room_answer"):
        a = fig.get("answers", {}).get(row)
        h = fig.get("handlers", {}).get(row) or {}
        if a is None:
            continue
        if "skipped" in a:
            lines.append(f"| /{API[row]} | skipped: {a['skipped']} | | | | | | | | |")
            continue
        hm = h.get("handler_ms", float("nan"))
        rest = a["cpu_ms"] - (floor or 0) - hm
        sp = h.get("split_ms", {})
        split = " / ".join(f"{sp.get(k, 0):.1f}" for k in ("model", "service", "drawing", "encoding", "other"))
        b = a.get("bytes") or {}
        kb = (f"{b.get('json', 0) / 1024:.0f} KB + {b.get('files', 0) / 1024:.0f} KB "
              f"(+ {b.get('files_closed', 0) / 1024:.0f} KB)")
        post = h.get("postprocess_data_ms", h.get("postprocess_total_ms", float("nan")))
        fetch = "–"
        if a.get("fetch_shown", {}).get("files"):
            fs, fc = a["fetch_shown"], a.get("fetch_closed", {})
            fetch = (f"{fs['cpu_ms_per_answer']:.1f} ms for {fs['files']} files"
                     + (f" (+ {fc['cpu_ms_per_answer']:.1f} ms for {fc['files']} in closed accordions)"
                        if fc.get("files") else ""))
        lines.append(f"| /{API[row]} | **{a['cpu_ms']:.1f} ms** | {floor or 0:.1f} | {hm:.1f} | {rest:.1f} | "
                     f"{post:.1f} ({h.get('outputs', '?')} outputs) + {rest - post:.1f} | {split} | {a['wall_ms']:.0f} ms"
                     f" | {kb} | {fetch} |")
    answers = fig.get("answers", {})
    if floor and fwd and "cpu_ms" in answers.get("imagenet", {}):
        im = answers["imagenet"]["cpu_ms"]
        one = fig.get("forward_server_threads", {}).get("cpu_ms")
        lines.append("")
        text = (f"Ratios: ImageNet answer = floor + **{(im - floor) / fwd:.2f}×** a 2-thread forward (its minimum, the "
                f"issue's measure; target ≤ 2×)")
        if one:
            text += f", floor + {(im - floor) / one:.2f}× a 1-thread forward (as the server runs it)"
        if "cpu_ms" in answers.get("mnist_index", {}):
            text += (f"; MNIST answer = **{answers['mnist_index']['cpu_ms'] / floor:.2f}×** (index) and "
                     f"{answers.get('mnist_upload', {}).get('cpu_ms', float('nan')) / floor:.2f}× (upload) the floor "
                     "(target ≤ 2×)")
        lines.append(text + ".")
    phases = {r: a.get("phases") for r, a in fig.get("profiled", {}).items() if a.get("phases")}
    if phases:
        lines.append("")
        lines.append("Gradio's own phase timers (`GRADIO_PROFILING=1`, a second server; wall ms, median per request):")
        lines.append("")
        lines.append("| answer | queue wait | preprocess | fn_call | postprocess | of which: move to cache | "
                     "update state in config (a second move to cache) | total |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r, p in phases.items():
            lines.append(f"| /{API[r]} | {p['queue_wait_ms']:.1f} | {p['preprocess_ms']:.1f} | {p['fn_call_ms']:.1f} | "
                         f"{p['postprocess_ms']:.1f} | {p['postprocess_move_to_cache_ms']:.1f} | "
                         f"{p['postprocess_update_state_in_config_ms']:.1f} | {p['total_ms']:.1f} |")
    spies = {r: a.get("spy") for r, a in fig.get("profiled", {}).items() if a.get("spy")}
    if spies:
        lines.append("")
        lines.append("py-spy on the server (share of the samples of busy threads, by the outermost matching frame):")
        lines.append("")
        for r, s in spies.items():
            parts = ", ".join(f"{k} {v:.0%}" for k, v in s["buckets"].items())
            leaves = ", ".join(f"`{k}` {v:.0%}" for k, v in list(s["top_leaves"].items())[:6])
            lines.append(f"- /{API[r]} ({s['samples']} samples): {parts}. Top leaves: {leaves}.")
    for row, h in fig.get("handlers", {}).items():
        if h.get("by_use_ms"):
            lines.append("")
            lines.append(f"Handler of /{API[row]} by what the work is for (CPU ms per answer, inclusive): "
                         + ", ".join(f"{k} {v:.1f}" for k, v in h["by_use_ms"].items())
                         + f"; the rest of the handler {h['handler_ms'] - sum(h['by_use_ms'].values()):.1f}.")
        if h.get("postprocess_ms"):
            lines.append("")
            top = sorted(h["postprocess_ms"].items(), key=lambda kv: -kv[1])
            lines.append(f"Gradio postprocess per output, /{API[row]} (its postprocess + one move to cache, CPU ms, median;"
                         f" Blocks.postprocess_data in all: {h.get('postprocess_data_ms', float('nan')):.1f} ms): "
                         + ", ".join(f"{k} {v:.2f}" for k, v in top[:12]))
    if fig.get("outputs"):
        lines.append("")
        lines.append("Outputs per event (hidden at first: in a closed accordion, or not visible):")
        lines.append("")
        for row, o in fig["outputs"].items():
            hidden = [f"{it['kind']} '{it['label']}' ({it['where']})" for it in o["items"] if it["where"]]
            lines.append(f"- /{API[row]}: {o['outputs']} outputs ({o['api_outputs']} in the API); hidden at first: "
                         + (", ".join(hidden) if hidden else "none"))
    opt = fig.get("options")
    if opt:
        lines.append("")
        lines.append(f"Encoding options: the ImageNet overlay as sent ({opt['overlay_size'][0]}×{opt['overlay_size'][1]}) "
                     "and resized to phone widths; the 8 ImageNet steps together; one MNIST answer's "
                     f"{len(opt['mnist_sizes'])} images together (bytes, encode CPU ms):")
        lines.append("")
        cols = [c for c in ("overlay", "overlay_780", "overlay_390", "steps_all", "mnist_all") if opt.get(c)]
        lines.append("| format | " + " | ".join(cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for label in opt["overlay"]:
            cells = []
            for c in cols:
                v = opt[c].get(label)
                cells.append(f"{v['bytes'] / 1024:.0f} KB, {v['ms']:.1f} ms" if v else "–")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("The overlay as an output component (postprocess + move to cache, CPU ms; bytes sent): "
                     + "; ".join(f"{k}: {v['ms']:.1f} ms, {v['bytes'] / 1024:.0f} KB"
                                 for k, v in opt["gradio_image"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="answers measured per row (after 3 to warm up)")
    ap.add_argument("--only", default="", help=f"comma-separated rows of {', '.join(ROWS)}")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--no-options", action="store_true", help="skip the encoding / output options")
    ap.add_argument("--no-profile", action="store_true", help="skip the second (profiled) server")
    ap.add_argument("--no-spy", action="store_true", help="no py-spy on the profiled server")
    ap.add_argument("--report", default=None, help="print the report of a --json file written before, and stop")
    args = ap.parse_args(argv)
    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    rows = [r for r in (args.only.split(",") if args.only else ROWS) if r]
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    folder = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    inputs = Inputs(max(args.n, 5), folder)
    fig: dict = {"n": args.n, "rows": rows, "loadavg": Path("/proc/loadavg").read_text().split()[:3]}
    demo = build_app_in_process()  # in this process: the handlers, the outputs, the options
    fig["outputs"] = outputs_table(demo)
    if "floor" in rows:  # cheap answers: more of them, for the clock's 10 ms ticks
        fig["floor"] = measure_floor(max(args.n, 60))
    served = [r for r in rows if r in API and r != "floor"]
    if served:
        fig["answers"] = measure_app(served, args.n, inputs)
    if "forward" in rows or "imagenet" in rows:
        fig["forward"] = measure_forward(2)  # the ratios: 2 threads
        fig["forward_server_threads"] = measure_forward(server_threads())
    if served:
        fig["handlers"] = measure_handlers(demo, served, args.n, inputs)
        if not args.no_profile:
            fig["profiled"] = measure_app(served, max(5, args.n // 2), inputs, profile=True, spy=not args.no_spy)
    if not args.no_options:
        fig["options"] = encoding_options(demo, inputs)
    print(report(fig))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
