"""Turn one :class:`CAMResult` into the teaching steps: an image, a paragraph, an equation
and a code snippet for each stage of Grad-CAM.  Shared by every tab and by the CLI.
No gradio import: the UI only places these on the page.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gradcam_core.present import barchart, colourbar, grids, paint, ticks
from gradcam_core.cam.engine import CAMResult
from gradcam_core.cam.guided import guided_image
from gradcam_core.present.method_texts import (MethodText, average_text, features_sign_text, fill, method_text, normalisation_code,
                           normalisation_equation, overlay_code, weights_sign_text, zero_gradient_text)
from gradcam_core.cam.postprocess import heat_picture, normalize

__all__ = ["Step", "StepContext", "STEP_BUILDERS", "step_context", "build_steps", "selected_channels", "result_numbers", "overlay_image", "STEP_ORDER"]

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
                  alpha: float = 0.5, cmap: str = "jet", centres=None) -> np.ndarray:
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

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.act.shape

    @property
    def marks(self) -> dict[int, tuple[int, int, int]]:
        return _marks(self.weights, self.chans)

    @property
    def titles(self) -> list[str]:
        return [f"ch {c}  {self.mt.weight_symbol}={ticks.format_number(self.weights[c], plus=True)}"
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
    shown = "all" if len(c.chans) == k else f"the {len(c.chans)} strongest (by weight) of"
    n_neg = int((c.act < 0).sum())
    return Step(
        "features",
        f"1 · Feature maps of {layer}",
        grids.map_grid(c.act[c.chans], cmap="viridis", titles=c.titles, cell=c.cell, highlight=c.marks,
                        colorbar_label="activation"),
        f"Feature maps A^k: {shown} {k} channels, {h}×{w}, one shared scale",
        c.para("features",
               f"The hooked layer `{layer}` turns the input into {k} feature maps of {h}×{w}; this shows {shown} "
               f"{k}. Each map is the response of one learned filter, and each cell still stands for one place "
               "in the input: Grad-CAM needs a layer that keeps *where*. "
               + features_sign_text(int(c.act.size) - n_neg, n_neg, int(c.act.size)) + " "
               "All maps share one colour scale, so a dim map really is weak. Red borders mark the channels "
               "with the largest positive weights (step 4), blue the most negative.")
        + "\n\n$$A^k \\in \\mathbb{R}^{h\\times w},\\quad k = 1,\\dots,K$$",
        "feats = {}\n"
        f"hook = model.get_submodule('{layer}').register_forward_hook(\n"
        "    lambda m, i, out: feats.update(A=out))\n"
        "logits = model(x)\nhook.remove()\nA = feats['A']            # (1, K, h, w)",
    )


def _gradients(c: StepContext) -> Step | None:
    if c.grads is None:
        return None
    glim = float(np.abs(c.grads[c.chans]).max()) or 1.0
    score = float(c.result.scores[c.index])
    return Step(
        "gradients",
        "2 · Gradients of the class score",
        grids.map_grid(c.grads[c.chans], cmap="RdBu_r", signed=True, vmin=-glim, vmax=glim, titles=c.titles,
                        cell=c.cell, highlight=c.marks, colorbar_label=f"∂y/∂A  (class {c.cname})"),
        f"Gradients ∂y^c/∂A^k for class {c.cname}: red raises the score, blue lowers it",
        c.para("gradients",
               f"Backpropagate the score of class **{c.cname}** (the logit y^c = {score:.3f}, before softmax) "
               "to the feature maps, and no further. Each number says how much the score would change "
               "if that activation grew a little: red raises the score, blue lowers it, white is "
               "indifferent. Colours are symmetric about zero on one shared scale.")
        + "\n\n$$\\frac{\\partial y^c}{\\partial A^k_{ij}}$$",
        "A = A.detach().requires_grad_()      # backward stops here\n"
        "score = head(A)[0, c]                # layers after the hooked one\n"
        "(dA,) = torch.autograd.grad(score, A)",
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
    return Step(
        "average",
        f"3 · Averaging: channel {ch} becomes one weight",
        grid,
        f"Channel {ch}: the mean of its {h * w} gradients is α = {ticks.format_number(mean, plus=True)}",
        c.para("average",
               f"Grad-CAM squeezes each gradient map into one number, its average. Channel {ch} has "
               f"{h * w} gradients (shown). " + zero_gradient_text(n_zero, h * w, c.zero_gradient_reason) + " "
               f"The positive ones sum to {ticks.format_number(float(g[g > 0].sum()))}, "
               f"the negative ones to {ticks.format_number(float(g[g < 0].sum()))}; the mean is "
               f"**α = {ticks.format_number(mean, plus=True)}**.\n\n" + average_text(k, h, w))
        + f"\n\n$$\\alpha_k^c = \\frac{{1}}{{Z}}\\sum_i\\sum_j \\frac{{\\partial y^c}}{{\\partial A^k_{{ij}}}},\\quad Z = {h}\\times{w} = {h * w}$$",
        "alpha = dA.mean(dim=(2, 3))         # (1, K): one weight per channel\n"
        f"alpha[0, {ch}]                       # = {mean:+.5f}",
    )


def _weights(c: StepContext) -> Step:
    k = c.shape[0]
    mt, method = c.mt, c.result.method
    top_note = "" if k <= 32 else " (the 10 most positive and 10 most negative)"
    w_text = fill(mt.weights_text, c.cname)
    if c.grads is not None and mt.name not in ("HiResCAM", "LayerCAM"):
        w_text += " " + weights_sign_text(int((c.weights > 0).sum()), k, int((c.act < 0).sum()) == 0,
                                            negated=mt.negated)
    return Step(
        "weights",
        "4 · Channel importance" if not mt.class_free else "4 · Channel loadings (class-free)",
        barchart.bar_chart(c.weights, labels=[f"ch{i}" for i in range(k)], top=None if k <= 32 else 10, width=480,
                         height=240, title=(f"{method} loadings (any class){top_note}" if mt.class_free
                                            else f"{method} weights for class {c.cname}{top_note}")),
        "One number per channel; the largest positive and negative are labelled",
        c.para("weights", w_text + (" The chart shows the 10 most positive and the 10 most negative." if top_note else ""))
        + f"\n\n$${mt.weights_eq}$$",
        "order = w[0].argsort(descending=True)\nprint('largest:', order[:3].tolist(), ' smallest:', order[-3:].tolist())",
    )


def _weighted(c: StepContext) -> Step:
    _, h, w = c.shape
    mt = c.mt
    lim = float(np.abs(c.weighted).max()) or 1.0
    return Step(
        "weighted",
        f"5 · {mt.map_title}",
        colourbar.with_colorbar(paint.enlarge(paint.colorize_signed(c.weighted, limit=lim), c.display_size), -lim, lim,
                             cmap="RdBu_r", signed=True, label=mt.map_label),
        fill(mt.map_caption, c.cname),
        c.para("weighted", fill(mt.map_text, c.cname) + f" It is a single {h}×{w} map.")
        + f"\n\n$${mt.map_eq}$$",
        mt.map_code,
    )


def _relu(c: StepContext) -> Step:
    _, h, w = c.shape
    mt, cname = c.mt, c.cname
    cmax = float(c.cam.max())
    return Step(
        "relu",
        f"6 · {mt.relu_title}",
        colourbar.with_colorbar(paint.enlarge(paint.colorize(c.cam, cmap=c.cmap, vmin=0.0, vmax=cmax or 1.0), c.display_size),
                             0.0, cmax or 1.0, cmap=c.cmap, label="after ReLU"),
        fill(mt.relu_caption, cname) + f" (peak {ticks.format_number(cmax)})",
        c.para("relu", fill(mt.relu_text, cname) + f" The map is still at the layer's {h}×{w} resolution."
               + (" Here it is all zero. " + fill(mt.zero_text, cname) if cmax == 0 else ""))
        + f"\n\n$${mt.relu_eq}$$",
        "cam = torch.relu(weighted)",
    )


def placement_shift(centres, grid: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """How far each cell's drawn centre moves from the stretched drawing's, (rows, columns) in input
    pixels: ``centres`` minus (r + 0.5)·H/h − 0.5."""
    (h, w), (H, W) = grid, size
    ys, xs = (np.asarray(v, dtype=np.float64) for v in centres)
    return ys - ((np.arange(h) + 0.5) * H / h - 0.5), xs - ((np.arange(w) + 0.5) * W / w - 0.5)


def _px(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def placement_text(centres, grid: tuple[int, int], size: tuple[int, int], choice: bool = True) -> str:
    """Step 7: why each cell is drawn at the centre of what it sees, and by how many pixels that
    moves it from the stretched drawing (every number computed from ``centres``).  ``choice``: the
    page has the *Map placement* choice (else the text says where the stretched drawing is offered)."""
    (h, w), (H, W) = grid, size
    ys, xs = (np.asarray(v, dtype=np.float64) for v in centres)
    dy, dx = placement_shift(centres, grid, size)
    far = max(float(np.abs(dy).max()), float(np.abs(dx).max()))
    step = float(np.diff(ys).mean()) if h > 1 else 0.0
    return (f"Each cell is drawn at the centre of what it sees on the input, not stretched evenly over it: the "
            f"layer has no padding, so row 0 looks at the input around row {_px(ys[0])} and row {h - 1} around "
            f"row {_px(ys[-1])}" + (f", {_px(step)} px apart" if h > 1 else "") + f" (the rows where the cell's gradient is "
            f"not zero, centred). Stretching the {h}×{w} map over {H}×{W} would put row 0 at "
            f"{_px((0.5) * H / h - 0.5)} and row {h - 1} at {_px((h - 0.5) * H / h - 0.5)}: up to {_px(far)} px away from "
            "what the cell sees, at the edges. Beyond the outermost centres each edge cell's value is kept. "
            + ("The usual, stretched drawing stays one choice away (*Map placement*: stretched)." if choice else
               "Every map on this page is drawn, and its heat measured, this way; the MNIST tab's *Map placement* "
               "shows the usual, stretched drawing."))


def _upsample(c: StepContext) -> Step:
    _, h, w = c.shape
    H, W = c.result.input_size
    up = heat_picture(c.result.cam[c.index], (H, W), c.centres).numpy()
    umax = float(up.max())
    if c.centres is None:
        what = (f"The map is only {h}×{w}, so it is stretched to the input's {H}×{W} with bilinear interpolation, "
                "each cell spread over its own block of the input. ")
        caption = f"Bilinear upsampling to the input size, {H}×{W}"
        eq = f"\\tilde L^c = \\mathrm{{bilinear}}(\\text{{map}}^c,\\ {H}\\times{W})"
        code = "heat = F.interpolate(cam[:, None], size=x.shape[-2:], mode='bilinear', align_corners=False)[:, 0]\n"
    else:
        what = f"The map is only {h}×{w}, so it is drawn at the input's {H}×{W} by linear interpolation. " + \
            placement_text(c.centres, (h, w), (H, W), c.placement_choice) + " "
        caption = f"Each cell at the centre of what it sees, {H}×{W}"
        eq = f"\\tilde L^c(y, x) = \\mathrm{{interp}}\\big(\\text{{map}}^c;\\ \\text{{cell centres}}\\big),\\ {H}\\times{W}"
        code = ("ys, xs = row_centres, col_centres   # where each cell looks (its gradient's support, centred)\n"
                "heat = np.stack([np.interp(np.arange(W), xs, r) for r in cam])      # along each row\n"
                "heat = np.stack([np.interp(np.arange(H), ys, col) for col in heat.T], axis=1)\n")
    return Step(
        "upsample",
        f"7 · Upsample {h}×{w} → {H}×{W}",
        colourbar.with_colorbar(paint.enlarge(paint.colorize(up, cmap=c.cmap, vmin=0.0, vmax=umax or 1.0), c.display_size),
                             0.0, umax or 1.0, cmap=c.cmap, label="heat (same units)"),
        caption,
        c.para("upsample",
               what + "This smooths the blocks; it adds no information. For display the map is then divided by "
               + ("its maximum (0 stays 0)." if c.norm == "max"
                  else "its range (min→0, max→1: even a weak map fills the scale)."))
        + f"\n\n$${eq}$$",
        code + normalisation_code(c.norm),
    )


def _overlay(c: StepContext) -> Step:
    cmap, alpha = c.cmap, c.alpha
    return Step(
        "overlay",
        "8 · Overlay on the input",
        paint.enlarge(overlay_image(c.result, c.image, index=c.index, norm=c.norm, alpha=alpha, cmap=cmap,
                                   centres=c.centres), c.display_size),
        fill(c.mt.overlay_caption, c.cname),
        c.para("overlay",
               f"Finally the heat map is laid over the input with the '{cmap}' colour map at opacity {alpha:g}. "
               + fill(c.mt.overlay_text, c.cname)
               + " It is a coarse answer to 'where?', not 'why?': the resolution is that of the hooked layer, "
               "and a convincing picture is no proof that the model relies on those pixels.")
        + f"\n\n$$\\text{{overlay}} = (1-a)\\, I + a\\,\\mathrm{{{cmap}}}\\big({normalisation_equation(c.norm)}\\big)$$",
        overlay_code(cmap, alpha),
    )


def _guided_backprop(c: StepContext) -> Step | None:
    if "guided_backprop" not in c.result.extras:  # only Guided Grad-CAM gives it
        return None
    return Step(
        "guided_backprop", "9 · Guided backpropagation", guided_image(c.result.extras["guided_backprop"][c.index]),
        "Gradients of the score with respect to the photo, through positive ReLUs only",
        "Guided backpropagation sends the class score back to the *pixels*, letting a gradient through "
        "a ReLU only where the forward input was positive and the gradient itself is positive. It shows "
        "fine edges, but hardly depends on the class — or on the weights."
        "\n\n$$R = \\frac{\\partial y^c}{\\partial I}\\Big|_{\\text{guided ReLUs}}$$",
        "from gradcam_core.cam.guided import guided_backprop\n"
        "R = guided_backprop(model, x, targets)   # (1, 3, H, W)",
    )


def _guided_gradcam(c: StepContext) -> Step | None:
    if "guided_gradcam" not in c.result.extras:
        return None
    return Step(
        "guided_gradcam", "10 · Guided Grad-CAM", guided_image(c.result.extras["guided_gradcam"][c.index]),
        f"Guided backprop × Grad-CAM: fine detail, only where Grad-CAM's map for {c.cname} is above zero",
        "Multiplying the guided-backprop image by the upsampled Grad-CAM map (scaled to 0…1) keeps its "
        f"sharp detail only where Grad-CAM's map for **{c.cname}** is above zero: where the features raise "
        "its score."
        "\n\n$$\\text{Guided Grad-CAM} = R \\odot \\tilde L^c / \\max \\tilde L^c$$",
        "mask = heat / heat.max()\nguided_gradcam = R * mask[:, None]",
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
    centres=None,
    placement_choice: bool = True,
) -> StepContext:
    """What the step builders read, for sample ``index`` of ``result`` (see :func:`build_steps`)."""
    weights = result.weights[index].numpy()
    grads = None if result.gradients is None else result.gradients[index].numpy()
    k = weights.shape[0]
    ch = None
    if grads is not None:
        ch = int(np.argmax(weights)) if channel is None else int(channel)
        if not 0 <= ch < k:
            raise ValueError(f"channel must be between 0 and {k - 1}")
    return StepContext(
        result=result, image=image, index=index, cmap=cmap, norm=norm, alpha=alpha,
        cname=class_name or str(int(result.targets[index])), display_size=display_size, notes=notes or {},
        zero_gradient_reason=zero_gradient_reason, mt=method_text(result.method),
        act=result.activations[index].numpy(), grads=grads, weights=weights,
        weighted=result.weighted[index].numpy(), cam=result.cam[index].numpy(),
        chans=selected_channels(weights, max_channels), channel=ch, centres=centres,
        placement_choice=placement_choice,
    )


def build_steps(result: CAMResult, image: np.ndarray, **options) -> dict[str, Step]:
    """Every step of ``result`` (sample ``index``) as images with explanations, one builder of
    :data:`STEP_BUILDERS` per step.  ``options``: the keywords of :func:`step_context` (index,
    channel, max_channels, cmap, norm, alpha, class_name, display_size, notes, zero_gradient_reason,
    centres: where each cell is drawn, see :func:`overlay_image`; None: stretched; placement_choice:
    False on a page without the *Map placement* choice).

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
