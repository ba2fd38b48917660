"""What each CAM method computes, in words, equations and code: the parts of the teaching
steps that differ from method to method, plus the app's short "What is Grad-CAM?" opening and
the LeNet layer notes.  Small functions only (no gradio, no torch): the words are in the catalogue
(``present/words/en.toml``, sections ``[method]`` and ``[steps]``).

A method's words are found from its class alone (``gradcam_core.cam.methods``): its ``text_key``
names its table ``[method.<id>]``, and a key missing there is read from the parent class's table
(Guided Grad-CAM and exact Score-CAM only say what differs).  Its facts (class-free, negated, how
its cells split, whether step 3 applies) are the class's attributes.  ``{c}`` in a text stands for
the explained class's name; use :func:`fill` (a plain replace, so LaTeX braces need no escaping).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from gradcam_core.cam import scorecam_budget as budget
from gradcam_core.cam.engine import BaseCAM
from gradcam_core.cam.methods import METHODS, GradCAM
from gradcam_core.base.errors import Term
from gradcam_core.present.token_texts import PREFIX as _TOKENS, is_token_grid, say_in
from gradcam_core.present.words import current_lang, has, lazy, number_text, say

__all__ = ["MethodText", "TEXTS", "WORDS", "method_text", "method_label", "method_words", "text_keys", "check_method", "method_note",
           "progress_text", "fill", "gradcam_overview", "LENET_LAYERS", "LENET_DEFAULT_LAYER",
           "lenet_layer_label", "lenet_layer_note", "lenet_zero_gradient_note", "ink_text", "pct", "grouped",
           "ink_definition", "near_ink", "near_ink_sentence", "normalisation_code", "normalisation_equation",
           "overlay_code", "Px", "features_sign_text", "weights_sign_text", "zero_gradient_text", "average_text",
           "stretched_shift_text"]

#: The words every method has in its catalogue table (``[method.<id>]``, or a parent's).
WORDS = ("summary", "weight_symbol", "weights_text", "weights_eq", "map_title", "map_caption", "map_text", "map_eq",
         "map_code", "map_label", "relu_title", "relu_caption", "relu_text", "relu_eq", "zero_text",
         "overlay_caption", "overlay_text")


@dataclass(frozen=True)
class MethodText:
    """A method's words (``{c}``: the class name) and the facts its class carries."""

    name: str
    summary: str  # what it computes (the method note)
    weight_symbol: str  # how step titles name a channel's weight
    weights_text: str  # step 4: what one bar means
    weights_eq: str  # step 4 equation (LaTeX, no $$)
    map_title: str  # step 5 title (after "5 · ")
    map_caption: str  # step 5, one line for a gallery
    map_text: str  # step 5: how the map is built and what its colours mean
    map_eq: str  # step 5 equation
    map_code: str  # step 5 code
    map_label: str  # step 5 colour-bar label
    relu_title: str  # step 6 title (after "6 · ")
    relu_caption: str
    relu_text: str  # step 6: what the ReLU keeps and drops
    relu_eq: str
    zero_text: str  # what an all-zero map means (after the ReLU)
    overlay_caption: str
    overlay_text: str  # step 8: what warm colours mean
    class_free: bool = False
    uses_average: bool = False  # step 3 (plain gradient averaging) applies
    negated: bool = False  # the weights are the negated gradients: a positive weight lowers the score
    cell_terms: str = "channel"  # "channel": one weight per whole map (see cam.methods.CELL_TERMS)


def fill(text: str, c: str) -> str:
    return text.replace("{c}", str(c))


def text_keys(cls: type[BaseCAM]) -> list[str]:
    """The catalogue tables a method's words are read from, its own first, then its ancestors'."""
    out: list[str] = []
    for k in cls.__mro__:
        key = vars(k).get("text_key")
        if isinstance(key, str) and key and key not in out:
            out.append(key)
    return out


def method_words(cls: type[BaseCAM], word: str, lang: str | None = None, /, tokens: bool = False,
                 **values: Any) -> str:
    """One of a method's words (``word``: one of :data:`WORDS`, or ``note``), from the first table of
    :func:`text_keys` that has it; KeyError when none has it.  ``tokens``: on a token grid, the
    ``[transformer.<table>]`` words come first (patch tokens and embedding dimensions)."""
    for key in text_keys(cls):
        if tokens and has(f"{_TOKENS}{key}.{word}"):
            return say(f"{_TOKENS}{key}.{word}", lang, **values)
        if has(f"{key}.{word}"):
            return say(f"{key}.{word}", lang, **values)
    raise KeyError(f"{cls.__name__} ({cls.name}): no catalogue entry {word!r} under {text_keys(cls) or 'no text_key'}")


