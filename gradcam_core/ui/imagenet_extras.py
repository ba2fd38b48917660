"""The ImageNet tab's side tools: what both Score-CAMs cost (and which methods are slow), comparing
every model on one photo, the example photos, the class search and the API-only lists. Split from
``imagenet_tab.py`` (which places the main explanation) by job; the tab imports these names."""
from __future__ import annotations

from typing import Any

import shutil
from pathlib import Path

import gradio as gr

from gradcam_core.present.words import say
from gradcam_core.present import imagenet_text as itext
from gradcam_core.present import imagenet_view as view
from gradcam_core.services import imagenet as svc
from gradcam_core.services import models
from gradcam_core.ui import files as outfiles
from gradcam_core.ui.common import user_errors
from gradcam_core.ui.serving import progress_callback

PREDICTED = "predicted"
NO_SECOND = "none"


def _score_cam_warning() -> str:
    """What both Score-CAMs cost, computed from the figures measured by bench/bench_scorecam.py."""
    cost = models.score_cam_cost()
    title, quick, exact, quick_s, exact_s = (cost[k] for k in ("title", "quick", "exact", "quick_time", "exact_time"))
    stop = say("ui.imagenet.score_cam_stop", limit=cost["limit_time"]) if cost["limit_time"] else ""
    exact_n = f"{exact:,}".replace(",", "\u202f")
    return say("ui.imagenet.score_cam_warning", quick=quick, title=title, quick_s=quick_s, exact_n=exact_n,
               exact_s=exact_s, stop=stop)


SCORE_CAM_WARNING = _score_cam_warning()


#: the slow methods (Score-CAM): they wait in their own queue
SLOW_SET = frozenset(m for m in svc.method_names() if models.is_slow(m))


def _slow(method) -> bool:
    return str(method) in SLOW_SET


# --------------------------------------------------------------------------- handlers


@user_errors
def compare(photo: Any, model_key: Any, method: Any, target: Any, norm: Any, cmap: Any, alpha: Any, request: gr.Request = None,
            progress: gr.Progress = gr.Progress()) -> dict:
    """Every available model on the same photo and class (the selected model first)."""
    src = svc.photo_of(photo)
    pil = svc.load_photo(src)
    first = svc.get_spec(model_key).key
    keys = [first] + [k for k in models.keys() if k != first]  # unavailable ones are listed with their reason
    if _slow(method):
        gr.Warning(SCORE_CAM_WARNING + say("ui.imagenet.compare_slow_note"), duration=8)
    cmp = svc.compare_models(pil, keys, target, method=method, norm=norm, cmap=cmap, alpha=alpha,
                             progress=progress_callback(progress, request), time_limit=models.SCORE_CAM_LIMIT or None)
    paths = outfiles.write_pngs(view.comparison_overlays(cmp), stem="compare")
    return {"compare_gallery": [(p, panel.caption) for p, panel in zip(paths, cmp.panels)],
            "compare_md": itext.comparison_summary(cmp)}


def pick_example(evt: gr.SelectData) -> dict:
    """Tap on an example: it becomes the photo (whose change runs the explanation)."""
    entries = svc.examples_by_category()
    i = int(evt.index)
    if not 0 <= i < len(entries):
        raise gr.Error(say("ui.imagenet.example_gone"))
    e = entries[i]
    # a copy in the temp folder: gradio only serves files from there (or cwd), wherever the app runs
    path = outfiles._out_dir(None) / Path(e["path"]).name
    shutil.copyfile(e["path"], path)
    return {"photo": str(path), "credit": svc.example_credit(e)}


MAX_CLASS_HITS = 30


def named_choice(code: str) -> tuple[str, str]:
    """A class menu's named choice ("predicted", "none") labelled in the reader's language; its
    value stays the code."""
    return say(f"ui.imagenet.choice.{code}"), code


def is_no_second(value: Any) -> bool:
    """No second class: empty, the code "none", or the label the reader's menu shows for it."""
    return value in (None, "", NO_SECOND) or (isinstance(value, str) and
                                              value.strip().casefold() == named_choice(NO_SECOND)[0].casefold())


def _class_search(first: str, evt: gr.KeyUpData):
    query = (evt.input_value or "").strip() if evt is not None else ""
    hits = svc.find_classes(query, limit=MAX_CLASS_HITS) if query else []
    return gr.Dropdown(choices=[named_choice(first)] + [svc.class_label(i) for i, _ in hits])


def search_target(evt: gr.KeyUpData) -> gr.Dropdown:
    """Typing in the class box: the matching classes become its choices (at most 30)."""
    return _class_search(PREDICTED, evt)


def search_target2(evt: gr.KeyUpData) -> gr.Dropdown:
    return _class_search(NO_SECOND, evt)


# API-only endpoints (typed, no components)
def find_classes(query: str) -> list:
    """ImageNet classes whose name contains the query: [[index, name], ...]."""
    return [[i, n] for i, n in svc.find_classes(query)]


def list_models() -> list:
    """Every model with its status, layers (name, label, map size) and default layer."""
    return svc.model_status()
