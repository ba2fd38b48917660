"""Starting the app as a user does: `python app.py`, with a share link requested while offline."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def test_share_requested_offline_still_serves_locally_and_says_why():
    port = free_port()
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
        stop_process(proc)


# ----------------------------------------------------------------------------- option precedence
_HOST_PORT_VARS = ["GRADCAM_HOST", "GRADCAM_PORT", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "GRADCAM_WORKSHOP",
                   "SYSTEM"]


def _parse(monkeypatch, argv, **env):
    import app

    for k in _HOST_PORT_VARS:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    a = app.parse_args(argv)
    return a.host, a.port


def test_host_and_port_precedence_flag_then_gradcam_then_gradio_then_default(monkeypatch):
    gradio_vars = dict(GRADIO_SERVER_NAME="10.0.0.7", GRADIO_SERVER_PORT="8111")
    both = dict(gradio_vars, GRADCAM_HOST="10.0.0.8", GRADCAM_PORT="8222")
    assert _parse(monkeypatch, []) == ("127.0.0.1", 7860)
    assert _parse(monkeypatch, [], **gradio_vars) == ("10.0.0.7", 8111)
    assert _parse(monkeypatch, [], **both) == ("10.0.0.8", 8222)
    assert _parse(monkeypatch, ["--host", "10.0.0.9", "--port", "8333"], **both) == ("10.0.0.9", 8333)
    # each variable on its own
    assert _parse(monkeypatch, [], GRADIO_SERVER_PORT="8111") == ("127.0.0.1", 8111)
    assert _parse(monkeypatch, [], GRADIO_SERVER_NAME="0.0.0.0", GRADCAM_PORT="8222") == ("0.0.0.0", 8222)
    assert _parse(monkeypatch, ["--port", "8333"], GRADIO_SERVER_NAME="10.0.0.7") == ("10.0.0.7", 8333)


def test_workshop_listens_on_all_interfaces_unless_a_host_is_given(monkeypatch):
    import app

    assert _parse(monkeypatch, ["--workshop"]) == ("0.0.0.0", 7860)
    assert _parse(monkeypatch, [], GRADCAM_WORKSHOP="1") == ("0.0.0.0", 7860)
    assert app.parse_args([]).workshop is True  # GRADCAM_WORKSHOP=1 still set by the line above
    assert _parse(monkeypatch, ["--workshop", "--host", "192.168.0.4"]) == ("192.168.0.4", 7860)
    assert _parse(monkeypatch, ["--workshop"], GRADIO_SERVER_NAME="10.0.0.7") == ("10.0.0.7", 7860)
    assert _parse(monkeypatch, [], SYSTEM="spaces") == ("0.0.0.0", 7860)
    assert app.parse_args([]).workshop is False
