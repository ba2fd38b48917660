"""Score-CAM's cost on this server: how many masked forward passes a method runs, what they take
(measured), and a progress callback that stops a run which would take too long.

The figures are measured by bench/bench_scorecam.py on the 2-core reference machine; the texts in
:mod:`gradcam_core.present.imagenet_text` and the UI's warnings are computed from them.
"""
from __future__ import annotations

import os
import time
from typing import Callable

from gradcam_core.cam import methods as _methods
from gradcam_core.cam.methods import METHODS, ScoreCAM

SCORE_CAM_EXACT = "Score-CAM (exact)"
#: Masked inputs per forward inside Score-CAM, and its default channel subset ("Score-CAM" keeps
#: the top SCORE_CAM_MAX_CHANNELS channels by activation variance); see gradcam_core.cam.methods.
SCORE_CAM_BATCH = _methods.SCORE_CAM_BATCH
SCORE_CAM_MAX_CHANNELS = _methods.SCORE_CAM_MAX_CHANNELS
#: Measured on this 2-core machine (EfficientNet-Lite0, 224×224 photos, 2 torch threads): seconds
#: per masked forward pass (exact Score-CAM of chelsea_cat.jpg, 1 280 forwards in 47.4 s at load
#: average 1.3, batches of 32, contiguous; batches of 16 with channels-last inputs, used now, timed
#: faster on the loaded machine, so this errs long), and the rank correlation (Spearman ρ of the 7×7 maps,
#: after ReLU, before normalisation) of the default top-96 subset with exact Score-CAM on 9 of the
#: shipped example photos, predicted class: (mean, min, photos).  bench/bench_scorecam.py prints
#: both.  The cost and fidelity texts are computed from these.
SCORE_CAM_SECONDS_PER_FORWARD = 0.037
SCORE_CAM_RHO = (0.993, 0.984, 9)
#: The layer those texts quote: EfficientNet-Lite0's default layer and its channel count.
SCORE_CAM_REFERENCE = ("EfficientNet-Lite0", "_head_act", 1280)
#: The UI stops a Score-CAM run that would take longer than this (seconds); 0 = no limit.
SCORE_CAM_LIMIT = float(os.environ.get("GRADCAM_SCORE_CAM_LIMIT", "180") or 0)


def is_slow_method(name) -> bool:
    """True for the methods that run many forward passes per explanation: "Score-CAM" (one per
    kept channel) and "Score-CAM (exact)" (one per channel).  The UI gives them their own queue."""
    cls = METHODS.get(str(name)) if name is not None else None
    return cls is not None and issubclass(cls, ScoreCAM)


def score_cam_forwards(method: str, channels: int) -> int:
    """Masked forward passes that ``method`` runs on a layer of ``channels`` channels (one photo)."""
    if METHODS[method] is _methods.ScoreCAMExact:
        return int(channels)
    return min(int(channels), SCORE_CAM_MAX_CHANNELS)


def score_cam_seconds(method: str, channels: int = SCORE_CAM_REFERENCE[2]) -> float:
    """Estimated time of ``method`` on EfficientNet-Lite0: forwards × measured seconds per forward."""
    return score_cam_forwards(method, channels) * SCORE_CAM_SECONDS_PER_FORWARD


def format_duration(seconds: float) -> str:
    """A duration for people: "47 s", or "3.2 min" from 120 s on."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class TooSlowError(ValueError):
    """Score-CAM would run longer than the time allowed (the message says how long, and what to do)."""


class TimeGuard:
    """A Score-CAM progress callback ``(done, total)``: passes ``progress(fraction, text)`` on and,
    with a ``limit`` (seconds; None or 0: never stops), extrapolates the total time after each batch
    and stops the run (TooSlowError) if it would exceed the limit.  ScoreCAM tells it the plan
    (forwards, kept, channels) first."""

    def __init__(self, progress: Callable | None, limit: float | None, what: str, method: str = "Score-CAM"):
        self.progress, self.limit, self.what, self.method = progress, limit, what, method
        self.forwards = self.kept = self.channels = None
        self.start = time.perf_counter()

    def plan(self, forwards: int, kept: int, channels: int) -> None:
        self.forwards, self.kept, self.channels = int(forwards), int(kept), int(channels)
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total
        if self.progress is not None:
            self.progress(fraction, _methods.progress_text(done, total, self.kept or 0, self.channels or 0))
        if not self.limit or not 0 < fraction < 1:
            return
        estimate = (time.perf_counter() - self.start) / fraction
        if estimate <= self.limit:
            return
        n = (f"{self.forwards} masked forward passes" if self.forwards is not None
             else "one masked forward pass per channel")
        if self.kept is not None and self.kept < (self.channels or 0):
            n += f" (the top {self.kept} of {self.channels} channels)"
        advice = "Pick an earlier layer (fewer channels) or another method."
        if METHODS.get(self.method) is _methods.ScoreCAMExact and self.forwards:
            quick = min(self.forwards, SCORE_CAM_MAX_CHANNELS)
            advice = (f"Pick “Score-CAM” (the top {quick} channels: about "
                      f"{format_duration(estimate * quick / self.forwards)} at this pace), an earlier layer "
                      "(fewer channels) or another method.")
        raise TooSlowError(
            f"{self.method} on {self.what} needs {n}: about {format_duration(estimate)} on this server, more "
            f"than the {format_duration(self.limit)} allowed, so it was stopped. {advice}"
        )
