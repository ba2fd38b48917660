"""The trust checks' verdicts as codes and numbers (no words): how a map's deletion/insertion areas
compare with the random order's and the Sobel map's, how its rank correlation behaves through the
cascade, and summaries over many inputs.

``present/verdicts.py`` turns these into sentences from the catalogue
(``present/words/en.toml``, ``[verdict]``); every figure a sentence quotes is a field here.

Public API::

    compare_area(value, reference, lower_is_better) -> "better" | "same" | "worse"
    cascade_pattern(rho) -> "falls" | "stays" | "falls_later" | "recovers" | ""
    CascadeVerdict (made by sanity.cascade_verdict, which reads a Cascade)
    curve_verdicts(curves, name) -> {"deletion_random": "better", ...}
    curves_verdict(curves, name) -> CurvesVerdict
    curve_record(curves, index, label), aggregate_records(records) -> dict   # many inputs
    aggregate_mismatch(aggregate, settings) -> [(setting, theirs, ours), ...]
    how_common(share) -> "typical" | "half" | "less_common"
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from gradcam_core.base.errors import Refusal

if TYPE_CHECKING:
    from gradcam_core.analysis.deletion import Curves

__all__ = [
    "AUC_TOLERANCE", "SIMILAR", "REVERSED", "STRONGLY_REVERSED", "RECORD_FIELDS",
    "compare_area", "cascade_pattern", "reversal", "CascadeVerdict",
    "curve_verdicts", "map_name", "CurvesVerdict", "curves_verdict",
    "curve_record", "aggregate_records", "aggregate_mismatch", "how_common",
]

#: Two areas under a curve that differ by at most this much read as "about the same" (the
#: sentences state it).  Areas are in probability × fraction of pixels, so 0.02 is 2 % of the
#: largest possible area.
AUC_TOLERANCE = 0.02
#: A rank correlation at or above this reads as "still similar to the original map".
SIMILAR = 0.5
#: A rank correlation at or below this reads as "partly reversed".
REVERSED = -0.2
#: ρ at or below this reads as a *large* reversal (|ρ| ≥ 0.7 is a strong rank correlation).
STRONGLY_REVERSED = -0.7


def compare_area(value: float, reference: float, lower_is_better: bool, tol: float = AUC_TOLERANCE) -> str:
    """"better", "same" or "worse": how an area compares with a reference area.

    Deletion: lower is better (the probability falls sooner); insertion: higher is better (it
    comes back sooner).  Differences within ``tol`` (rounded to 9 decimals, so 0.52 − 0.50
    counts as 0.02) are "same"."""
    diff = round(float(value) - float(reference), 9)
    if abs(diff) <= tol:
        return "same"
    return "better" if (diff < 0) == bool(lower_is_better) else "worse"


def cascade_pattern(rho: Sequence[float], similar: float = SIMILAR) -> str:
    """How the rank correlations of the randomised stages (``rho[1:]``; ``rho[0]`` is the
    original, 1) behave as a whole: "falls" (every stage below ``similar``), "stays" (every
    stage at or above it), "falls_later" (the first stage is at or above it, a later one below)
    or "recovers" (the first stage is below it, a later one at or above it)."""
    r = [float(v) for v in rho[1:]]
    if not r:
        return ""
    high = [v >= similar for v in r]
    if not any(high):
        return "falls"
    if all(high):
        return "stays"
    return "falls_later" if high[0] else "recovers"


def reversal(lowest: float) -> str:
    """"strong" (ρ ≤ :data:`STRONGLY_REVERSED`), "moderate" (ρ ≤ :data:`REVERSED`) or ""."""
    if lowest <= STRONGLY_REVERSED:
        return "strong"
    if lowest <= REVERSED:
        return "moderate"
    return ""


@dataclass(frozen=True)
class CascadeVerdict:
    """What the cascade reading of one method says, as a code and the numbers it quotes.

    ``rho`` / ``stages``: the randomised stages only (the original left out), top first."""

    method: str
    pattern: str  # see cascade_pattern
    high: float  # the "still similar" threshold
    stages: tuple[str, ...]
    rho: tuple[float, ...]
    lowest: int  # index (into stages) of the lowest ρ
    highest: int  # index of the highest ρ
    first_low: int | None  # "falls_later": the first stage below ``high``
    reversal: str  # "strong", "moderate" or ""
    others: tuple[tuple[str, float, float], ...] = field(default=())  # (method, first ρ, last ρ) of the other maps

    @property
    def several(self) -> bool:
        return len(self.rho) > 1


def map_name(curves: Curves, name: str | None = None) -> str:
    """The map ``curves`` rank (``name``, else the first ranking that is no baseline)."""
    names = [k for k in curves.names if k not in ("random", "Sobel")]
    return name or (names[0] if names else curves.names[0])


def curve_verdicts(curves: Curves, name: str | None = None, tol: float = AUC_TOLERANCE) -> dict[str, str]:
    """"better"/"same"/"worse" of the map ``name`` against each baseline ranking on each curve:
    keys "deletion_random", "insertion_random", "deletion_Sobel", "insertion_Sobel" (those
    present)."""
    name = map_name(curves, name)
    out = {}
    for base in ("random", "Sobel"):
        if base in curves.auc_deletion:
            out[f"deletion_{base}"] = compare_area(curves.auc_deletion[name], curves.auc_deletion[base], True, tol)
            out[f"insertion_{base}"] = compare_area(curves.auc_insertion[name], curves.auc_insertion[base], False, tol)
    return out


@dataclass(frozen=True)
class CurvesVerdict:
    """The deletion/insertion verdicts of one map and every area they quote."""

    name: str
    deletion: float
    insertion: float
    auc_deletion: dict[str, float]  # baseline ranking -> area ("random", "Sobel": those present)
    auc_insertion: dict[str, float]
    verdicts: dict[str, str]  # see curve_verdicts
    start: float  # the class probability before any pixel is removed
    tol: float

    @property
    def sobel_pair(self) -> str:
        """The edge-map comparison as a whole: "better" (better on one curve or both, never
        worse), "worse", "same" (about the same on both) or "mixed" ("" without a Sobel map)."""
        if "deletion_Sobel" not in self.verdicts:
            return ""
        pair = {self.verdicts["deletion_Sobel"], self.verdicts["insertion_Sobel"]}
        if pair <= {"better", "same"} and "better" in pair:
            return "better"
        if pair <= {"worse", "same"} and "worse" in pair:
            return "worse"
        return "same" if pair == {"same"} else "mixed"


def curves_verdict(curves: Curves, name: str | None = None, tol: float = AUC_TOLERANCE) -> CurvesVerdict:
    name = map_name(curves, name)
    base = {k: float(v) for k, v in curves.auc_deletion.items() if k in ("random", "Sobel")}
    base_i = {k: float(v) for k, v in curves.auc_insertion.items() if k in ("random", "Sobel")}
    return CurvesVerdict(name, float(curves.auc_deletion[name]), float(curves.auc_insertion[name]), base, base_i,
                         curve_verdicts(curves, name, tol), float(curves.deletion[name][0]), float(tol))


# --------------------------------------------------------------------------- many inputs at once
RECORD_FIELDS = ("index", "label", "target", "deletion_map", "deletion_random", "deletion_Sobel",
                 "insertion_map", "insertion_random", "insertion_Sobel")


def curve_record(curves: Curves, index: int, label: int, name: str | None = None) -> list:
    """One input's areas as a row of :data:`RECORD_FIELDS` (6 decimals)."""
    name = map_name(curves, name)
    r = lambda x: round(float(x), 6)  # noqa: E731
    return [int(index), int(label), int(curves.target),
            r(curves.auc_deletion[name]), r(curves.auc_deletion["random"]), r(curves.auc_deletion["Sobel"]),
            r(curves.auc_insertion[name]), r(curves.auc_insertion["random"]), r(curves.auc_insertion["Sobel"])]


