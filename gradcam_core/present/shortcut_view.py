"""The Shortcuts tab's pictures and Markdown, as plain arrays and strings (composed with
the present/ drawing modules; the UI only shows them)."""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcam_core.analysis.photo_cards import Card, card_numbers, heat_per_area
from gradcam_core.base.errors import Refusal
from gradcam_core.present import cards as card_words
from gradcam_core.models.lenet import SPATIAL_LAYERS
from gradcam_core.analysis.shortcut import (LAYER, CUE_MARGIN, cue_box, cue_region,
                                           shortcut_table)
from gradcam_core.present.words import has, lines, say
# the model runs live in the shortcut service; their results are drawn here
from gradcam_core.services.shortcut import MODELS, DigitView, compare_views, digit_view, held_out_digit  # noqa: F401


# =============================================================================== pictures
# Plain arrays (uint8 RGB) composed with paint and grids; the UI only shows them.

PAD = 6
MNIST_CELL = 120
OUTLINE = (0, 200, 90)



def view_name(v: DigitView) -> str:
    """A digit view's name as people read it: its code ("matching_cue", …) worded with its cue's class;
    a name that is no code (a caller's own) is shown as given."""
    key = f"shortcut.{v.name}"
    return say(key, digit=v.cue_class) if has(key) else v.name

def _rgb(img) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) -> uint8 (H, W, 3)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise Refusal("shortcut.not_uint8", dtype=str(a.dtype))
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else np.ascontiguousarray(a[..., :3])


def _pct(share: float) -> float:
    """A share as the percentage the texts write (``shortcut.pct``: whole per cent)."""
    return 100 * float(share)


def _pct_word(share: float) -> str:
    return say("shortcut.pct", pct=_pct(share))


def _outline_mask(img: np.ndarray, mask: np.ndarray, color=OUTLINE) -> np.ndarray:
    """Draw the 1-px boundary of ``mask`` (same size as ``img``) on a copy of ``img``."""
    from scipy import ndimage

    out = np.array(img, copy=True)
    edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
    out[edge] = color
    return out


def _box_outline(img: np.ndarray, box: tuple[int, int, int, int], scale: float, color=OUTLINE) -> np.ndarray:
    """A 2-px rectangle around ``box`` (28×28 coordinates, end-exclusive) on an enlarged digit."""
    out = np.array(img, copy=True)
    H, W = out.shape[:2]
    r0, c0, r1, c1 = (int(round(v * scale)) for v in box)
    r0, c0 = max(0, r0 - 1), max(0, c0 - 1)
    r1, c1 = min(H, r1 + 1), min(W, c1 + 1)
    for t in range(2):
        out[min(H - 1, r0 + t), c0:c1] = color
        out[max(0, r1 - 1 - t), c0:c1] = color
        out[r0:r1, min(W - 1, c0 + t)] = color
        out[r0:r1, max(0, c1 - 1 - t)] = color
    return out


def grid_image(rows: list[list[tuple[np.ndarray, list[str]]]], font_size: int = 11, title: str = "") -> np.ndarray:
    """Cells (image, caption lines) in rows, on white, with ``PAD`` px between them; ``title`` is a
    strip on top (it also keeps the page's image buttons off the captions)."""
    from gradcam_core.present import grids

    cells = []
    for row in rows:
        out_row = []
        for img, caption in row:
            im = _rgb(img)
            for line in reversed(caption):
                im = grids.caption_image(im, line, font_size=font_size)
            out_row.append(im)
        cells.append(out_row)
    cols = max(len(r) for r in cells)
    cw = max(c.shape[1] for r in cells for c in r)
    heights = [max(c.shape[0] for c in r) for r in cells]
    H = sum(heights) + PAD * (len(cells) + 1)
    W = cols * cw + PAD * (cols + 1)
    canvas = np.full((H, W, 3), 255, np.uint8)
    y = PAD
    for r, row in enumerate(cells):
        for j, c in enumerate(row):
            x = PAD + j * (cw + PAD)
            canvas[y:y + c.shape[0], x:x + c.shape[1]] = c
        y += heights[r] + PAD
    if title:
        room = max(40, W - 44)  # the right end stays blank for the page's fullscreen button
        strip = grids.caption_image(np.full((1, room, 3), 255, np.uint8), title, font_size=font_size + 1,
                                     bg=(255, 255, 255))[:-1]
        strip = np.pad(strip, ((0, 8), (0, W - room), (0, 0)), constant_values=255)
        canvas = np.concatenate([strip, canvas])
    return canvas


