"""Turn one :class:`CAMResult` into the teaching steps: an image, a paragraph, an equation
and a code snippet for each stage of Grad-CAM.  Shared by every tab and by the CLI.
No gradio import: the UI only places these on the page.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import torch

from gradcam_core.present import barchart, colourbar, grids, paint, ticks
from gradcam_core.cam.engine import CAMResult
from gradcam_core.cam.guided import guided_image
from gradcam_core.present.method_texts import (MethodText, Px, average_text, features_sign_text, fill, method_text,
                                               normalisation_code, normalisation_equation, overlay_code,
                                               weights_sign_text, zero_gradient_text)
from gradcam_core.cam.postprocess import heat_picture, normalize
from gradcam_core.base.errors import Refusal
from gradcam_core.present.token_texts import layout_of, say_in
from gradcam_core.present.words import say

__all__ = ["Step", "StepContext", "STEP_BUILDERS", "step_context", "build_steps", "selected_channels", "result_numbers", "overlay_image", "STEP_ORDER"]

#: Where each cell is drawn: (row centres, column centres) in input pixels (analysis.cell.cell_centres).
Centres = tuple[Sequence[float], Sequence[float]]

STEP_ORDER = ["features", "gradients", "average", "weights", "weighted", "relu", "upsample", "overlay"]


@dataclass
class Step:
    key: str
    title: str
    image: np.ndarray  # uint8 RGB
    caption: str  # one line, for a gallery
    text: str  # Markdown paragraph with the equation ($$ … $$)
    code: str  # a short PyTorch snippet


def selected_channels(weights: np.ndarray, max_channels: int) -> np.ndarray:
    """All channels in order when there are few; otherwise the strongest by |weight|,
    half positive and half negative where possible, ordered by weight (high to low)."""
    k = weights.shape[0]
    if k <= max_channels:
        return np.arange(k)
    order = np.argsort(-weights)
    n_pos = int((weights > 0).sum())
    half = max_channels // 2
    take_pos = min(n_pos, max(half, max_channels - (k - n_pos)))
    picked = np.concatenate([order[:take_pos], order[::-1][: max_channels - take_pos][::-1]])
    return picked


def _marks(weights: np.ndarray, chans: np.ndarray, n: int = 3) -> dict[int, tuple[int, int, int]]:
    """Grid positions of the top positive (red border) and top negative (blue) channels."""
    marks: dict[int, tuple[int, int, int]] = {}
    w = weights[chans]
    for pos in np.argsort(-w)[:n]:
        if w[pos] > 0:
            marks[int(pos)] = paint.POS_COLOR
    for pos in np.argsort(w)[:n]:
        if w[pos] < 0:
            marks[int(pos)] = paint.NEG_COLOR
    return marks


def overlay_image(result: CAMResult, image: np.ndarray, *, index: int = 0, norm: str = "max",
                  alpha: float = 0.5, cmap: str = "jet", centres: Centres | None = None) -> np.ndarray:
    """The heat map (drawn at the input size, normalised) blended over ``image``: each cell at the
    centre of what it sees with ``centres`` (postprocess.place), else stretched (upsample)."""
    heat = normalize(heat_picture(result.cam[index], result.input_size, centres), norm).numpy()
    return paint.overlay(image, heat, alpha=alpha, cmap=cmap)


@dataclass
class StepContext:
    """What every step builder reads: one sample of a :class:`CAMResult` as arrays, and the
    display choices.  Made once by :func:`build_steps`."""

    result: CAMResult
    image: np.ndarray
    index: int
    cmap: str
    norm: str
    alpha: float
    cname: str  # the explained class's name
    display_size: int
    notes: dict[str, str]
    zero_gradient_reason: str | None
    mt: MethodText
    act: np.ndarray  # (K, h, w)
    grads: np.ndarray | None  # (K, h, w)
    weights: np.ndarray  # (K,)
    weighted: np.ndarray  # (h, w)
    cam: np.ndarray  # (h, w)
    chans: np.ndarray  # the channels shown in the grids
    channel: int | None  # the channel of the averaging example (None: gradient-free)
    centres: tuple | None = None  # (row, column) centres of what each cell sees; None: stretched drawing
    placement_choice: bool = True  # the page offers the *Map placement* choice (step 7 points to it)
    empty_reason: str | None = None  # why an all-zero map is empty (replaces the method's reading of one)

    @property
    def layout(self) -> str:
        """The hooked layer's layout ("cnn", or a token grid: the words of token_texts)."""
        return layout_of(self.result)

    def say(self, key: str, /, **values: Any) -> str:
        """The catalogue's ``key`` in the words of this layer's layout (patch tokens on a token grid)."""
        return say_in(self.layout, key, **values)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.act.shape

    @property
    def marks(self) -> dict[int, tuple[int, int, int]]:
        return _marks(self.weights, self.chans)

    @cached_property
    def titles(self) -> list[str]:
        """One title per shown channel: the catalogue's template filled once with slots, then each
        channel's numbers (a ``say`` per channel costs more than the rest of the titles)."""
        template = self.say("steps.channel_title", channel="{0}", symbol="{1}", weight="{2}")
        return [template.format(c, self.mt.weight_symbol, ticks.format_number(self.weights[c], plus=True))
                for c in self.chans]

    @property
    def cell(self) -> int:
        return 80 if self.act.shape[1] <= 16 else 96

    def para(self, key: str, text: str) -> str:
        """``text`` plus the caller's note for step ``key``, if any."""
        extra = self.notes.get(key)
        return f"{text}\n\n{extra}" if extra else text


