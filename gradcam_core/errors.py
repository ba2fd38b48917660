"""The one exception type that carries a refusal to the person, as a code and numbers, not words.

Lower layers (``cam``, ``models``, ``data``, ``analysis``, ``inputs``, the services) raise
``Refusal("error.image.too_large", side=9000, limit=8000)``; ``present.words.say`` turns the key
and the values into a sentence from the catalogue (``present/words/en.toml``) in the reader's
language (``present.words.text_of``); the UI shows it (``ui.common.user_errors``) and the CLI
prints it. This module imports nothing of the package: it is the bottom layer. It is a
``ValueError`` so code that already catches bad input keeps catching it.
"""
from __future__ import annotations

from typing import Any


class Refusal(ValueError):
    """Bad input or an impossible request, named by a catalogue key with its numbers."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key, values)
        self.key = key
        self.values = values

    def __str__(self) -> str:
        """The code and its numbers (for logs and tests); people read ``present.words.text_of(err)``."""
        inner = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{self.key}({inner})"