#: the two LeNets of the tab, by name (shared through the model registry)
def views_image(views: list[DigitView], cell: int = MNIST_CELL, title: str = "", cmap: str = "jet") -> np.ndarray:
    """Rows = views; columns = the digit (cue framed in green), clean LeNet's and shortcut LeNet's
    Grad-CAM of their own prediction (each map scaled by its maximum, drawn with ``cmap``)."""
    from gradcam_core.present import paint
    from gradcam_core.present.steps import overlay_image

    rows = []
    for v in views:
        seen = _rgb(paint.enlarge((v.digit * 255 + 0.5).astype(np.uint8), cell))
        if v.cue_pos is not None:
            seen = _box_outline(seen, cue_box(pos=v.cue_pos, margin=0), cell / 28.0)
        row = [(seen, [view_name(v), say("shortcut.input"), ""])]
        for m, who in (("clean", "shortcut.clean_lenet"), ("shortcut", "shortcut.shortcut_lenet")):
            c, p = v.pred(m)
            mass = v.mass(m)
            ov = paint.enlarge(overlay_image(v.results[m], v.digit, cmap=cmap, centres=v.centres(m)), cell)
            row.append((ov, [say(who), say("shortcut.says", digit=c, pct=_pct(p)),
                             say("shortcut.no_cue") if mass is None else say("shortcut.cue_heat", pct=_pct(mass))]))
        rows.append(row)
    return grid_image(rows, title=title)


def views_markdown(views: list[DigitView], label: int | None = None) -> str:
    """A small Markdown table of what :func:`views_image` shows, in numbers."""
    head = say("shortcut.views_head") + "\n|---|---|---|\n"
    rows = []
    for v in views:
        cells = []
        for m in ("clean", "shortcut"):
            c, p = v.pred(m)
            mass = v.mass(m)
            ok = "" if label is None else (" ✓" if c == label else " ✗")
            cells.append(say("shortcut.view_cell", digit=c, mark=ok, pct=_pct(p)) if mass is None else
                         say("shortcut.cell_cue", digit=c, mark=ok, pct=_pct(p), cue_pct=_pct(mass)))
        rows.append(f"| {view_name(v)} | {cells[0]} | {cells[1]} |")
    areas = sorted({_pct_word(cue_region(pos=v.cue_pos).mean()) for v in views if v.cue_pos is not None})
    note = ""
    if areas:
        a = areas[0] if len(areas) == 1 else say("shortcut.area_range", low=areas[0], high=areas[-1])
        note = "\n\n" + say("shortcut.cue_area", margin=CUE_MARGIN, area=a)
    return head + "\n".join(rows) + note


def region_labels(card: Card) -> tuple[str, str]:
    """Short names (for image captions) of the region measured in the original and the altered image."""
    before, after = region_codes(card)
    return say(f"shortcut.region.{before}"), say(f"shortcut.region.{after}")


def region_codes(card: Card) -> tuple[str, str]:
    """The codes (``shortcut.region.<code>``) of :func:`region_labels`."""
    if card.experiment == "context":
        return "old_background", "new_background"
    if card.experiment == "removed":
        return "object", "filled_area"
    return ("strip_area", "caption_strip") if card.variant == "caption" else ("text_box_area", "watermark_box")


