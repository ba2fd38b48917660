"""The trust checks' verdicts in words: :mod:`gradcam_core.analysis.verdict_codes` decides the
verdict (a code and its numbers), this module picks the catalogue's sentence (``[verdict]`` in
``present/words/en.toml``) for that code and fills in the numbers.

Every sentence is built from the numbers it describes: the cascade reading looks at every stage
(first, lowest, highest, last); deletion (lower area is better) and insertion (higher is better)
are compared with the random order and the Sobel map with a stated tolerance
(:data:`~gradcam_core.analysis.verdict_codes.AUC_TOLERANCE`), and a summary over many inputs is
quoted only for the same settings.

Public API::

    reading(cascade=None, curves=None, method="Grad-CAM") -> str    # plain-language sentence(s)
    reading_cascade(cascade, method), reading_curves(curves, aggregate=None, settings=None)
    reading_aggregate(aggregate, deletion, insertion, settings, name)
"""
from __future__ import annotations

from typing import Mapping

from gradcam_core.analysis.deletion import Curves
from gradcam_core.analysis.sanity import Cascade, cascade_verdict
from gradcam_core.analysis.verdict_codes import (AUC_TOLERANCE, SIMILAR, CascadeVerdict, CurvesVerdict,
                                                 aggregate_mismatch, curves_verdict, how_common)
from gradcam_core.present.words import has, say

__all__ = ["reading", "reading_cascade", "reading_curves", "reading_aggregate", "cascade_text", "curves_lines"]


def cascade_text(v: CascadeVerdict | None, lang: str | None = None) -> str:
    """The sentences of a cascade verdict ("" for none)."""
    if v is None:
        return ""
    r, n = v.rho, v.stages
    end = say("verdict.cascade.end", lang, last_rho=r[-1], last=n[-1]) if v.several else ""
    common = dict(method=v.method, first_rho=r[0], first=n[0], high=v.high, low_rho=r[v.lowest],
                  low_stage=n[v.lowest], end=end)
    if v.pattern in ("falls", "stays"):
        s = say(f"verdict.cascade.{v.pattern}", lang, **common)
        if v.several:
            s += say(f"verdict.cascade.{v.pattern}_several", lang, **common)
        s += say(f"verdict.cascade.{v.pattern}_close", lang)
    elif v.pattern == "falls_later":
        k = v.first_low
        s = say("verdict.cascade.falls_later", lang, fall_rho=r[k], fall_stage=n[k], **common)
    else:  # recovers
        s = say("verdict.cascade.recovers", lang, high_rho=r[v.highest], high_stage=n[v.highest], **common)
    if v.reversal:
        s += say(f"verdict.cascade.reversal_{v.reversal}", lang, low_rho=min(r))
    if v.others:
        one = "" if v.several else "_one_stage"
        parts = [say(f"verdict.cascade.other{one}", lang, method=m, first_rho=a, last_rho=b) for m, a, b in v.others]
        s += say(f"verdict.cascade.others{one}", lang, maps=say("verdict.cascade.list_separator", lang).join(parts))
    return s


def reading_cascade(result: Cascade, method: str = "Grad-CAM", high: float = SIMILAR, lang: str | None = None) -> str:
    """Sentences on how the map of ``method`` reacts to the randomisation, read from every
    stage of the table (first, lowest, highest and last), not from the first one alone."""
    return cascade_text(cascade_verdict(result, method, high), lang)


def _edge_line(v: CurvesVerdict, lang: str | None) -> str:
    vd, vi = v.verdicts["deletion_Sobel"], v.verdicts["insertion_Sobel"]
    nums = dict(name=v.name, sobel_deletion=v.auc_deletion["Sobel"], sobel_insertion=v.auc_insertion["Sobel"])
    pair = v.sobel_pair
    if pair in ("better", "worse"):
        if vd == vi:
            where = say("verdict.curves.both_curves", lang)
        else:
            won = "deletion" if vd == pair else "insertion"
            lost = "insertion" if won == "deletion" else "deletion"
            where = say("verdict.curves.one_curve", lang, won=say(f"verdict.curve.{won}", lang),
                        other=say(f"verdict.curve.{lost}", lang))
        return say(f"verdict.curves.edge_{pair}", lang, where=where, **nums)
    if pair == "same":
        return say("verdict.curves.edge_same", lang, tolerance=say("verdict.curves.tolerance", lang, tol=v.tol), **nums)
    return say("verdict.curves.edge_mixed", lang, on_deletion=say(f"verdict.word.{vd}", lang),
               on_insertion=say(f"verdict.word.{vi}", lang), **nums)


def _random_line(v: CurvesVerdict, curve: str, lang: str | None) -> str:
    mine, theirs = (v.deletion, v.auc_deletion["random"]) if curve == "deletion" else (v.insertion, v.auc_insertion["random"])
    verdict = v.verdicts[f"{curve}_random"]
    s = say(f"verdict.curves.{curve}", lang, name=v.name, area=mine, random=theirs,
            verdict=say(f"verdict.vs_chance.{verdict}", lang))
    if verdict == "same":
        return s + say("verdict.curves.same_close", lang, tolerance=say("verdict.curves.tolerance", lang, tol=v.tol))
    # the ratio of areas: random's over the map's for deletion, the map's over random's for insertion
    ratio = theirs / max(mine, 1e-3) if curve == "deletion" else mine / max(theirs, 1e-3)
    return s + say(f"verdict.curves.{curve}_{verdict}", lang, name=v.name, ratio=ratio)


