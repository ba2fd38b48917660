"""Charts that are charts, drawn with matplotlib (an image is needed: the page shows them as
pictures and the API returns them): the deletion / insertion curves of the trust panel.

The teaching steps' small bar charts stay in :mod:`gradcam_core.present.barchart`, because
matplotlib is 78–680× slower for them (BENCHMARKS.md, section 3)."""
from __future__ import annotations

import threading

import numpy as np

from gradcam_core.analysis import sanity
from gradcam_core.present.ticks import written
from gradcam_core.present.words import say

_mpl_lock = threading.Lock()


def ranking_name(name: str) -> str:
    """A ranking's name as the legend and the AUC table show it: the comparison "random" worded in
    the reader's language; a method's or an edge map's name ("Grad-CAM", "Sobel") as it is."""
    return say("imagenet.curves.ranking.random") if name == "random" else name


def _axis_labels():
    """matplotlib's own tick labels, written with the reader's decimal sign (French: 0,2)."""
    from matplotlib import ticker

    class Written(ticker.ScalarFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return written(super().__call__(x, pos))

    return Written()


def curves_figure(curves: sanity.Curves, class_name: str = "") -> np.ndarray:
    """Deletion (top) and insertion (bottom) curves as an RGB array (phone-width, stacked)."""
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    styles = {"random": dict(color="0.45", ls="--"), "Sobel": dict(color="#0571b0", ls=":")}
    with _mpl_lock:  # Agg is fine in threads, but font caches are shared; keep it simple
        fig = Figure(figsize=(4.6, 5.4), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 1, sharex=True)
        for ax, kind, data, aucs in (
            (axes[0], "deletion", curves.deletion, curves.auc_deletion),
            (axes[1], "insertion", curves.insertion, curves.auc_insertion),
        ):
            for name, ys in data.items():
                st = styles.get(name, dict(color="#ca0020", ls="-", lw=2))
                ax.plot(curves.fractions, ys, label=say("imagenet.curves.legend", name=ranking_name(name), auc=aucs[name]), **st)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlim(0, 1)
            ax.grid(alpha=0.3)
            ax.set_title(say(f"imagenet.curves.{kind}"), fontsize=10)
            ax.set_ylabel(say("imagenet.curves.p_of", name=class_name) if class_name
                          else say("imagenet.curves.probability"), fontsize=9)
            ax.legend(fontsize=8, loc="best", frameon=False)
            ax.tick_params(labelsize=8)
            ax.xaxis.set_major_formatter(_axis_labels())
            ax.yaxis.set_major_formatter(_axis_labels())
        axes[1].set_xlabel(say("imagenet.curves.fraction"), fontsize=9)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
