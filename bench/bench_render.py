"""Benchmark gradcam_core.render against one matplotlib figure.

Times every renderer on LeNet-sized inputs (16 channels of 8x8, a 28x28
digit) and ResNet-sized inputs (512 channels of 7x7 -> top-16 grid, a
224x224 RGB image), printing the median ms per call over ``--reps`` calls
(default 50).  For comparison: one matplotlib figure with imshow + colorbar
saved to PNG (what a figure-per-step UI would pay).

    python bench/bench_render.py [--reps 50]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gradcam_core import render as R  # noqa: E402


def median_ms(fn, reps: int) -> float:
    fn()  # warm-up (colormap LUTs, glyph cache)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def titles_for(idx, alpha):
    return [f"ch {int(k)}  α={R.format_number(alpha[k], 2, plus=True)}" for k in idx]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    args = ap.parse_args(argv)
    reps = args.reps
    rng = np.random.default_rng(0)

    # LeNet-sized: 16 x 8 x 8 activations/gradients, 28x28 digit
    A16 = rng.normal(size=(16, 8, 8)).clip(0) * 0.3
    alpha16 = rng.normal(size=16) * 0.01
    cam8 = rng.random((8, 8))
    digit = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    digit224 = R.enlarge(digit, 224)
    t16 = titles_for(range(16), alpha16)
    hl16 = {int(np.argmax(alpha16)): (214, 39, 40), int(np.argmin(alpha16)): (33, 102, 172)}

    # ResNet-sized: 512 x 7 x 7, 224x224 RGB
    A512 = rng.normal(size=(512, 7, 7)).clip(0)
    alpha512 = rng.normal(size=512) * 1e-4
    cam7 = rng.random((7, 7))
    rgb224 = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
    top16 = np.argsort(-np.abs(alpha512))[:16]
    t512 = titles_for(top16, alpha512)
    A64 = A512[:64]
    t64 = titles_for(range(64), alpha512)

    cases = [
        ("LeNet", "colorize 8x8", lambda: R.colorize(cam8, "jet")),
        ("LeNet", "colorize_signed 8x8", lambda: R.colorize_signed(A16[0] - 0.1)),
        ("LeNet", "enlarge 8x8 -> 160", lambda: R.enlarge(R.colorize(cam8), 160)),
        ("LeNet", "overlay 28x28 gray + 8x8", lambda: R.overlay(digit, cam8, 0.5)),
        ("LeNet", "overlay 224 (enlarged digit) + 8x8", lambda: R.overlay(digit224, cam8, 0.5)),
        ("LeNet", "colorbar 256 horizontal", lambda: R.colorbar(0, 0.012, "jet")),
        ("LeNet", "colorbar 256 vertical", lambda: R.colorbar(-2.5, 2.5, "RdBu_r", horizontal=False)),
        ("LeNet", "with_colorbar 160x160", lambda: R.with_colorbar(R.enlarge(R.colorize(cam8), 160), 0, 1.3e-4, "jet")),
        ("LeNet", "map_grid 16x8x8 cell96 (no titles)", lambda: R.map_grid(A16)),
        ("LeNet", "map_grid 16x8x8 cell96 titles+highlight", lambda: R.map_grid(
            A16, titles=t16, highlight=hl16)),
        ("LeNet", "bar_chart 16", lambda: R.bar_chart(alpha16)),
        ("LeNet", "number_grid 8x8", lambda: R.number_grid(A16[0] - 0.1)),
        ("LeNet", "caption_image 160", lambda: R.caption_image(digit224[:160, :160], "Step 2: gradients")),
        ("LeNet", "png_bytes 224x224", lambda: R.png_bytes(R.overlay(digit224, cam8))),
        ("ResNet", "overlay 224x224 RGB + 7x7", lambda: R.overlay(rgb224, cam7, 0.5)),
        ("ResNet", "map_grid top-16 of 512x7x7 (select+titles)", lambda: R.map_grid(
            A512[top16], titles=t512, signed=False)),
        ("ResNet", "map_grid 64x7x7 cell96 (no titles)", lambda: R.map_grid(A64)),
        ("ResNet", "map_grid 64x7x7 cell96 titles", lambda: R.map_grid(A64, titles=t64, ncols=8)),
        ("ResNet", "bar_chart 512 (all bars)", lambda: R.bar_chart(alpha512)),
        ("ResNet", "bar_chart 512 top=8", lambda: R.bar_chart(alpha512, top=8)),
        ("ResNet", "number_grid 7x7", lambda: R.number_grid(A512[0])),
        ("ResNet", "png_bytes 224x224 RGB", lambda: R.png_bytes(R.overlay(rgb224, cam7))),
    ]

    print(f"median of {reps} calls, ms per call")
    print(f"{'size':7s} {'function':48s} {'ms':>8s}")
    for group, name, fn in cases:
        print(f"{group:7s} {name:48s} {median_ms(fn, reps):8.3f}", flush=True)

    # ---- matplotlib comparison: one figure per step
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def mpl_figure():
        fig, ax = plt.subplots(figsize=(3, 3), dpi=100)
        im = ax.imshow(cam8, cmap="jet")
        fig.colorbar(im, ax=ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    def mpl_grid16():
        fig, axes = plt.subplots(4, 4, figsize=(4.3, 4.6), dpi=100)
        for k, ax in enumerate(axes.ravel()):
            im = ax.imshow(A16[k], cmap="viridis", vmin=A16.min(), vmax=A16.max())
            ax.set_title(t16[k], fontsize=7)
            ax.axis("off")
        fig.colorbar(im, ax=axes.ravel().tolist(), orientation="horizontal")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    mreps = max(5, min(reps, 20))
    print(f"{'mpl':7s} {'figure imshow+colorbar -> PNG':48s} "
          f"{median_ms(mpl_figure, reps):8.3f}", flush=True)
    print(f"{'mpl':7s} {'4x4 subplots grid+colorbar -> PNG (median of %d)' % mreps:48s} "
          f"{median_ms(mpl_grid16, mreps):8.3f}", flush=True)


if __name__ == "__main__":
    main()
