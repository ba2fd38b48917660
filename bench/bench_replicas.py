"""Explanations per second (and per core) with 1 and with 2 replicas behind HAProxy.

    python bench/bench_replicas.py [--replicas 1 2] [--clients 4] [--duration 30]

For each replica count: ``bash deploy/replicas.sh N PORT`` (Ctrl-C'd afterwards), then
``--clients`` gradio_client sessions (each with its own balancer cookie, so they spread over the
replicas) call ``/imagenet_explain`` (EfficientNet-Lite0, Grad-CAM) back to back for
``--duration`` seconds after one warm-up call each, uploading 8 distinct photos that are not
shipped examples (examples' results are cached, and this must measure model runs), and leaving
the result images on the server (as bench_load.py does: phones fetch theirs on their own CPUs).
Prints a Markdown table.

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
LOAD_BEFORE = "?"
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


def photos(folder: Path) -> list[str]:
    """8 distinct photos made from an example (mirrored, rotated): none is an example."""
    from PIL import Image, ImageOps

    out = []
    with Image.open(PHOTO) as im:
        for k in range(8):
            p = folder / f"cat{k}.jpg"
            ImageOps.mirror(im.convert("RGB")).rotate(k + 1).save(p, quality=90)
            out.append(str(p))
    return out


def measure(url: str, clients: int, duration: float, files: list[str]) -> dict:
    from gradio_client import Client, handle_file

    sessions = [Client(url, verbose=False, ssl_verify=False, download_files=False) for _ in range(clients)]
    replicas = sorted(c.cookies.get("GRADCAM_SRV", "?") for c in sessions)
    for i, c in enumerate(sessions):  # warm-up: model loaded on every replica
        c.predict(handle_file(files[i % len(files)]), *ARGS, api_name="/imagenet_explain")
    done: list[list[float]] = [[] for _ in sessions]
    stop_at = time.perf_counter() + duration
    cpu0 = os.times()

    def run(i: int) -> None:
        k = i
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            out = sessions[i].predict(handle_file(files[k % len(files)]), *ARGS, api_name="/imagenet_explain")
            assert out[1]["label"]
            done[i].append(time.perf_counter() - t)
            k += 1

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
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--direct", action="store_true", help="also measure the single replica without HAProxy")
    args = ap.parse_args()
    global LOAD_BEFORE
    LOAD_BEFORE = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    cores = os.cpu_count() or 1
    rows = []
    for n in args.replicas:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as d:
            port = free_port()
            proc = start(n, port, Path(d))
            threads = re.search(r"torch threads per replica: (\d+)", (Path(d) / "script.out").read_text()).group(1)
            try:
                r = measure(f"http://127.0.0.1:{port}/", args.clients, args.duration, photos(Path(d)))
                if args.direct and n == 1:  # the same replica without the balancer: its cost
                    rport = re.search(r"replica r1: pid \d+, 127.0.0.1:(\d+)", (Path(d) / "script.out").read_text())
                    direct = measure(f"http://127.0.0.1:{rport.group(1)}/", args.clients, args.duration,
                                     photos(Path(d)))
                    direct["replicas"] = ["r1"] * args.clients
            finally:
                stop(proc)
        rows.append((n, threads, r))
        if args.direct and n == 1:
            rows.append(("1, direct (no HAProxy)", threads, direct))
        print(f"{n} replica(s): {r['n']} explanations in {r['wall']:.1f} s", file=sys.stderr)
    print(f"Explanations per second through HAProxy (ratios: against 1 replica behind HAProxy), "
          f"{args.clients} gradio_client sessions calling "
          f"/imagenet_explain back to back for {args.duration:g} s (EfficientNet-Lite0, Grad-CAM, 8 distinct "
          f"non-example photos uploaded, images left on the server); {cores} cores, the clients on the same "
          f"machine; load average before: {LOAD_BEFORE}.\n")
    print("| replicas | torch threads each | sessions per replica | explanations/s | per core | "
          "median s | p90 s | client CPU (cores) |")
    print("|---|---|---|---|---|---|---|---|")
    base = next(r["rate"] for n, _, r in rows if n == 1) if any(n == 1 for n, _, _ in rows) else rows[0][2]["rate"]
    for n, threads, r in rows:
        k = n if isinstance(n, int) else 1
        spread = "/".join(str(r["replicas"].count(f"r{i}")) for i in range(1, k + 1))
        print(f"| {n} | {threads} | {spread} | {r['rate']:.2f} ({r['rate'] / base:.2f}×) | {r['rate'] / cores:.2f} | "
              f"{r['median']:.2f} | {r['p90']:.2f} | {r['client_cpu']:.2f} |")
    print(f"\nLoad average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.")


if __name__ == "__main__":
    main()
