"""End-to-end load, cold start and memory of the launched app, measured through gradio_client.

    python bench/bench_load.py                       # MNIST endpoint: 1, 10, 30 clients; cold start; RSS
    python bench/bench_load.py --endpoint imagenet   # the ImageNet endpoint with an example photo
    python bench/bench_load.py --soak 1000           # RSS over 1000 consecutive requests
    python bench/bench_load.py --all-models          # peak RSS with every ImageNet model loaded

Everything runs against a server on 127.0.0.1 started by this script (``python app.py``),
with bounded request counts; it stops by itself. Prints Markdown tables.

Every client makes one untimed request first (a phone has run one when the page opened).
Clients do not download the output images by default (``--download`` makes them): in a
workshop the phones fetch those over the network on their own CPUs, whereas here the clients
would share the server's two cores and measure themselves.

"Ideal" is what perfect queueing would give: with c clients each sending one request at the
same moment, a single request taking t seconds and p requests truly running in parallel
(p = min(concurrency, cores)), the last answer arrives after ceil(c / p) * t.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import (ROOT, free_port, make_client, peak_rss_mb, rss_mb,  # noqa: E402
                     start_server, stop_server)


def request_fn(kind: str):
    from gradio_client import handle_file

    if kind == "mnist":
        def call(client, i):
            out = client.predict(i % 1000, "predicted", "strongest", api_name="/mnist_explain_index")
            assert out[0]["label"] in "0123456789"
        return call
    # Not a shipped example: the app caches examples' results, and this must measure model runs.
    # Several distinct photos, so no request can be answered from another's work.
    import tempfile

    from _photos import turned_cats

    photos = turned_cats(8, Path(tempfile.mkdtemp(prefix="bench-load-")))

    def call(client, i):
        out = client.predict(handle_file(photos[i % len(photos)]), "efficientnet_lite0", "_head_act", "Grad-CAM",
                             "predicted", "none", "max", "jet", 0.5, api_name="/imagenet_explain")
        assert out[1]["label"]
    return call


def bare_import_seconds() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, gradio"], check=True)
    return time.perf_counter() - t


def run_clients(url: str, call, n_clients: int, per_client: int, download: bool) -> tuple[list[float], int, float]:
    clients = [make_client(url, download) for _ in range(n_clients)]
    # Each client answers one request before the clock starts, as every phone has: opening the
    # page runs the tab's first explanation. A gradio_client's first call also sets up its own
    # threads and event stream (~40 ms each, ~0.3 s for a burst of 10 fresh clients), which is
    # the load generator's cost, not the server's.
    for k, c in enumerate(clients):
        call(c, 10_000 + k)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(n_clients)

    def work(k: int) -> None:
        nonlocal errors
        barrier.wait()
        for r in range(per_client):
            t = time.perf_counter()
            try:
                call(clients[k], k * per_client + r)
                ok = True
            except Exception:
                ok = False
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                errors += 0 if ok else 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def memory_all_models(concurrency: int) -> None:
    """Peak RSS with every model of the ImageNet tab loaded and used once.

    The torchvision weights cannot be downloaded on an offline machine, so this writes randomly
    initialised weights of the same architectures under torchvision's file names into a
    temporary weights folder: parameter memory is the same as with the trained weights (the
    predictions are meaningless, and nothing here looks at them).
    """
    import shutil
    import tempfile

    from gradio_client import handle_file

    sys.path.insert(0, str(ROOT))
    from gradcam_core.models import weights as W

    wdir = Path(tempfile.mkdtemp(prefix="bench-weights-"))
    try:
        for key in W.TORCHVISION_MODELS:
            W.save_random_weights(key, wdir)
        port = free_port()
        proc, _ = start_server(port, concurrency, env={W.WEIGHTS_DIR_ENV: str(wdir)})
        try:
            client = make_client(f"http://127.0.0.1:{port}/", False)
            client.predict(0, "predicted", "strongest", api_name="/mnist_explain_index")
            rows = [("started, first MNIST answer", rss_mb(proc.pid))]
            photo = handle_file(str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"))
            for m in client.predict(api_name="/imagenet_models"):
                if not m["available"]:
                    rows.append((f"{m['title']}: not available ({m['status']})", rss_mb(proc.pid)))
                    continue
                client.predict(photo, m["key"], m["default_layer"], "Grad-CAM", "predicted", "none", "max", "jet",
                               0.5, api_name="/imagenet_explain")
                rows.append((f"+ {m['title']} loaded, one Grad-CAM on {m['default_layer']}", rss_mb(proc.pid)))
            peak = peak_rss_mb(proc.pid)
        finally:
            stop_server(proc)
    finally:
        shutil.rmtree(wdir, ignore_errors=True)
    print(f"# memory with every model loaded · {platform.machine()} · {os.cpu_count()} cores · "
          f"{time.strftime('%Y-%m-%d')} · torchvision models with random weights of the real shapes\n")
    print("| after | RSS (MB) |\n|---|---:|")
    for what, mb in rows:
        print(f"| {what} | {mb:.0f} |")
    print(f"| **peak RSS of the process (VmHWM)** | **{peak:.0f}** |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", choices=["mnist", "imagenet"], default="mnist")
    ap.add_argument("--clients", default="1,10,30")
    ap.add_argument("--per-client", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--soak", type=int, default=0, help="consecutive requests for the RSS drift figure")
    ap.add_argument("--download", action="store_true", help="clients also download every output image")
    ap.add_argument("--all-models", action="store_true", help="only: peak RSS with every ImageNet model loaded")
    args = ap.parse_args(argv)
    if args.all_models:
        memory_all_models(args.concurrency)
        return

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    bare = bare_import_seconds()
    proc, t0 = start_server(port, args.concurrency)
    call = request_fn(args.endpoint)
    try:
        client = make_client(url, args.download)
        call(client, 0)
        cold = time.perf_counter() - t0
        rss_loaded = rss_mb(proc.pid)
        singles = []
        for i in range(7):
            t = time.perf_counter()
            call(client, i)
            singles.append(time.perf_counter() - t)
        single = statistics.median(singles)
        cores = os.cpu_count() or 1
        parallel = max(1, min(args.concurrency, cores))
        print(f"# {args.endpoint} endpoint · {platform.machine()} · {cores} cores · concurrency {args.concurrency} · "
              f"{time.strftime('%Y-%m-%d')} · clients download images: {'yes' if args.download else 'no'}\n")
        print(f"cold start (process start → first answer): {cold:.1f} s; bare `import torch, gradio`: {bare:.1f} s; "
              f"RSS after first answer: {rss_loaded:.0f} MB; single request (median of 7): {single * 1e3:.0f} ms\n")
        print("| clients | requests | errors | p50 (s) | p95 (s) | throughput (req/s) | ideal last answer (s) | p95 / ideal |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in [int(c) for c in args.clients.split(",")]:
            lat, errors, wall = run_clients(url, call, n, args.per_client, args.download)
            ideal = math.ceil(n / parallel) * single
            print(f"| {n} | {len(lat)} | {errors} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} | "
                  f"{len(lat) / wall:.1f} | {ideal:.2f} | {pct(lat, 0.95) / ideal:.2f} |", flush=True)
        if args.soak:
            warm = rss_mb(proc.pid)
            marks = []
            for i in range(args.soak):
                call(client, i)
                if (i + 1) % max(1, args.soak // 5) == 0:
                    marks.append((i + 1, rss_mb(proc.pid)))
            after = rss_mb(proc.pid)
            print(f"\nRSS over {args.soak} consecutive requests: warm {warm:.0f} MB → "
                  + ", ".join(f"{k}: {v:.0f} MB" for k, v in marks)
                  + f"; drift {100 * (after - warm) / warm:+.1f} %")
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
