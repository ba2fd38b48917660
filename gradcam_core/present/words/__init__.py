"""Every word a person reads, from one catalogue per language: ``en.toml`` beside this file.

Why TOML files of keyed templates (and not gettext ``.po``):
- Gradio's ``gr.I18n`` takes one plain ``{key: text}`` dict per language; a TOML table loads into
  exactly that with the standard library (``tomllib``), with no compile step (``.mo``).
- Keys are stable codes (``error.image.too_large``), not the English sentence as gettext's msgid,
  so rewording the English does not orphan a translation, and lower layers can name a message
  without holding its words (``errors.Refusal``).
- Placeholders are named, with Python format specs (``{share:.0%}``): the numbers go in as numbers
  and the catalogue decides how they are written, so a language can write ``41 %`` and ``0,41``
  (``_Formatter.format_field`` is the one place that does it).

A second language is one more file, ``<lang>.toml``, with the same keys and the same placeholders
(``tests/test_catalogue.py`` checks both).
"""
from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from gradcam_core.base import errors

HERE = Path(__file__).resolve().parent
DEFAULT_LANG = "en"


def languages() -> list[str]:
    """The languages that have a catalogue file, default first."""
    found = sorted(p.stem for p in HERE.glob("*.toml"))
    return [DEFAULT_LANG] + [lang for lang in found if lang != DEFAULT_LANG]


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):  # a list of lines (bullets, table rows): kept as one template each
            for i, item in enumerate(value):
                out[f"{name}.{i}"] = str(item)
        else:
            out[name] = str(value)
    return out


@cache
def catalogue(lang: str = DEFAULT_LANG) -> dict[str, str]:
    """``{dotted key: template}`` for one language (nested TOML tables become dotted keys)."""
    path = HERE / f"{lang}.toml"
    with path.open("rb") as fh:
        return _flatten(tomllib.load(fh))


@cache
def _lists(lang: str) -> dict[str, list[str]]:
    with (HERE / f"{lang}.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, list[str]] = {}

    def walk(table: dict, prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, list):
                out[f"{prefix}{key}"] = [str(v) for v in value]
    walk(raw, "")
    return out


class _Formatter(string.Formatter):
    """``str.format`` with a language's way of writing numbers (English: Python's own)."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        return super().format_field(value, format_spec)


def placeholders(template: str) -> set[str]:
    """The named fields a template uses (``{share:.0%}`` → ``share``)."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template)
            if field is not None and field != ""}


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalogue(lang)


def say(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The catalogue's sentence ``key`` with its named placeholders filled in.

    A missing key or a missing value raises ``KeyError``: a sentence with a hole is never shown."""
    lang = lang or DEFAULT_LANG
    table = catalogue(lang)
    template = table[key] if key in table else catalogue(DEFAULT_LANG)[key]
    return _Formatter(lang).vformat(template, (), values)


def lines(key: str, lang: str | None = None, /, **values: Any) -> list[str]:
    """A catalogue list (``key = ["…", "…"]``), each line filled in like ``say``."""
    lang = lang or DEFAULT_LANG
    found = _lists(lang).get(key)
    if found is None:
        found = _lists(DEFAULT_LANG)[key]
    fmt = _Formatter(lang)
    return [fmt.vformat(t, (), values) for t in found]


def _word_refusal(err: Any) -> str:
    return say(err.key, None, **err.values)


errors.set_wording(_word_refusal, lambda key, **values: say(key, **values))


def text_of(err: BaseException, lang: str | None = None) -> str:
    """The person's sentence for an exception: a ``Refusal``'s key and numbers, else its own text."""
    key = getattr(err, "key", None)
    if isinstance(key, str) and has(key):
        return say(key, lang, **getattr(err, "values", {}))
    return str(err)
