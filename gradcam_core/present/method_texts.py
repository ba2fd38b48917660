"""What each CAM method computes, in words, equations and code: the parts of the teaching
steps that differ from method to method, plus the app's short "What is Grad-CAM?" opening and
the LeNet layer notes.  Data and small functions only (no gradio, no torch).

Every text is keyed by the method's display name (the keys of ``gradcam_core.cam.methods.METHODS``,
Guided Grad-CAM included; tests/test_texts.py checks that every one has its texts).  ``{c}`` in a text stands for the explained class's name; use
:func:`fill` (a plain replace, so LaTeX braces need no escaping).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MethodText", "TEXTS", "method_text", "fill", "GRADCAM_OVERVIEW", "LENET_LAYERS", "LENET_DEFAULT_LAYER",
           "lenet_layer_label", "lenet_layer_note", "lenet_zero_gradient_note", "ink_text", "pct", "INK_DEFINITION", "NEAR_INK", "near_ink_sentence",
           "normalisation_code", "normalisation_equation", "overlay_code", "features_sign_text", "weights_sign_text",
           "zero_gradient_text", "average_text", "stretched_shift_text"]


@dataclass(frozen=True)
class MethodText:
    """The method-specific parts of the steps.  ``{c}``: the class name."""

    name: str
    summary: str  # what it computes (the method note)
    weight_symbol: str  # how step titles name a channel's weight
    weights_text: str  # step 4: what one bar means
    weights_eq: str  # step 4 equation (LaTeX, no $$)
    map_title: str  # step 5 title (after "5 · ")
    map_caption: str  # step 5, one line for a gallery
    map_text: str  # step 5: how the map is built and what its colours mean
    map_eq: str  # step 5 equation
    map_code: str  # step 5 code
    map_label: str  # step 5 colour-bar label
    relu_title: str  # step 6 title (after "6 · ")
    relu_caption: str
    relu_text: str  # step 6: what the ReLU keeps and drops
    relu_eq: str
    zero_text: str  # what an all-zero map means (after the ReLU)
    overlay_caption: str
    overlay_text: str  # step 8: what warm colours mean
    class_free: bool = False
    uses_average: bool = False  # step 3 (plain gradient averaging) applies
    negated: bool = False  # the weights are the negated gradients: a positive weight lowers the score


def fill(text: str, c: str) -> str:
    return text.replace("{c}", str(c))


_GRADCAM_RELU = (
    "Grad-CAM keeps only the cells that raise the score of **{c}** and sets the rest to zero. The blue "
    "cells of step 5 lower that score: they argue against **{c}**. The paper adds that such regions are "
    "*likely* to belong to other classes; this map does not measure that."
)

TEXTS: dict[str, MethodText] = {}


def _add(t: MethodText) -> None:
    TEXTS[t.name] = t


_add(MethodText(
    name="Grad-CAM",
    summary="Each channel's weight α_k is the average of its gradients (step 3); the map is the weighted "
            "sum Σ_k α_k A^k of the feature maps, and a ReLU keeps the part that raises the class score.",
    weight_symbol="α",
    weights_text="One weight per channel: α_k > 0 means that making map k larger, everywhere at once, would "
                 "raise the score of **{c}**; α_k < 0 means it would lower it.",
    weights_eq="\\alpha_k^c > 0:\\ \\text{more } A^k \\text{ raises } y^c, \\qquad "
               "\\alpha_k^c < 0:\\ \\text{more } A^k \\text{ lowers } y^c",
    map_title="Weighted sum of the maps (signed)",
    map_caption="Σ_k α_k A^k: red cells raise the score of {c}, blue cells lower it",
    map_text="Multiply every feature map by its weight and add them up. The result is one map in score "
             "units: red where the weighted features raise the score of **{c}**, blue where they lower it.",
    map_eq="L^c = \\sum_k \\alpha_k^c A^k",
    map_code="weighted = (alpha[:, :, None, None] * A).sum(dim=1)   # (1, h, w)",
    map_label="Σ α·A",
    relu_title="ReLU: keep what raises the score",
    relu_caption="ReLU keeps only what raises the score of {c}",
    relu_text=_GRADCAM_RELU,
    relu_eq="\\text{Grad-CAM}^c = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c A^k\\Big)",
    zero_text="An all-zero map means that in no cell do the weighted maps add up to more than 0: no cell raises "
              "the score of {c} on balance (single channels may still raise it; step 4).",
    overlay_caption="Where the features raise the score of {c}",
    overlay_text="Warm colours show where the features of this layer raise the score of **{c}**.",
    uses_average=True,
))

_add(MethodText(
    name="Grad-CAM++",
    summary="Like Grad-CAM, but a channel's weight adds up only its positive gradients, each scaled by a "
            "factor from second- and third-order terms (Chattopadhay et al., 2018), so several separate "
            "objects of the class all count. Step 3 (plain averaging) does not apply.",
    weight_symbol="w",
    weights_text="One weight per channel, built from its positive gradients only, each cell with its own "
                 "factor a_ij: a large weight means that the channel, where it is active, raises the score "
                 "of **{c}**.",
    weights_eq="w_k^c = \\sum_{i,j} a_{ij}^{kc}\\,\\mathrm{ReLU}\\Big(\\frac{\\partial y^c}{\\partial A^k_{ij}}\\Big),"
               "\\quad a_{ij}^{kc} = \\frac{g_{ij}^2}{2g_{ij}^2 + \\sum_{a,b} A^k_{ab}\\, g_{ij}^3}",
    map_title="Weighted sum of the maps (signed)",
    map_caption="Σ_k w_k A^k: red where channels that favour {c} are active",
    map_text="Multiply every feature map by its weight and add them up. Red where channels whose positive "
             "gradients favour **{c}** are active; blue only where weighted activations are negative.",
    map_eq="L^c = \\sum_k w_k^c A^k",
    map_code="g = dA\naij = g**2 / (2 * g**2 + A.sum(dim=(2, 3), keepdim=True) * g**3 + 1e-6)\n"
             "w = (torch.relu(g) * aij).sum(dim=(2, 3))\nweighted = (w[:, :, None, None] * A).sum(dim=1)",
    map_label="Σ w·A",
    relu_title="ReLU: keep the positive part",
    relu_caption="ReLU keeps the positive part of the map for {c}",
    relu_text="The ReLU keeps the cells where the weighted sum is positive and sets the rest to zero.",
    relu_eq="\\text{Grad-CAM++}^c = \\mathrm{ReLU}\\Big(\\sum_k w_k^c A^k\\Big)",
    zero_text="An all-zero map means the weighted sum of the maps is nowhere positive for {c}.",
    overlay_caption="Where channels that favour {c} are active",
    overlay_text="Warm colours show where channels whose positive gradients favour **{c}** are active.",
))

_add(MethodText(
    name="XGrad-CAM",
    summary="Each channel's weight sums its gradients, each weighted by the activation in that cell divided "
            "by the channel's total activation (Fu et al., 2020); then the maps are added with those weights, "
            "as in Grad-CAM.",
    weight_symbol="w",
    weights_text="One weight per channel: its gradients averaged with the channel's own activations as the "
                 "weights, so cells where the channel is active count most. w_k > 0: where this channel is "
                 "active, more of it raises the score of **{c}**.",
    weights_eq="w_k^c = \\sum_{i,j} \\frac{A^k_{ij}}{\\sum_{a,b} A^k_{ab}}\\,\\frac{\\partial y^c}{\\partial A^k_{ij}}",
    map_title="Weighted sum of the maps (signed)",
    map_caption="Σ_k w_k A^k: red cells raise the score of {c}, blue cells lower it",
    map_text="Multiply every feature map by its weight and add them up: red where the weighted features raise "
             "the score of **{c}**, blue where they lower it.",
    map_eq="L^c = \\sum_k w_k^c A^k",
    map_code="w = (dA * A / A.sum(dim=(2, 3), keepdim=True)).sum(dim=(2, 3))\n"
             "weighted = (w[:, :, None, None] * A).sum(dim=1)",
    map_label="Σ w·A",
    relu_title="ReLU: keep what raises the score",
    relu_caption="ReLU keeps only what raises the score of {c}",
    relu_text="The ReLU keeps the cells that raise the score of **{c}** and sets those that lower it to zero.",
    relu_eq="\\text{XGrad-CAM}^c = \\mathrm{ReLU}\\Big(\\sum_k w_k^c A^k\\Big)",
    zero_text="An all-zero map means that in no cell do the weighted maps add up to more than 0: no cell raises "
              "the score of {c} on balance (single channels may still raise it; step 4).",
    overlay_caption="Where the features raise the score of {c}",
    overlay_text="Warm colours show where the features of this layer raise the score of **{c}**.",
))

_add(MethodText(
    name="HiResCAM",
    summary="No averaging: in every cell the gradient multiplies the activation, element by element, and the "
            "products are added over the channels (Draelos & Carin, 2020). The bars of step 4 are each "
            "channel's mean contribution, for reading only: the map does not multiply whole maps by them.",
    weight_symbol="c̄",
    weights_text="Each bar is a channel's mean contribution to the map, the average over its cells of "
                 "gradient × activation. HiResCAM does not multiply whole maps by these numbers; they only "
                 "say which channels add most to the map for **{c}**.",
    weights_eq="\\bar c_k^{\\,c} = \\frac{1}{Z}\\sum_{i,j} \\frac{\\partial y^c}{\\partial A^k_{ij}}\\, A^k_{ij}",
    map_title="Gradient × activation, cell by cell (signed)",
    map_caption="Σ_k ∂y/∂A^k ⊙ A^k: red cells raise the score of {c}, blue cells lower it",
    map_text="Multiply each activation by its own gradient, cell by cell (no averaging), and add over the "
             "channels. To first order, red cells raise the score of **{c}** and blue cells lower it.",
    map_eq="L^c = \\sum_k \\frac{\\partial y^c}{\\partial A^k} \\odot A^k",
    map_code="weighted = (dA * A).sum(dim=1)   # (1, h, w): element-wise, no averaging",
    map_label="Σ ∂y/∂A ⊙ A",
    relu_title="ReLU: keep what raises the score",
    relu_caption="ReLU keeps only what raises the score of {c}",
    relu_text="The ReLU keeps the cells that raise the score of **{c}** and sets those that lower it to zero.",
    relu_eq="\\text{HiResCAM}^c = \\mathrm{ReLU}\\Big(\\sum_k \\frac{\\partial y^c}{\\partial A^k} \\odot A^k\\Big)",
    zero_text="An all-zero map means no cell of this layer raises the score of {c}.",
    overlay_caption="Where the features raise the score of {c}",
    overlay_text="Warm colours show where gradient × activation raises the score of **{c}**.",
))

_add(MethodText(
    name="LayerCAM",
    summary="Cell by cell: the positive part of the gradient times the activation, added over the channels "
            "(Jiang et al., 2021). Negative gradients are dropped before the sum, so it also works on early, "
            "high-resolution layers. The bars of step 4 are each channel's mean contribution.",
    weight_symbol="c̄",
    weights_text="Each bar is a channel's mean contribution to the map, the average over its cells of "
                 "ReLU(gradient) × activation. LayerCAM does not multiply whole maps by these numbers.",
    weights_eq="\\bar c_k^{\\,c} = \\frac{1}{Z}\\sum_{i,j} \\mathrm{ReLU}\\Big(\\frac{\\partial y^c}"
               "{\\partial A^k_{ij}}\\Big)\\, A^k_{ij}",
    map_title="Positive gradient × activation, cell by cell",
    map_caption="Σ_k ReLU(∂y/∂A^k) ⊙ A^k: red where active features have positive gradients for {c}",
    map_text="In every cell keep the gradient only where it is positive, multiply it by the activation and add "
             "over the channels. Red where active features have positive gradients for **{c}**; blue only "
             "where such features have negative activations.",
    map_eq="L^c = \\sum_k \\mathrm{ReLU}\\Big(\\frac{\\partial y^c}{\\partial A^k}\\Big) \\odot A^k",
    map_code="weighted = (torch.relu(dA) * A).sum(dim=1)   # (1, h, w): element-wise",
    map_label="Σ ReLU(∂y/∂A) ⊙ A",
    relu_title="ReLU: keep the positive part",
    relu_caption="ReLU keeps the positive part of the map for {c}",
    relu_text="The ReLU keeps the cells where the sum is positive and sets the rest to zero.",
    relu_eq="\\text{LayerCAM}^c = \\mathrm{ReLU}\\Big(\\sum_k \\mathrm{ReLU}\\Big(\\frac{\\partial y^c}"
            "{\\partial A^k}\\Big) \\odot A^k\\Big)",
    zero_text="An all-zero map means that in no cell of this layer do positive gradients for {c} meet "
              "positive activations.",
    overlay_caption="Where active features have positive gradients for {c}",
    overlay_text="Warm colours show where active features have positive gradients for **{c}**.",
))

_SCORE = MethodText(
    name="Score-CAM",
    summary="No gradients (Wang et al., 2020): each channel, upsampled and scaled to 0–1, masks the photo; the "
            "model scores each masked photo for the class; the weights are a softmax over the channels of "
            "those masked-image scores (positive, adding up to 1), and the map is the weighted sum of the "
            "channels.",
    weight_symbol="w",
    weights_text="One weight per channel: the softmax, over the scored channels, of the score for **{c}** that "
                 "the model gives the photo masked by that channel. The weights are positive and add up to 1, "
                 "so no bar is blue; a channel that was not scored has weight 0.",
    weights_eq="w_k^c = \\mathrm{softmax}_k\\big(y^c(I \\odot s(A^k))\\big),\\quad s = \\text{upsample, then scale to } [0, 1]",
    map_title="Weighted sum of the maps",
    map_caption="Σ_k w_k A^k: red where channels whose masks kept {c}'s score high are active",
    map_text="Scale every feature map by its softmax weight (step 4) and add them up. Red where the channels "
             "whose masked photos scored high for **{c}** are active; blue only where activations are negative.",
    map_eq="L^c = \\sum_k w_k^c A^k",
    map_code="masks = minmax(upsample(A[0]))              # (K, H, W), each in 0..1\n"
             "scores = model(x * masks[:, None])[:, c]    # one masked forward per channel\n"
             "w = torch.softmax(scores, dim=0)            # over the channels\n"
             "weighted = (w[:, None, None] * A[0]).sum(dim=0)",
    map_label="Σ w·A",
    relu_title="ReLU: keep the positive part",
    relu_caption="ReLU keeps the positive part of the map for {c}",
    relu_text="The ReLU keeps the cells where the weighted sum is positive and sets the rest to zero.",
    relu_eq="\\text{Score-CAM}^c = \\mathrm{ReLU}\\Big(\\sum_k w_k^c A^k\\Big)",
    zero_text="An all-zero map means the weighted sum of the maps is nowhere positive for {c}.",
    overlay_caption="Where the high-scoring channels for {c} are active",
    overlay_text="Warm colours show where the channels whose masked photos scored highest for **{c}** are "
                 "active.",
)
_add(_SCORE)
_add(MethodText(**{**_SCORE.__dict__, "name": "Score-CAM (exact)",
                   "relu_eq": _SCORE.relu_eq}))

_add(MethodText(
    name="Eigen-CAM",
    summary="No gradients and no class (Muhammad & Yeasin, 2020): the projection of the feature maps on their "
            "first principal component, the dominant pattern of the layer. It is class-free: the same map "
            "whatever class you pick, not evidence about any class.",
    weight_symbol="v",
    weights_text="The bars are the loadings of the first principal component, one per channel. They are not "
                 "weights for a class: they are the same for every class.",
    weights_eq="v_1 = \\text{first principal direction of } \\{A_{:,ij}\\}_{i,j} \\in \\mathbb{R}^K",
    map_title="Projection on the first principal component",
    map_caption="(A − mean)·v_1: the layer's dominant pattern, class-free",
    map_text="Centre the activations (each channel minus its mean over the cells) and project every cell's "
             "K values on the first principal component. The map shows the layer's dominant pattern; its "
             "sign is chosen so that it follows the mean activation. It is class-free: red marks the dominant "
             "pattern, not evidence about any class.",
    map_eq="L = (A - \\bar A)\\, v_1",
    map_code="a = A[0].flatten(1).T                  # (h*w, K)\na = a - a.mean(dim=0)\n"
             "_, _, vh = torch.linalg.svd(a, full_matrices=False)\nweighted = (a @ vh[0]).reshape(h, w)",
    map_label="(A − Ā)·v₁",
    relu_title="ReLU: keep the positive side",
    relu_caption="ReLU keeps the positive side of the dominant pattern (class-free)",
    relu_text="The ReLU keeps the positive side of the principal component and sets the rest to zero. "
              "Nothing here depends on the class.",
    relu_eq="\\text{Eigen-CAM} = \\mathrm{ReLU}\\big((A - \\bar A)\\, v_1\\big)",
    zero_text="An all-zero map means the layer's dominant pattern has no positive part; Eigen-CAM says "
              "nothing about any class.",
    overlay_caption="The layer's dominant pattern (class-free)",
    overlay_text="Warm colours show the layer's dominant pattern. It is class-free: the same map for any "
                 "class, not evidence about any class.",
    class_free=True,
))

_add(MethodText(
    name="Counterfactual",
    summary="Grad-CAM with the gradients negated (Selvaraju et al., 2017, sec. 3.2): the map shows the regions "
            "whose features lower the class score, what speaks *against* the class; without them the "
            "score would be higher.",
    weight_symbol="α⁻",
    weights_text="One weight per channel, the negated average gradient: a positive weight means that making "
                 "map k larger would *lower* the score of **{c}**, so that channel speaks against it.",
    weights_eq="\\alpha_k^{c-} = -\\frac{1}{Z}\\sum_{i,j} \\frac{\\partial y^c}{\\partial A^k_{ij}}",
    map_title="Weighted sum with negated gradients (signed)",
    map_caption="Σ_k (−α_k) A^k: red cells speak against {c}, blue cells for it",
    map_text="Multiply every feature map by its negated weight and add them up. Red where the features speak "
             "against **{c}** (they lower its score), blue where they raise it.",
    map_eq="L^{c-} = \\sum_k \\alpha_k^{c-} A^k = -\\sum_k \\alpha_k^c A^k",
    map_code="alpha_neg = (-dA).mean(dim=(2, 3))\nweighted = (alpha_neg[:, :, None, None] * A).sum(dim=1)",
    map_label="Σ (−α)·A",
    relu_title="ReLU: keep what speaks against the class",
    relu_caption="ReLU keeps only what speaks against {c}",
    relu_text="The ReLU keeps the cells that lower the score of **{c}**, what speaks against it, and drops the "
              "cells that support it.",
    relu_eq="\\text{Counterfactual}^c = \\mathrm{ReLU}\\Big(-\\sum_k \\alpha_k^c A^k\\Big)",
    zero_text="An all-zero map means that in no cell do the maps, weighted by the negated gradients, add up to "
              "more than 0: no cell speaks against {c} on balance. Single channels may still speak against it (the "
              "positive weights of step 4); in every cell they are outweighed by those that speak for it.",
    overlay_caption="What speaks against {c}",
    overlay_text="Warm colours show what speaks against **{c}**: the features there lower its score.",
    negated=True,
))

GUIDED = "Guided Grad-CAM"
_add(MethodText(**{**TEXTS["Grad-CAM"].__dict__, "name": GUIDED,
                   "summary": "Grad-CAM multiplied pixel by pixel with guided backpropagation (gradients of the "
                              "score with respect to the photo, passed back only through positive ReLUs): sharp "
                              "detail inside the Grad-CAM region. Guided backprop alone changes little when the "
                              "weights are randomised."}))


def method_text(method: str | None) -> MethodText:
    """The texts of ``method``; an unknown name falls back to its family ("Score-CAM …")."""
    name = "Grad-CAM" if method in (None, "") else str(method)
    if name in TEXTS:
        return TEXTS[name]
    for key in sorted(TEXTS, key=len, reverse=True):
        if name.startswith(key):
            return TEXTS[key]
    return TEXTS["Grad-CAM"]


# --------------------------------------------------------------------------- shared step wording
def pct(x: float) -> str:
    """0.385 → "39 %"."""
    return f"{100 * x:.0f} %"


def features_sign_text(n_pos: int, n_neg: int, n_total: int) -> str:
    """Step 1: what a bright or dark cell means, from the signs of the layer's values."""
    if n_neg == 0:
        return ("All its values are ≥ 0 (the layer is rectified): a map is bright where its filter's pattern "
                "occurs and 0 where it does not.")
    share = n_neg / n_total
    return (f"{pct(share)} of its values are negative ({n_neg} of {n_total}). A filter *fires* only where its "
            "value is positive; a negative value says its pattern is absent there. Multiplied by a negative "
            "weight (step 4), such an absence adds to the map (step 5): negative × negative is positive.")


