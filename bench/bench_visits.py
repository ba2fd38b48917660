"""Server memory per visit: many short browser sessions that each explain one new photo and leave.

    python bench/bench_visits.py                                   # 60 warm-up + 60 measured sessions
    python bench/bench_visits.py --grace 20                        # closed sessions expire inside the run
    python bench/bench_visits.py --sessions 40 --warmup 10 --photos examples   # the old method

Starts ``python app.py`` on a free loopback port, then runs browser sessions one after the other
in Debian's chromium (a fresh browser context each: own cookies, cache and Gradio session, phone
viewport). A session opens the page, opens the ImageNet tab, uploads a photo through the photo's
file input, waits for the "Top 5" Label to show a percentage (clicking "Explain" if the upload
alone did not start one within --click-after seconds), and closes its context, which ends its
Gradio heartbeat.

Photos (``--photos``): ``new`` (the default) uploads a photo the server has never seen in every
session (bench/_photos.py: an example photo cropped, turned and re-coloured at random), as real
visitors do; ``examples`` cycles through ``examples/``, whose results and pictures are cached and
shared, so that each visit costs the server much less (the method of the figures before 2026-12-07).

Grace (``--grace``, the server's GRADCAM_SESSION_GRACE): Gradio keeps a closed session's copy of
every result it was shown until the app drops it, SESSION_GRACE seconds after the browser left.
With the default 900 s nothing expires during a run (the grace is *outside* the measuring window):
the figure is what a visitor costs while the grace lasts. With a short grace (e.g. 20 s) every
closed session expires *inside* the window (the warm and the end readings wait until it has):
the figure is what a visitor leaves behind for good.

RSS: the server is started with GRADCAM_MEMORY_PROBE (debug only, see
``gradcam_core.ui.serving.install_memory_probe``); before each reading the benchmark sends the
server SIGUSR1, and the server runs ``gc.collect()`` and glibc's ``malloc_trim(0)`` and reports its
VmRSS and how many sessions Gradio still keeps. The RSS read from outside just before (no gc, no
trim: what the issue measured) is printed next to it. MB per closed session = (RSS_end − RSS_warm) /
(sessions after the warm-up); the slope of a least-squares line through every reading is a check.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _photos import new_photos  # noqa: E402
from _server import ROOT, free_port, launch_chromium, phone_context, rss_mb, start_server, stop_server  # noqa: E402

TARGET_MB = 0.5

RESULT_JS = """(want) => [...document.querySelectorAll('[data-testid="label"]')].some(b =>
    (b.textContent || '').includes(want) && /\\d\\s*%/.test(b.textContent) && b.offsetParent !== null)"""


def photo_input(page):
    """The ImageNet photo's file input: the first file input of the open tab panel."""
    panel = page.locator("[role=tabpanel]:visible")
    if panel.count():
        inputs = panel.first.locator("input[type=file]")
        if inputs.count():
            return inputs.first
    return page.locator(".block", has_text="Your photo").locator("input[type=file]").first


def visit(browser, url: str, photo: Path, args) -> tuple[bool, float, str]:
    """One session; returns (result shown, seconds, error)."""
    t = time.perf_counter()
    ctx = phone_context(browser)
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="domcontentloaded", timeout=args.timeout * 1000)
        page.get_by_role("tab", name=args.tab).click(timeout=args.timeout * 1000)
        page.get_by_text(args.photo_label).first.wait_for(timeout=args.timeout * 1000)
        photo_input(page).set_input_files(str(photo), timeout=args.timeout * 1000)
        try:
            page.wait_for_function(RESULT_JS, arg=args.result_label, timeout=args.click_after * 1000, polling=100)
        except Exception:
            page.get_by_role("button", name="Explain", exact=True).last.click(timeout=10000)
            page.wait_for_function(RESULT_JS, arg=args.result_label, timeout=args.timeout * 1000, polling=100)
        return True, time.perf_counter() - t, "; ".join(errors)[:200]
    except Exception as exc:  # a failed session is counted, not fatal
        return False, time.perf_counter() - t, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        ctx.close()


