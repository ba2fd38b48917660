"""Benchmark the drawing modules of gradcam_core.present (paint, grids, colourbar, barchart, codec)
against one matplotlib figure.

Times every renderer on LeNet-sized inputs (16 channels of 8x8, a 28x28
digit) and ResNet-sized inputs (512 channels of 7x7 -> top-16 grid, a
224x224 RGB image), printing the median ms per call over ``--reps`` calls
(default 50).  For comparison: one matplotlib figure with imshow + colorbar
saved to PNG (what a figure-per-step UI would pay).

Then the decision the redesign asked for (issue 14, "one plotting approach"): each chart-like part
of a step image drawn by matplotlib (Agg, the object API, no pyplot, straight to an array — the
cheapest way to get an image out of it) against the hand-written renderer, per step image, and
the whole MNIST answer's step images (``build_steps`` on LeNet, digit #17, Grad-CAM) with the
parts swapped for the matplotlib ones.

    python bench/bench_render.py [--reps 50]
"""

from __future__ import annotations

import argparse
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bench._timing import median_ms  # noqa: E402
from gradcam_core.present import barchart, codec, colourbar, glyphs, grids, paint, ticks  # noqa: E402




def titles_for(idx, alpha):
    return [f"ch {int(k)}  α={ticks.format_number(alpha[k], 2, plus=True)}" for k in idx]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--text-only", action="store_true", help="only the text-drawing comparison")
    args = ap.parse_args(argv)
    reps = args.reps
    if args.text_only:
        compare_text(reps)
        return
    rng = np.random.default_rng(0)

    # LeNet-sized: 16 x 8 x 8 activations/gradients, 28x28 digit
    A16 = rng.normal(size=(16, 8, 8)).clip(0) * 0.3
    alpha16 = rng.normal(size=16) * 0.01
    cam8 = rng.random((8, 8))
    digit = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    digit224 = paint.enlarge(digit, 224)
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
        ("LeNet", "colorize 8x8", lambda: paint.colorize(cam8, "jet")),
        ("LeNet", "colorize_signed 8x8", lambda: paint.colorize_signed(A16[0] - 0.1)),
        ("LeNet", "enlarge 8x8 -> 160", lambda: paint.enlarge(paint.colorize(cam8), 160)),
        ("LeNet", "overlay 28x28 gray + 8x8", lambda: paint.overlay(digit, cam8, 0.5)),
        ("LeNet", "overlay 224 (enlarged digit) + 8x8", lambda: paint.overlay(digit224, cam8, 0.5)),
        ("LeNet", "colorbar 256 horizontal", lambda: colourbar.colorbar(0, 0.012, "jet")),
        ("LeNet", "colorbar 256 vertical", lambda: colourbar.colorbar(-2.5, 2.5, "RdBu_r", horizontal=False)),
        ("LeNet", "with_colorbar 160x160", lambda: colourbar.with_colorbar(paint.enlarge(paint.colorize(cam8), 160), 0, 1.3e-4, "jet")),
        ("LeNet", "map_grid 16x8x8 cell96 (no titles)", lambda: grids.map_grid(A16)),
        ("LeNet", "map_grid 16x8x8 cell96 titles+highlight", lambda: grids.map_grid(
            A16, titles=t16, highlight=hl16)),
        ("LeNet", "bar_chart 16", lambda: barchart.bar_chart(alpha16)),
        ("LeNet", "number_grid 8x8", lambda: grids.number_grid(A16[0] - 0.1)),
        ("LeNet", "caption_image 160", lambda: grids.caption_image(digit224[:160, :160], "Step 2: gradients")),
        ("LeNet", "png_bytes 224x224", lambda: codec.png_bytes(paint.overlay(digit224, cam8))),
        ("ResNet", "overlay 224x224 RGB + 7x7", lambda: paint.overlay(rgb224, cam7, 0.5)),
        ("ResNet", "map_grid top-16 of 512x7x7 (select+titles)", lambda: grids.map_grid(
            A512[top16], titles=t512, signed=False)),
        ("ResNet", "map_grid 64x7x7 cell96 (no titles)", lambda: grids.map_grid(A64)),
        ("ResNet", "map_grid 64x7x7 cell96 titles", lambda: grids.map_grid(A64, titles=t64, ncols=8)),
        ("ResNet", "bar_chart 512 (all bars)", lambda: barchart.bar_chart(alpha512)),
        ("ResNet", "bar_chart 512 top=8", lambda: barchart.bar_chart(alpha512, top=8)),
        ("ResNet", "number_grid 7x7", lambda: grids.number_grid(A512[0])),
        ("ResNet", "png_bytes 224x224 RGB", lambda: codec.png_bytes(paint.overlay(rgb224, cam7))),
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

    compare_matplotlib(reps)
    compare_text(reps)


