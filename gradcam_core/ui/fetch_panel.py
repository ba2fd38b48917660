"""The ImageNet tab's line on weights being fetched (gradcam_core.services.models): "Fetching ResNet-50
weights: 43 %", a refused file and why, or "fetched: reload the page".

A hidden ``gr.Timer`` polls every POLL_S seconds, but only while a fetch is being checked or
runs: the page load (imagenet_tab.refresh_models) and a model selection switch it on, and the
tick that sees nothing running switches it off, after refreshing the model list.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from gradcam_core.services import imagenet as svc
from gradcam_core.services import models
from gradcam_core.ui.common import by_name

POLL_S = 2.0


def build() -> tuple[gr.Markdown, gr.Timer]:
    """The note (empty unless something is being fetched or was refused) and its timer."""
    box = gr.Markdown(models.fetch_note(), elem_classes=["tight-md", "imagenet-small"], elem_id="imagenet-fetch")
    timer = gr.Timer(POLL_S, active=False)
    return box, timer


def on_load() -> dict:
    """Page load, as {name: value}: the note as it is now ("box"), and polling if a fetch runs ("timer")."""
    return {"box": models.fetch_note(), "timer": gr.Timer(active=models.fetch_busy())}


def selected(model_key: Any) -> dict:
    """A model was selected: fetch its weights if they are missing (in the background)."""
    models.fetch_on_select(model_key)
    return on_load()


def _poller(model_note_fn, all_available: Any):
    """A timer tick, as {name: value}: progress; once nothing runs any more, the model list and notes too.
    ``model_note_fn``/``all_available``: the tab's model note and its "all available" line (handed
    over by the tab: this module does not import it)."""

    def poll(model_key) -> dict:
        if models.fetch_busy():
            return {"box": models.fetch_note(), "timer": gr.Timer(active=True)}
        done = {"box": models.fetch_note(), "model": gr.Dropdown(choices=svc.model_choices()),
                "unavailable": svc.unavailable_note() or (all_available() if callable(all_available) else all_available), "timer": gr.Timer(active=False)}
        return {**done, "model_note": model_note_fn(model_key)} if model_key else done

    return poll


def wire(box: gr.Markdown, timer: gr.Timer, model: Any, model_note: Any, unavailable_md: Any, model_note_fn: Any, all_available: Any
         ) -> None:
    quiet = dict(queue=False, show_progress="hidden", api_visibility="private")
    shown = {"box": box, "model": model, "model_note": model_note, "unavailable": unavailable_md, "timer": timer}
    model.change(by_name(selected, shown), model, [box, timer], **quiet)
    timer.tick(by_name(_poller(model_note_fn, all_available), shown), model, list(shown.values()), **quiet)
