"""Timing helpers shared by the in-process benchmarks."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_ms(fn: Callable[[], object], reps: int) -> float:
    """The median wall time of ``fn()`` over ``reps`` calls, in milliseconds, after one warm-up call
    (colour-map tables, the glyph cache and the like are built on first use)."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3
