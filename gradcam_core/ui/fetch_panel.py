"""The ImageNet tab's line on weights being fetched (gradcam_core.models.fetch): "Fetching ResNet-50
weights: 43 %", a refused file and why, or "fetched: reload the page".

A hidden ``gr.Timer`` polls every POLL_S seconds, but only while a fetch is being checked or
runs: the page load (imagenet_tab.refresh_models) and a model selection switch it on, and the
tick that sees nothing running switches it off, after refreshing the model list.
"""
from __future__ import annotations

import gradio as gr

from gradcam_core.models import fetch
from gradcam_core import imagenet as svc

POLL_S = 2.0


def build() -> tuple[gr.Markdown, gr.Timer]:
    """The note (empty unless something is being fetched or was refused) and its timer."""
    box = gr.Markdown(fetch.page_note(), elem_classes=["tight-md", "imagenet-small"], elem_id="imagenet-fetch")
    timer = gr.Timer(POLL_S, active=False)
    return box, timer


def on_load():
    """Page load: the note as it is now, and polling if a fetch runs."""
    return fetch.page_note(), gr.Timer(active=fetch.busy())


def selected(model_key):
    """A model was selected: fetch its weights if they are missing (in the background)."""
    fetch.on_select(str(model_key or ""))
    return on_load()


def _poller(model_note_fn, all_available: str):
    """A timer tick: progress; once nothing runs any more, the model list and notes too.
    ``model_note_fn``/``all_available``: the tab's model note and its "all available" line (handed
    over by the tab: this module does not import it)."""

    def poll(model_key):
        if fetch.busy():
            return fetch.page_note(), gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=True)
        note = model_note_fn(model_key) if model_key else gr.skip()
        return (fetch.page_note(), gr.Dropdown(choices=svc.model_choices()), note,
                svc.unavailable_note() or all_available, gr.Timer(active=False))

    return poll


def wire(box: gr.Markdown, timer: gr.Timer, model, model_note, unavailable_md, model_note_fn, all_available: str
         ) -> None:
    quiet = dict(queue=False, show_progress="hidden", api_visibility="private")
    model.change(selected, model, [box, timer], **quiet)
    timer.tick(_poller(model_note_fn, all_available), model, [box, model, model_note, unavailable_md, timer], **quiet)
