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
from gradcam_core.cam.methods import ScoreCAM, method_class
from gradcam_core.base.errors import Refusal

SCORE_CAM_EXACT = _methods.ScoreCAMExact.name
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


def is_slow_method(name: object) -> bool:
    """True for the methods whose class says ``slow``: those that run one forward pass per (kept)
    channel ("Score-CAM", "Score-CAM (exact)").  The UI gives them their own queue."""
    cls = _methods.METHODS.get(name) if isinstance(name, str) else None
    return cls is not None and bool(cls.slow)


def score_cam_forwards(method: str, channels: int) -> int:
    """Masked forward passes that ``method`` runs on a layer of ``channels`` channels (one photo)."""
    cls = method_class(method)
    if not issubclass(cls, ScoreCAM):
        raise Refusal("method.refusal.not_slow", method=method)
    return cls.forwards(channels)


def score_cam_seconds(method: str, channels: int = SCORE_CAM_REFERENCE[2]) -> float:
    """Estimated time of ``method`` on EfficientNet-Lite0: forwards × measured seconds per forward."""
    return score_cam_forwards(method, channels) * SCORE_CAM_SECONDS_PER_FORWARD


class Duration(float):
    """Seconds, a number like any float, written for people as "47 s", or "3.2 min" from 120 s on
    (``format(d)``, or ``{d}`` in a catalogue template: SI unit symbols, no words)."""

    def __format__(self, spec: str) -> str:
        seconds = float(self)
        return format(seconds, ".0f") + " s" if seconds < 120 else format(seconds / 60, ".1f") + " min"


def format_duration(seconds: float) -> str:
    """A duration for people: "47 s", or "3.2 min" from 120 s on."""
    return format(Duration(seconds))


class TooSlowError(Refusal):
    """Score-CAM would run longer than the time allowed: a catalogue key (``method.too_slow.*``) and
    its numbers (``method``, ``what``, ``forwards``, ``kept``, ``channels``, ``estimate``, ``limit``
    and, for exact Score-CAM, ``quick``/``quick_estimate``: the default subset's cost at this pace)."""


#: ``describe(done, total, kept, channels) -> str``: Score-CAM's progress in words, set by
#: ``present.method_texts`` when it is imported (``cam`` holds no words and imports no ``present``);
#: a TimeGuard made with its own ``describe`` uses that one.  None: the progress carries no text.
describe_progress: Callable[[int, int, int, int], str] | None = None


class TimeGuard:
    """A Score-CAM progress callback ``(done, total)``: passes ``progress(fraction, text)`` on and,
    with a ``limit`` (seconds; None or 0: never stops), extrapolates the total time after each batch
    and stops the run (TooSlowError) if it would exceed the limit.  ScoreCAM tells it the plan
    (forwards, kept, channels) first.  ``text`` is ``describe(done, total, kept, channels)`` (by
    default :data:`describe_progress`)."""

    def __init__(self, progress: Callable | None, limit: float | None, what: str, method: str = ScoreCAM.name,
                 describe: Callable[[int, int, int, int], str] | None = None):
        self.progress, self.limit, self.what, self.method = progress, limit, what, method
        self.describe = describe
        self.forwards: int | None = None
        self.kept: int | None = None
        self.channels: int | None = None
        self.start = time.perf_counter()

    def plan(self, forwards: int, kept: int, channels: int) -> None:
        self.forwards, self.kept, self.channels = int(forwards), int(kept), int(channels)
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        fraction = done / total
        if self.progress is not None:
            describe = self.describe or describe_progress
            text = describe(done, total, self.kept or 0, self.channels or 0) if describe is not None else ""
            self.progress(fraction, text)
        if not self.limit or not 0 < fraction < 1:
            return
        estimate = (time.perf_counter() - self.start) / fraction
        if estimate <= self.limit:
            return
        raise self.refusal(estimate)

    def refusal(self, estimate: float) -> TooSlowError:
        """The error that stops a run estimated at ``estimate`` seconds: which sentence (the key) and
        its numbers."""
        values = dict(method=self.method, what=self.what, estimate=Duration(estimate), limit=Duration(self.limit or 0))
        if self.forwards is None:
            return TooSlowError("method.too_slow.unplanned", **values)
        values.update(forwards=self.forwards, kept=self.kept, channels=self.channels)
        cls = _methods.METHODS.get(self.method)
        if cls is not None and issubclass(cls, ScoreCAM) and cls.DEFAULT_MAX_CHANNELS is None and self.forwards:
            quick = min(self.forwards, SCORE_CAM_MAX_CHANNELS)
            return TooSlowError("method.too_slow.exact", quick=quick,
                                quick_estimate=Duration(estimate * quick / self.forwards), **values)
        if self.kept is not None and self.kept < (self.channels or 0):
            return TooSlowError("method.too_slow.top", **values)
        return TooSlowError("method.too_slow.all", **values)
