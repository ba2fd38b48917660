"""One cell of a CAM map in words and pictures: the sum as an equation, the sentences that read
it (each derived from the numbers next to it; ``tests/test_cell.py`` tests every branch), the JSON
report of ``/…_inspect_cell``, the waterfall of terms and the top channels' maps with the cell
marked.  The numbers come from :mod:`gradcam_core.analysis.cell`."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from gradcam_core.analysis.cell import CONTENT_SHARE, ERF_SHARE, SPREADS, CellTerms, Occlusion, claim_of, grouped_terms
from gradcam_core.cam.engine import CAMResult
from gradcam_core.present.token_texts import is_token_grid, layout_of, say_in
from gradcam_core.present.words import lazy, number_text, say

def _more(spreads: float) -> str:
    """"one spread" or "2.5 spreads": the margin two scores must differ by."""
    return say("cell.one_spread") if spreads == 1 else say("cell.spreads", n=spreads)


def cover_rule(layout: str = "cnn") -> str:
    """The cover test's geometry and its comparison rule, as the panel and the README state them, in the
    words of a layer's layout (a token grid: what a patch token sees) and the reader's language."""
    return say_in(layout, "cell.cover_rule", erf_share=ERF_SHARE, content_share=CONTENT_SHARE, more=_more(SPREADS))


def read_text(layout: str = "cnn") -> str:
    """How to read the breakdown (the panel's text), in the words of a layer's layout."""
    return say_in(layout, "cell.read_text", cover_rule=cover_rule(layout))


#: ``COVER_RULE`` and ``READ_TEXT`` (a CNN's), worded when read (in the reader's language)
__getattr__ = lazy(COVER_RULE=cover_rule, READ_TEXT=read_text)


def _decimals(values: Sequence[float]) -> int:
    """Decimals that give the largest |value| three significant digits (0 to 6)."""
    m = max((abs(float(v)) for v in values), default=0.0)
    if m == 0 or not math.isfinite(m):
        return 3
    return int(min(6, max(0, 2 - math.floor(math.log10(m)))))


def _num(v: float, d: int, plus: bool = False) -> str:
    """``v`` with ``d`` decimals, a true minus sign, in the reader's language (``0,041`` in French)."""
    s = f"{abs(v):.{d}f}"
    if float(s) == 0:
        return number_text(s)
    return ("−" if v < 0 else ("+" if plus else "")) + number_text(s)


def _cap(text: str) -> str:
    """``text`` with its first letter in capitals (a sentence that starts with a fragment)."""
    return text[:1].upper() + text[1:]


def bar_label(label: str, layout: str = "cnn") -> str:
    """A bar's label from :func:`grouped_terms` ("ch 3", "other 758 channels", "12 channels at 0"), on
    a token grid in the words of embedding dimensions ("d3", …); a CNN's as it is."""
    if not is_token_grid(layout):
        return label
    head, _, rest = label.partition(" ")
    if head == "ch":
        return say("transformer.cell.bar", c=int(rest))
    if head == "other":
        return say("transformer.cell.bar_other", n=int(rest.split()[0]))
    if label.endswith(" at 0"):
        return say("transformer.cell.bar_zeros", n=int(head))
    return label


def equation_text(ct: CellTerms, top: int | None = None, max_terms: int = 16, layout: str = "cnn") -> str:
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
            s += f" ({bar_label(label, layout)})"
        parts.append(s)
    if len(bars) > max_terms:
        parts.append("…")
    if not parts:
        parts = ["0"]
    if zeros and bars:
        parts.append(say_in(layout, "cell.zeros_many" if zeros > 1 else "cell.zeros_one", n=zeros))
    return say("cell.equation", terms=" ".join(parts), value=_num(ct.value, d), relu=_num(ct.relu, d))


def _channels(cs: Sequence[int], layout: str = "cnn") -> str:
    cs = [str(int(c)) for c in cs]
    if len(cs) == 1:
        return say_in(layout, "cell.channel_one", c=cs[0])
    return say_in(layout, "cell.channels_many", first=", ".join(cs[:-1]), last=cs[-1])


def _kind_note(kind: str, layout: str = "cnn") -> str:
    """What a term is for this method's kind of terms (:attr:`CellTerms.kind`: "channel",
    "gradient", "positive gradient" or "centred"), in the words of the layer's layout."""
    return say_in(layout, "cell.kind." + kind.replace(" ", "_"))


def _share_of_peak(share: float) -> str:
    """A cell's heat as a share of the map's peak, never "0 %" for a positive cell."""
    if share <= 0:
        return say("cell.peak_share", share=0.0)
    if share >= 0.01:
        return say("cell.peak_share", share=share)
    return say("cell.peak_small", pct=100 * share)


def sum_sentence(ct: CellTerms, n: int = 3, layout: str = "cnn") -> str:
    """Which channels push the cell up and which pull it down, the sign of the sum and what the
    ReLU does, with the numbers; then what the terms are for this method.  A term listed is one
    that shows as non-zero at the decimals used (a "+0.0000" is not among those that push most).
    ``layout``: a token grid says embedding dimensions and patch tokens."""
    _channels_ = lambda cs: _channels(cs, layout)  # noqa: E731
    d = _decimals(ct.terms)
    shown = lambda c: float(f"{abs(ct.terms[c]):.{d}f}") != 0  # noqa: E731
    ups = [int(c) for c in ct.order if ct.terms[c] > 0 and shown(c)][:n]
    downs = [int(c) for c in ct.order[::-1] if ct.terms[c] < 0 and shown(c)][:n]
    any_up, any_down = bool((ct.terms > 0).any()), bool((ct.terms < 0).any())
    val = lambda cs: ", ".join(_num(ct.terms[c], d, plus=True) for c in cs)  # noqa: E731
    many = lambda cs, key: f"{key}_{'one' if len(cs) == 1 else 'many'}"  # noqa: E731
    tiny = _num(0.5 * 10 ** -d, d + 1)
    if ups and downs:
        s = say("cell.both", up=say(many(ups, "cell.ups"), channels=_cap(_channels_(ups)), values=val(ups)),
                down=say(many(downs, "cell.downs"), channels=_channels_(downs), values=val(downs)))
    elif ups:
        s = (say("cell.all_up", channels=_channels_(ups), values=val(ups)) if not any_down else
             say("cell.up_only", up=say(many(ups, "cell.ups"), channels=_cap(_channels_(ups)), values=val(ups)),
                 tiny=tiny))
    elif downs:
        s = (say("cell.all_down", channels=_channels_(downs), values=val(downs)) if not any_up else
             say("cell.down_only", down=say(many(downs, "cell.pulls"), channels=_cap(_channels_(downs)),
                                            values=val(downs)), tiny=tiny))
    elif any_up or any_down:
        s = say("cell.all_tiny", tiny=tiny)
    else:
        s = say_in(layout, "cell.all_zero")
    dv = _decimals([ct.value, ct.peak])
    if ct.value > 0:
        share = ct.relu / ct.peak if ct.peak > 0 else 1.0
        s += " " + say("cell.positive", value=_num(ct.value, dv), share=_share_of_peak(share), peak=_num(ct.peak, dv))
    elif ct.value < 0:
        s += " " + say_in(layout, "cell.negative_up" if any_up else "cell.negative", value=_num(ct.value, dv))
    else:
        s += " " + say("cell.sum_zero")
    return s + " " + _kind_note(ct.kind, layout)


def _pct(p: float) -> str:
    return say("cell.prob" if p < 0.995 or p >= 0.9995 else "cell.prob_fine", p=p)


def cover_verdict(occ: Occlusion, spreads: float = SPREADS) -> tuple[str, str]:
    """(change, versus) of the cover test by the stated rule (:func:`cover_rule`), with u = ``spreads``
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
    b, a, m = occ.score_before, occ.score_after, occ.random_median_after
    n = len(occ.random_scores)
    sp = occ.spread
    d = _decimals([b, a, m])
    ds = max(d, _decimals([sp]))
    nums = say("cell.nums", before=_num(b, d), after=_num(a, d), name=class_name, p_before=_pct(occ.prob_before),
               p_after=_pct(occ.prob_after), median=_num(m, d), n=n, spread=_num(sp, ds),
               p_median=_pct(occ.random_median_prob_after))
    if occ.content <= 0:
        s = say("cell.blank", baseline=occ.baseline, name=class_name, after=_num(a, d), median=_num(m, d), n=n)
        if relu is not None and relu > 0 and claim_of(method) is not None:
            s += " " + say("cell.blank_heat")
        return s
    change, versus = cover_verdict(occ, spreads)
    more = _more(spreads)
    if change == "lower":
        head = say("cell.lowers", name=class_name, nums=nums)
        tail = say({"below": "cell.lower_below", "same": "cell.lower_same", "above": "cell.lower_above"}[versus],
                   more=more, name=class_name)
    elif change == "raise":
        head = say("cell.raises", name=class_name, nums=nums)
        tail = say("cell.raise_above" if versus == "above" else "cell.raise_other", more=more, name=class_name)
    else:
        head = say("cell.barely", name=class_name, more=more, nums=nums)
        if versus == "above":  # the random boxes' scores lie below: covering them lowers it more
            tail = say("cell.same_above")
        elif versus == "below":  # theirs lie above: covering them raises it more
            tail = say("cell.same_below", name=class_name)
        elif occ.on_content:
            tail = say("cell.same_content")
        else:
            tail = say("cell.same_blank")
    s = head + " " + tail
    if relu is None:
        return s
    return s + _agreement(claim_of(method), cover_finding(occ, spreads), relu, class_name, method)


def _agreement(claim: str | None, found: str | None, relu: float, name: str, method: str) -> str:
    """The second sentence of :func:`occlusion_sentence` (with its leading space, or ""): the map's
    claim against the test."""
    if claim is None:
        return " " + say("cell.class_free", method=method, name=name) if relu > 0 else ""
    says = lambda side: say(f"cell.says_{side}", name=name)  # noqa: E731
    moved = lambda side: say(f"cell.moved_{side}")  # noqa: E731
    if relu > 0:
        if found == claim:
            return " " + say("cell.agree", says=says(claim), moved=moved(claim))
        if found is not None:
            return " " + say("cell.disagree", says=says(claim), moved=moved(found), found=says(found))
        return " " + say("cell.no_proof", says=says(claim))
    if found == claim:
        return " " + say(f"cell.missed_{claim}", moved=moved(found), name=name)
    return ""


# =========================================================================== the API's answer
def report(ct: CellTerms, occ: Occlusion | None, class_name: str, top: int | None = None, *, layout: str = "cnn",
           **extra: Any) -> dict:
    """The JSON of ``/…_inspect_cell``: row, col, value, relu, contributions (all channels, sorted),
    occlusion, the sentences (``top``: as :func:`grouped_terms`; ``layout``: the layer's, a token grid
    words them with embedding dimensions), and ``extra`` (model, layer, method…)."""
    out = {"row": ct.row, "col": ct.col, "grid": list(ct.grid), **extra, "method": ct.method,
           "target": ct.target, "class": class_name, "value": ct.value, "relu": ct.relu, "peak": ct.peak,
           "terms": ct.kind, "sum_of_terms": float(ct.terms.sum()), "contributions": ct.contributions(),
           "equation": equation_text(ct, top, layout=layout), "reading": sum_sentence(ct, layout=layout)}
    if is_token_grid(layout):
        out["layout"] = layout
    if occ is not None:
        out["occlusion"] = occ.as_dict()
        out["occlusion_reading"] = occlusion_sentence(occ, class_name, ct.relu, ct.method)
        out["cover_rule"] = cover_rule(layout)
    return out


# =========================================================================== pictures
def waterfall_image(ct: CellTerms, top: int | None = None, width: int = 460, row_h: int = 20,
                    layout: str = "cnn") -> np.ndarray:
    """The terms as a horizontal waterfall (RGB uint8, ``width`` px wide): one row per bar of
    :func:`grouped_terms`, each starting where the previous one ended (red: pushes up, blue: pulls
    down), then "= sum" from 0 to the signed value (grey) and "ReLU" from 0 to the cell's heat."""
    from gradcam_core.present import glyphs, paint

    bars = [(bar_label(lab, layout), v) for lab, v in grouped_terms(ct, top)]
    d = _decimals([v for _, v in bars] + [ct.value])
    tx = glyphs.text_at(11)
    ends = np.cumsum([v for _, v in bars]) if bars else np.zeros(0)
    starts = np.concatenate([[0.0], ends[:-1]]) if bars else np.zeros(0)
    rows = [(lab, float(s0), float(v), paint.POS_COLOR if v >= 0 else paint.NEG_COLOR, True)
            for (lab, v), s0 in zip(bars, starts)]
    rows += [(say("cell.sum_bar"), 0.0, ct.value, (90, 90, 90), False),
             (say("cell.relu_bar"), 0.0, ct.relu, (224, 130, 20), False)]
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
    title = say("cell.waterfall", row=ct.row, col=ct.col, value=_num(ct.value, d), relu=_num(ct.relu, d))
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
    layout = layout_of(result)
    titles = [say_in(layout, "cell.channel_title", c=c, term=ticks.format_number(float(ct.terms[c]), plus=True))
              for c in strongest]
    canvas, boxes = grids.map_grid(act[strongest], cmap="RdBu_r", signed=True, titles=titles,
                                    ncols=len(strongest), cell=cell, colorbar_label=say("cell.activation"),
                                    return_layout=True)
    canvas = np.array(canvas)
    for bx in boxes:
        _mark(canvas, bx, ct.row, ct.col, ct.grid, color=(0, 0, 0), width=2)
    return canvas
