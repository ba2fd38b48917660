"""Server CPU and wall time per ImageNet answer through the launched app (run from a checkout's root).

    python bench/bench_answer_cpu.py new            # this checkout
    (cd ../old-checkout && python /path/to/bench/bench_answer_cpu.py old)   # another one, same script

Starts ``python app.py`` on a free port, warms it with 3 answers, then times 11 sequential
``/imagenet_explain`` calls with new photos (the example cat, mirrored and turned, so no cache hits):
the median wall time a client sees, and the server process's CPU time (user + system, from
/proc/PID/stat) divided by the answers. Alternate two checkouts A B A B in one run to compare.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gradio_client import Client, handle_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _photos import turned_cats  # noqa: E402


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "this"
    root = Path(os.getcwd())
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                client = Client(url, verbose=False, ssl_verify=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        photos = turned_cats(14, Path(tempfile.mkdtemp(prefix="bench-answer-")), root)

        def call(i: int) -> None:
            client.predict(handle_file(photos[i]), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                           "max", "jet", 0.5, api_name="/imagenet_explain")

        def cpu() -> float:
            f = open(f"/proc/{proc.pid}/stat").read().split()
            return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")

        for i in range(3):
            call(i)
        walls, c0 = [], cpu()
        for i in range(3, 14):
            t = time.perf_counter()
            call(i)
            walls.append(time.perf_counter() - t)
        per = (cpu() - c0) / 11
        print(f"{label}: wall median {statistics.median(walls) * 1000:.0f} ms, server CPU per answer {per * 1000:.0f} ms")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
