"""The Shortcuts tab's pictures and Markdown, as plain arrays and strings (composed with
:mod:`gradcam_core.present.render`; the UI only shows them)."""
from __future__ import annotations

import numpy as np

from gradcam_core.analysis.photo_cards import Card, _pct_word, card_numbers, heat_per_area
from gradcam_core.models.lenet import SPATIAL_LAYERS
from gradcam_core.analysis.shortcut import (LAYER, CUE_MARGIN, cue_box, cue_region,
                                           shortcut_table)
# the model runs live in the shortcut service; their results are drawn here
from gradcam_core.services.shortcut import MODELS, DigitView, compare_views, digit_view, held_out_digit  # noqa: F401


# =============================================================================== pictures
# Plain arrays (uint8 RGB) composed with render.py; the UI only shows them.

PAD = 6
MNIST_CELL = 120
OUTLINE = (0, 200, 90)


def _rgb(img) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) -> uint8 (H, W, 3)."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else np.ascontiguousarray(a[..., :3])


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
    from gradcam_core.present import render

    cells = []
    for row in rows:
        out_row = []
        for img, lines in row:
            im = _rgb(img)
            for line in reversed(lines):
                im = render.caption_image(im, line, font_size=font_size)
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
        strip = render.caption_image(np.full((1, room, 3), 255, np.uint8), title, font_size=font_size + 1,
                                     bg=(255, 255, 255))[:-1]
        strip = np.pad(strip, ((0, 8), (0, W - room), (0, 0)), constant_values=255)
        canvas = np.concatenate([strip, canvas])
    return canvas


#: the two LeNets of the tab, by name (shared through the model registry)
def views_image(views: list[DigitView], cell: int = MNIST_CELL, title: str = "", cmap: str = "jet") -> np.ndarray:
    """Rows = views; columns = the digit (cue framed in green), clean LeNet's and shortcut LeNet's
    Grad-CAM of their own prediction (each map scaled by its maximum, drawn with ``cmap``)."""
    from gradcam_core.present import render
    from gradcam_core.present.steps import overlay_image

    rows = []
    for v in views:
        seen = _rgb(render.enlarge((v.digit * 255 + 0.5).astype(np.uint8), cell))
        if v.cue_pos is not None:
            seen = _box_outline(seen, cue_box(pos=v.cue_pos, margin=0), cell / 28.0)
        row = [(seen, [v.name, "input", ""])]
        for m, who in (("clean", "clean LeNet"), ("shortcut", "shortcut LeNet")):
            c, p = v.pred(m)
            mass = v.mass(m)
            ov = render.enlarge(overlay_image(v.results[m], v.digit, cmap=cmap, centres=v.centres(m)), cell)
            row.append((ov, [who, f"says {c} ({_pct_word(p)})",
                             "no cue" if mass is None else f"heat on cue {_pct_word(mass)}"]))
        rows.append(row)
    return grid_image(rows, title=title)


def views_markdown(views: list[DigitView], label: int | None = None) -> str:
    """A small Markdown table of what :func:`views_image` shows, in numbers."""
    head = "| digit | clean LeNet | shortcut LeNet |\n|---|---|---|\n"
    lines = []
    for v in views:
        cells = []
        for m in ("clean", "shortcut"):
            c, p = v.pred(m)
            mass = v.mass(m)
            ok = "" if label is None else (" ✓" if c == label else " ✗")
            cells.append(f"**{c}**{ok} ({_pct_word(p)})" + ("" if mass is None else f", {_pct_word(mass)} of heat on cue"))
        lines.append(f"| {v.name} | {cells[0]} | {cells[1]} |")
    areas = sorted({_pct_word(cue_region(pos=v.cue_pos).mean()) for v in views if v.cue_pos is not None})
    note = ""
    if areas:
        a = areas[0] if len(areas) == 1 else " to ".join((areas[0], areas[-1]))
        note = (f"\n\nThe cue region (the square and {CUE_MARGIN} px around it) covers {a} of the picture: "
                f"a map that spread its heat evenly would put {a} there.")
    return head + "\n".join(lines) + note


def region_labels(card: Card) -> tuple[str, str]:
    """Short names (for image captions) of the region measured in the original and the altered image."""
    if card.experiment == "context":
        return "old background", "new background"
    if card.experiment == "removed":
        return "object", "filled area"
    return ("strip area", "caption strip") if card.variant == "caption" else ("text box area", "watermark box")


def card_image(card: Card, cmap: str = "jet") -> np.ndarray:
    """2×2: original | altered, then their Grad-CAM overlays (drawn with ``cmap``); a white line marks
    the edge of the measured region, and each caption names that region with its heat share and its area."""
    t0, t1 = card.top3("original"), card.top3("altered")
    ov0 = _outline_mask(card.overlay("original", cmap), card.region_original, (255, 255, 255))
    ov1 = _outline_mask(card.overlay("altered", cmap), card.region, (255, 255, 255))
    m0, m1 = card.mass("original"), card.mass("altered")
    a0, a1 = float(card.region_original.mean()), float(card.region.mean())
    r0, r1 = region_labels(card)
    return grid_image([
        [(card.original, ["original", f"{t0[0][0]} ({t0[0][1]:.2f})"]),
         (card.altered, [card.title.lower() if len(card.title) < 30 else "altered", f"{t1[0][0]} ({t1[0][1]:.2f})"])],
        [(ov0, [f"Grad-CAM: {t0[0][0]}", f"heat on {r0}: {_pct_word(m0)}", f"{r0} area: {_pct_word(a0)}"]),
         (ov1, [f"Grad-CAM: {t1[0][0]}", f"heat on {r1}: {_pct_word(m1)}", f"{r1} area: {_pct_word(a1)}"])],
    ], font_size=12, title=card.title)