def weights_sign_text(n_pos: int, k: int, rectified: bool, negated: bool = False) -> str:
    """Step 4, for gradient-weighted methods: the count of positive weights and what a sign means here.
    ``negated``: the weights are the negated gradients (Counterfactual), so a positive weight lowers the score."""
    if negated:
        base = f"Here {n_pos} of {k} weights are positive: those channels speak against the class."
        if rectified:
            return base + (" This layer's values are ≥ 0, so a positive weight means the *presence* of that pattern "
                           "lowers the score, and a negative one that its presence raises it.")
        return (base + " This layer's values can be negative, so a weight alone does not say whether presence or "
                "absence matters: a positive weight on a negative activation raises the score.")
    base = f"Here {n_pos} of {k} weights are positive."
    if rectified:
        return base + " This layer's values are ≥ 0, so a positive weight means the *presence* of that pattern raises the score."
    return (base + " This layer's values can be negative, so a weight alone does not say whether presence or "
            "absence matters: a negative weight on a negative activation raises the score.")


def zero_gradient_text(n_zero: int, n_total: int, reason: str | None = None) -> str:
    """Step 3: how many gradients are exactly zero, and why (``reason``: the layer's own)."""
    if n_zero == 0:
        return "None of them is exactly zero."
    why = reason or ("A gradient is exactly zero where some layer after this one passes nothing back: a ReLU "
                     "whose input was ≤ 0, or a max-pool, which passes the gradient only to the largest value "
                     "of each window.")
    return f"{n_zero} of these {n_total} are exactly zero ({pct(n_zero / n_total)}). {why}"