def slope(points: list[tuple[int, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    xs, ys = zip(*points)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


class Probe:
    """The server's own RSS after gc.collect() and malloc_trim (GRADCAM_MEMORY_PROBE, SIGUSR1)."""

    def __init__(self, pid: int, path: Path):
        self.pid, self.path = pid, path

    def read(self, timeout: float = 30.0) -> tuple[float, int, int]:
        """(RSS MB, sessions Gradio keeps, of them closed), after the server's gc and trim."""
        before = self.path.read_text().count("\n") if self.path.exists() else 0
        os.kill(self.pid, signal.SIGUSR1)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            if len(lines) > before:
                _, rss_kb, kept, closed = lines[-1].split()
                return int(rss_kb) / 1024, int(kept), int(closed)
            time.sleep(0.1)
        raise RuntimeError("the server did not answer the memory probe (started without GRADCAM_MEMORY_PROBE?)")


def sweep_seconds(grace: float) -> float:
    """How long after a browser leaves its session is surely gone: the grace, plus one period of
    the app's sweeper (serving._start_sweeper), plus a margin."""
    return grace + max(1.0, min(60.0, grace / 2 or 60.0)) + 3.0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=120, help="browser sessions in all, warm-up included")
    ap.add_argument("--warmup", type=int, default=60,
                    help="sessions before the first RSS reading (more than the 48 results the ImageNet tab keeps "
                         "for re-drawing, so that store is full)")
    ap.add_argument("--every", type=int, default=10, help="read RSS after every this many sessions")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds with no session open before an RSS reading")
    ap.add_argument("--photos", choices=["new", "examples"], default="new",
                    help="a photo never seen before in every session (default), or the example photos in turn")
    ap.add_argument("--grace", type=float, default=None,
                    help="the server's GRADCAM_SESSION_GRACE in seconds (default: the app's, 900); a short one "
                         "expires inside the run, and the warm and end readings then wait until it has")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds allowed for one step of a session")
    ap.add_argument("--click-after", type=float, default=20.0,
                    help="seconds to wait for the upload's own explanation before clicking Explain")
    ap.add_argument("--max-minutes", type=float, default=40.0, help="stop starting sessions after this long")
    ap.add_argument("--tab", default="ImageNet", help="name of the tab to open")
    ap.add_argument("--photo-label", default="Your photo", help="label of the photo component")
    ap.add_argument("--result-label", default="Top 5", help="text in the label of the result gr.Label")
    ap.add_argument("--url", help="measure an app already running here (RSS only with --pid)")
    ap.add_argument("--pid", type=int, help="with --url: the server's process id")
    ap.add_argument("--probe-file", help="with --url: the server's GRADCAM_MEMORY_PROBE file (else RSS as it is)")
    args = ap.parse_args(argv)
    if args.sessions <= args.warmup:
        raise SystemExit("--sessions must be larger than --warmup")

    tmp = Path(tempfile.mkdtemp(prefix="bench-visits-"))
    if args.photos == "new":
        photos = new_photos(args.sessions, tmp / "photos")
    else:
        photos = sorted((ROOT / "examples").rglob("*.jpg"))
    from playwright.sync_api import sync_playwright

    proc = None
    url, pid = args.url, args.pid
    probe_path = Path(args.probe_file) if args.probe_file else None
    grace = args.grace if args.grace is not None else float(os.environ.get("GRADCAM_SESSION_GRACE", "900") or 0)
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        probe_path = tmp / "memory-probe.txt"
        env = {"GRADCAM_MEMORY_PROBE": str(probe_path), "GRADCAM_SESSION_GRACE": f"{grace:g}"}
        proc, _ = start_server(port, env=env)
        pid = proc.pid
    probe = Probe(pid, probe_path) if pid and probe_path else None
    settle = sweep_seconds(grace) if grace < 120 else 0.0  # a short grace: wait until the closed sessions are gone

    def reading(n: int, wait: float) -> tuple[int, float, float, int, int]:
        time.sleep(wait)
        raw = rss_mb(pid)
        rss, kept, closed = probe.read() if probe else (raw, -1, -1)
        print(f"after {n} sessions: RSS {raw:.0f} MB as it is, {rss:.0f} MB after gc + trim; Gradio keeps {kept} "
              f"sessions ({closed} closed)", file=sys.stderr, flush=True)
        return n, raw, rss, kept, closed

    rss0 = rss_mb(pid) if pid else float("nan")
    readings: list[tuple[int, float, float, int, int]] = []
    durations: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + args.max_minutes * 60
    t_start = time.monotonic()
    load0 = os.getloadavg()
    done = 0
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                for i in range(args.sessions):
                    if time.monotonic() > deadline:
                        print(f"stopped after {done} sessions: --max-minutes {args.max_minutes:g} reached",
                              file=sys.stderr)
                        break
                    ok, dt, err = visit(browser, url, photos[i % len(photos)], args)
                    done += 1
                    durations.append(dt)
                    if not ok:
                        failures.append(f"session {i + 1}: {err}")
                        print(f"session {i + 1} failed: {err}", file=sys.stderr)
                    if pid and done == args.warmup:
                        readings.append(reading(done, max(args.idle, settle)))
                    elif pid and done > args.warmup and (done - args.warmup) % args.every == 0 and done < args.sessions:
                        readings.append(reading(done, args.idle))
            finally:
                browser.close()
        if pid and done > args.warmup:
            readings.append(reading(done, max(args.idle, settle)))
    finally:
        if proc is not None:
            stop_server(proc)
    minutes = (time.monotonic() - t_start) / 60
    load1 = os.getloadavg()

    print(f"# memory per visit · {platform.machine()} · {os.cpu_count()} cores · {time.strftime('%Y-%m-%d %H:%M')} · "
          f"{done} browser sessions, one after another, each: open the page, open the {args.tab} tab, upload "
          f"{'a new photo' if args.photos == 'new' else 'one example photo'}, wait for the top-5, close · "
          f"GRADCAM_SESSION_GRACE {grace:g} s ({'expires inside the run' if settle else 'outside the run'}) · "
          f"{minutes:.1f} min · load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end\n")
    print(f"sessions: {done} ({len(failures)} failed); one session: median {statistics.median(durations):.1f} s, "
          f"max {max(durations):.1f} s\n")
    if not pid or len(readings) < 2 or readings[0][0] != args.warmup:
        print("not enough RSS readings (give --pid with --url, and more sessions than --warmup)")
        return
    w, e = readings[0], readings[-1]
    n = e[0] - w[0]
    per, per_raw = (e[2] - w[2]) / n, (e[1] - w[1]) / n
    print("| after sessions | RSS as it is (MB) | RSS after gc + malloc_trim (MB) | sessions Gradio keeps (closed) |")
    print("|---:|---:|---:|---:|")
    print(f"| 0 (started) | {rss0:.0f} | | |")
    for k, (m, raw, rss, kept, closed) in enumerate(readings):
        print(f"| {m}{' (warm)' if k == 0 else ''} | {raw:.0f} | {rss:.0f} | {kept} ({closed}) |")
    print(f"\nAfter gc + trim: RSS warm {w[2]:.0f} MB → end {e[2]:.0f} MB over {n} closed sessions; "
          f"least-squares slope {slope([(r[0], r[2]) for r in readings]):.2f} MB per session. "
          f"As it is (no gc, no trim): {per_raw:.2f} MB per session, slope "
          f"{slope([(r[0], r[1]) for r in readings]):.2f}.\n")
    if not settle:  # every closed session is still kept: what a visitor costs during the grace, not the target's figure
        print(f"Every closed session is still kept (the grace is longer than the run): {per:.2f} MB per session kept "
              f"for the grace period. The target (≤ {TARGET_MB:g} MB per closed session) applies once it has "
              "expired: run with a short --grace.")
    else:
        print("| target | measured (gc + trim) | result |\n|---|---:|---|")
        print(f"| ≤ {TARGET_MB:g} MB per closed session | {per:.2f} MB | {'pass' if per <= TARGET_MB else 'FAIL'} |")
    if failures:
        print("\nFailed sessions:\n\n" + "\n".join(f"- {f}" for f in failures[:10]))


if __name__ == "__main__":
    main()
