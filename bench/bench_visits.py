"""Server memory per visit: many short browser sessions that each explain one photo and leave.

    python bench/bench_visits.py                      # 112 sessions, 12 of them warm-up
    python bench/bench_visits.py --sessions 40 --warmup 5 --idle 10

Starts ``python app.py`` on a free loopback port, then runs browser sessions one after the other
in Debian's chromium (a fresh browser context each: own cookies, cache and Gradio session, phone
viewport). A session opens the page, opens the ImageNet tab, uploads one of ``examples/``'s
photos through the photo's file input (the next one each time), waits for the "Top 5" Label to
show a percentage (clicking "Explain" if the upload alone did not start one within
--click-after seconds), and closes its context, which ends its Gradio heartbeat.

The server's RSS (VmRSS of /proc/<pid>/status) is read after the warm-up sessions and after
the last one, each time after --idle seconds with no session open (Gradio's closed-session
bookkeeping and the allocator settle; Python's gc cannot be triggered from outside, and freed
memory is not always returned to the system, which is what a host pays for).
MB per closed session = (RSS_end − RSS_warm) / (sessions after the warm-up); the slope of a
least-squares line through the RSS read after every --every sessions is printed as a check.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=112, help="browser sessions in all, warm-up included")
    ap.add_argument("--warmup", type=int, default=12,
                    help="sessions before the first RSS reading (≥ the 11 example photos: each one's cached result is "
                         "then in memory)")
    ap.add_argument("--every", type=int, default=10, help="read RSS after every this many sessions")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds with no session open before an RSS reading")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds allowed for one step of a session")
    ap.add_argument("--click-after", type=float, default=20.0,
                    help="seconds to wait for the upload's own explanation before clicking Explain")
    ap.add_argument("--max-minutes", type=float, default=40.0, help="stop starting sessions after this long")
    ap.add_argument("--tab", default="ImageNet", help="name of the tab to open")
    ap.add_argument("--photo-label", default="Your photo", help="label of the photo component")
    ap.add_argument("--result-label", default="Top 5", help="text in the label of the result gr.Label")
    ap.add_argument("--url", help="measure an app already running here (RSS only with --pid)")
    ap.add_argument("--pid", type=int, help="with --url: the server's process id")
    args = ap.parse_args(argv)
    if args.sessions <= args.warmup:
        raise SystemExit("--sessions must be larger than --warmup")

    photos = sorted((ROOT / "examples").rglob("*.jpg"))
    from playwright.sync_api import sync_playwright

    proc = None
    url, pid = args.url, args.pid
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        proc, _ = start_server(port)
        pid = proc.pid
    rss0 = rss_mb(pid) if pid else float("nan")
    readings: list[tuple[int, float]] = []
    durations: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + args.max_minutes * 60
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
                    if pid and (done == args.warmup or (done > args.warmup and (done - args.warmup) % args.every == 0)):
                        time.sleep(args.idle)
                        readings.append((done, rss_mb(pid)))
                        print(f"after {done} sessions: RSS {readings[-1][1]:.0f} MB", file=sys.stderr, flush=True)
            finally:
                browser.close()
        if pid and (not readings or readings[-1][0] != done):
            time.sleep(args.idle)
            readings.append((done, rss_mb(pid)))
    finally:
        if proc is not None:
            stop_server(proc)

    print(f"# memory per visit · {platform.machine()} · {os.cpu_count()} cores · {time.strftime('%Y-%m-%d')} · "
          f"{done} browser sessions, one after another, each: open the page, open the {args.tab} tab, upload one "
          f"example photo, wait for the top-5, close\n")
    print(f"sessions: {done} ({len(failures)} failed); one session: median {statistics.median(durations):.1f} s, "
          f"max {max(durations):.1f} s\n")
    if not pid or len(readings) < 2 or readings[0][0] != args.warmup:
        print("not enough RSS readings (give --pid with --url, and more sessions than --warmup)")
        return
    (n_warm, warm), (n_end, end) = readings[0], readings[-1]
    per = (end - warm) / (n_end - n_warm)
    print("| after sessions | server RSS (MB) |\n|---:|---:|")
    print(f"| 0 (started) | {rss0:.0f} |")
    for n, r in readings:
        print(f"| {n}{' (warm)' if n == n_warm else ''} | {r:.0f} |")
    print(f"\nRSS warm {warm:.0f} MB → end {end:.0f} MB over {n_end - n_warm} closed sessions; "
          f"least-squares slope {slope(readings):.2f} MB per session.\n")
    print("| target | measured | result |\n|---|---:|---|")
    print(f"| ≤ {TARGET_MB:g} MB per closed session | {per:.2f} MB | {'pass' if per <= TARGET_MB else 'FAIL'} |")
    if failures:
        print("\nFailed sessions:\n\n" + "\n".join(f"- {f}" for f in failures[:10]))


if __name__ == "__main__":
    main()