def average_text(k: int, h: int, w: int) -> str:
    """Step 3, "why average": the numbers from the shapes."""
    n = k * h * w
    return (f"Why average? The backward pass gives {k} × {h} × {w} = {n:,} gradient numbers".replace(",", " ")
            + f"; averaging each map turns them into {k} weights, one per channel: how much the score would "
            "rise, on the whole, if that channel's map grew. The *where* comes back in step 5, from the "
            "activations themselves. On a network that ends in global average pooling and one linear layer, "
            "these averages equal that layer's class weights divided by h·w: Grad-CAM then reproduces CAM "
            "(Zhou et al., 2016), which is where its recipe comes from.")


# --------------------------------------------------------------------------- normalisation / colour map
def normalisation_code(norm: str) -> str:
    if norm == "minmax":
        return "heat = (heat - heat.min()) / (heat.max() - heat.min()).clamp_min(1e-12)   # min-max"
    return "heat = heat / heat.max().clamp_min(1e-12)   # max: 0 stays 0"


def normalisation_equation(norm: str) -> str:
    if norm == "minmax":
        return "\\frac{\\tilde L - \\min \\tilde L}{\\max \\tilde L - \\min \\tilde L}"
    return "\\tilde L / \\max \\tilde L"


def overlay_code(cmap: str, alpha: float) -> str:
    return (f"import matplotlib\nrgb = matplotlib.colormaps['{cmap}'](heat[0].numpy())[..., :3]\n"
            f"a = {alpha:g}\noverlay = (1 - a) * image + a * rgb")