def method_label(method: str, lang: str | None = None) -> str:
    """What people read as the method's name: its own ``<text_key>.label`` (never a parent's)."""
    cls = METHODS[method]
    return say(f"{cls.text_key}.label", lang)


def check_method(cls: type[BaseCAM]) -> None:
    """KeyError unless every word of :data:`WORDS` is in the catalogue for ``cls`` (missing words
    fail loudly here, not in the middle of a page)."""
    missing = [w for w in WORDS if not any(has(f"{k}.{w}") for k in text_keys(cls))]
    if not has(f"{cls.text_key}.label"):
        missing.append("label")
    if missing:
        raise KeyError(f"{cls.__name__} ({cls.name}), text keys {text_keys(cls)}: missing catalogue words {missing}")


@lru_cache(maxsize=None)
def _texts(cls: type[BaseCAM], lang: str | None = None, tokens: bool = False) -> MethodText:
    words = {w: method_words(cls, w, lang, tokens=tokens, c="{c}") for w in WORDS}
    return MethodText(name=cls.name, class_free=bool(cls.class_free), uses_average=bool(cls.uses_average),
                      negated=bool(cls.negated), cell_terms=str(cls.cell_terms), **words)


def method_text(method: str | None, lang: str | None = None, layout: str = "cnn") -> MethodText:
    """The texts of ``method`` (a registered name); an unknown name falls back to its family
    ("Score-CAM …"), else to Grad-CAM's.  ``layout``: the hooked layer's (a token grid: the words
    of patch tokens where the method has them, ``present/token_texts.py``)."""
    name = GradCAM.name if method in (None, "") else str(method)
    cls = METHODS.get(name)
    if cls is None:
        family = [n for n in METHODS if name.startswith(n)]
        cls = METHODS[max(family, key=len)] if family else GradCAM
    return _texts(cls, lang or current_lang(), is_token_grid(layout))  # cached per language and layout


class _Texts(Mapping):
    """``TEXTS[name]``: every registered method's :class:`MethodText` (a live view of METHODS)."""

    def __getitem__(self, name: str) -> MethodText:
        return _texts(METHODS[name], current_lang())

    def __iter__(self) -> Iterator[str]:
        return iter(list(METHODS))

    def __len__(self) -> int:
        return len(METHODS)


TEXTS: Mapping[str, MethodText] = _Texts()

for _cls in METHODS.values():  # every shipped method has its words (a new one: check_method in its test)
    check_method(_cls)


# --------------------------------------------------------------------------- numbers as the catalogue writes them
class _Grouped(int):
    """An int whose ``{n:,}`` groups thousands with ``sep`` (the catalogue's ``thousands_sep``)."""

    sep = ","

    def __format__(self, spec: str) -> str:
        return format(int(self), spec).replace(",", self.sep)


@lru_cache(maxsize=None)
def _grouped_type(sep: str) -> type[_Grouped]:
    return type("Grouped", (_Grouped,), {"sep": sep})


def grouped(n: int, sep_key: str = "steps.thousands_sep") -> int:
    """``n``, still an int, written with the thousands separator of ``sep_key`` by ``{n:,}``."""
    return _grouped_type(say(sep_key))(int(n))


class Px(float):
    """Pixels written with up to 2 decimals, trailing zeros dropped ("6.5", "7")."""

    def __format__(self, spec: str) -> str:
        return number_text(f"{float(self):.2f}".rstrip("0").rstrip("."))


def pct(x: float) -> str:
    """0.385 → "39 %"."""
    return say("steps.percent", value=100 * x)


# --------------------------------------------------------------------------- Score-CAM: progress and cost
def progress_text(done: int, total: int, kept: int, channels: int) -> str:
    """Score-CAM's progress in words, from its numbers: ``progress(done, total)`` and
    ``on_plan(total, kept, channels)``."""
    key = "method.progress_top" if kept < channels else "method.progress_all"
    return say(key, done=done, total=total, kept=kept, channels=channels)


