"""Turn one :class:`CAMResult` into the teaching steps: an image, a paragraph, an equation
and a code snippet for each stage of Grad-CAM.  Shared by every tab and by the CLI.
No gradio import: the UI only places these on the page.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import render
from .engine import CAMResult
from .method_texts import (average_text, features_sign_text, fill, method_text, normalisation_code,
                           normalisation_equation, overlay_code, weights_sign_text, zero_gradient_text)
from .postprocess import normalize, upsample

__all__ = ["Step", "build_steps", "selected_channels", "result_numbers", "overlay_image", "STEP_ORDER"]

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
            marks[int(pos)] = render.POS_COLOR
    for pos in np.argsort(w)[:n]:
        if w[pos] < 0:
            marks[int(pos)] = render.NEG_COLOR
    return marks


def _block(arr: np.ndarray, size: int) -> np.ndarray:
    return render.enlarge(arr, size)


def overlay_image(result: CAMResult, image: np.ndarray, *, index: int = 0, norm: str = "max",
                  alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The heat map (upsampled to the input size, normalised) blended over ``image``."""
    heat = normalize(upsample(result.cam[index], result.input_size), norm).numpy()
    return render.overlay(image, heat, alpha=alpha, cmap=cmap)


def build_steps(
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
) -> dict[str, Step]:
    """Every step of ``result`` (sample ``index``) as images with explanations.

    ``image`` is what the model saw, unnormalised (uint8 RGB, or a float (H, W) digit in [0, 1]).
    ``channel`` is the channel used in the averaging example (default: the largest weight).
    The texts that differ between methods come from :mod:`gradcam_core.method_texts` (keyed by
    ``result.method``); the code of steps 7–8 shows the normalisation, colour map and opacity chosen.
    ``notes`` adds a paragraph to a step (key → Markdown), e.g. why this layer (``"features"``);
    ``zero_gradient_reason`` says why this layer's gradients are exactly zero where they are.
    """
    notes = notes or {}
    mt = method_text(result.method)
    act = result.activations[index].numpy()
    grads = None if result.gradients is None else result.gradients[index].numpy()
    weights = result.weights[index].numpy()
    weighted = result.weighted[index].numpy()
    cam = result.cam[index].numpy()
    k, h, w = act.shape
    H, W = result.input_size
    target = int(result.targets[index])
    cname = class_name or str(target)
    score = float(result.scores[index])
    chans = selected_channels(weights, max_channels)
    marks = _marks(weights, chans)
    titles = [f"ch {c}  {mt.weight_symbol}={render.format_number(weights[c], plus=True)}" for c in chans]
    shown = "all" if len(chans) == k else f"the {len(chans)} strongest (by weight) of"
    layer = result.layer
    n_neg = int((act < 0).sum())
    rectified = n_neg == 0
    steps: dict[str, Step] = {}
    cell = 80 if h <= 16 else 96

    def para(key: str, text: str) -> str:
        extra = notes.get(key)
        return f"{text}\n\n{extra}" if extra else text

    steps["features"] = Step(
        "features",
        f"1 · Feature maps of {layer}",
        render.map_grid(act[chans], cmap="viridis", titles=titles, cell=cell, highlight=marks,
                        colorbar_label="activation"),
        f"Feature maps A^k: {shown} {k} channels, {h}×{w}, one shared scale",
        para("features",
             f"The hooked layer `{layer}` turns the input into {k} feature maps of {h}×{w}; this shows {shown} "
             f"{k}. Each map is the response of one learned filter, and each cell still stands for one place "
             "in the input: Grad-CAM needs a layer that keeps *where*. "
             + features_sign_text(int(act.size) - n_neg, n_neg, int(act.size)) + " "
             "All maps share one colour scale, so a dim map really is weak. Red borders mark the channels "
             "with the largest positive weights (step 4), blue the most negative.")
        + "\n\n$$A^k \\in \\mathbb{R}^{h\\times w},\\quad k = 1,\\dots,K$$",
        "feats = {}\n"
        f"hook = model.get_submodule('{layer}').register_forward_hook(\n"
        "    lambda m, i, out: feats.update(A=out))\n"
        "logits = model(x)\nhook.remove()\nA = feats['A']            # (1, K, h, w)",
    )
    if grads is not None:
        glim = float(np.abs(grads[chans]).max()) or 1.0
        steps["gradients"] = Step(
            "gradients",
            "2 · Gradients of the class score",
            render.map_grid(grads[chans], cmap="RdBu_r", signed=True, vmin=-glim, vmax=glim, titles=titles,
                            cell=cell, highlight=marks, colorbar_label=f"∂y/∂A  (class {cname})"),
            f"Gradients ∂y^c/∂A^k for class {cname}: red raises the score, blue lowers it",
            para("gradients",
                 f"Backpropagate the score of class **{cname}** (the logit y^c = {score:.3f}, before softmax) "
                 "to the feature maps, and no further. Each number says how much the score would change "
                 "if that activation grew a little: red raises the score, blue lowers it, white is "
                 "indifferent. Colours are symmetric about zero on one shared scale.")
            + "\n\n$$\\frac{\\partial y^c}{\\partial A^k_{ij}}$$",
            "A = A.detach().requires_grad_()      # backward stops here\n"
            "score = head(A)[0, c]                # layers after the hooked one\n"
            "(dA,) = torch.autograd.grad(score, A)",
        )
        ch = int(np.argmax(weights)) if channel is None else int(channel)
        if not 0 <= ch < k:
            raise ValueError(f"channel must be between 0 and {k - 1}")
    if grads is not None and mt.uses_average:  # plain gradient averaging is Grad-CAM's own weighting
        g = grads[ch]
        mean = float(g.mean())
        if h * w <= 14 * 14:
            grid = render.number_grid(g, fmt=lambda v: render.format_number(v, plus=True))
        else:
            grid = render.with_colorbar(_block(render.colorize_signed(g), display_size), -np.abs(g).max(),
                                        np.abs(g).max(), cmap="RdBu_r", signed=True)
        n_zero = int((g == 0).sum())
        steps["average"] = Step(
            "average",
            f"3 · Averaging: channel {ch} becomes one weight",
            grid,
            f"Channel {ch}: the mean of its {h * w} gradients is α = {render.format_number(mean, plus=True)}",
            para("average",
                 f"Grad-CAM squeezes each gradient map into one number, its average. Channel {ch} has "
                 f"{h * w} gradients (shown). " + zero_gradient_text(n_zero, h * w, zero_gradient_reason) + " "
                 f"The positive ones sum to {render.format_number(float(g[g > 0].sum()))}, "
                 f"the negative ones to {render.format_number(float(g[g < 0].sum()))}; the mean is "
                 f"**α = {render.format_number(mean, plus=True)}**.\n\n" + average_text(k, h, w))
            + f"\n\n$$\\alpha_k^c = \\frac{{1}}{{Z}}\\sum_i\\sum_j \\frac{{\\partial y^c}}{{\\partial A^k_{{ij}}}},\\quad Z = {h}\\times{w} = {h * w}$$",
            "alpha = dA.mean(dim=(2, 3))         # (1, K): one weight per channel\n"
            f"alpha[0, {ch}]                       # = {mean:+.5f}",
        )
    top_note = "" if k <= 32 else " (the 10 most positive and 10 most negative)"
    n_pos = int((weights > 0).sum())
    w_text = fill(mt.weights_text, cname)
    if grads is not None and mt.name not in ("HiResCAM", "LayerCAM"):
        w_text += " " + weights_sign_text(n_pos, k, rectified)
    steps["weights"] = Step(
        "weights",
        "4 · Channel importance" if not mt.class_free else "4 · Channel loadings (class-free)",
        render.bar_chart(weights, labels=[f"ch{c}" for c in range(k)], top=None if k <= 32 else 10, width=480,
                         height=240, title=(f"{result.method} loadings (any class){top_note}" if mt.class_free
                                            else f"{result.method} weights for class {cname}{top_note}")),
        "One number per channel; the largest positive and negative are labelled",
        para("weights", w_text + (" The chart shows the 10 most positive and the 10 most negative." if top_note else ""))
        + f"\n\n$${mt.weights_eq}$$",
        "order = w[0].argsort(descending=True)\nprint('largest:', order[:3].tolist(), ' smallest:', order[-3:].tolist())",
    )
    lim = float(np.abs(weighted).max()) or 1.0
    steps["weighted"] = Step(
        "weighted",
        f"5 · {mt.map_title}",
        render.with_colorbar(_block(render.colorize_signed(weighted, limit=lim), display_size), -lim, lim,
                             cmap="RdBu_r", signed=True, label=mt.map_label),
        fill(mt.map_caption, cname),
        para("weighted", fill(mt.map_text, cname) + f" It is a single {h}×{w} map.")
        + f"\n\n$${mt.map_eq}$$",
        mt.map_code,
    )
    cmax = float(cam.max())
    steps["relu"] = Step(
        "relu",
        f"6 · {mt.relu_title}",
        render.with_colorbar(_block(render.colorize(cam, cmap=cmap, vmin=0.0, vmax=cmax or 1.0), display_size), 0.0,
                             cmax or 1.0, cmap=cmap, label="after ReLU"),
        fill(mt.relu_caption, cname) + f" (peak {render.format_number(cmax)})",
        para("relu", fill(mt.relu_text, cname) + f" The map is still at the layer's {h}×{w} resolution."
             + (" Here it is all zero. " + fill(mt.zero_text, cname) if cmax == 0 else ""))
        + f"\n\n$${mt.relu_eq}$$",
        "cam = torch.relu(weighted)",
    )
    up = upsample(result.cam[index], (H, W)).numpy()
    umax = float(up.max())
    steps["upsample"] = Step(
        "upsample",
        f"7 · Upsample {h}×{w} → {H}×{W}",
        render.with_colorbar(_block(render.colorize(up, cmap=cmap, vmin=0.0, vmax=umax or 1.0), display_size), 0.0,
                             umax or 1.0, cmap=cmap, label="heat (same units)"),
        f"Bilinear upsampling to the input size, {H}×{W}",
        para("upsample",
             f"The map is only {h}×{w}, so it is stretched to the input's {H}×{W} with bilinear interpolation. "
             "This smooths the blocks; it adds no information. For display the map is then divided by "
             + ("its maximum (0 stays 0)." if norm == "max" else "its range (min→0, max→1: even a weak map fills the scale)."))
        + f"\n\n$$\\tilde L^c = \\mathrm{{bilinear}}(\\text{{map}}^c,\\ {H}\\times{W})$$",
        "heat = F.interpolate(cam[:, None], size=x.shape[-2:], mode='bilinear', align_corners=False)[:, 0]\n"
        + normalisation_code(norm),
    )
    steps["overlay"] = Step(
        "overlay",
        "8 · Overlay on the input",
        _block(overlay_image(result, image, index=index, norm=norm, alpha=alpha, cmap=cmap), display_size),
        fill(mt.overlay_caption, cname),
        para("overlay",
             f"Finally the heat map is laid over the input with the '{cmap}' colour map at opacity {alpha:g}. "
             + fill(mt.overlay_text, cname)
             + " It is a coarse answer to 'where?', not 'why?': the resolution is that of the hooked layer, "
             "and a convincing picture is no proof that the model relies on those pixels.")
        + f"\n\n$$\\text{{overlay}} = (1-a)\\, I + a\\,\\mathrm{{{cmap}}}\\big({normalisation_equation(norm)}\\big)$$",
        overlay_code(cmap, alpha),
    )
    return steps


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