# --------------------------------------------------------------------------- What is Grad-CAM?
GRADCAM_OVERVIEW = (
    "**Grad-CAM** (Gradient-weighted Class Activation Mapping) was introduced by Selvaraju, Cogswell, Das, "
    "Vedantam, Parikh and Batra in *Grad-CAM: Visual Explanations from Deep Networks via Gradient-based "
    "Localization* (ICCV 2017). It answers one question about one decision: which parts of this picture "
    "made the network's score for this class go up? It reads one convolutional layer, weights each of its "
    "feature maps by the average gradient of the class score, adds them and keeps the positive part.\n\n"
    "The paper makes three claims:\n\n"
    "1. **Any CNN.** It applies to many kinds of convolutional networks (with fully-connected layers, for "
    "captioning, for visual question answering), not only to those that end in global average pooling, "
    "as its predecessor CAM required.\n"
    "2. **No change to the architecture, no retraining.** The trained network is used as it is: one forward "
    "and one backward pass.\n"
    "3. **Class-discriminative.** Each class gets its own map: ask about another class and the map changes.\n\n"
    "What it does not claim: the map is as coarse as the layer it reads (8×8 for LeNet here, 7×7 for a "
    "ResNet), and a convincing map is no proof that the model relies on those pixels; the *Can I trust it?* "
    "panels test that."
)


