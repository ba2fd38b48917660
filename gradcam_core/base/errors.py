"""The one exception type that carries a refusal to the person, as a code and numbers, not words.

Lower layers (``cam``, ``models``, ``data``, ``analysis``, ``inputs``, the services) raise
``Refusal("error.image.too_large", side=9000, limit=8000)``; ``present.words.say`` turns the key
and the values into a sentence from the catalogue (``present/words/en.toml``) in the reader's
language (``present.words.text_of``); the UI shows it (``ui.common.user_errors``) and the CLI
prints it. This module imports nothing of the package: it is the bottom layer. It is a
``ValueError`` so code that already catches bad input keeps catching it.
"""
from __future__ import annotations

from typing import Any, Callable

#: How a refusal becomes the person's sentence: set by ``present.words`` when it is imported (this
#: module imports nothing of the package, so the words are handed down, never imported up).
_wording: Callable[["Refusal"], str] | None = None


_term: Callable[..., str] | None = None


def set_wording(fn: Callable[["Refusal"], str] | None, term: Callable[..., str] | None = None) -> None:
    """Install the functions that word a refusal, and a catalogue key, in the default language
    (``present.words`` does, when it is imported)."""
    global _wording, _term
    _wording, _term = fn, term


class Term:
    """A word or phrase named by its catalogue key, for a placeholder of another sentence: lower
    layers pass ``Term("ui.shortcut.cue_position")`` and it is worded when the sentence is."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values

    def __format__(self, spec: str) -> str:
        text = self.key
        if _term is not None:
            try:
                text = _term(self.key, **self.values)
            except KeyError:
                pass
        return format(text, spec)

    def __str__(self) -> str:
        return format(self, "")

    def __repr__(self) -> str:
        return f"Term({self.key!r})"


def one_of(choices: Any) -> Term | str:
    """The choices a refusal lists, the last joined by the reader's "or" ("'a', 'b' or 'c'"; the
    choices themselves are codes, written as they must be typed), worded when the refusal is."""
    items = [str(c) for c in choices]
    if len(items) < 2:
        return "".join(items)
    return Term("error.list.one_of", some=", ".join(items[:-1]), last=items[-1])


class Refusal(ValueError):
    """Bad input or an impossible request, named by a catalogue key with its numbers."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key, values)
        self.key = key
        self.values = values

    def code(self) -> str:
        """The key and its numbers, e.g. ``error.image.too_large(side=9000, limit=8000)`` (logs, tests)."""
        inner = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{self.key}({inner})"

    def __str__(self) -> str:
        """The sentence in the default language once the catalogue is loaded, else the code. A page
        in another language reads ``present.words.text_of(err, lang)``."""
        if _wording is not None:
            try:
                return _wording(self)
            except (KeyError, IndexError, ValueError):  # a key or a number the catalogue lacks: the code
                pass
        return self.code()
