"""Starting the app as a user does: `python app.py`, with a share link requested while offline."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_share_requested_offline_still_serves_locally_and_says_why():
    port = _free_port()
    env = dict(os.environ, GRADCAM_SHARE="1", GRADCAM_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.time() + 180
        status = None
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                if proc.poll() is not None:
                    break
                continue
            lines.append(line)
            if "share link" in line.lower() and ("no public" in line.lower() or "public link:" in line.lower()):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                    status = r.status
                break
        log = "".join(lines)
        assert status == 200, log
        # offline here: the reason is stated, and the local address is given
        assert "No public share link" in log or "Public link:" in log, log
        if "No public share link" in log:
            assert f"127.0.0.1:{port}" in log
        assert proc.poll() is None, "the server must keep running"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
