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
(``tests/test_catalogue.py`` checks both), plus its glossary ``glossary/<lang>.toml``
(``docs/adding_a_language.md``).

The language of a sentence is the running request's (:func:`current_lang`, a ``ContextVar`` that the
UI sets once per event from the request, and the CLI from ``--lang``): ``say``, ``lines``, ``text_of``
and the worded refusals all follow it unless a language is passed.
"""
from __future__ import annotations

import contextvars
import numbers
import string
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from gradcam_core.base import errors

HERE = Path(__file__).resolve().parent
DEFAULT_LANG = "en"

#: The language of the running request (or CLI run); every thread or task that copies the context
#: (anyio's worker threads do) keeps it.
_LANG: contextvars.ContextVar[str] = contextvars.ContextVar("gradcam_lang", default=DEFAULT_LANG)

#: While a page is being built: every sentence worded, as (text, key, values, line index or None),
#: so the page's build-time texts can be given in every language afterwards (``ui/lang.py``).
_RECORD: contextvars.ContextVar[list | None] = contextvars.ContextVar("gradcam_record", default=None)

#: Written before ``%`` and between digit groups in French: the narrow no-break space.
NNBSP = "\u202f"


@cache
def languages() -> list[str]:
    """The languages that have a catalogue file, default first."""
    found = sorted(p.stem for p in HERE.glob("*.toml"))
    return [DEFAULT_LANG] + [lang for lang in found if lang != DEFAULT_LANG]


def supported(lang: str | None) -> str | None:
    """The catalogue language a tag names (``"fr-FR"`` → ``"fr"``, ``"FR"`` → ``"fr"``), or None."""
    if not lang or not isinstance(lang, str):
        return None
    base = lang.strip().replace("_", "-").split("-")[0].lower()
    return base if base in languages() else None


def lang_from_argv(argv: list[str] | None, environ: dict | None = None) -> str | None:
    """The language a command line asks for (``--lang fr``, ``--lang=fr``), else ``GRADCAM_LANG``:
    read before the parser is built, so its help is in that language too."""
    import os
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return supported(args[i + 1])
        if arg.startswith("--lang="):
            return supported(arg.split("=", 1)[1])
    return supported((os.environ if environ is None else environ).get("GRADCAM_LANG"))


def current_lang() -> str:
    """The language of the running request ("en" unless :func:`use_lang` set another)."""
    return _LANG.get()


@contextmanager
def use_lang(lang: str | None) -> Iterator[str]:
    """Run a block in ``lang`` (a language tag; an unsupported one means the default)."""
    token = _LANG.set(supported(lang) or DEFAULT_LANG)
    try:
        yield _LANG.get()
    finally:
        _LANG.reset(token)


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
        text = super().format_field(value, format_spec)
        if self.lang == "fr" and _is_number(value):
            return _french_number(text)
        return text


def _is_number(value: Any) -> bool:
    """A number the formatter may rewrite (never a text value, a ``Term``, or a bool)."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _french_number(text: str) -> str:
    """Python's English way of writing one number, the French way: ``0.41`` → ``0,41``,
    ``41%`` → ``41 %``, ``1,234`` → ``1 234`` (narrow no-break spaces)."""
    out = text.replace(",", "\0").replace(".", ",").replace("\0", NNBSP)
    if out.endswith("%"):
        out = out[:-1].rstrip() + NNBSP + "%"
    return out


def number_text(text: str, lang: str | None = None) -> str:
    """A number already written the English way (``"0.41"``, ``"1.5e-4"``, a tick label) written
    the language's way: for numbers a library formatted (matplotlib's tick labels)."""
    return _french_number(text) if (lang or current_lang()) == "fr" else text


def number(value: Any, spec: str = "", lang: str | None = None) -> str:
    """One number written in the current language (``number(0.41, ".0%")`` → ``41 %`` in French),
    for the rare place that formats a number outside a catalogue template."""
    return _Formatter(lang or current_lang()).format_field(value, spec)


