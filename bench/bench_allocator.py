"""What a fixed mmap threshold (GRADCAM_MMAP_THRESHOLD, serving.tune_allocator) costs in CPU.

    python bench/bench_allocator.py                 # 3 rounds × 2 settings × 40 new photos
    python bench/bench_allocator.py 1048576         # another threshold against glibc's default

Each round runs two child processes one after the other, in alternating order: one with glibc's
default (a moving mmap threshold) and one with a fixed threshold (GRADCAM_MMAP_THRESHOLD, 128 KiB
unless given; both with the app's two malloc arenas). A child explains 40 photos it has never seen (bench/_photos.py) with the ImageNet tab's
handler (model, drawing, PNG files), one torch thread, and reports its CPU time (user + system)
and its RSS after gc.collect() and malloc_trim at the end. Printed: the ratio of CPU times in each
round (the machine is shared: the ratio within a round is what counts) and the RSS.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import ctypes, gc, json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, "bench")
import torch
torch.set_num_threads(1)
from gradcam_core.ui import serving
serving.tune_allocator()
from _photos import new_photos
from gradcam_core.ui import imagenet_tab as t
photos = new_photos(int(sys.argv[1]) + 5, Path(tempfile.mkdtemp(prefix="bench-alloc-")), seed=5)
args = ("efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)
for p in photos[:5]:  # model loaded, caches warm
    t.explain(str(p), *args)
r0 = resource.getrusage(resource.RUSAGE_SELF)
for p in photos[5:]:
    t.explain(str(p), *args)
r1 = resource.getrusage(resource.RUSAGE_SELF)
gc.collect()
ctypes.CDLL("libc.so.6").malloc_trim(0)
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) / 1024
print(json.dumps({"cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "rss": rss}))
"""


def child(threshold: str, n: int) -> dict:
    env = dict(os.environ, GRADCAM_MMAP_THRESHOLD=threshold, PYTHONPATH=str(ROOT))
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    n, rounds = 40, 3
    fixed = sys.argv[1] if len(sys.argv) > 1 else "131072"
    rows = []
    for r in range(rounds):
        order = ["0", fixed] if r % 2 == 0 else [fixed, "0"]
        got = {th: child(th, n) for th in order}
        rows.append((got["0"], got[fixed]))
    print(f"# fixed mmap threshold {int(fixed) // 1024} KiB · {os.cpu_count()} cores · load average "
          f"{os.getloadavg()[0]:.1f} · {n} new photos per child, one torch thread\n")
    print(f"| round | CPU, glibc default (s) | CPU, fixed {int(fixed) // 1024} KiB (s) | ratio | RSS default (MB) | "
          "RSS fixed (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for i, (d, f) in enumerate(rows, 1):
        print(f"| {i} | {d['cpu']:.1f} | {f['cpu']:.1f} | {f['cpu'] / d['cpu']:.2f} | {d['rss']:.0f} | {f['rss']:.0f} |")
    print(f"\nmedian CPU ratio (fixed ÷ default): {statistics.median(f['cpu'] / d['cpu'] for d, f in rows):.2f}")


if __name__ == "__main__":
    main()