# --------------------------------------------------------------------------- text drawing
def compare_text(reps: int) -> None:
    """Whether the glyph atlas (present/glyphs.py) earns its keep: the same labels drawn three ways
    onto a white canvas, in one run. The labels are a map_grid's 64 titles (ResNet, 8 columns)
    and a colour bar's 5 tick labels; each way draws them all, positioned, and ends with a uint8
    RGB array (what every drawing function returns)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    alpha = rng.normal(size=64) * 1e-4
    sets = {
        "64 titles (map_grid 64x7x7)": ([f"ch {k}  α={ticks.format_number(alpha[k], 2, plus=True)}" for k in range(64)],
                                        (8 * 106, 8 * 122)),
        "5 tick labels (colour bar)": (["0.000", "0.003", "0.006", "0.009", "0.012"], (256, 30)),
    }
    tx = glyphs.text_at(10)
    font = tx.font

    print()
    print(f"text drawing, median of {reps} calls, ms per set of labels (same labels, positions, font size 10)")
    print(f"{'labels':30s} {'atlas':>8s} {'PIL text':>9s} {'mpl text':>9s} {'PIL/atlas':>10s} {'mpl/atlas':>10s}")
    for what, (labels, (w, h)) in sets.items():
        cols = 8 if len(labels) > 8 else len(labels)
        xy = [((i % cols) * (w / cols) + 2, (i // cols) * 20 + 2) for i in range(len(labels))]

        def atlas():
            canvas = np.full((h, w, 3), 255, np.uint8)
            tx.draw_many(canvas, [(p, tx.clean(s), "la") for p, s in zip(xy, labels)], (33, 33, 33))
            return canvas

        def pil_text():
            im = Image.new("RGB", (w, h), (255, 255, 255))
            d = ImageDraw.Draw(im)
            for p, s in zip(xy, labels):
                d.text(p, s, font=font, fill=(33, 33, 33))
            return np.asarray(im)

        def mpl_text():
            fig = Figure(figsize=(w / 100, h / 100), dpi=100)
            FigureCanvasAgg(fig)
            for (x, y), s in zip(xy, labels):
                fig.text(x / w, 1 - y / h, s, fontsize=10 * 72 / 100, va="top", ha="left", color="#212121")
            fig.canvas.draw()
            return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()

        a, b, c = (median_ms(f, reps) for f in (atlas, pil_text, mpl_text))
        print(f"{what:30s} {a:8.3f} {b:9.3f} {c:9.3f} {b / a:9.1f}× {c / a:9.1f}×", flush=True)


# --------------------------------------------------------------------------- matplotlib versions
def _mpl_figure(width: int, height: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _mpl_array(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def mpl_bar_chart(values, labels=None, top=None, width=480, height=240, title=None, **_):
    """The channel-importance chart in matplotlib: bars coloured by sign, a zero line, labels."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    labs = [str(i) for i in range(v.size)] if labels is None else list(labels)
    idx = np.arange(v.size)
    if top is not None:
        pos = [i for i in np.argsort(-v, kind="stable")[:top] if v[i] > 0]
        neg = [i for i in np.argsort(v, kind="stable")[:top] if v[i] < 0]
        idx = np.array(pos + neg[::-1], dtype=int)
    fig = _mpl_figure(width, height)
    ax = fig.add_axes([0.12, 0.22, 0.85, 0.66])
    ax.bar(np.arange(len(idx)), v[idx], color=np.where(v[idx] >= 0, "#ca0020", "#0571b0"), width=0.8)
    ax.axhline(0, color="#3c3c3c", lw=0.8)
    ax.set_xticks(np.arange(len(idx)), [labs[i] for i in idx], fontsize=7, rotation=90)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _mpl_array(fig)