def lazy(**made: Any) -> Any:
    """A module's ``__getattr__`` that words the named constants each time they are read, in the
    reader's language (``__getattr__ = lazy(NOTE=note)``; ``module.NOTE`` is then ``note()``)."""

    def __getattr__(name: str) -> Any:
        if name in made:
            return made[name]()
        raise AttributeError(name)

    return __getattr__


#: Templates that are code (the steps' PyTorch snippets): their numbers stay Python's (``a = 0.5``,
#: never ``a = 0,5``, a tuple), whatever the language of their comments.
CODE_KEYS = ("steps.code.",)


def _format(lang: str, template: str, values: dict, number_lang: str | None = None) -> str:
    """A template filled in ``lang`` (numbers written the ``number_lang`` way, by default the
    language's own); a ``Term`` among the values is worded in ``lang`` too."""
    fmt = _Formatter(number_lang or lang)
    if lang == _LANG.get():
        return fmt.vformat(template, (), values)
    token = _LANG.set(lang)
    try:
        return fmt.vformat(template, (), values)
    finally:
        _LANG.reset(token)


def placeholders(template: str) -> set[str]:
    """The named fields a template uses (``{share:.0%}`` → ``share``)."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template)
            if field is not None and field != ""}


def has(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalogue(lang)


def say(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The catalogue's sentence ``key`` with its named placeholders filled in.

    A missing key or a missing value raises ``KeyError``: a sentence with a hole is never shown. A
    key the language lacks (a catalogue being written) falls back to the default language."""
    lang = supported(lang) or current_lang()
    table = catalogue(lang)
    template = table[key] if key in table else catalogue(DEFAULT_LANG)[key]
    text = _format(lang, template, values, number_lang=DEFAULT_LANG if key.startswith(CODE_KEYS) else None)
    record = _RECORD.get()
    if record is not None:
        record.append((text, key, values, None))
    return text


def lines(key: str, lang: str | None = None, /, **values: Any) -> list[str]:
    """A catalogue list (``key = ["…", "…"]``), each line filled in like ``say``."""
    lang = supported(lang) or current_lang()
    found = _lists(lang).get(key)
    if found is None:
        found = _lists(DEFAULT_LANG)[key]
    out = [_format(lang, t, values) for t in found]
    record = _RECORD.get()
    if record is not None:
        record.extend((text, key, values, i) for i, text in enumerate(out))
    return out


Rendering = tuple[str, str, dict, "int | None"]


@contextmanager
def recording() -> Iterator[list[Rendering]]:
    """Collect every sentence ``say``/``lines`` words inside the block: ``(text, key, values, line)``."""
    found: list[Rendering] = []
    token = _RECORD.set(found)
    try:
        yield found
    finally:
        _RECORD.reset(token)


def reword(renderings: list[Rendering], lang: str) -> dict[str, str]:
    """``{text as worded: the same key and values worded in lang}`` for recorded sentences. A value
    that is itself a recorded sentence (one sentence placed in another) is reworded first."""
    out: dict[str, str] = {}
    with use_lang(lang):
        for text, key, values, line in renderings:
            if text in out:
                continue
            vals = {k: out.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
            try:
                out[text] = say(key, lang, **vals) if line is None else lines(key, lang, **vals)[line]
            except (KeyError, IndexError, ValueError):
                continue
    return out


def _word_refusal(err: Any) -> str:
    return say(err.key, None, **err.values)  # None: the running request's language


errors.set_wording(_word_refusal, lambda key, **values: say(key, None, **values))


def text_of(err: BaseException, lang: str | None = None) -> str:
    """The person's sentence for an exception: a ``Refusal``'s key and numbers, else its own text."""
    key = getattr(err, "key", None)
    if isinstance(key, str) and has(key):
        return say(key, lang, **getattr(err, "values", {}))
    return str(err)