def curves_lines(v: CurvesVerdict, aggregate: Mapping | None = None, settings: Mapping | None = None,
                 lang: str | None = None) -> list[str]:
    """The bullets of :func:`reading_curves` (without their "- ")."""
    out = []
    if "random" in v.auc_deletion:
        out += [_random_line(v, "deletion", lang), _random_line(v, "insertion", lang)]
    if "Sobel" in v.auc_deletion:
        out.append(_edge_line(v, lang))
    if v.start < 0.2:
        out.append(say("verdict.curves.low_start", lang, start_pct=100 * v.start))
    if aggregate is not None and "random" in v.auc_deletion:
        out.append(reading_aggregate(aggregate, v.verdicts["deletion_random"], v.verdicts["insertion_random"],
                                     settings, v.name, lang))
    return out


def reading_curves(curves: Curves, name: str | None = None, aggregate: Mapping | None = None,
                   settings: Mapping | None = None, tol: float = AUC_TOLERANCE, lang: str | None = None) -> str:
    """A short Markdown list comparing the map's deletion/insertion areas with the random
    order's and the Sobel map's.

    Deletion: a lower area is better; insertion: a higher one; differences within ``tol`` read
    "about the same" (the text says so).  ``aggregate``: a summary over many inputs (see
    :func:`~gradcam_core.analysis.verdict_codes.aggregate_records`, with "settings" and "what"
    entries); it is quoted next to this input's verdict only when ``settings`` (layer, baseline,
    steps, …) match its own; otherwise the text says which setting differs."""
    lines = curves_lines(curves_verdict(curves, name, tol), aggregate, settings, lang)
    return "\n".join(f"- {x}" for x in lines)


def setting_words(name: str, value: object, lang: str | None = None) -> tuple[str, object]:
    """A setting as ``verdict.aggregate.setting`` places it: its name, and its value worded when it
    is one of a setting's named choices (a layer name or a number of steps stays as it is)."""
    key = f"verdict.aggregate.setting_name.{name}"
    worded = say(key, lang) if has(key) else name
    if isinstance(value, str):
        vkey = f"verdict.aggregate.setting_value.{name}.{value.replace(' ', '_')}"
        if has(vkey):
            value = say(vkey, lang)
    return worded, value


def reading_aggregate(aggregate: Mapping, deletion: str | None = None, insertion: str | None = None,
                      settings: Mapping | None = None, name: str = "Grad-CAM", lang: str | None = None) -> str:
    """"Over N inputs: …; this one: …" for the random-order comparison.  ``deletion`` /
    ``insertion``: this input's verdicts ("better"/"same"/"worse"), or None.  Nothing is
    quoted when ``settings`` differ from the aggregate's own (the text says which).
    ``aggregate["what"]`` names the inputs ("held-out digits"), ``aggregate["one"]`` one of
    them ("digit")."""
    n = aggregate["n"]
    what = aggregate["what"] if "what" in aggregate else say("verdict.aggregate.what", lang)
    one = aggregate["one"] if "one" in aggregate else say("verdict.aggregate.one", lang)
    miss = aggregate_mismatch(aggregate, settings)
    if miss:
        listed = say("verdict.aggregate.setting_separator", lang).join(
            say("verdict.aggregate.setting", lang, setting=setting_words(k, theirs, lang)[0],
                theirs=setting_words(k, theirs, lang)[1], ours=setting_words(k, ours, lang)[1])
            for k, theirs, ours in miss)
        return say("verdict.aggregate.other_settings", lang, n=n, what=what, settings=listed)
    parts = []
    for curve, mine in (("deletion", deletion), ("insertion", insertion)):
        share = aggregate[f"{curve}_vs_random"]
        m = aggregate[f"{curve}_mean"]
        s = say("verdict.aggregate.curve", lang, curve=say(f"verdict.curve_title.{curve}", lang),
                better_pct=100 * share["better"], same_pct=100 * share["same"], worse_pct=100 * share["worse"],
                name=name, mean_map=m["map"], mean_random=m["random"], mean_sobel=m["Sobel"])
        if mine is not None:
            s += say("verdict.aggregate.this_one", lang, one=one, verdict=say(f"verdict.vs_chance.{mine}", lang),
                     common=say(f"verdict.common.{how_common(share[mine])}", lang), pct=100 * share[mine])
        parts.append(s + say("verdict.aggregate.curve_close", lang))
    return say("verdict.aggregate.head", lang, one=one, n=n, what=what, parts=" ".join(parts))


def reading(cascade: Cascade | None = None, curves: Curves | None = None, method: str = "Grad-CAM",
            lang: str | None = None) -> str:
    """The plain-language reading of whatever was computed (either or both)."""
    parts = []
    if curves is not None:
        parts.append(reading_curves(curves, lang=lang))
    if cascade is not None and method in cascade.results:
        parts.append(reading_cascade(cascade, method, lang=lang))
    return "\n\n".join(p for p in parts if p)
