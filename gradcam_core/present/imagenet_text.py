"""The ImageNet tab's prose, computed from the numbers it describes: what each method computes (and
what Score-CAM costs, from the measured figures), the notes on normalisation and units, and the
summaries of an explanation and of a model comparison."""
from __future__ import annotations

from gradcam_core.cam import methods as _methods
from gradcam_core.cam.scorecam_budget import (SCORE_CAM_EXACT, SCORE_CAM_LIMIT, SCORE_CAM_MAX_CHANNELS,
                                              SCORE_CAM_REFERENCE, SCORE_CAM_RHO, SCORE_CAM_SECONDS_PER_FORWARD,
                                              format_duration, score_cam_forwards, score_cam_seconds)
from gradcam_core.present.method_texts import fill, method_text

GUIDED = _methods.GuidedGradCAM.name


def _score_cam_cost(method: str) -> str:
    """What ``method`` costs on the reference layer, computed from the measured figures."""
    title, layer, channels = SCORE_CAM_REFERENCE
    n = score_cam_forwards(method, channels)
    return (f"{_thousands(n)} extra forward passes on {title}'s last layer (`{layer}`, {_thousands(channels)} "
            f"channels): about {format_duration(score_cam_seconds(method, channels))} with 2 CPU threads "
            f"({_thousands(n)} × {SCORE_CAM_SECONDS_PER_FORWARD * 1e3:.0f} ms, measured)")


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _score_cam_fidelity() -> str:
    mean, low, photos = SCORE_CAM_RHO
    if not photos:
        return ""
    return (f" On {photos} of the example photos its map ranks the cells like exact Score-CAM's with "
            f"Spearman ρ {mean:.2f} on average (lowest {low:.2f}).")


NORM_NOTE = (
    "**max** divides the map by its peak: zero stays zero, so a weak map looks weak; "
    "**min–max** stretches every map to fill the colour scale, so its layout always shows — "
    "and so does noise."
)

HEAT_NOTE = (
    "The raw map keeps the method's own units (before normalisation). For Grad-CAM they are logit "
    "units: on a network that ends in global average pooling and one linear layer, the cells of the "
    "signed map (step 5) add up to the class logit minus its bias."
)

#: What each method computes, from gradcam_core.present.method_texts (the Score-CAM entries add their cost).
METHOD_NOTES: dict[str, str] = {
    "Grad-CAM": method_text("Grad-CAM").summary,
    "Grad-CAM++": method_text("Grad-CAM++").summary,
    "HiResCAM": method_text("HiResCAM").summary,
    "XGrad-CAM": method_text("XGrad-CAM").summary,
    "LayerCAM": method_text("LayerCAM").summary,
    "Score-CAM": "No gradients: each channel's map, scaled to 0–1, masks the photo and the model scores "
                 "the masked photo for the class; the weights are a softmax over those scores, so a channel "
                 "whose masked photo scores higher weighs more. To be quick it runs only the top "
                 f"{SCORE_CAM_MAX_CHANNELS} of the layer's channels, those whose maps vary most across the "
                 "photo (“Faster Score-CAM”); the others weigh 0. "
                 f"{_score_cam_cost('Score-CAM')}.{_score_cam_fidelity()}",
    SCORE_CAM_EXACT: "Score-CAM on every channel of the layer, as in the paper: the weights are a softmax "
                     "over all the channels' masked-photo scores. "
                     f"{_score_cam_cost(SCORE_CAM_EXACT)}"
                     + (f"; runs that would take over {format_duration(SCORE_CAM_LIMIT)} are stopped." if SCORE_CAM_LIMIT
                        else "."),
    "Eigen-CAM": method_text("Eigen-CAM").summary,
    "Counterfactual": method_text("Counterfactual").summary,
    GUIDED: method_text(GUIDED).summary,
}


def summary(expl) -> str:
    """The sentence above the overlay: what the model sees and what the warm colours mean."""
    i, name, p = expl.predicted
    h, w = expl.result.cam.shape[-2:]
    parts = [f"**{expl.model_title}** sees **{name}** ({p:.0%})."]
    mt = method_text(expl.method)
    if mt.class_free:
        parts.append(f"{expl.method} on `{expl.layer}` ({h}×{w}): the layer's dominant pattern, class-free "
                     "(the same map whatever class you pick).")
    else:
        shown = " and ".join(f"**{v.name}** ({v.prob:.1%})" for v in expl.views)
        parts.append(f"{expl.method} on `{expl.layer}` ({h}×{w}) for {shown}.")
    cap = fill(mt.overlay_caption, "the class" if len(expl.views) == 1 else "each class")
    parts.append(f"Warm colours: {cap[0].lower() + cap[1:]}.")
    zero = [fill(mt.zero_text, f"**{v.name}**") for v in expl.views if v.result.cam.max() == 0]
    parts += list(dict.fromkeys(zero))  # a class-free method's sentence once
    return " ".join(parts)

def steps_markdown(expl) -> str:
    """Every step's explanation, equation and code, for an accordion below the gallery."""
    note = METHOD_NOTES.get(expl.method) or method_text(expl.method).summary
    out = [f"**{expl.method}.** {note}"]
    if "gradients" not in expl.steps:
        out.append("This method uses no gradients: Grad-CAM's steps 2 and 3 do not apply, and steps 4 and "
                   "5 show how it weights and combines the maps instead.")
    elif "average" not in expl.steps:
        out.append("Grad-CAM's step 3 (averaging each channel's gradients) does not apply: steps 4 and 5 "
                   "show how this method weights and combines the maps instead.")
    for s in expl.steps.values():
        out.append(f"#### {s.title}\n\n{s.text}\n\n```python\n{s.code}\n```")
    return "\n\n".join(p for p in out if p)


def comparison_summary(cmp) -> str:
    """One line per model of a :class:`gradcam_core.services.imagenet.Comparison`."""
    lines = [f"**{cmp.method}** for **{cmp.target} · {cmp.name}**, each model on its default layer."]
    for p in cmp.panels:
        lines.append(f"- {p.title}: p = {p.prob:.1%}, rank {p.rank}; its own top class: {p.predicted_name}")
    for title, why in cmp.skipped:
        lines.append(f"- {title}: not available ({why})")
    return "\n".join(lines)