def _features(c: StepContext) -> Step:
    k, h, w = c.shape
    layer = c.result.layer
    shown = c.say("steps.features.shown_all") if len(c.chans) == k else c.say("steps.features.shown_some", n=len(c.chans))
    n_neg = int((c.act < 0).sum())
    sign = features_sign_text(int(c.act.size) - n_neg, n_neg, int(c.act.size), c.layout)
    return Step(
        "features",
        c.say("steps.features.title", layer=layer),
        grids.map_grid(c.act[c.chans], cmap="viridis", titles=c.titles, cell=c.cell, highlight=c.marks,
                        colorbar_label=say("steps.features.colorbar")),
        c.say("steps.features.caption", shown=shown, k=k, h=h, w=w),
        c.para("features", c.say("steps.features.text", layer=layer, k=k, h=h, w=w, shown=shown, sign=sign))
        + "\n\n$$A^k \\in \\mathbb{R}^{h\\times w},\\quad k = 1,\\dots,K$$",
        say("steps.code.features", layer=layer),
    )


def _gradients(c: StepContext) -> Step | None:
    if c.grads is None:
        return None
    glim = float(np.abs(c.grads[c.chans]).max()) or 1.0
    score = float(c.result.scores[c.index])
    return Step(
        "gradients",
        say("steps.gradients.title"),
        grids.map_grid(c.grads[c.chans], cmap="RdBu_r", signed=True, vmin=-glim, vmax=glim, titles=c.titles,
                        cell=c.cell, highlight=c.marks, colorbar_label=say("steps.gradients.colorbar", c=c.cname)),
        c.say("steps.gradients.caption", c=c.cname),
        c.para("gradients", c.say("steps.gradients.text", c=c.cname, score=score))
        + "\n\n$$\\frac{\\partial y^c}{\\partial A^k_{ij}}$$",
        say("steps.code.gradients"),
    )


def _average(c: StepContext) -> Step | None:
    if c.grads is None or not c.mt.uses_average:  # plain gradient averaging is Grad-CAM's own weighting
        return None
    k, h, w = c.shape
    ch = c.channel
    g = c.grads[ch]
    mean = float(g.mean())
    if h * w <= 14 * 14:
        grid = grids.number_grid(g, fmt=lambda v: ticks.format_number(v, plus=True))
    else:
        grid = colourbar.with_colorbar(paint.enlarge(paint.colorize_signed(g), c.display_size), -np.abs(g).max(),
                                    np.abs(g).max(), cmap="RdBu_r", signed=True)
    n_zero = int((g == 0).sum())
    alpha = ticks.format_number(mean, plus=True)
    text = c.say("steps.average.text", channel=ch, n=h * w, zeros=zero_gradient_text(n_zero, h * w, c.zero_gradient_reason),
               pos=ticks.format_number(float(g[g > 0].sum())), neg=ticks.format_number(float(g[g < 0].sum())),
               mean=alpha)
    return Step(
        "average",
        c.say("steps.average.title", channel=ch),
        grid,
        c.say("steps.average.caption", channel=ch, n=h * w, mean=alpha),
        c.para("average", text + "\n\n" + average_text(k, h, w, c.layout))
        + f"\n\n$$\\alpha_k^c = \\frac{{1}}{{Z}}\\sum_i\\sum_j \\frac{{\\partial y^c}}{{\\partial A^k_{{ij}}}},\\quad Z = {h}\\times{w} = {h * w}$$",
        say("steps.code.average", channel=ch, mean=mean),
    )