def mpl_with_colorbar(img, vmin, vmax, cmap="jet", label=None, signed=False, **_):
    """``img`` with a matplotlib colour bar below it (same width)."""
    import matplotlib.cm as cm
    import matplotlib.colors as mcolors

    if signed:
        m = max(abs(vmin), abs(vmax))
        vmin, vmax = -m, m
    im = np.asarray(img)
    fig = _mpl_figure(im.shape[1], 44)
    ax = fig.add_axes([0.03, 0.6, 0.94, 0.3])
    fig.colorbar(cm.ScalarMappable(mcolors.Normalize(vmin, vmax), cmap), cax=ax, orientation="horizontal")
    ax.tick_params(labelsize=7)
    if label:
        ax.set_xlabel(label, fontsize=7, labelpad=1)
    return np.concatenate([im, _mpl_array(fig)], axis=0)


def mpl_map_grid(maps, cmap="viridis", vmin=None, vmax=None, signed=False, titles=None, ncols=4, cell=96,
                 colorbar_label=None, **_):
    """Feature maps as matplotlib subplots on one scale, with one shared colour bar."""
    import matplotlib.cm as cm
    import matplotlib.colors as mcolors

    maps = np.asarray(maps)
    k = maps.shape[0]
    rows = -(-k // ncols)
    lo = float(maps.min()) if vmin is None else vmin
    hi = float(maps.max()) if vmax is None else vmax
    fig = _mpl_figure(ncols * (cell + 8), rows * (cell + 22) + 50)
    axes = fig.subplots(rows, ncols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < k:
            ax.imshow(maps[i], cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=7)
    fig.colorbar(cm.ScalarMappable(mcolors.Normalize(lo, hi), cmap), ax=axes.ravel().tolist(),
                 orientation="horizontal", label=colorbar_label, fraction=0.04)
    return _mpl_array(fig)


def compare_matplotlib(reps: int) -> None:
    """Per step image and per MNIST answer: the hand-written renderer against matplotlib."""
    import torch

    from gradcam_core.data import mnist
    from gradcam_core.models.lenet import load_lenet
    from gradcam_core.present import steps as S
    from gradcam_core.cam.methods import make_cam

    torch.set_num_threads(1)
    images, _ = mnist.test_digits()
    digit = images[17]
    result = make_cam("Grad-CAM", load_lenet(), "relu2")(mnist.to_tensor(digit))
    steps = S.build_steps(result, digit, class_name="7")
    mreps = max(5, min(reps, 20))

    def answer():
        return S.build_steps(result, digit, class_name="7")

    swaps = {"bar_chart": mpl_bar_chart, "with_colorbar": mpl_with_colorbar, "map_grid": mpl_map_grid}
    home = {"bar_chart": barchart, "with_colorbar": colourbar, "map_grid": grids}  # where steps.py looks them up
    originals = {name: getattr(home[name], name) for name in swaps}
    uses = {"features": "map_grid", "gradients": "map_grid", "weights": "bar_chart", "weighted": "with_colorbar",
            "relu": "with_colorbar", "upsample": "with_colorbar"}

    ctx = S.step_context(result, digit, class_name="7")
    builders = {b.__name__.lstrip("_"): b for b in S.STEP_BUILDERS}

    def timed_step(key):
        return median_ms(lambda: builders[key](ctx), mreps)

    print(f"\nmatplotlib (Agg, object API, to an array) vs hand-written, LeNet digit #17, Grad-CAM on relu2; "
          f"median of {mreps}, ms")
    print(f"{'step image':12s} {'drawn by':16s} {'hand-written':>12s} {'matplotlib':>11s} {'ratio':>7s}")
    old_steps, new_steps = {}, {}
    for key, part in uses.items():
        old_steps[key] = timed_step(key)
        setattr(home[part], part, swaps[part])
        try:
            new_steps[key] = timed_step(key)
        finally:
            setattr(home[part], part, originals[part])
        print(f"{key:12s} {part:16s} {old_steps[key]:12.2f} {new_steps[key]:11.2f} "
              f"{new_steps[key] / old_steps[key]:6.0f}×", flush=True)
    old = median_ms(answer, mreps)
    for name, fn in swaps.items():
        setattr(home[name], name, fn)
    try:
        new = median_ms(answer, mreps)
    finally:
        for name, fn in originals.items():
            setattr(home[name], name, fn)
    print(f"{'whole MNIST answer (all 8 step images)':29s} {old:12.2f} {new:11.2f} {new / old:6.0f}×")
    assert len(steps) == 8


if __name__ == "__main__":
    main()
