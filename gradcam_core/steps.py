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
) -> dict[str, Step]:
    """Every step of ``result`` (sample ``index``) as images with explanations.

    ``image`` is what the model saw, unnormalised (uint8 RGB, or a float (H, W) digit in [0, 1]).
    ``channel`` is the channel used in the averaging example (default: the largest weight).
    """
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
    titles = [f"ch {c}  {'α' if result.method == 'Grad-CAM' else 'w'}={render.format_number(weights[c], plus=True)}" for c in chans]
    shown = "all" if len(chans) == k else f"the {len(chans)} strongest (by weight) of"
    layer = result.layer
    steps: dict[str, Step] = {}
    cell = 80 if h <= 16 else 96

    steps["features"] = Step(
        "features",
        f"1 · Feature maps of {layer}",
        render.map_grid(act[chans], cmap="viridis", titles=titles, cell=cell, highlight=marks,
                        colorbar_label="activation"),
        f"Feature maps A^k: {shown} {k} channels, {h}×{w}, one shared scale",
        f"The hooked layer `{layer}` turns the input into {k} feature maps of {h}×{w}; this shows {shown} "
        f"{k}. Each map is one learned detector: bright where its pattern occurs. They still keep "
        "*where* things are — the last layers before the classifier are the deepest that do. "
        "All maps share one colour scale, so a dim map really is weak. Red borders mark the channels "
        "with the largest positive weights (step 4), blue the most negative."
        "\n\n$$A^k \\in \\mathbb{R}^{h\\times w},\\quad k = 1,\\dots,K$$",
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
            f"Backpropagate the score of class **{cname}** (the logit y^c = {score:.3f}, before softmax) "
            "to the feature maps — and no further. Each number says how much the score would change "
            "if that activation grew a little: red raises the score, blue lowers it, white is "
            "indifferent. Colours are symmetric about zero on one shared scale."
            "\n\n$$\\frac{\\partial y^c}{\\partial A^k_{ij}}$$",
            "A = A.detach().requires_grad_()      # backward stops here\n"
            "score = head(A)[0, c]                # layers after the hooked one\n"
            "(dA,) = torch.autograd.grad(score, A)",
        )
        ch = int(np.argmax(weights)) if channel is None else int(channel)
        if not 0 <= ch < k:
            raise ValueError(f"channel must be between 0 and {k - 1}")
        g = grads[ch]
        mean = float(g.mean())
        if h * w <= 14 * 14:
            grid = render.number_grid(g, fmt=lambda v: render.format_number(v, plus=True))
        else:
            grid = render.with_colorbar(_block(render.colorize_signed(g), display_size), -np.abs(g).max(),
                                        np.abs(g).max(), cmap="RdBu_r", signed=True)
        steps["average"] = Step(
            "average",
            f"3 · Averaging: channel {ch} becomes one weight",
            grid,
            f"Channel {ch}: the mean of its {h * w} gradients is α = {render.format_number(mean, plus=True)}",
            f"Grad-CAM squeezes each gradient map into one number, its average. Channel {ch} has "
            f"{h * w} gradients (shown); positive ones sum to {render.format_number(float(g[g > 0].sum()))}, "
            f"negative ones to {render.format_number(float(g[g < 0].sum()))}; the mean is "
            f"**α = {render.format_number(mean, plus=True)}**. "
            "A positive α means 'more of this feature, more of this class'."
            f"\n\n$$\\alpha_k^c = \\frac{{1}}{{Z}}\\sum_i\\sum_j \\frac{{\\partial y^c}}{{\\partial A^k_{{ij}}}},\\quad Z = {h}\\times{w} = {h * w}$$",
            "alpha = dA.mean(dim=(2, 3))         # (1, K): one weight per channel\n"
            f"alpha[0, {ch}]                       # = {mean:+.5f}",
        )
    top_note = "" if k <= 32 else " (the 10 most positive and 10 most negative)"
    steps["weights"] = Step(
        "weights",
        "4 · Channel importance",
        render.bar_chart(weights, labels=[f"ch{c}" for c in range(k)], top=None if k <= 32 else 10, width=480,
                         height=240, title=f"{result.method} weights for class {cname}{top_note}"),
        "One weight per channel; the largest positive and negative are labelled",
        f"One weight per channel{top_note}. Tall red bars are the detectors whose presence argues for class "
        f"**{cname}**; blue bars argue against it. Here {int((weights > 0).sum())} of {k} weights are positive."
        "\n\n$$\\alpha_k^c > 0:\\ A^k \\text{ supports } c, \\qquad \\alpha_k^c < 0:\\ A^k \\text{ speaks against } c$$",
        "order = alpha[0].argsort(descending=True)\nprint('for:', order[:3].tolist(), ' against:', order[-3:].tolist())",
    )
    lim = float(np.abs(weighted).max()) or 1.0
    steps["weighted"] = Step(
        "weighted",
        "5 · Weighted sum of the maps (signed)",
        render.with_colorbar(_block(render.colorize_signed(weighted, limit=lim), display_size), -lim, lim,
                             cmap="RdBu_r", signed=True, label="Σ α·A"),
        f"Σ_k α_k A^k: red regions support class {cname}, blue regions speak against it",
        "Multiply every feature map by its weight and add them up. The result is a single "
        f"{h}×{w} map in score units: red where the evidence for **{cname}** sits, blue where the "
        "features present argue against it."
        "\n\n$$L^c = \\sum_k \\alpha_k^c A^k$$",
        "weighted = (alpha[:, :, None, None] * A).sum(dim=1)   # (1, h, w)",
    )
    cmax = float(cam.max())
    steps["relu"] = Step(
        "relu",
        "6 · ReLU: keep the positive evidence",
        render.with_colorbar(_block(render.colorize(cam, cmap=cmap, vmin=0.0, vmax=cmax or 1.0), display_size), 0.0,
                             cmax or 1.0, cmap=cmap, label="ReLU(Σ α·A)"),
        f"ReLU keeps only the evidence for class {cname} (peak {render.format_number(cmax)})",
        "Negative values are evidence for *other* classes, so Grad-CAM drops them. What remains is "
        f"the class-discriminative map, still at the layer's {h}×{w} resolution"
        + (" — here it is all zero: nothing in this layer argues for this class." if cmax == 0 else ".")
        + "\n\n$$\\text{Grad-CAM}^c = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c A^k\\Big)$$",
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
        f"The map is only {h}×{w}, so it is stretched to the input's {H}×{W} with bilinear interpolation. "
        "This smooths the blocks; it adds no information. For display the map is then divided by "
        + ("its maximum (0 stays 0)." if norm == "max" else "its range (min→0, max→1: even a weak map fills the scale).")
        + f"\n\n$$\\tilde L^c = \\mathrm{{bilinear}}(\\text{{Grad-CAM}}^c,\\ {H}\\times{W})$$",
        "heat = F.interpolate(cam[:, None], size=x.shape[-2:], mode='bilinear', align_corners=False)[:, 0]\n"
        "heat = heat / heat.max().clamp_min(1e-12)",
    )
    steps["overlay"] = Step(
        "overlay",
        "8 · Overlay on the input",
        _block(overlay_image(result, image, index=index, norm=norm, alpha=alpha, cmap=cmap), display_size),
        f"Where the model found evidence for class {cname}",
        f"Finally the heat map is laid over the input. Warm colours show where the evidence for **{cname}** "
        "sits. It is a coarse answer to 'where?', not 'why?': the resolution is that of the hooked layer, "
        "and a convincing picture is no proof that the model relies on those pixels."
        "\n\n$$\\text{overlay} = (1-a)\\, I + a\\,\\mathrm{colormap}\\big(\\tilde L^c / \\max \\tilde L^c\\big)$$",
        "import matplotlib\nrgb = matplotlib.colormaps['jet'](heat[0].numpy())[..., :3]\n"
        "overlay = (1 - a) * image + a * rgb",
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