def _channel_labels(k: int, layout: str = "cnn") -> list[str]:
    """"ch0" … for every channel: the catalogue's template filled once with a slot, then the slot with
    each index (EfficientNet's head has 1 280 channels; one ``say`` each cost about 10 ms)."""
    template = say_in(layout, "steps.channel_label", channel="{0}")
    return [template.format(i) for i in range(k)]


def _weights(c: StepContext) -> Step:
    k = c.shape[0]
    mt, method = c.mt, c.result.method
    top = k > 32
    w_text = fill(mt.weights_text, c.cname)
    if c.grads is not None and mt.cell_terms == "channel":  # one weight per whole map: its sign has a meaning
        w_text += " " + weights_sign_text(int((c.weights > 0).sum()), k, int((c.act < 0).sum()) == 0,
                                            negated=mt.negated, layout=c.layout)
    chart = (say("steps.weights.chart_class_free", method=method) if mt.class_free
             else say("steps.weights.chart", method=method, c=c.cname))
    return Step(
        "weights",
        c.say("steps.weights.title_class_free" if mt.class_free else "steps.weights.title"),
        barchart.bar_chart(c.weights, labels=_channel_labels(k, c.layout),
                         top=10 if top else None, width=480, height=240,
                         title=say("steps.weights.chart_top", chart=chart) if top else chart),
        c.say("steps.weights.caption"),
        c.para("weights", w_text + (c.say("steps.weights.top_note") if top else ""))
        + f"\n\n$${mt.weights_eq}$$",
        say("steps.code.weights"),
    )


def _weighted(c: StepContext) -> Step:
    _, h, w = c.shape
    mt = c.mt
    lim = float(np.abs(c.weighted).max()) or 1.0
    return Step(
        "weighted",
        say("steps.weighted.title", title=mt.map_title),
        colourbar.with_colorbar(paint.enlarge(paint.colorize_signed(c.weighted, limit=lim), c.display_size), -lim, lim,
                             cmap="RdBu_r", signed=True, label=mt.map_label),
        fill(mt.map_caption, c.cname),
        c.para("weighted", say("steps.weighted.text", text=fill(mt.map_text, c.cname), h=h, w=w))
        + f"\n\n$${mt.map_eq}$$",
        mt.map_code,
    )


def _relu(c: StepContext) -> Step:
    _, h, w = c.shape
    mt, cname = c.mt, c.cname
    cmax = float(c.cam.max())
    return Step(
        "relu",
        say("steps.relu.title", title=mt.relu_title),
        colourbar.with_colorbar(paint.enlarge(paint.colorize(c.cam, cmap=c.cmap, vmin=0.0, vmax=cmax or 1.0), c.display_size),
                             0.0, cmax or 1.0, cmap=c.cmap, label=say("steps.relu.colorbar")),
        say("steps.relu.caption", caption=fill(mt.relu_caption, cname), peak=ticks.format_number(cmax)),
        c.para("relu", say("steps.relu.text", text=fill(mt.relu_text, cname), h=h, w=w)
               + (say("steps.relu.all_zero", zero=c.empty_reason or fill(mt.zero_text, cname)) if cmax == 0 else ""))
        + f"\n\n$${mt.relu_eq}$$",
        say("steps.code.relu"),
    )


