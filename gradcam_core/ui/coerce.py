"""Input components that check an API caller's value before any handler runs.

The page only ever sends values its widgets can hold; the HTTP API, ``gradio_client`` and the MCP
server send whatever they are given. Gradio's own ``preprocess`` of ``gr.Number``, ``gr.Slider``,
``gr.Dropdown``, ``gr.Radio`` and ``gr.Checkbox`` then either fails inside Gradio (``round("abc")``:
the caller reads only "The upstream Gradio app has raised an exception") or passes nonsense on to the
handler (``None`` for a slider). These subclasses are the one place that checks: a wrong-typed,
empty, non-finite or out-of-range value is refused with a catalogue sentence naming the input
(``[input]`` in ``present/words/en.toml``); a right one goes on exactly as Gradio would pass it.
In the browser each renders as Gradio's own widget (``get_block_name``), and none overrides
``__init__`` (Gradio builds the page's config from the constructor's signature).

``checked_api`` does the same for ``gr.api`` functions, from their type hints.
"""
from __future__ import annotations

import functools
import html
import inspect
import math
import types
import typing
from collections.abc import Callable
from typing import Any

import gradio as gr

from gradcam_core.present.words import say

#: Longer text than this is refused before anything reads it (no input of the app needs more).
MAX_TEXT = 10_000


def refuse(key: str, **values: Any) -> gr.Error:
    """A ``gr.Error`` with the catalogue's sentence ``input.<key>`` (names are escaped: the page
    shows error messages as HTML)."""
    values = {k: html.escape(v) if isinstance(v, str) else v for k, v in values.items()}
    return gr.Error(say(f"input.{key}", **values), print_exception=False)


def name_of(component: gr.components.Component) -> str:
    """How a message names an input: its label, else the catalogue's generic name."""
    from gradcam_core.ui.lang import prop_text  # (lang imports gradio only: no cycle, but kept local)

    label = prop_text(getattr(component, "label", None))
    return str(label) if label else say("input.this_value")


def number_from(payload: Any, name: str, *, minimum: float | None = None,
                maximum: float | None = None) -> float:
    """A finite number within [minimum, maximum] from a JSON value (numbers, or text that is a
    number); anything else is refused with a sentence naming the input."""
    if isinstance(payload, bool) or not isinstance(payload, (int, float, str)):
        raise refuse("not_a_number", name=name)
    if isinstance(payload, str):
        text = payload.strip()
        if not text:
            raise refuse("missing", name=name)
        if len(text) > 64:
            raise refuse("not_a_number", name=name)
        try:
            payload = float(text)
        except ValueError:
            raise refuse("not_a_number", name=name) from None
    if isinstance(payload, float) and not math.isfinite(payload):
        raise refuse("not_finite", name=name)
    if minimum is not None and maximum is not None and not minimum <= payload <= maximum:
        raise refuse("out_of_range", name=name, low=minimum, high=maximum, value=float(payload))
    if minimum is not None and payload < minimum:
        raise refuse("too_low", name=name, low=minimum, value=float(payload))
    if maximum is not None and payload > maximum:
        raise refuse("too_high", name=name, high=maximum, value=float(payload))
    return payload


def _rounded(value: float, precision: int | None) -> float | int:
    if precision is None:
        return value
    if precision == 0:
        if abs(value) >= 2 ** 53:  # past this a float has no fractional part to round
            return int(value)
        return int(round(value))
    return round(value, precision)


class CoercedNumber(gr.Number):
    """gr.Number that refuses text, lists, booleans, NaN, infinity and out-of-range values with a
    catalogue sentence (Gradio's own fails with the generic error). ``None`` stays ``None``: the
    handlers read it as "no value", as Gradio passes it."""

    def get_block_name(self) -> str:
        return "number"

    def preprocess(self, payload: Any) -> float | int | None:
        if payload is None:
            return None
        value = number_from(payload, name_of(self), minimum=self.minimum, maximum=self.maximum)
        return _rounded(value, self.precision)


class CoercedSlider(gr.Slider):
    """gr.Slider that refuses a value that is not a finite number in its range; a missing value
    (``None``, as an API caller may send) is the slider's own starting value, as on the page."""

    def get_block_name(self) -> str:
        return "slider"

    def preprocess(self, payload: Any) -> float | int:
        if payload is None:
            payload = self.value
        value = number_from(payload, name_of(self), minimum=self.minimum, maximum=self.maximum)
        return _rounded(value, self.precision)


