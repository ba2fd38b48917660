"""The ImageNet tab's prose, computed from the numbers it describes: what each method computes (and
what Score-CAM costs, from the measured figures), the notes on normalisation and units, and the
summaries of an explanation and of a model comparison."""
from __future__ import annotations

from typing import Any

from gradcam_core.cam import methods as _methods
from gradcam_core.cam.methods import METHODS
from gradcam_core.present.method_texts import fill, method_note, method_text
from gradcam_core.present.words import lazy, say

GUIDED = _methods.GuidedGradCAM.name



def norm_note() -> str:
    return say("imagenet.norm_note")


def heat_note() -> str:
    return say("imagenet.heat_note")



#: What each method computes, read from its class (cam.methods) and its catalogue words through
#: method_texts.method_note (the slow methods' notes add their cost, from the measured figures).
def method_notes() -> dict[str, str]:
    """Each method's note, in the reader's language."""
    return {name: method_note(name) for name in METHODS}


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
    note = (method_note(expl.method) if expl.method in METHODS else None) or method_text(expl.method).summary
    out = [say("imagenet.steps_head", method=expl.method, note=note)]
    if "gradients" not in expl.steps:
        out.append(say("imagenet.no_gradients"))
    elif "average" not in expl.steps:
        out.append(say("imagenet.no_average"))
    for s in expl.steps.values():
        out.append(f"#### {s.title}\n\n{s.text}\n\n```python\n{s.code}\n```")
    return "\n\n".join(p for p in out if p)


def comparison_summary(cmp: Any) -> str:
    """One line per model of a :class:`gradcam_core.services.imagenet.Comparison`."""
    lines = [say("imagenet.compare_head", method=cmp.method, target=cmp.target, name=cmp.name)]
    for p in cmp.panels:
        lines.append(say("imagenet.compare_row", title=p.title, prob=p.prob, rank=p.rank, predicted=p.predicted_name))
    for title, why in cmp.skipped:
        lines.append(say("imagenet.compare_skipped", title=title, why=why))
    return "\n".join(lines)


#: ``NORM_NOTE``, ``HEAT_NOTE``, ``METHOD_NOTES``: worded when read, in the reader's language
__getattr__ = lazy(NORM_NOTE=norm_note, HEAT_NOTE=heat_note, METHOD_NOTES=method_notes)
