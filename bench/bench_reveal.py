"""Benchmark a workshop reveal's scores and pictures (issue 26): what the room service and the pages pay
per reveal (the class's score, the slide) and per phone (its score, its own picture, the grid it taps).

Inputs: a 224×224 RGB photo (the model's crop) and a 7×7 map (a ResNet's last block), 30 phones with
3 random cells each (seeded). Prints the median ms per call over ``--reps`` calls.

    python bench/bench_reveal.py [--reps 50]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gradcam_core.analysis import pointing  # noqa: E402
from gradcam_core.present import room_view  # noqa: E402


def median_ms(fn, reps: int) -> float:
    fn()  # warm-up (colour-map tables, glyph cache)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--phones", type=int, default=30)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(26)
    photo = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
    digit = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    cam = rng.random((7, 7))
    taps = [list(rng.choice(49, pointing.MAX_CELLS, replace=False)) for _ in range(args.phones)]
    cs = pointing.score_class(cam, taps)
    s = pointing.score(cam, taps[0])
    n = args.phones
    cases = [
        ("per reveal", f"score_class, {n} phones", lambda: pointing.score_class(cam, taps)),
        ("per reveal", f"score, all {n} phones", lambda: [pointing.score(cam, t) for t in taps]),
        ("per reveal", "reveal_picture (the slide, captions)", lambda: room_view.reveal_picture(photo, cam, cs.counts,
                                                                                               class_name="tabby")),
        ("per reveal", "reveal_text + reveal_alt", lambda: (room_view.reveal_text(cs, "tabby", "ResNet-18"),
                                                            room_view.reveal_alt(cs, "tabby", cam=cam))),
        ("per phone", "guess_picture 224 photo -> 448", lambda: room_view.guess_picture(photo, (7, 7))),
        ("per phone", "guess_picture 28 digit -> 448", lambda: room_view.guess_picture(digit, (7, 7))),
        ("per phone", "own_picture", lambda: room_view.own_picture(photo, cam, taps[0])),
        ("per phone", "own_text + own_alt", lambda: (room_view.own_text(s, "tabby"), room_view.own_alt(s))),
    ]
    print(f"median of {args.reps} calls, ms per call")
    print(f"{'when':<11} {'what':<40} {'ms':>8}")
    for when, what, fn in cases:
        print(f"{when:<11} {what:<40} {median_ms(fn, args.reps):>8.3f}")


if __name__ == "__main__":
    main()