class CoercedCheckbox(gr.Checkbox):
    """gr.Checkbox that takes true/false (and 0/1, as JSON and forms write it); anything else is
    refused. ``None`` is the box's starting value."""

    def get_block_name(self) -> str:
        return "checkbox"

    def preprocess(self, payload: Any) -> bool:
        if payload is None:
            return bool(self.value)
        if isinstance(payload, bool):
            return payload
        if isinstance(payload, (int, float)) and payload in (0, 1):
            return bool(payload)
        raise refuse("not_a_switch", name=name_of(self))


def _choice_values(component: gr.components.Component) -> list:
    return [value for _, value in component.choices]


def choice_from(payload: Any, component: gr.components.Component, *, custom: bool = False) -> Any:
    """``payload`` if it is one of the component's choices (or, with ``custom``, any text); else a
    refusal that lists the choices."""
    values = _choice_values(component)
    if isinstance(payload, (str, int, float)) and not isinstance(payload, bool) and payload in values:
        return payload
    if custom and isinstance(payload, (str, int, float)) and not isinstance(payload, bool):
        if isinstance(payload, str) and len(payload) > MAX_TEXT:
            raise refuse("too_long", name=name_of(component), limit=MAX_TEXT)
        return payload  # the handler's parser reads it (a class name or index)
    shown = values if len(values) <= 12 else values[:12] + ["…"]
    raise refuse("not_a_choice", name=name_of(component), choices=", ".join(str(v) for v in shown))


class ChoiceDropdown(gr.Dropdown):
    """gr.Dropdown whose refusal of a value outside its choices is a catalogue sentence naming the
    input and its choices (Gradio's own is "Value: … is not in the list of choices: […]", and a
    list or dict can fail inside Gradio). With ``allow_custom_value`` any text goes on."""

    def get_block_name(self) -> str:
        return "dropdown"

    def preprocess(self, payload: Any) -> Any:
        if payload is None or self.multiselect or self.type != "value":
            return super().preprocess(payload)
        return choice_from(payload, self, custom=self.allow_custom_value)


class ChoiceRadio(gr.Radio):
    """gr.Radio that refuses a value outside its choices with a catalogue sentence (as
    :class:`ChoiceDropdown`)."""

    def get_block_name(self) -> str:
        return "radio"

    def preprocess(self, payload: Any) -> Any:
        if payload is None or self.type != "value":
            return super().preprocess(payload)
        return choice_from(payload, self)


def scalar_or_refuse(payload: Any, component: gr.components.Component) -> Any:
    """For the parsed choosers (``ui.common.ParsedDropdown``/``ParsedRadio``): text or a number
    goes on to the handler's parser; a list, a dict or text longer than :data:`MAX_TEXT` is refused."""
    if payload is None or isinstance(payload, (int, float)):
        return payload
    if isinstance(payload, str):
        if len(payload) > MAX_TEXT:
            raise refuse("too_long", name=name_of(component), limit=MAX_TEXT)
        return payload
    values = _choice_values(component)
    shown = values if len(values) <= 12 else values[:12] + ["…"]
    raise refuse("not_a_choice", name=name_of(component), choices=", ".join(str(v) for v in shown))


def _accepts(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(value, h) for h in typing.get_args(hint))
    if hint is type(None) or hint is None:
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    if hasattr(hint, "model_validate"):  # a pydantic model (FileData): its JSON form is a dict
        return isinstance(value, (hint, dict))
    return isinstance(value, hint) if isinstance(hint, type) else True


#: The refusal for a value of the wrong type, by the parameter's type hint.
_WRONG_TYPE = {str: "not_text", int: "not_a_number", float: "not_a_number", bool: "not_a_switch"}


def checked_api(fn: Callable) -> Callable:
    """``fn`` for ``gr.api``: each argument must match its type hint (a ``str`` no longer than
    :data:`MAX_TEXT`), else the caller reads a catalogue sentence naming the parameter. The
    signature and docstring stay ``fn``'s (Gradio derives the API's types and descriptions from them)."""
    hints = typing.get_type_hints(inspect.unwrap(fn))
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind_partial(*args, **kwargs)
        for name, value in bound.arguments.items():
            hint = hints.get(name, Any)
            if not _accepts(value, hint):
                raise refuse(_WRONG_TYPE.get(hint, "wrong_type"), name=name)
            if isinstance(value, str) and len(value) > MAX_TEXT:
                raise refuse("too_long", name=name, limit=MAX_TEXT)
        return fn(*args, **kwargs)

    return checked