# --------------------------------------------------------------------------- LeNet layers
LENET_DEFAULT_LAYER = "relu2"

#: The three spatial layers at the end of LeNet that the MNIST tab offers, with their output
#: shapes (channels, h, w) for a 28×28 digit (tests check them against the model).
LENET_LAYERS: dict[str, dict] = {
    "conv2": {"shape": (16, 8, 8), "what": "before its ReLU: raw, signed sums"},
    "relu2": {"shape": (16, 8, 8), "what": "conv2 after its ReLU: rectified, the Grad-CAM convention"},
    "pool2": {"shape": (16, 4, 4), "what": "after 2×2 max-pooling: deeper, still spatial, coarser"},
}


def lenet_layer_label(name: str) -> str:
    k, h, w = LENET_LAYERS[name]["shape"]
    return f"{name} · {k} maps of {h}×{w}" + (" (default)" if name == LENET_DEFAULT_LAYER else "")


def lenet_layer_note(name: str) -> str:
    """Step 1, "why this layer", for the MNIST tab."""
    common = ("Why this layer? Grad-CAM needs a layer that still keeps *where* things are. In LeNet the last "
              "such layers are conv2, relu2 and pool2; after pool2 everything is flattened into fc1 and the "
              "position is gone. ")
    if name == "relu2":
        return common + ("This tab uses **relu2** by default: conv2's maps after their ReLU, the rectified maps "
                         "the Grad-CAM paper uses, where a value is a filter firing (> 0) or not (0). conv2 holds "
                         "the same maps before the ReLU, mostly negative; pool2 is one layer deeper and still "
                         "spatial, but at 4×4 a cell covers 7 pixels.")
    if name == "conv2":
        return common + ("**conv2** shows the raw, signed sums before the ReLU: most values are negative, so "
                         "much of the map's evidence comes from negative activation × negative weight, a filter "
                         "that is *off* there. relu2 (the default) is the rectified version.")
    if name == "pool2":
        return common + ("**pool2** is the deepest of the three and still spatial, but only 4×4: each cell "
                         "covers 7 of the digit's 28 pixels, so the map is very coarse.")
    return common