budget.describe_progress = progress_text  # the words of cam's TimeGuard (cam holds none)


def _cost(cls: type[BaseCAM]) -> str:
    """What a slow method costs on the reference layer, computed from the measured figures."""
    title, layer, channels = budget.SCORE_CAM_REFERENCE
    n = cls.forwards(channels)
    return say("method.cost", forwards=grouped(n, "method.thousands_sep"), title=title, layer=layer,
               channels=grouped(channels, "method.thousands_sep"),
               seconds=budget.Duration(n * budget.SCORE_CAM_SECONDS_PER_FORWARD),
               ms=budget.SCORE_CAM_SECONDS_PER_FORWARD * 1e3)


def _fidelity() -> str:
    mean, low, photos = budget.SCORE_CAM_RHO
    return say("method.fidelity", photos=photos, mean=mean, low=low) if photos else ""


def method_note(method: str) -> str:
    """What ``method`` computes, for the ImageNet tab: its summary, or, for a slow method with a
    ``note``, that note with its cost on the reference layer (from the measured figures)."""
    cls = METHODS[method]
    if not cls.slow or not any(has(f"{k}.note") for k in text_keys(cls)):
        return _texts(cls, current_lang()).summary
    limit = budget.SCORE_CAM_LIMIT
    stop = say("method.stop_over", limit=budget.Duration(limit)) if limit else say("method.stop_none")
    return method_words(cls, "note", max_channels=budget.SCORE_CAM_MAX_CHANNELS, cost=_cost(cls),
                        fidelity=_fidelity(), stop=stop)


# --------------------------------------------------------------------------- shared step wording
def features_sign_text(n_pos: int, n_neg: int, n_total: int, layout: str = "cnn") -> str:
    """Step 1: what a bright or dark cell means, from the signs of the layer's values (``layout``: a
    token grid says embedding dimensions)."""
    if n_neg == 0:
        return say_in(layout, "steps.features.rectified")
    return say_in(layout, "steps.features.signed", neg_pct=100 * (n_neg / n_total), n_neg=n_neg, n_total=n_total)


def weights_sign_text(n_pos: int, k: int, rectified: bool, negated: bool = False, layout: str = "cnn") -> str:
    """Step 4, for gradient-weighted methods: the count of positive weights and what a sign means here.
    ``negated``: the weights are the negated gradients (Counterfactual), so a positive weight lowers the score."""
    tail = "_negated" if negated else ""
    base = say_in(layout, f"steps.weights.positive{tail}", n_pos=n_pos, k=k)
    return base + say_in(layout, f"steps.weights.{'rectified' if rectified else 'signed'}{tail}")


def zero_gradient_text(n_zero: int, n_total: int, reason: str | None = None) -> str:
    """Step 3: how many gradients are exactly zero, and why (``reason``: the layer's own)."""
    if n_zero == 0:
        return say("steps.average.none_zero")
    why = reason or say("steps.average.why_zero")
    return say("steps.average.zeros", n_zero=n_zero, n_total=n_total, zero_pct=100 * (n_zero / n_total), why=why)


def average_text(k: int, h: int, w: int, layout: str = "cnn") -> str:
    """Step 3, "why average": the numbers from the shapes."""
    return say_in(layout, "steps.average.why_average", k=k, h=h, w=w, n=grouped(k * h * w))


# --------------------------------------------------------------------------- normalisation / colour map
def normalisation_code(norm: str) -> str:
    return say("steps.code.norm_minmax" if norm == "minmax" else "steps.code.norm_max")


def normalisation_equation(norm: str) -> str:
    if norm == "minmax":
        return "\\frac{\\tilde L - \\min \\tilde L}{\\max \\tilde L - \\min \\tilde L}"
    return "\\tilde L / \\max \\tilde L"


def overlay_code(cmap: str, alpha: float) -> str:
    return say("steps.code.overlay", cmap=cmap, alpha=alpha)


# --------------------------------------------------------------------------- What is Grad-CAM?
def gradcam_overview() -> str:
    return say("method.overview")


# --------------------------------------------------------------------------- LeNet layers
LENET_DEFAULT_LAYER = "relu2"

