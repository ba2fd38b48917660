"""Shared helpers for the benchmarks: start ``python app.py`` on a free loopback port, stop it,
read its memory, make a gradio_client, and launch Debian's chromium the way the browser tests do."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# the flags that work on this machine (see tests/test_browser.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
# Chrome on an Android phone with a 390 px wide viewport
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_in(lo: int, hi: int) -> int:
    """A free loopback port in ``lo``–``hi`` (a test or a benchmark keeps to a range of its own, so
    runs side by side do not take each other's ports), else any free one."""
    for port in range(lo, hi + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """Resident set size now (VmRSS), MB."""
    return _status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of the process (VmHWM), MB."""
    return _status_mb(pid, "VmHWM")


def start_server(port: int, concurrency: int = 2, env: dict | None = None, extra_args: list[str] | None = None,
                 timeout: float = 300) -> tuple[subprocess.Popen, float]:
    """``python app.py`` on 127.0.0.1:port; returns (process, perf_counter at start) once it listens."""
    t0 = time.perf_counter()
    log_dir = ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    log = open(log_dir / f"bench-server-{port}.log", "w")  # the server's own output, for when it dies
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--concurrency", str(concurrency),
                             *(extra_args or [])],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", **(env or {})))
    wait_listening(proc, port, log_dir / f"bench-server-{port}.log", timeout)
    return proc, t0


def wait_listening(proc: subprocess.Popen, port: int, log: Path | None = None, timeout: float = 180) -> None:
    """Return once ``proc`` listens on 127.0.0.1:``port``; if it exits first or does not listen within
    ``timeout`` seconds, stop it and raise RuntimeError with the end of its ``log`` (the servers of the
    benchmarks and of the tests all start this way)."""
    t0 = time.perf_counter()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            exited = proc.poll() is not None
            if exited or time.perf_counter() - t0 > timeout:
                stop_server(proc)
                tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
                why = "exited early" if exited else f"did not start listening within {timeout:.0f} s"
                raise RuntimeError(f"app.py {why}:\n{tail}")
            time.sleep(0.2)


def stop_server(proc: subprocess.Popen) -> None:
    """End a server started with subprocess.Popen: terminate, then kill if it hangs (also the tests' stop_process)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def make_client(url: str, download: bool = False):
    """A gradio_client Client. On plain http there is no TLS to verify; gradio_client would
    still build a certificate-verifying SSL context (re-reading the CA bundle, ~55 ms of CPU)
    for every request, which on this machine is CPU taken from the server being measured."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=download, ssl_verify=url.startswith("https:"))


def launch_chromium(playwright):
    """Debian's chromium, headless, with the flags that work here (no browser download)."""
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def phone_context(browser, **kw):
    """A fresh browser context (own cookies, cache and session) emulating a phone."""
    return browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True,
                               user_agent=PHONE_UA, **kw)
