"""Server CPU per ImageNet answer as a phone's page gets it, end to end (issue 27), for one or two checkouts.

    python bench/bench_page_cpu.py --n 15 /path/to/old/checkout .      # before, after: A B A B

Each checkout's ``python app.py`` is launched on a port of 7800–7849; a real Chromium (390×844, touch)
opens the ImageNet tab and uploads ``n`` new photos (``_photos.turned_cats``), one at a time, each once its
predecessor's overlay is shown and the page has been quiet for ``--settle`` seconds (so the page's
follow-ups are counted: the gallery's file fetches, the alt-text event, a second queue's event). Server CPU
= the process's utime + stime (/proc/PID/stat) over the answers, minus the same server's CPU over an idle
period of the same length, ÷ n. Everything the page does because of an answer is in it: the queue, the
handler, Gradio's processing, the transport and the follow-ups.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _photos import turned_cats  # noqa: E402
from _server import free_port_in  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def port_in_range(lo: int = 7800, hi: int = 7849) -> int:
    return free_port_in(lo, hi)

def launch(root: Path) -> tuple[subprocess.Popen, str]:
    port = port_in_range()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=root,
                            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{root}: app.py did not start")


def answers(browser, url: str, pid: int, photos: list[str], warm: int, settle: float) -> dict:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="ImageNet").first.click()
    photo_input = page.locator("#imagenet-photo input[type=file]")
    photo_input.wait_for(state="attached", timeout=60000)
    sel = "#imagenet-result img"
    start = None
    for i, p in enumerate(photos):
        if i == warm:
            time.sleep(settle)
            start, t0 = cpu_s(pid), time.perf_counter()
        old = page.evaluate(f"() => {{ const i = document.querySelector('{sel}'); return i ? i.src : ''; }}")
        photo_input.set_input_files(p)
        page.wait_for_function(f"""(old) => {{ const i = document.querySelector('{sel}');
                                  return i && i.src && i.src !== old && i.complete; }}""", arg=old, timeout=120000)
        time.sleep(settle)
    n = len(photos) - warm
    spent, elapsed = cpu_s(pid) - start, time.perf_counter() - t0
    ctx.close()
    time.sleep(1.0)
    idle0 = cpu_s(pid)
    time.sleep(elapsed)
    idle = cpu_s(pid) - idle0
    return {"cpu_ms": (spent - idle) / n * 1000, "raw_cpu_ms": spent / n * 1000, "idle_ms": idle / n * 1000,
            "wall_s": elapsed / n, "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", help="checkouts to launch (e.g. an old commit's `git archive`, and .)")
    ap.add_argument("--n", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2, help="A B A B: each checkout this many times")
    ap.add_argument("--settle", type=float, default=1.5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    photos = turned_cats(args.rounds * (args.n + 2), Path(tempfile.mkdtemp(prefix="bench-page-cpu-")))
    results: dict[str, list[dict]] = {r: [] for r in args.roots}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for k in range(args.rounds):
            for root in args.roots:
                proc, url = launch(Path(root).resolve())
                try:
                    chunk = photos[k * (args.n + 2):(k + 1) * (args.n + 2)]
                    res = answers(browser, url, proc.pid, chunk, 2, args.settle)
                    res["load"] = os.getloadavg()[0]
                    results[root].append(res)
                    print(f"{root}: {res['cpu_ms']:.1f} ms CPU per answer (raw {res['raw_cpu_ms']:.1f}, idle "
                          f"{res['idle_ms']:.1f}), n = {res['n']}, "
                          f"load {res['load']:.1f}",
                          flush=True)
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        browser.close()


if __name__ == "__main__":
    main()
