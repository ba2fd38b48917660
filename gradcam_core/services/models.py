"""What the page and the command line need to know about the models without running one: which
exist, which can run here, the default, their weights being fetched, and which methods are slow.
The tabs, panels and the CLI ask here rather than importing ``models/`` or ``cam/`` themselves."""
from __future__ import annotations

from typing import Any

from gradcam_core.cam import scorecam_budget as _budget
from gradcam_core.models import fetch as _fetch
from gradcam_core.models.registry import REGISTRY, ModelSpec, default_model_key

SCORE_CAM_EXACT: str = _budget.SCORE_CAM_EXACT
#: a Score-CAM run that would take longer than this (seconds) is stopped (0: never)
SCORE_CAM_LIMIT: float = _budget.SCORE_CAM_LIMIT


def keys() -> list[str]:
    """The ImageNet models' keys, in the registry's order."""
    return list(REGISTRY)


def default_key() -> str:
    """The model a page opens on (the best one that can run here)."""
    return default_model_key()


def is_known(key: Any) -> bool:
    return str(key) in REGISTRY


def spec(key: str) -> ModelSpec:
    return REGISTRY[key]


def is_available(key: Any) -> bool:
    """True when model ``key`` is known and can run here."""
    found = REGISTRY.get(str(key))
    return found is not None and found.available


# --------------------------------------------------------------------------- slow methods
def is_slow(method: Any) -> bool:
    """A method that runs many forward passes (Score-CAM): it waits in its own queue."""
    return _budget.is_slow_method(method)


def score_cam_cost() -> dict:
    """What both Score-CAMs cost on the reference model, from bench/bench_scorecam.py's figures:
    {"title", "quick", "exact" (forward passes), "quick_time", "exact_time", "limit_time" (written
    durations; "" when no limit)}."""
    title, _, channels = _budget.SCORE_CAM_REFERENCE
    quick, exact = (_budget.score_cam_forwards(m, channels) for m in ("Score-CAM", SCORE_CAM_EXACT))
    quick_t, exact_t = (_budget.format_duration(_budget.score_cam_seconds(m, channels))
                        for m in ("Score-CAM", SCORE_CAM_EXACT))
    limit = _budget.format_duration(SCORE_CAM_LIMIT) if SCORE_CAM_LIMIT else ""
    return {"title": title, "quick": quick, "exact": exact, "quick_time": quick_t, "exact_time": exact_t,
            "limit_time": limit}


# --------------------------------------------------------------------------- weights being fetched
def fetch_on_select(key: Any) -> None:
    """A model was picked: its missing weights are fetched in the background if possible."""
    _fetch.on_select(str(key or ""))


def fetch_note() -> str:
    """The page's line on weights being fetched ("" when none)."""
    return _fetch.page_note()


def fetch_busy() -> bool:
    return _fetch.busy()


def fetch_in_background() -> None:
    """Start fetching the weights the app fetches by itself (a thread: never waits)."""
    _fetch.start_background()