def lenet_zero_gradient_note(name: str) -> str | None:
    """Step 3: why LeNet's gradients at ``name`` are exactly zero in so many cells."""
    if name == "conv2":
        return ("Two layers after conv2 pass nothing back to those cells: relu2 blocks the gradient wherever "
                "conv2's value is ≤ 0, and pool2 passes it only to the largest of each 2×2 window (1 cell in 4).")
    if name == "relu2":
        return ("pool2 passes the gradient only to the largest value of each 2×2 window, so at most 1 cell in "
                "4 (16 of 64) can receive one.")
    if name == "pool2":
        return "After pool2 comes fc1, which is connected to every cell; a zero here is a coincidence."
    return None


#: "Ink", one quantity everywhere (analysis.ink_share): the pixels of value ≥ 0.5; the heat is
#: measured *near* the ink, within 2 px of it.
INK_DEFINITION = "ink: the pixels of value ≥ 0.5"
NEAR_INK = "within 2 px of the ink"


def near_ink_sentence(heat: float | None, area: float, pct_fn=None) -> str | None:
    """The overlay's text alternative: the heat near the ink, and the zone's share of the picture."""
    if heat is None:
        return None
    p = pct_fn or pct
    return f"{p(heat)} of the heat lies {NEAR_INK}, a zone that covers {p(area)} of the picture."


