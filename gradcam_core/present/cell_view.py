"""One cell of a CAM map in words and pictures: the sum as an equation, the sentences that read
it (each derived from the numbers next to it; ``tests/test_cell.py`` tests every branch), the JSON
report of ``/…_inspect_cell``, the waterfall of terms and the top channels' maps with the cell
marked.  The numbers come from :mod:`gradcam_core.analysis.cell`."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from gradcam_core.analysis.cell import CONTENT_SHARE, ERF_SHARE, SPREADS, CellTerms, Occlusion, claim_of, grouped_terms
from gradcam_core.cam.engine import CAMResult

#: The cover test's geometry and its comparison rule, as the panel and the README state them.
COVER_RULE = (
    "What a cell sees is measured on the network itself: the input pixels where the gradient of the cell "
    "(summed over its channels) is non-zero, on seeded noise inputs, are its receptive field; the test covers "
    f"the square around the centre of that gradient's energy that holds {ERF_SHARE:.0%} of it (staying inside "
    "the receptive field, its centre within half a cell of the energy's centre). Random boxes of the same size "
    "are drawn where covering changes the input at least as much as at the median place and at least "
    f"{CONTENT_SHARE:.0%} of the most it changes anywhere, so none falls on blank margin. Two scores count as different when they lie more than "
    + ("one spread" if SPREADS == 1 else f"{SPREADS:g} spreads") + " apart, the spread being the standard "
    "deviation of the random boxes' scores (shown)."
)

#: How to read the breakdown (the panel's text).
READ_TEXT = (
    "Each bar is one channel's term, its weight times its activation at the tapped cell: red bars push the "
    "cell's value up, blue bars pull it down, and each bar starts where the previous one ended, so the last "
    "grey bar is their sum, the cell's signed value, and the ReLU then keeps it or turns it to 0. "
    "Below, what the cell sees on the input is covered and the model runs again: if the class score falls "
    "more than when random boxes of the same size are covered, the model really uses what is in that cell. "
    + COVER_RULE
)


def _decimals(values: Sequence[float]) -> int:
    """Decimals that give the largest |value| three significant digits (0 to 6)."""
    m = max((abs(float(v)) for v in values), default=0.0)
    if m == 0 or not math.isfinite(m):
        return 3
    return int(min(6, max(0, 2 - math.floor(math.log10(m)))))


def _num(v: float, d: int, plus: bool = False) -> str:
    s = f"{abs(v):.{d}f}"
    if float(s) == 0:
        return s
    return ("−" if v < 0 else ("+" if plus else "")) + s


def equation_text(ct: CellTerms, top: int | None = None, max_terms: int = 16) -> str:
    """"0.041 + 0.019 − 0.007 … = 0.059 → ReLU → 0.059": the bars' values in order (see
    :func:`grouped_terms`; exact zeros are left out and counted), the signed value and the ReLU.
    At most ``max_terms`` are written out; "…" stands for the rest, which the sum includes."""
    grouped = grouped_terms(ct, top)
    bars = [(lab, v) for lab, v in grouped if not lab.endswith(" at 0")]
    zeros = sum(int(lab.split()[0]) for lab, _ in grouped if lab.endswith(" at 0"))
    d = _decimals([v for _, v in bars] + [ct.value])
    parts = []
    for i, (label, v) in enumerate(bars[:max_terms]):
        s = _num(v, d)
        if i:
            s = ("− " + s[1:]) if s.startswith("−") else "+ " + s
        if label.startswith("other "):
            s += f" ({label})"
        parts.append(s)
    if len(bars) > max_terms:
        parts.append("…")
    if not parts:
        parts = ["0"]
    if zeros and bars:
        parts.append(f"(+ 0 from {zeros} channel{'s' if zeros > 1 else ''})")
    return f"{' '.join(parts)} = {_num(ct.value, d)} → ReLU → {_num(ct.relu, d)}"


def _channels(cs: Sequence[int]) -> str:
    cs = [str(int(c)) for c in cs]
    if len(cs) == 1:
        return f"channel {cs[0]}"
    return "channels " + ", ".join(cs[:-1]) + " and " + cs[-1]


_KIND_NOTE = {
    "channel": "Each term is the channel's weight (one number for the whole map) times its activation at this "
               "cell.",
    "gradient": "HiResCAM has no single weight per channel: each term is the channel's gradient *at this cell* "
                "times its activation there.",
    "positive gradient": "LayerCAM has no single weight per channel: each term is the channel's positive "
                         "gradient *at this cell* times its activation there.",
    "centred": "Eigen-CAM has no class weights: its map is the activations' first principal component, so each "
               "term is the component's loading for the channel times the channel's activation here minus its "
               "mean over the map. The class does not enter the map (covering the cell below still measures "
               "the class score).",
}


def _share_of_peak(share: float) -> str:
    """A cell's heat as a share of the map's peak, never "0 %" for a positive cell."""
    if share <= 0:
        return "0%"
    if share >= 0.01:
        return f"{share:.0%}"
    return f"{100 * share:.2g}%"


def sum_sentence(ct: CellTerms, n: int = 3) -> str:
    """Which channels push the cell up and which pull it down, the sign of the sum and what the
    ReLU does, with the numbers; then what the terms are for this method.  A term listed is one
    that shows as non-zero at the decimals used (a "+0.0000" is not among those that push most)."""
    d = _decimals(ct.terms)
    shown = lambda c: float(_num(abs(ct.terms[c]), d)) != 0  # noqa: E731
    ups = [int(c) for c in ct.order if ct.terms[c] > 0 and shown(c)][:n]
    downs = [int(c) for c in ct.order[::-1] if ct.terms[c] < 0 and shown(c)][:n]
    any_up, any_down = bool((ct.terms > 0).any()), bool((ct.terms < 0).any())
    val = lambda cs: ", ".join(_num(ct.terms[c], d, plus=True) for c in cs)  # noqa: E731
    verb = lambda cs, one, many: one if len(cs) == 1 else many  # noqa: E731
    tiny = _num(0.5 * 10 ** -d, d + 1)
    if ups and downs:
        s = (f"{_channels(ups).capitalize()} {verb(ups, 'pushes', 'push')} this cell up most ({val(ups)}); "
             f"{_channels(downs)} {verb(downs, 'pulls', 'pull')} it down most ({val(downs)}).")
    elif ups:
        s = (f"Every non-zero term pushes this cell up; the largest come from {_channels(ups)} ({val(ups)})."
             if not any_down else
             f"{_channels(ups).capitalize()} {verb(ups, 'pushes', 'push')} this cell up most ({val(ups)}); no term "
             f"pulls it down by {tiny} or more.")
    elif downs:
        s = (f"Every non-zero term pulls this cell down; the largest come from {_channels(downs)} ({val(downs)})."
             if not any_up else
             f"{_channels(downs).capitalize()} {verb(downs, 'pulls', 'pull')} this cell down most ({val(downs)}); "
             f"no term pushes it up by {tiny} or more.")
    elif any_up or any_down:
        s = f"Every term is smaller than {tiny} here."
    else:
        s = "Every term is zero here: no channel's weighted activation reaches this cell."
    dv = _decimals([ct.value, ct.peak])
    if ct.value > 0:
        share = ct.relu / ct.peak if ct.peak > 0 else 1.0
        s += (f" The sum is positive ({_num(ct.value, dv)}), so the ReLU keeps it: this cell's heat is "
              f"{_share_of_peak(share)} of the map's peak ({_num(ct.peak, dv)}).")
    elif ct.value < 0:
        s += (f" The sum is negative ({_num(ct.value, dv)}), so the ReLU turns it into 0: the cell is cold in "
              "the heat map" + (" although some channels push it up." if any_up else "."))
    else:
        s += " The sum is 0, and so is the cell after the ReLU."
    return s + " " + _KIND_NOTE[ct.kind]


def _pct(p: float) -> str:
    return f"{p:.1%}" if p < 0.995 or p >= 0.9995 else f"{p:.2%}"


def cover_verdict(occ: Occlusion, spreads: float = SPREADS) -> tuple[str, str]:
    """(change, versus) of the cover test by the stated rule (:data:`COVER_RULE`), with u = ``spreads``
    × the random boxes' spread: change "lower" (after < before − u), "raise" (after > before + u) or
    "same"; versus "below" (after < random median − u), "above" (after > median + u) or "same"."""
    b, a, m = occ.score_before, occ.score_after, occ.random_median_after
    u = spreads * occ.spread
    change = "lower" if a < b - u else "raise" if a > b + u else "same"
    versus = "below" if a < m - u else "above" if a > m + u else "same"
    return change, versus


def cover_finding(occ: Occlusion, spreads: float = SPREADS) -> str | None:
    """What the cover test found about the cell: "for" (covering it lowers the score beyond chance),
    "against" (raises it beyond chance) or None."""
    change, versus = cover_verdict(occ, spreads)
    if change == "lower" and versus == "below":
        return "for"
    if change == "raise" and versus == "above":
        return "against"
    return None


def occlusion_sentence(occ: Occlusion, class_name: str, relu: float | None = None,
                       method: str = "Grad-CAM", spreads: float = SPREADS) -> str:
    """What covering the cell did to the class score, judged against random boxes of the same size
    by the stated rule (:func:`cover_verdict`).  With ``relu`` (the cell's heat), a second sentence
    says whether ``method``'s map and the test agree: a warm Grad-CAM cell claims its features speak
    *for* the class, a warm Counterfactual cell that they speak *against* it, Eigen-CAM claims nothing."""
    c = f"'{class_name}'"
    b, a, m = occ.score_before, occ.score_after, occ.random_median_after
    n = len(occ.random_scores)
    sp = occ.spread
    d = _decimals([b, a, m])
    ds = max(d, _decimals([sp]))
    nums = (f"from {_num(b, d)} to {_num(a, d)} (P({class_name}) {_pct(occ.prob_before)} → {_pct(occ.prob_after)}); "
            f"covering a random box of the same size gives {_num(m, d)} (median of {n}, spread {_num(sp, ds)}, "
            f"P {_pct(occ.random_median_prob_after)})")
    if occ.content <= 0:
        s = (f"The covered square already equals the *{occ.baseline}* baseline, so covering it changes nothing in the "
             f"input and the score of {c} stays {_num(a, d)}: this test cannot tell whether the model uses what is "
             f"in this cell (random boxes of the same size give {_num(m, d)}, median of {n}).")
        if relu is not None and relu > 0 and claim_of(method) is not None:
            s += " The heat here comes from the blank itself, which covering cannot remove."
        return s
    change, versus = cover_verdict(occ, spreads)
    more = "one spread" if spreads == 1 else f"{spreads:g} spreads"
    if change == "lower":
        head = f"Covering this cell lowers the score of {c} {nums}."
        tail = {"below": f" That is a bigger drop than the random boxes' (by more than {more}): the model uses what "
                         f"is in this cell as evidence for {c}.",
                "same": f" That is about as much as a random box (within {more}): this cell matters no more than "
                        "other places of its size that hold as much of the picture.",
                "above": f" The random boxes cost more (by more than {more}): other places matter more than this "
                         "one."}[versus]
    elif change == "raise":
        head = f"Covering this cell raises the score of {c} {nums}."
        tail = (f" The random boxes do not (it rises more than {more} above them): what is in this cell speaks "
                f"against {c}; without it the model is surer." if versus == "above" else
                f" Random boxes raise it as much or more (within {more}, or above), so the rise says little about "
                "this cell.")
    else:
        head = f"Covering this cell barely changes the score of {c} (within {more}): {nums}."
        if versus == "above":  # the random boxes' scores lie below: covering them lowers it more
            tail = " The random boxes lower it more, so the model hardly needs this cell."
        elif versus == "below":  # theirs lie above: covering them raises it more
            tail = f" The random boxes raise it more: other places speak against {c} more than this one does."
        elif occ.on_content:
            tail = (" Neither do random boxes that cover as much of the picture: the model does not depend on any "
                    "one place of this size.")
        else:
            tail = (" Neither do the random boxes, but covering them changes the input little, so this says "
                    "nothing about other places.")
    s = head + tail
    if relu is None:
        return s
    return s + _agreement(claim_of(method), cover_finding(occ, spreads), relu, c, method)


def _agreement(claim: str | None, found: str | None, relu: float, c: str, method: str) -> str:
    """The second sentence of :func:`occlusion_sentence`: the map's claim against the test."""
    if claim is None:
        return (f" {method}'s map is class-free: it claims nothing about {c}, so the test neither confirms nor "
                "refutes it." if relu > 0 else "")
    says = {"for": f"speaking for {c}", "against": f"speaking against {c}"}
    moved = {"for": "lowered the score more than chance", "against": "raised the score more than chance"}
    if relu > 0:
        if found == claim:
            return f" The heat map and the test agree: the map marks this cell as {says[claim]}, and covering it {moved[claim]}."
        if found is not None:
            return (f" The heat map and the test disagree: the map marks this cell as {says[claim]}, yet covering "
                    f"it {moved[found]}, so it was {says[found]}.")
        return (f" The heat map marks this cell as {says[claim]}, but covering it moves the score no more than "
                "chance: heat alone is no proof.")
    if found == claim:
        return (f" The heat map leaves this cell cold, yet covering it {moved[found]}: the map misses evidence "
                f"{'for' if claim == 'for' else 'against'} {c} here.")
    return ""


# =========================================================================== the API's answer
def report(ct: CellTerms, occ: Occlusion | None, class_name: str, top: int | None = None, **extra) -> dict:
    """The JSON of ``/…_inspect_cell``: row, col, value, relu, contributions (all channels, sorted),
    occlusion, the sentences (``top``: as :func:`grouped_terms`), and ``extra`` (model, layer, method…)."""
    out = {"row": ct.row, "col": ct.col, "grid": list(ct.grid), **extra, "method": ct.method,
           "target": ct.target, "class": class_name, "value": ct.value, "relu": ct.relu, "peak": ct.peak,
           "terms": ct.kind, "sum_of_terms": float(ct.terms.sum()), "contributions": ct.contributions(),
           "equation": equation_text(ct, top), "reading": sum_sentence(ct)}
    if occ is not None:
        out["occlusion"] = occ.as_dict()
        out["occlusion_reading"] = occlusion_sentence(occ, class_name, ct.relu, ct.method)
        out["cover_rule"] = COVER_RULE
    return out


# =========================================================================== pictures
def waterfall_image(ct: CellTerms, top: int | None = None, width: int = 460, row_h: int = 20) -> np.ndarray:
    """The terms as a horizontal waterfall (RGB uint8, ``width`` px wide): one row per bar of
    :func:`grouped_terms`, each starting where the previous one ended (red: pushes up, blue: pulls
    down), then "= sum" from 0 to the signed value (grey) and "ReLU" from 0 to the cell's heat."""
    from gradcam_core.present import glyphs, paint

    bars = grouped_terms(ct, top)
    d = _decimals([v for _, v in bars] + [ct.value])
    tx = glyphs.text_at(11)
    ends = np.cumsum([v for _, v in bars]) if bars else np.zeros(0)
    starts = np.concatenate([[0.0], ends[:-1]]) if bars else np.zeros(0)
    rows = [(lab, float(s0), float(v), paint.POS_COLOR if v >= 0 else paint.NEG_COLOR, True)
            for (lab, v), s0 in zip(bars, starts)]
    rows += [("= sum", 0.0, ct.value, (90, 90, 90), False), ("ReLU", 0.0, ct.relu, (224, 130, 20), False)]
    lo = min([0.0, ct.value] + [float(e) for e in ends])
    hi = max([0.0, ct.value] + [float(e) for e in ends])
    if hi <= lo:
        hi = lo + 1.0
    labels = [tx.clean(r[0]) for r in rows]
    texts = [tx.clean(_num(r[2], d, plus=r[4])) for r in rows]
    left = int(max(tx.width(s) for s in labels)) + 10
    right = width - int(max(tx.width(s) for s in texts)) - 10
    title_h = tx.h + 8
    height = title_h + row_h * len(rows) + 8
    canvas = np.full((height, width, 3), 255, np.uint8)
    px = lambda v: left + (float(v) - lo) / (hi - lo) * (right - left)  # noqa: E731
    title = f"cell (row {ct.row}, col {ct.col}): the terms add up to {_num(ct.value, d)}, ReLU → {_num(ct.relu, d)}"
    tx.draw(canvas, (4, 3), tx.fit(tx.clean(title), width - 8), paint.TEXT, "la")
    for i, ((lab, s0, v, color, _), label, text) in enumerate(zip(rows, labels, texts)):
        y0 = title_h + i * row_h
        a, b = sorted((px(s0), px(s0 + v)))
        x0, x1 = int(round(a)), max(int(round(a)) + 1, int(round(b)))
        if i == len(rows) - 2:  # a thin line above the sum
            canvas[y0 - 1, left:right] = (150, 150, 150)
        if v != 0:
            canvas[y0 + 3:y0 + row_h - 3, x0:x1] = color
        tx.draw(canvas, (left - 6, y0 + row_h / 2), label, paint.TEXT, "rm")
        tx.draw(canvas, (max(x1, int(round(px(s0)))) + 4, y0 + row_h / 2), text, paint.TEXT, "lm")
    z = int(round(px(0.0)))
    canvas[title_h:height - 6, z] = (40, 40, 40)
    return canvas


def _mark(canvas: np.ndarray, box, row: int, col: int, grid, color=(0, 0, 0), width: int = 2) -> None:
    """Outline cell (row, col) of a map drawn in ``box`` = (x0, y0, x1, y1) on ``canvas``."""
    x0, y0, x1, y1 = box
    h, w = grid
    cx0 = x0 + int(round(col * (x1 - x0) / w))
    cx1 = x0 + int(round((col + 1) * (x1 - x0) / w)) - 1
    cy0 = y0 + int(round(row * (y1 - y0) / h))
    cy1 = y0 + int(round((row + 1) * (y1 - y0) / h)) - 1
    for k in range(width):
        a, b, c, e = cx0 + k, cx1 - k, cy0 + k, cy1 - k
        if a > b or c > e:
            break
        canvas[c, a:b + 1] = color
        canvas[e, a:b + 1] = color
        canvas[c:e + 1, a] = color
        canvas[c:e + 1, b] = color


def channel_maps_image(result: CAMResult, ct: CellTerms, n: int = 3, index: int = 0, cell: int = 112) -> np.ndarray:
    """The ``n`` channels with the largest |term| at the cell, their whole activation maps on one
    shared colour scale, each with the cell outlined in black: which detectors fired there."""
    from gradcam_core.present import grids, ticks

    strongest = [int(c) for c in np.argsort(-np.abs(ct.terms), kind="stable")[:n]]
    act = result.activations[index].numpy()
    titles = [f"ch {c}: {ticks.format_number(float(ct.terms[c]), plus=True)}" for c in strongest]
    canvas, boxes = grids.map_grid(act[strongest], cmap="RdBu_r", signed=True, titles=titles,
                                    ncols=len(strongest), cell=cell, colorbar_label="activation",
                                    return_layout=True)
    canvas = np.array(canvas)
    for bx in boxes:
        _mark(canvas, bx, ct.row, ct.col, ct.grid, color=(0, 0, 0), width=2)
    return canvas
