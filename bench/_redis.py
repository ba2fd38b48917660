"""Start and stop Debian's ``redis-server`` for the rooms' tests and benchmarks (issue 26).

The server is the test's own: a free loopback port, its data in a folder the test owns, no RDB
snapshots (``--save ''``) and the append-only file on (``--appendonly yes``), so a ``kill -9`` of the
server and a start on the same folder reads every acknowledged write back. ``tests/run.sh``
installs the package (``apt-get install redis-server``); without it the tests skip with the reason.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench._server import free_port

#: the server binary: Debian's redis-server package
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
WHY_MISSING = ("redis-server is not installed (Debian package redis-server: `apt-get install redis-server`, "
               "as tests/run.sh does)")


def redis_available() -> bool:
    return os.access(REDIS_SERVER, os.X_OK)


def start_redis(folder: Path, port: int | None = None, timeout: float = 20) -> tuple[subprocess.Popen, str]:
    """``redis-server`` on 127.0.0.1:port (a free one by default) keeping its AOF in ``folder``;
    returns (process, ``redis://127.0.0.1:port/0``) once it answers PING."""
    import redis

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(folder / "redis.log", "a")
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "yes", "--dir", str(folder), "--daemonize", "no"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.ping():
                break
        except redis.exceptions.RedisError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited at start (code {proc.returncode}); see {folder / 'redis.log'}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"redis-server did not answer within {timeout} s; see {folder / 'redis.log'}")
        time.sleep(0.05)
    client.close()
    return proc, url


def stop_redis(proc: subprocess.Popen, kill: bool = False) -> None:
    """Stop a server started by :func:`start_redis`: SIGKILL (a crash) or SIGTERM (a clean stop)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
