"""Does slow work block quick work? Plain Grad-CAM latency alone and while two clients run slow jobs.

    python bench/bench_slow_quick.py                          # slow jobs: Score-CAM, cascade, curves, compare
    python bench/bench_slow_quick.py --slow scorecam --reps 5 --max-seconds 240

For each kind of slow job this starts a fresh ``python app.py`` on a free loopback port (so no
work left running from the previous kind is measured), then, with gradio_client:
1. warms up (one plain explanation), then times --reps plain Grad-CAM explanations on the
   ImageNet tab (``/imagenet_explain``, EfficientNet-Lite0, its default layer), one after another:
   the median is the latency *alone*;
2. starts two more clients that submit the slow job over and over, waits until both are being
   processed (not just queued), and times --reps plain explanations again: *under load*;
3. cancels the slow clients' jobs and stops the server (which ends any work still running).
Every loop is bounded: at most --reps requests per phase and --max-seconds per kind; a plain
request that has not answered by then is reported as "> N s".

Slow jobs ("--slow", comma-separated): ``scorecam`` = the slowest Score-CAM the app offers (a
method named like "Score-CAM (exact)" if there is one, else "Score-CAM"; from the Method
parameter's choices) through ``/imagenet_explain``, or through the app's own endpoint for slow
methods if it has one (an api_name starting ``/imagenet_explain`` and containing ``slow``),
``cascade`` = the trust panel's model randomisation (``/trust_imagenet_cascade``), ``curves`` =
its deletion/insertion curves (``/trust_imagenet_curves``), ``compare`` = ``/imagenet_compare`` (every available model).
Endpoints are looked up by api_name and their parameters by label through ``view_api``; a
parameter this script does not know takes its default. Photos are rotated copies of a shipped
example, a new one for every request, so no answer comes from the app's example cache.
Target: latency under load ≤ 2 × latency alone.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, free_port, make_client, start_server, stop_server  # noqa: E402

TARGET_RATIO = 2.0
MODEL = "efficientnet_lite0"
BUSY = {"PROCESSING", "PROGRESS", "ITERATING"}
SLOW_ENDPOINTS = {"scorecam": "/imagenet_explain", "cascade": "/trust_imagenet_cascade",
                  "curves": "/trust_imagenet_curves", "compare": "/imagenet_compare"}


class Photos:
    """A new rotated, mirrored copy of a shipped photo at every call (thread-safe)."""

    def __init__(self, source: Path):
        from PIL import Image

        self.dir = Path(tempfile.mkdtemp(prefix="bench-slow-quick-"))
        with Image.open(source) as im:
            self.base = im.convert("RGB")
        self.n = 0
        self.lock = threading.Lock()

    def next(self) -> str:
        from PIL import ImageOps

        with self.lock:
            self.n += 1
            k = self.n
        p = self.dir / f"photo{k}.jpg"
        ImageOps.mirror(self.base).rotate(0.5 + 0.37 * k).save(p, quality=90)
        return str(p)


class Endpoints:
    """Positional arguments for an endpoint, filled by parameter label; unknown ones take their default."""

    def __init__(self, client):
        self.info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]

    def params(self, api_name: str) -> list[dict]:
        if api_name not in self.info:
            raise SystemExit(f"the app has no {api_name} endpoint (has: {', '.join(sorted(self.info))})")
        return self.info[api_name]["parameters"]

    def choices(self, api_name: str, label: str) -> list[str]:
        for p in self.params(api_name):
            if (p.get("label") or "").lower().startswith(label.lower()):
                t = p.get("type") or {}
                if "enum" in t:
                    return list(t["enum"])
                py = (p.get("python_type") or {}).get("type", "")
                if py.startswith("Literal["):
                    return [s.strip().strip("'\"") for s in py[len("Literal["):-1].split(",")]
        return []

    def args(self, api_name: str, by_label: dict) -> list:
        from gradio_client import handle_file

        out = []
        for p in self.params(api_name):
            label = (p.get("label") or p.get("parameter_name") or "").lower()
            hit = next((v for k, v in by_label.items() if label.startswith(k.lower())), None)
            if hit is not None:
                out.append(handle_file(hit) if isinstance(hit, Path) else hit)
            elif p.get("parameter_has_default"):
                out.append(p.get("parameter_default"))
            else:
                raise SystemExit(f"{api_name}: no value for the parameter {p.get('label')!r} "
                                 f"({p.get('parameter_name')}); add it to the labels this script fills")
        return out


def slowest_score_cam(methods: list[str]) -> str:
    exact = [m for m in methods if "score" in m.lower() and "exact" in m.lower()]
    plain = [m for m in methods if "score" in m.lower()]
    if not (exact or plain):
        raise SystemExit(f"no Score-CAM among the methods {methods}")
    return (exact or sorted(plain, key=len))[0]


def run_kind(kind: str, args, photos: Photos) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc, _ = start_server(port, args.concurrency)
    stop = threading.Event()
    t_end = time.monotonic() + args.max_seconds
    slow_log: list[tuple[float, bool]] = []
    slow_errors: list[str] = []
    censored: list[float] = []
    current: dict[int, object] = {}
    try:
        quick_client = make_client(url)
        ep = Endpoints(quick_client)
        models = {m["key"]: m for m in quick_client.predict(api_name="/imagenet_models")}
        layer = models[MODEL]["default_layer"]
        methods = ep.choices("/imagenet_explain", "Method")
        slow_method = args.slow_method or slowest_score_cam(methods)
        # a slow method may have an endpoint (and queue) of its own, e.g. /imagenet_explain_slow
        slow_endpoint = args.slow_endpoint or SLOW_ENDPOINTS[kind]
        if kind == "scorecam" and not args.slow_endpoint:
            own = sorted(n for n in ep.info if n.startswith("/imagenet_explain") and "slow" in n)
            slow_endpoint = own[0] if own else slow_endpoint

        def quick_args():
            return ep.args("/imagenet_explain", {"your photo": Path(photos.next()), "model": MODEL, "layer": layer,
                                                 "method": "Grad-CAM", "explain class": "predicted"})

        def slow_args():
            common = {"your photo": Path(photos.next()), "model": MODEL, "layer": layer, "explain class": "predicted"}
            if kind == "scorecam":
                return ep.args(slow_endpoint, {**common, "method": slow_method})
            if kind == "compare":
                return ep.args("/imagenet_compare", {**common, "method": "Grad-CAM"})
            return ep.args(slow_endpoint, common)

        def timed_quick(limit: float) -> float:
            t = time.perf_counter()
            job = quick_client.submit(*quick_args(), api_name="/imagenet_explain")
            try:
                job.result(timeout=max(0.1, limit))
            except TimeoutError:
                job.cancel()
                censored.append(time.perf_counter() - t)  # no answer within the time bound
                return float("inf")
            return time.perf_counter() - t

        timed_quick(args.max_seconds)  # warm-up: model loaded, threads started
        alone = [timed_quick(t_end - time.monotonic()) for _ in range(args.reps)]

        def slow_worker(k: int) -> None:
            client = make_client(url)
            while not stop.is_set() and time.monotonic() < t_end:
                t = time.perf_counter()
                job = client.submit(*slow_args(), api_name=slow_endpoint)
                current[k] = job
                while not job.done() and not stop.is_set() and time.monotonic() < t_end:
                    time.sleep(0.2)
                if job.done():
                    try:
                        job.result(timeout=1)
                        slow_log.append((time.perf_counter() - t, True))
                    except Exception as exc:
                        if stop.is_set():
                            break  # cancelled by this script at the end
                        slow_log.append((time.perf_counter() - t, False))
                        msg = str(exc).splitlines()[0] if str(exc) else ""
                        slow_errors.append(f"{type(exc).__name__}: {msg[:220]}")
                        time.sleep(1.0)  # a refused job is not retried in a tight loop
                else:
                    job.cancel()

        workers = [threading.Thread(target=slow_worker, args=(k,), daemon=True) for k in range(args.slow_clients)]
        for w in workers:
            w.start()
        # both slow jobs must hold a worker before the clock starts
        busy_by = time.monotonic() + min(60.0, args.max_seconds / 4)
        while time.monotonic() < busy_by:
            codes = [getattr(getattr(current.get(k), "status", lambda: None)(), "code", None)
                     for k in range(args.slow_clients)]
            if all(c is not None and c.name in BUSY for c in codes):
                break
            time.sleep(0.2)
        t_loaded = time.perf_counter()
        loaded = []
        for _ in range(args.reps):
            left = t_end - time.monotonic()
            if left <= 1:
                break
            loaded.append(timed_quick(left))
            if loaded[-1] == float("inf"):
                break
        loaded_span = time.perf_counter() - t_loaded
        stop.set()
        for job in list(current.values()):
            job.cancel()
        for w in workers:
            w.join(timeout=10)
        return {"kind": kind, "endpoint": slow_endpoint, "slow_method": slow_method if kind == "scorecam" else "",
                "alone": alone, "loaded": loaded, "slow_done": list(slow_log), "span": loaded_span,
                "slow_errors": list(slow_errors), "censored": list(censored)}
    finally:
        stop.set()
        stop_server(proc)


def fmt(s: float, waited: list[float] | None = None) -> str:
    if s != float("inf"):
        return f"{s:.2f}"
    return f"> {max(waited):.0f} (no answer)" if waited else "no answer"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slow", default="scorecam,cascade,curves,compare", help="kinds of slow job, comma-separated")
    ap.add_argument("--slow-method", help="the Score-CAM method name (default: the slowest the app offers)")
    ap.add_argument("--slow-endpoint", help="api_name for the slow job (default: per kind; for scorecam an "
                                            "/imagenet_explain*slow* endpoint if the app has one)")
    ap.add_argument("--slow-clients", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5, help="plain explanations timed per phase")
    ap.add_argument("--max-seconds", type=float, default=240.0, help="time bound per kind of slow job")
    ap.add_argument("--concurrency", type=int, default=2, help="app.py --concurrency")
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.slow.split(",") if k.strip()]
    for k in kinds:
        if k not in SLOW_ENDPOINTS:
            raise SystemExit(f"unknown slow job {k!r}; choose from {', '.join(SLOW_ENDPOINTS)}")
    photos = Photos(ROOT / "examples" / "animals" / "chelsea_cat.jpg")
    results = []
    for k in kinds:
        results.append(run_kind(k, args, photos))
        print(f"{k}: done", file=sys.stderr, flush=True)

    print(f"# slow vs quick · {platform.machine()} · {os.cpu_count()} cores · {time.strftime('%Y-%m-%d')} · "
          f"app.py --concurrency {args.concurrency} · plain = Grad-CAM on {MODEL}'s default layer, a new photo each "
          f"time · {args.slow_clients} clients repeat the slow job\n")
    print("| slow job (endpoint) | plain alone, median (s) | plain under load, median (s) | under load, each (s) | "
          "ratio | slow jobs finished (median s) | ≤ 2× |")
    print("|---|---:|---:|---|---:|---:|---|")
    for r in results:
        alone = statistics.median(r["alone"])
        loaded = statistics.median(r["loaded"]) if r["loaded"] else float("nan")
        ratio = loaded / alone
        done = [d for d, ok in r["slow_done"] if ok]
        name = f"{r['kind']} ({r['endpoint']}{', ' + r['slow_method'] if r['slow_method'] else ''})"
        slow_txt = f"{len(done)} ({statistics.median(done):.1f})" if done else "0 (none finished in the window)"
        failed = sum(1 for _, ok in r["slow_done"] if not ok)
        if failed:
            slow_txt += f", {failed} failed"
        ok = ratio <= TARGET_RATIO
        verdict = "pass" if ok else "FAIL"
        if not done and failed:
            verdict = "no load: every slow job failed (below)"
        if ratio == float("inf"):
            ratio_txt = f"> {max(r['censored']) / alone:.0f}" if r["censored"] else "∞"
        else:
            ratio_txt = f"{ratio:.1f}"
        print(f"| {name} | {alone:.2f} | {fmt(loaded, r['censored'])} | "
              f"{', '.join(fmt(x, r['censored']) for x in r['loaded'])} | "
              f"{ratio_txt}× | {slow_txt} | {verdict} |")
    for r in results:
        distinct = list(dict.fromkeys(r["slow_errors"]))
        if distinct:
            print(f"\nSlow jobs ({r['kind']}) that ended in an error ({len(r['slow_errors'])}); the first kinds: "
                  + "; ".join(distinct[:2]))


if __name__ == "__main__":
    main()