def card_markdown(card: Card) -> str:
    """Top-3 of both images; the measured region in each, its share of the picture, its share
    of the heat and the heat per area; then the sentence."""
    t0, t1 = card.top3("original"), card.top3("altered")
    n = card_numbers(card)
    rows = "\n".join(f"| {k + 1} | {a[0]} ({a[1]:.2f}) | {b[0]} ({b[1]:.2f}) |" for k, (a, b) in enumerate(zip(t0, t1)))
    d0 = heat_per_area(n["heat_share_original"], n["region_area_original"])
    d1 = heat_per_area(n["heat_share_altered"], n["region_area"])
    rows += (f"\n| measured region | {n['region_original']} | {n['region']} |"
             f"\n| its share of the picture | {_pct_word(n['region_area_original'])} | {_pct_word(n['region_area'])} |"
             f"\n| share of the heat on it | {_pct_word(n['heat_share_original'])} | {_pct_word(n['heat_share_altered'])} |"
             f"\n| heat per area (1.00 = even) | {d0:.2f} | {d1:.2f} |")
    return (f"| | original | {card.title.lower()} |\n|---|---|---|\n{rows}\n\n"
            f"**What to notice:** {card.sentence}")


def table_markdown(table: dict | None = None) -> str:
    """:func:`shortcut_table` as a Markdown table."""
    t = table or shortcut_table()
    c, s = t["clean"], t["shortcut"]
    pct = lambda v: f"{100 * v:.1f} %"  # noqa: E731
    area = float(np.mean([cue_region(k).mean() for k in range(10)]))
    return (
        f"| {t['n_digits']} held-out digits | clean LeNet | shortcut LeNet |\n|---|---|---|\n"
        f"| no cue | {pct(c['clean'])} | {pct(s['clean'])} |\n"
        f"| matching cue | {pct(c['matching'])} | {pct(s['matching'])} |\n"
        f"| misleading cue | {pct(c['misleading'])} | {pct(s['misleading'])} |\n"
        f"| … predicts the cue's class | {pct(c['follows_cue'])} | {pct(s['follows_cue'])} |\n"
        f"| heat on the cue region, matching (first {c['mass_digits']}) | {pct(c['cue_mass_matching'])} "
        f"| {pct(s['cue_mass_matching'])} |\n"
        f"| heat on the cue region, misleading (first {c['mass_digits']}) | {pct(c['cue_mass_misleading'])} "
        f"| {pct(s['cue_mass_misleading'])} |\n"
        f"| the cue region's share of the picture | {pct(area)} | {pct(area)} |\n\n"
        + placement_note(t.get("placement", "receptive field"))
    )


def placement_note(placement: str) -> str:
    """How the heat on the cue is measured: on the map as the tab draws it."""
    h, w = SPATIAL_LAYERS[LAYER][1:]
    if placement == "stretched":
        return (f"Heat is measured on the {h}×{w} {LAYER} map stretched evenly over the 28×28 digit "
                "(the usual drawing).")
    return (f"Heat is measured on the maps as drawn here: each cell of the {h}×{w} {LAYER} map at the centre of "
            "what it sees on the digit (LeNet has no padding; the MNIST tab's step 7 says why).")


def lesson_markdown(table: dict | None = None) -> str:
    """The lesson in plain words, with the measured numbers filled in (and the comparisons
    worded from them, so the text stays true whatever the weights do)."""
    t = table or shortcut_table()
    c, s = t["clean"], t["shortcut"]
    pc = lambda v: f"{100 * v:.1f} %"  # noqa: E731  (as table_markdown: one number, one spelling)
    area = float(np.mean([cue_region(k).mean() for k in range(10)]))
    better = ("even better than the clean network without it" if s["matching"] > c["clean"]
              else "about as good as the clean network" if s["matching"] >= c["clean"] - 0.02
              else "still worse than the clean network")
    ratio = s["cue_mass_matching"] / max(c["cue_mass_matching"], 1e-9)
    return (
        f"**The lesson.** Score both networks on digits that carry the matching square and the shortcut "
        f"network looks perfect: {pc(s['matching'])}, {better} ({pc(c['clean'])}). Move the square to a wrong "
        f"place and the truth comes out: the clean network still reads {pc(c['misleading'])} of the digits, "
        f"the shortcut network {pc(s['misleading'])} — {pc(s['follows_cue'])} of the time it names the class "
        f"the square stands for, whatever digit is drawn. Without any square it reads {pc(s['clean'])}: it "
        f"learned the digits only partly, because the square was the easier and more reliable signal.\n\n"
        f"Grad-CAM gives this away without a special test set. The square and the pixels around it cover "
        f"{pc(area)} of the picture, yet on average they hold {pc(s['cue_mass_matching'])} of the shortcut "
        f"network's heat and {pc(c['cue_mass_matching'])} of the clean network's ({ratio:.0f}× as much). "
        f"A high score on data that shares a shortcut proves nothing; look at *where* the evidence is."
    )