#: The three spatial layers at the end of LeNet that the MNIST tab offers, with their output
#: shapes (channels, h, w) for a 28×28 digit (tests check them against the model).
LENET_LAYERS: dict[str, dict] = {
    "conv2": {"shape": (16, 8, 8), "what": Term("steps.lenet.what_conv2")},
    "relu2": {"shape": (16, 8, 8), "what": Term("steps.lenet.what_relu2")},
    "pool2": {"shape": (16, 4, 4), "what": Term("steps.lenet.what_pool2")},
}


def lenet_layer_label(name: str) -> str:
    k, h, w = LENET_LAYERS[name]["shape"]
    key = "steps.lenet.label_default" if name == LENET_DEFAULT_LAYER else "steps.lenet.label"
    return say(key, name=name, k=k, h=h, w=w)


def lenet_layer_note(name: str) -> str:
    """Step 1, "why this layer", for the MNIST tab."""
    common = say("steps.lenet.why")
    if name in LENET_LAYERS:
        return common + say(f"steps.lenet.note_{name}")
    return common


def lenet_zero_gradient_note(name: str) -> str | None:
    """Step 3: why LeNet's gradients at ``name`` are exactly zero in so many cells."""
    return say(f"steps.lenet.zero_{name}") if name in LENET_LAYERS else None


#: "Ink", one quantity everywhere (analysis.ink_share): the pixels of value ≥ 0.5; the heat is
#: measured *near* the ink, within 2 px of it.
def ink_definition() -> str:
    return say("steps.ink.definition")


def near_ink() -> str:
    return say("steps.ink.near")


#: ``GRADCAM_OVERVIEW``, ``INK_DEFINITION``, ``NEAR_INK``: worded when read, in the reader's language
__getattr__ = lazy(GRADCAM_OVERVIEW=gradcam_overview, INK_DEFINITION=ink_definition, NEAR_INK=near_ink)


def near_ink_sentence(heat: float | None, area: float, pct_fn: Callable[[float], str] | None = None) -> str | None:
    """The overlay's text alternative: the heat near the ink, and the zone's share of the picture."""
    if heat is None:
        return None
    p = pct_fn or pct
    return say("steps.ink.near_sentence", heat=p(heat), area=p(area))


def ink_text(this_heat: float | None, this_area: float, ds_heat: float | None = None,
             ds_area: float | None = None, ds_n: int | None = None, this_ink: float | None = None) -> str:
    """Step 8 on MNIST: the share of the heat near the ink (within 2 px of it) against that zone's
    share of the picture, for this digit and over the held-out digits, and what that teaches.
    ``this_ink``: the ink's own share of the picture."""
    ink = (say("steps.ink.ink_area", ink_pct=100 * this_ink) if this_ink is not None
           else say("steps.ink.ink_plain"))
    if this_heat is None:
        this = say("steps.ink.zero", area_pct=100 * this_area, ink=ink)
    else:
        this = say("steps.ink.this", heat_pct=100 * this_heat, area_pct=100 * this_area, ink=ink)
        if this_heat < 0.5:
            this += say("steps.ink.far", far_pct=100 * (1 - this_heat))
        else:
            this += say("steps.ink.most")
        if this_area > 0:
            r = this_heat / this_area
            if r > 1.05:
                this += say("steps.ink.ratio_more", ratio=r)
            elif r < 0.95:
                this += say("steps.ink.ratio_less", ratio=r)
            else:
                this += say("steps.ink.ratio_same")
    if ds_heat is None or ds_area is None:
        return this
    numbers = dict(heat_pct=100 * ds_heat, area_pct=100 * ds_area)
    out = this + (say("steps.ink.dataset", n=grouped(ds_n), **numbers) if ds_n
                  else say("steps.ink.dataset_unknown", **numbers))
    out += say("steps.ink.lesson_absent" if ds_heat < 0.5 else "steps.ink.lesson_strokes")
    return out


def stretched_shift_text(model_title: str, layer: str, measured: dict | None) -> str:
    """Step 7 on a padded (ImageNet) model: the map is stretched, and how far that is from where
    its cells look, as measured (``analysis.cell.MEASURED_OFFSETS``), or that it was not measured."""
    lead = say("steps.shift.lead")
    if not measured:
        return lead + say("steps.shift.unmeasured", model=model_title, layer=layer)
    lo, hi = measured["corners"]
    return lead + say("steps.shift.measured", model=model_title, layer=layer, low=lo, high=hi,
                      middle=measured["middle"])