def ink_text(this_heat: float | None, this_area: float, ds_heat: float | None = None,
             ds_area: float | None = None, ds_n: int | None = None, this_ink: float | None = None) -> str:
    """Step 8 on MNIST: the share of the heat near the ink (within 2 px of it) against that zone's
    share of the picture, for this digit and over the held-out digits, and what that teaches.
    ``this_ink``: the ink's own share of the picture."""
    ink = f" ({INK_DEFINITION}" + (f"; it covers {pct(this_ink)} of the picture)" if this_ink is not None else ")")
    if this_heat is None:
        this = (f"This digit: the map is all zero, so there is no heat to place (the zone {NEAR_INK} covers "
                f"{pct(this_area)} of the picture{ink}.")
    else:
        this = (f"This digit: **{pct(this_heat)} of the heat lies {NEAR_INK}**, a zone that covers {pct(this_area)} "
                f"of the picture{ink}.")
        if this_heat < 0.5:
            this += f" More than half of the heat ({pct(1 - this_heat)}) lies farther from the ink."
        else:
            this += " Most of the heat lies on or next to the ink."
        if this_area > 0:
            r = this_heat / this_area
            if r > 1.05:
                this += f" Per unit of area that zone holds {r:.1f}× the picture's average heat."
            elif r < 0.95:
                this += f" Per unit of area that zone holds less heat than the picture's average ({r:.1f}×)."
            else:
                this += " Per unit of area that zone holds about the picture's average heat."
    if ds_heat is None or ds_area is None:
        return this
    n = f"{ds_n:,}".replace(",", " ") if ds_n else "the"
    out = this + f" Over {n} held-out digits: **{pct(ds_heat)} of the heat {NEAR_INK}, a zone of {pct(ds_area)}**."
    if ds_heat < 0.5:
        out += (" So for LeNet much of the evidence lies away from the ink, where ink is *absent*: a 7 is a 7 "
                "partly because there is no loop where a 9 would have one.")
    else:
        out += " So for LeNet most of the evidence lies on or next to the strokes themselves."
    return out


def stretched_shift_text(model_title: str, layer: str, measured: dict | None) -> str:
    """Step 7 on a padded (ImageNet) model: the map is stretched, and how far that is from where
    its cells look, as measured (``analysis.cell.MEASURED_OFFSETS``), or that it was not measured."""
    lead = ("Each cell is stretched over its own block of the photo. That is not exactly where the cell looks: "
            "padding and the network's depth give each cell a view far larger than its block, pulled toward the "
            "middle of the photo.")
    if not measured:
        return lead + (f" For {model_title} at {layer} the shift was not measured; on EfficientNet-Lite0 it is "
                       "tens of pixels at the corners, so read the map's edges with care.")
    lo, hi = measured["corners"]
    return lead + (f" Measured for {model_title} at {layer} (the centre of each cell's input-gradient energy, on "
                   f"noise inputs): {lo:.0f}–{hi:.0f} px from the block's centre for the corner cells, "
                   f"{measured['middle']:.0f} px for the middle one, on a 224-px photo.")