def aggregate_records(records: Sequence[Sequence], tol: float = AUC_TOLERANCE) -> dict:
    """Summary of many :func:`curve_record` rows: the share of inputs where the map is better /
    about the same / worse than random on each curve (with ``tol``), and the mean areas."""
    a = np.asarray([list(r) for r in records], dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise Refusal("analysis.error.no_records")
    col = {f: a[:, k] for k, f in enumerate(RECORD_FIELDS)}
    out: dict = {"n": int(len(a)), "tolerance": tol}
    for curve, lower in (("deletion", True), ("insertion", False)):
        verdicts = [compare_area(m, r, lower, tol) for m, r in zip(col[f"{curve}_map"], col[f"{curve}_random"])]
        out[f"{curve}_vs_random"] = {k: round(verdicts.count(k) / len(a), 4) for k in ("better", "same", "worse")}
        out[f"{curve}_mean"] = {k: round(float(col[f"{curve}_{k}"].mean()), 4) for k in ("map", "random", "Sobel")}
    return out


def aggregate_mismatch(aggregate: Mapping, settings: Mapping | None) -> list[tuple[str, Any, Any]]:
    """The settings (layer, baseline, steps, target) under which ``aggregate`` was computed that
    differ from ``settings``, as (name, theirs, ours) triples."""
    theirs = aggregate.get("settings", {})
    return [(k, theirs[k], v) for k, v in (settings or {}).items() if k in theirs and theirs[k] != v]


def how_common(share: float) -> str:
    """"typical" / "half" / "less_common", decided on the whole percent shown."""
    pct = int(f"{100 * share:.0f}")
    return "typical" if pct > 50 else ("half" if pct == 50 else "less_common")
