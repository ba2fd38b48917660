"""The ImageNet tab's prose, computed from the numbers it describes: what each method computes (and
what Score-CAM costs, from the measured figures), the notes on normalisation and units, and the
summaries of an explanation and of a model comparison."""
from __future__ import annotations

from typing import Any

from gradcam_core.cam import methods as _methods
from gradcam_core.cam.scorecam_budget import (SCORE_CAM_EXACT, SCORE_CAM_LIMIT, SCORE_CAM_MAX_CHANNELS,
                                              SCORE_CAM_REFERENCE, SCORE_CAM_RHO, SCORE_CAM_SECONDS_PER_FORWARD,
                                              format_duration, score_cam_forwards, score_cam_seconds)
from gradcam_core.present.method_texts import fill, method_text
from gradcam_core.present.words import say

GUIDED = _methods.GuidedGradCAM.name


def _score_cam_cost(method: str) -> str:
    """What ``method`` costs on the reference layer, computed from the measured figures."""
    title, layer, channels = SCORE_CAM_REFERENCE
    n = score_cam_forwards(method, channels)
    return say("imagenet.score_cost", forwards=_thousands(n), title=title, layer=layer, channels=_thousands(channels),
               duration=format_duration(score_cam_seconds(method, channels)), ms=SCORE_CAM_SECONDS_PER_FORWARD * 1e3)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _score_cam_fidelity() -> str:
    mean, low, photos = SCORE_CAM_RHO
    if not photos:
        return ""
    return " " + say("imagenet.score_fidelity", photos=photos, mean=mean, low=low)


def _score_cam_note() -> str:
    """Faster Score-CAM: what it computes, what it costs and how close it comes to exact Score-CAM."""
    return say("imagenet.score_cam", max_channels=SCORE_CAM_MAX_CHANNELS, cost=_score_cam_cost("Score-CAM")) \
        + _score_cam_fidelity()


def _score_cam_exact_note() -> str:
    """Exact Score-CAM: what it computes, what it costs, and the time limit when there is one."""
    cost = _score_cam_cost(SCORE_CAM_EXACT)
    if SCORE_CAM_LIMIT:
        return say("imagenet.score_limited", cost=cost, limit=format_duration(SCORE_CAM_LIMIT))
    return say("imagenet.score_exact", cost=cost)


NORM_NOTE = say("imagenet.norm_note")

HEAT_NOTE = say("imagenet.heat_note")

#: What each method computes, from gradcam_core.present.method_texts (the Score-CAM entries add their cost).
METHOD_NOTES: dict[str, str] = {
    "Grad-CAM": method_text("Grad-CAM").summary,
    "Grad-CAM++": method_text("Grad-CAM++").summary,
    "HiResCAM": method_text("HiResCAM").summary,
    "XGrad-CAM": method_text("XGrad-CAM").summary,
    "LayerCAM": method_text("LayerCAM").summary,
    "Score-CAM": _score_cam_note(),
    SCORE_CAM_EXACT: _score_cam_exact_note(),
    "Eigen-CAM": method_text("Eigen-CAM").summary,
    "Counterfactual": method_text("Counterfactual").summary,
    GUIDED: method_text(GUIDED).summary,
}


def summary(expl: Any) -> str:
    """The sentence above the overlay: what the model sees and what the warm colours mean."""
    i, name, p = expl.predicted
    h, w = expl.result.cam.shape[-2:]
    parts = [say("imagenet.sees", model=expl.model_title, name=name, prob=p)]
    mt = method_text(expl.method)
    if mt.class_free:
        parts.append(say("imagenet.class_free", method=expl.method, layer=expl.layer, h=h, w=w))
    else:
        shown = [say("imagenet.shown_class", name=v.name, prob=v.prob) for v in expl.views]
        while len(shown) > 1:  # "A and B" (two classes at most today; more would read "A and B and C")
            shown[:2] = [say("imagenet.two_classes", first=shown[0], second=shown[1])]
        parts.append(say("imagenet.for_classes", method=expl.method, layer=expl.layer, h=h, w=w,
                         shown=shown[0] if shown else ""))
    cap = fill(mt.overlay_caption, say("imagenet.the_class" if len(expl.views) == 1 else "imagenet.each_class"))
    parts.append(say("imagenet.warm", caption=cap[0].lower() + cap[1:]))
    zero = [fill(mt.zero_text, f"**{v.name}**") for v in expl.views if v.result.cam.max() == 0]
    parts += list(dict.fromkeys(zero))  # a class-free method's sentence once
    return " ".join(parts)

def steps_markdown(expl: Any) -> str:
    """Every step's explanation, equation and code, for an accordion below the gallery."""
    note = METHOD_NOTES.get(expl.method) or method_text(expl.method).summary
    out = [say("imagenet.steps_head", method=expl.method, note=note)]
    if "gradients" not in expl.steps:
        out.append(say("imagenet.no_gradients"))
    elif "average" not in expl.steps:
        out.append(say("imagenet.no_average"))
    for s in expl.steps.values():
        out.append(f"#### {s.title}\n\n{s.text}\n\n```python\n{s.code}\n```")
    return "\n\n".join(p for p in out if p)


def comparison_summary(cmp: Any) -> str:
    """One line per model of a :class:`gradcam_core.imagenet.Comparison`."""
    lines = [say("imagenet.compare_head", method=cmp.method, target=cmp.target, name=cmp.name)]
    for p in cmp.panels:
        lines.append(say("imagenet.compare_row", title=p.title, prob=p.prob, rank=p.rank, predicted=p.predicted_name))
    for title, why in cmp.skipped:
        lines.append(say("imagenet.compare_skipped", title=title, why=why))
    return "\n".join(lines)