def placement_shift(centres: Centres, grid: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """How far each cell's drawn centre moves from the stretched drawing's, (rows, columns) in input
    pixels: ``centres`` minus (r + 0.5)·H/h − 0.5."""
    (h, w), (H, W) = grid, size
    ys, xs = (np.asarray(v, dtype=np.float64) for v in centres)
    return ys - ((np.arange(h) + 0.5) * H / h - 0.5), xs - ((np.arange(w) + 0.5) * W / w - 0.5)


def placement_text(centres: Centres, grid: tuple[int, int], size: tuple[int, int], choice: bool = True) -> str:
    """Step 7: why each cell is drawn at the centre of what it sees, and by how many pixels that
    moves it from the stretched drawing (every number computed from ``centres``).  ``choice``: the
    page has the *Map placement* choice (else the text says where the stretched drawing is offered)."""
    (h, w), (H, W) = grid, size
    ys, xs = (np.asarray(v, dtype=np.float64) for v in centres)
    dy, dx = placement_shift(centres, grid, size)
    far = max(float(np.abs(dy).max()), float(np.abs(dx).max()))
    step = float(np.diff(ys).mean()) if h > 1 else 0.0
    return say("steps.placement.text", first=Px(ys[0]), last_row=h - 1, last=Px(ys[-1]),
               apart=say("steps.placement.apart", step=Px(step)) if h > 1 else "", h=h, w=w, H=H, W=W,
               stretched_first=Px(0.5 * H / h - 0.5), stretched_last=Px((h - 0.5) * H / h - 0.5), far=Px(far),
               choice=say("steps.placement.choice" if choice else "steps.placement.no_choice"))


def _upsample(c: StepContext) -> Step:
    _, h, w = c.shape
    H, W = c.result.input_size
    up = heat_picture(c.result.cam[c.index], (H, W), c.centres).numpy()
    umax = float(up.max())
    if c.centres is None:
        what = c.say("steps.upsample.stretched", h=h, w=w, H=H, W=W)
        caption = say("steps.upsample.stretched_caption", H=H, W=W)
        eq = say("steps.upsample.stretched_eq", H=H, W=W)
        code = say("steps.code.upsample_stretched")
    else:
        what = say("steps.upsample.placed", h=h, w=w, H=H, W=W,
                   placement=placement_text(c.centres, (h, w), (H, W), c.placement_choice))
        caption = say("steps.upsample.placed_caption", H=H, W=W)
        eq = say("steps.upsample.placed_eq", H=H, W=W)
        code = say("steps.code.upsample_placed")
    return Step(
        "upsample",
        say("steps.upsample.title", h=h, w=w, H=H, W=W),
        colourbar.with_colorbar(paint.enlarge(paint.colorize(up, cmap=c.cmap, vmin=0.0, vmax=umax or 1.0), c.display_size),
                             0.0, umax or 1.0, cmap=c.cmap, label=say("steps.upsample.colorbar")),
        caption,
        c.para("upsample", say("steps.upsample.text", what=what, norm=say(
            "steps.upsample.norm_max" if c.norm == "max" else "steps.upsample.norm_minmax")))
        + f"\n\n$${eq}$$",
        code + normalisation_code(c.norm),
    )


def _overlay(c: StepContext) -> Step:
    cmap, alpha = c.cmap, c.alpha
    return Step(
        "overlay",
        say("steps.overlay.title"),
        paint.enlarge(overlay_image(c.result, c.image, index=c.index, norm=c.norm, alpha=alpha, cmap=cmap,
                                   centres=c.centres), c.display_size),
        fill(c.mt.overlay_caption, c.cname),
        c.para("overlay", say("steps.overlay.text", cmap=cmap, alpha=alpha, overlay=fill(c.mt.overlay_text, c.cname)))
        + f"\n\n$${say('steps.overlay.eq', cmap=cmap, norm=normalisation_equation(c.norm))}$$",
        overlay_code(cmap, alpha),
    )


def _guided_backprop(c: StepContext) -> Step | None:
    if "guided_backprop" not in c.result.extras:  # only Guided Grad-CAM gives it
        return None
    return Step(
        "guided_backprop", say("steps.guided_backprop.title"), guided_image(c.result.extras["guided_backprop"][c.index]),
        say("steps.guided_backprop.caption"),
        say("steps.guided_backprop.text") + f"\n\n$${say('steps.guided_backprop.eq')}$$",
        say("steps.code.guided_backprop"),
    )


def _guided_gradcam(c: StepContext) -> Step | None:
    if "guided_gradcam" not in c.result.extras:
        return None
    return Step(
        "guided_gradcam", say("steps.guided_gradcam.title"), guided_image(c.result.extras["guided_gradcam"][c.index]),
        say("steps.guided_gradcam.caption", c=c.cname),
        say("steps.guided_gradcam.text", c=c.cname) + f"\n\n$${say('steps.guided_gradcam.eq')}$$",
        say("steps.code.guided_gradcam"),
    )


#: One builder per step, in page order (the keys of :data:`STEP_ORDER`, then Guided Grad-CAM's two
#: pictures); a builder returns None for a step its method does not have (no gradients, no plain
#: averaging, no guided images).
STEP_BUILDERS = [_features, _gradients, _average, _weights, _weighted, _relu, _upsample, _overlay,
                 _guided_backprop, _guided_gradcam]


def step_context(
    result: CAMResult,
    image: np.ndarray,
    *,
    index: int = 0,
    channel: int | None = None,
    max_channels: int = 16,
    cmap: str = "jet",
    norm: str = "max",
    alpha: float = 0.5,
    class_name: str | None = None,
    display_size: int = 280,
    notes: dict[str, str] | None = None,
    zero_gradient_reason: str | None = None,
    centres: Centres | None = None,
    placement_choice: bool = True,
    empty_reason: str | None = None,
) -> StepContext:
    """What the step builders read, for sample ``index`` of ``result`` (see :func:`build_steps`)."""
    weights = result.weights[index].numpy()
    grads = None if result.gradients is None else result.gradients[index].numpy()
    k = weights.shape[0]
    ch = None
    if grads is not None:
        ch = int(np.argmax(weights)) if channel is None else int(channel)
        if not 0 <= ch < k:
            raise Refusal("steps.refusal.channel", high=k - 1)
    return StepContext(
        result=result, image=image, index=index, cmap=cmap, norm=norm, alpha=alpha,
        cname=class_name or str(int(result.targets[index])), display_size=display_size, notes=notes or {},
        zero_gradient_reason=zero_gradient_reason, mt=method_text(result.method, layout=layout_of(result)),
        act=result.activations[index].numpy(), grads=grads, weights=weights,
        weighted=result.weighted[index].numpy(), cam=result.cam[index].numpy(),
        chans=selected_channels(weights, max_channels), channel=ch, centres=centres,
        placement_choice=placement_choice, empty_reason=empty_reason,
    )


def build_steps(result: CAMResult, image: np.ndarray, **options: Any) -> dict[str, Step]:
    """Every step of ``result`` (sample ``index``) as images with explanations, one builder of
    :data:`STEP_BUILDERS` per step.  ``options``: the keywords of :func:`step_context` (index,
    channel, max_channels, cmap, norm, alpha, class_name, display_size, notes, zero_gradient_reason,
    centres: where each cell is drawn, see :func:`overlay_image`; None: stretched; placement_choice:
    False on a page without the *Map placement* choice; empty_reason: why an all-zero map is empty, said
    in step 6 instead of the method's reading of one). On a token grid (``result.layout``) every step
    says patch tokens and embedding dimensions (``present/token_texts.py``).

    ``image`` is what the model saw, unnormalised (uint8 RGB, or a float (H, W) digit in [0, 1]).
    ``channel`` is the channel used in the averaging example (default: the largest weight).
    The texts that differ between methods come from :mod:`gradcam_core.present.method_texts` (keyed by
    ``result.method``); the code of steps 7–8 shows the normalisation, colour map and opacity chosen.
    ``notes`` adds a paragraph to a step (key → Markdown), e.g. why this layer (``"features"``);
    ``zero_gradient_reason`` says why this layer's gradients are exactly zero where they are.
    """
    ctx = step_context(result, image, **options)
    steps = (build(ctx) for build in STEP_BUILDERS)
    return {s.key: s for s in steps if s is not None}


def result_numbers(result: CAMResult, categories: list[str] | None = None, index: int = 0) -> dict:
    """The numbers behind one explanation, JSON-friendly (for the API and downloads)."""
    probs = result.probs[index]
    names = categories or [str(i) for i in range(probs.shape[0])]
    top = torch.topk(probs, min(5, probs.shape[0]))
    return {
        "method": result.method,
        "layer": result.layer,
        "target": int(result.targets[index]),
        "target_name": names[int(result.targets[index])],
        "predicted": int(probs.argmax()),
        "predicted_name": names[int(probs.argmax())],
        "top5": [{"class": int(i), "name": names[int(i)], "prob": round(float(p), 6)} for p, i in zip(top.values, top.indices)],
        "probs": [round(float(p), 6) for p in probs] if probs.shape[0] <= 20 else None,
        "weights": [round(float(v), 8) for v in result.weights[index]],
        "cam": [[round(float(v), 6) for v in row] for row in result.cam[index]],
        "cam_max": float(result.cam[index].max()),
    }
