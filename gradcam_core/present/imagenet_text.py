"""The ImageNet tab's prose, computed from the numbers it describes: what each method computes (and
what Score-CAM costs, from the measured figures), the notes on normalisation and units, and the
summaries of an explanation and of a model comparison."""
from __future__ import annotations

from typing import Any

from gradcam_core.cam import methods as _methods
from gradcam_core.cam.methods import METHODS
from gradcam_core.present import token_texts as tt
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
    layout = tt.layout_of(expl.result)
    mt = method_text(expl.method, layout=layout)
    if mt.class_free:
        parts.append(say("imagenet.class_free", method=expl.method, layer=expl.layer, h=h, w=w))
    else:
        shown = [say("imagenet.shown_class", name=v.name, prob=v.prob) for v in expl.views]
        while len(shown) > 1:  # "A and B" (two classes at most today; more would read "A and B and C")
            shown[:2] = [say("imagenet.two_classes", first=shown[0], second=shown[1])]
        parts.append(say("imagenet.for_classes", method=expl.method, layer=expl.layer, h=h, w=w,
                         shown=shown[0] if shown else ""))
    if tt.summary_note(expl.result):
        parts.append(tt.summary_note(expl.result))
    cap = fill(mt.overlay_caption, say("imagenet.the_class" if len(expl.views) == 1 else "imagenet.each_class"))
    if not all(tt.is_disconnected(v.result) for v in expl.views):  # no legend for a map that cannot be warm
        parts.append(say("imagenet.warm", caption=cap[0].lower() + cap[1:]))
    default = getattr(expl, "default_layer", "") or expl.layer
    # an empty map on a token layer that no patch token reaches from here: said as such, not as a reading
    zero = [tt.empty_summary(v.result, default) or fill(mt.zero_text, f"**{v.name}**")
            for v in expl.views if v.result.cam.max() == 0]
    parts += list(dict.fromkeys(zero))  # a class-free method's sentence once
    return " ".join(parts)

def steps_markdown(expl: Any) -> str:
    """Every step's explanation, equation and code, for an accordion below the gallery."""
    note = (method_note(expl.method) if expl.method in METHODS else None) or method_text(expl.method).summary
    out = [say("imagenet.steps_head", method=expl.method, note=note)]
    if "gradients" not in expl.steps:
        out.append(say("imagenet.no_gradients"))
    elif "average" not in expl.steps:
        out.append(tt.say_in(tt.layout_of(getattr(expl, "result", None)), "imagenet.no_average"))
    for s in expl.steps.values():
        out.append(f"#### {s.title}\n\n{s.text}\n\n```python\n{s.code}\n```")
    return "\n\n".join(p for p in out if p)


def _kind(panel: Any) -> str:
    """What a compared model's map is read on: a CNN's cells, or a transformer's patch tokens."""
    if not tt.is_token_grid(getattr(panel, "layout", "cnn")):
        return say("transformer.compare_kind_cnn")
    h, w = panel.cam.shape[-2:]
    return say("transformer.compare_kind_tokens", h=int(h), w=int(w))


def comparison_summary(cmp: Any) -> str:
    """One line per model of a :class:`gradcam_core.services.imagenet.Comparison` (with a transformer
    among them, each line says what the map is read on; an empty map says why)."""
    lines = [say("imagenet.compare_head", method=cmp.method, target=cmp.target, name=cmp.name)]
    mixed = any(tt.is_token_grid(getattr(p, "layout", "cnn")) for p in cmp.panels)
    for p in cmp.panels:
        if mixed:
            lines.append(say("transformer.compare_row", title=p.title, kind=_kind(p), prob=p.prob, rank=p.rank,
                             predicted=p.predicted_name))
        else:
            lines.append(say("imagenet.compare_row", title=p.title, prob=p.prob, rank=p.rank,
                             predicted=p.predicted_name))
        share = getattr(p, "zero_grad_share", None)
        if tt.is_token_grid(getattr(p, "layout", "cnn")) and share == 1.0 and p.cam_max == 0:
            lines.append(say("transformer.compare_empty", title=p.title, share=share, layer=p.layer))
    for title, why in cmp.skipped:
        lines.append(say("imagenet.compare_skipped", title=title, why=why))
    return "\n".join(lines)


#: ``NORM_NOTE``, ``HEAT_NOTE``, ``METHOD_NOTES``: worded when read, in the reader's language
__getattr__ = lazy(NORM_NOTE=norm_note, HEAT_NOTE=heat_note, METHOD_NOTES=method_notes)
