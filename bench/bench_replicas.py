"""Explanations per second (and per core) with 1 and with 2 replicas behind HAProxy.

    python bench/bench_replicas.py [--replicas 1 2] [--clients 4] [--duration 30]

For each replica count: ``bash deploy/replicas.sh N PORT`` (Ctrl-C'd afterwards), then
``--clients`` gradio_client sessions (each with its own balancer cookie, so they spread over the
replicas) call ``/imagenet_explain`` (EfficientNet-Lite0, Grad-CAM, an uploaded example photo)
back to back for ``--duration`` seconds after one warm-up call each. Prints a Markdown table.

The clients run on the same machine and take CPU from the replicas: on a small machine the
figures are a lower bound of what the replicas serve to phones, and the ratio between the rows
is what matters.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, free_port  # noqa: E402

PHOTO = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
ARGS = ("efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)


def start(n: int, port: int, run_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, GRADCAM_REPLICAS_DIR=str(run_dir), GRADCAM_ALLOW_DOWNLOAD="0",
               GRADIO_ANALYTICS_ENABLED="False", GRADCAM_HOST="127.0.0.1")
    out = open(run_dir / "script.out", "w")
    proc = subprocess.Popen(["bash", "deploy/replicas.sh", str(n), str(port)], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 400
    while "Ctrl-C stops them all" not in (run_dir / "script.out").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError((run_dir / "script.out").read_text())
        time.sleep(1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure(url: str, clients: int, duration: float) -> dict:
    from gradio_client import Client, handle_file

    sessions = [Client(url, verbose=False, ssl_verify=False) for _ in range(clients)]
    replicas = sorted(c.cookies.get("GRADCAM_SRV", "?") for c in sessions)
    for c in sessions:  # warm-up: model loaded, example cache irrelevant (an upload)
        c.predict(handle_file(str(PHOTO)), *ARGS, api_name="/imagenet_explain")
    done: list[list[float]] = [[] for _ in sessions]
    stop_at = time.perf_counter() + duration
    cpu0 = os.times()

    def run(i: int) -> None:
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            sessions[i].predict(handle_file(str(PHOTO)), *ARGS, api_name="/imagenet_explain")
            done[i].append(time.perf_counter() - t)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    n = sum(len(d) for d in done)
    lat = sorted(x for d in done for x in d)
    return dict(n=n, wall=wall, rate=n / wall, replicas=replicas, median=statistics.median(lat),
                p90=lat[int(0.9 * (len(lat) - 1))],
                client_cpu=(cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=float, default=30.0)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for n in args.replicas:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as d:
            port = free_port()
            proc = start(n, port, Path(d))
            threads = re.search(r"torch threads per replica: (\d+)", (Path(d) / "script.out").read_text()).group(1)
            try:
                r = measure(f"http://127.0.0.1:{port}/", args.clients, args.duration)
            finally:
                stop(proc)
        rows.append((n, threads, r))
        print(f"{n} replica(s): {r['n']} explanations in {r['wall']:.1f} s", file=sys.stderr)
    print(f"Explanations per second through HAProxy, {args.clients} gradio_client sessions calling "
          f"/imagenet_explain back to back for {args.duration:g} s (EfficientNet-Lite0, Grad-CAM, "
          f"{PHOTO.name} uploaded each time); {cores} cores, the clients on the same machine.\n")
    print("| replicas | torch threads each | sessions per replica | explanations/s | per core | "
          "median s | p90 s | client CPU (cores) |")
    print("|---|---|---|---|---|---|---|---|")
    base = rows[0][2]["rate"]
    for n, threads, r in rows:
        spread = "/".join(str(r["replicas"].count(f"r{i}")) for i in range(1, n + 1))
        print(f"| {n} | {threads} | {spread} | {r['rate']:.2f} ({r['rate'] / base:.2f}×) | {r['rate'] / cores:.2f} | "
              f"{r['median']:.2f} | {r['p90']:.2f} | {r['client_cpu']:.2f} |")


if __name__ == "__main__":
    main()