def card_image(card: Card, cmap: str = "jet") -> np.ndarray:
    """2×2: original | altered, then their Grad-CAM overlays (drawn with ``cmap``); a white line marks
    the edge of the measured region, and each caption names that region with its heat share and its area."""
    t0, t1 = card.top3("original"), card.top3("altered")
    ov0 = _outline_mask(card_words.card_overlay(card, "original", cmap), card.region_original, (255, 255, 255))
    ov1 = _outline_mask(card_words.card_overlay(card, "altered", cmap), card.region, (255, 255, 255))
    title = card_words.card_title(card.experiment, card.photo, card.variant)
    m0, m1 = card.mass("original"), card.mass("altered")
    a0, a1 = float(card.region_original.mean()), float(card.region.mean())
    r0, r1 = region_labels(card)
    top = lambda t: say("shortcut.top_class", name=t[0][0], prob=t[0][1])  # noqa: E731
    return grid_image([
        [(card.original, [say("shortcut.original"), top(t0)]),
         (card.altered, [title.lower() if len(title) < 30 else say("shortcut.altered"), top(t1)])],
        [(ov0, [say("shortcut.gradcam_of", name=t0[0][0]), say("shortcut.heat_on", region=r0, pct=_pct(m0)),
                say("shortcut.area_of", region=r0, pct=_pct(a0))]),
         (ov1, [say("shortcut.gradcam_of", name=t1[0][0]), say("shortcut.heat_on", region=r1, pct=_pct(m1)),
                say("shortcut.area_of", region=r1, pct=_pct(a1))])],
    ], font_size=12, title=title)


def card_markdown(card: Card) -> str:
    """Top-3 of both images; the measured region in each, its share of the picture, its share
    of the heat and the heat per area; then the sentence."""
    t0, t1 = card.top3("original"), card.top3("altered")
    n = card_numbers(card)
    rows = [f"| {k + 1} | {say('shortcut.top_class', name=a[0], prob=a[1])} | {say('shortcut.top_class', name=b[0], prob=b[1])} |"
            for k, (a, b) in enumerate(zip(t0, t1))]
    region, region_original = card_words.region_names(card.experiment, card.photo, card.variant)
    rows += lines("shortcut.card_rows", region_original=region_original, region=region,
                  area_original=_pct(n["region_area_original"]), area=_pct(n["region_area"]),
                  heat_original=_pct(n["heat_share_original"]), heat=_pct(n["heat_share_altered"]),
                  density_original=heat_per_area(n["heat_share_original"], n["region_area_original"]),
                  density=heat_per_area(n["heat_share_altered"], n["region_area"]))
    title = card_words.card_title(card.experiment, card.photo, card.variant)
    return (say("shortcut.card_head", title=title.lower()) + "\n|---|---|---|\n" + "\n".join(rows) + "\n\n"
            + say("shortcut.notice", sentence=card_words.card_sentence(n)))


def table_markdown(table: dict | None = None) -> str:
    """:func:`shortcut_table` as a Markdown table."""
    t = table or shortcut_table()
    return "\n".join(lines("shortcut.table_rows", **_table_values(t))) + "\n\n" + placement_note(
        t.get("placement", "receptive field"))


#: the rates of :func:`shortcut_table` the texts quote, per network (as percentages)
_RATES = ("clean", "matching", "misleading", "follows_cue", "cue_mass_matching", "cue_mass_misleading")


def _table_values(t: dict) -> dict[str, Any]:
    """The numbers the table and the lesson quote: ``clean_matching`` = the clean LeNet's accuracy on
    digits with the matching cue, in per cent, …; ``area``: the cue region's mean share of the picture."""
    out: dict[str, Any] = {f"{net}_{rate}": 100 * t[net][rate] for net in ("clean", "shortcut") for rate in _RATES}
    out.update(n_digits=t["n_digits"], mass_digits=t["clean"]["mass_digits"],
               area=100 * float(np.mean([cue_region(k).mean() for k in range(10)])))
    return out


def placement_note(placement: str) -> str:
    """How the heat on the cue is measured: on the map as the tab draws it."""
    h, w = SPATIAL_LAYERS[LAYER][1:]
    key = "shortcut.placement_stretched" if placement == "stretched" else "shortcut.placement_drawn"
    return say(key, h=h, w=w, layer=LAYER)


def lesson_markdown(table: dict | None = None) -> str:
    """The lesson in plain words, with the measured numbers filled in (and the comparisons
    worded from them, so the text stays true whatever the weights do)."""
    t = table or shortcut_table()
    c, s = t["clean"], t["shortcut"]
    better = ("shortcut.better_even" if s["matching"] > c["clean"]
              else "shortcut.better_same" if s["matching"] >= c["clean"] - 0.02
              else "shortcut.better_worse")
    ratio = s["cue_mass_matching"] / max(c["cue_mass_matching"], 1e-9)
    return say("shortcut.lesson", **_table_values(t), better=say(better), ratio=ratio)
