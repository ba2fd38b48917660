"""One catalogue holds every word: its files agree, the code names only keys that exist, and no
module outside it carries English prose.

The prose finder reads the source with ``ast``: a string literal (or the literal parts of an
f-string) of four or more words counts as prose unless it is a docstring, a log line, or code
(CSS, JavaScript, HTML attributes, a regular expression): see ``_is_prose``."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from gradcam_core.present import words

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "gradcam_core"

#: Modules whose words have not moved to the catalogue yet. Each conversion removes its line;
#: the list must end empty.
PENDING: set[str] = set()

_CODE = re.compile(r"[;{}]|=>|\(\)|^\s*[.#@][\w-]+|\\[dswb]|\[\^|\(\?|^\s*<!--")
#: an SQL statement (the rooms' SQLite store): upper-case keyword first, then a table or column list
_SQL = re.compile(r"^\s*(?:SELECT|INSERT|UPDATE|DELETE|CREATE|BEGIN|PRAGMA|WITH)\s+\S")
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z][a-z']+")
_KEY = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)+\.?")  # a catalogue key ("error.engine.layer_not_in_model")
_LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _is_prose(text: str) -> bool:
    if _CODE.search(text) or _KEY.fullmatch(text) or _SQL.match(text):
        return False
    if not any(ch.isspace() for ch in text.strip()):  # one token: an identifier, a file path, a catalogue key
        return False
    plain = _TAG.sub(" ", text)
    return len(_WORD.findall(plain)) >= 4


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings and the arguments of log calls (``log.info(...)``, ``logging.warning(...)``)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _LOG_CALLS
                and isinstance(node.func.value, ast.Name) and node.func.value.id in {"log", "logger", "logging", "LOG"}):
            for sub in ast.walk(node):
                out.add(id(sub))
    # an expression statement that is only a string (a comment-like block in a class or module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.add(id(node.value))
    return out


def prose_in(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _skipped_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if _is_prose(node.value):
                found.append((node.lineno, node.value))
    return found


def _modules() -> dict[str, Path]:
    return {p.relative_to(PKG).as_posix(): p for p in sorted(PKG.rglob("*.py"))}


def test_the_prose_finder_tells_words_from_code():
    assert _is_prose("The map puts most heat on the digit.")
    assert _is_prose("<p>The model is not sure.</p>")
    assert not _is_prose(".gradio-container img { max-width: 100%; }")
    assert not _is_prose("() => { document.getElementById('x') }")
    assert not _is_prose(r"^(\d+) pixels? wide$")
    assert not _is_prose("image/png")
    assert not _is_prose("three short words")
    assert not _is_prose("error.engine.layer_not_in_model")  # a key names words, it holds none
    assert not _is_prose("original_class_prob_after") and not _is_prose("textures/brick_wall.jpg")
    assert not _is_prose("method.too_slow.top") and not _is_prose("lenet_zero_gradient_note")
    assert not _is_prose("SELECT pid, nickname, joined FROM people WHERE code = ? ORDER BY seq")
    assert not _is_prose("UPDATE rooms SET version = version + 1 WHERE code = ?")
    assert _is_prose("Select the cells where you think the model looks.")  # a sentence, not SQL


@pytest.mark.parametrize("module", sorted(set(_modules()) - PENDING))
def test_no_prose_outside_the_catalogue(module):
    found = prose_in(_modules()[module])
    assert not found, f"{module} holds words that belong in present/words/en.toml: " + "; ".join(
        f"line {line}: {text[:70]!r}" for line, text in found[:8])


def test_pending_modules_still_exist():
    """A module that is renamed or split leaves PENDING too (its successor is checked)."""
    assert PENDING <= set(_modules())


def test_every_language_has_the_same_keys_and_placeholders():
    langs = words.languages()
    assert langs[0] == words.DEFAULT_LANG
    english = words.catalogue(words.DEFAULT_LANG)
    for lang in langs[1:]:
        other = words.catalogue(lang)
        assert set(other) == set(english), f"{lang}: missing {sorted(set(english) - set(other))[:10]}, extra {sorted(set(other) - set(english))[:10]}"
        for key, template in english.items():
            assert words.placeholders(other[key]) == words.placeholders(template), (lang, key)


def test_every_template_is_well_formed():
    for lang in words.languages():
        for key, template in words.catalogue(lang).items():
            names = words.placeholders(template)
            assert all(n.isidentifier() for n in names), (lang, key, names)  # named, never positional
            assert words.say(key, lang, **{n: _Any() for n in names}) is not None


class _Any:
    """Stands for any value a placeholder gets, whatever its format spec."""

    def __format__(self, spec: str) -> str:
        return "x"


def _literal_keys() -> set[tuple[str, str]]:
    """Every catalogue key the code names literally: ``say("k")``, ``lines("k")``, ``Refusal("k")``."""
    out = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if fn in {"say", "lines", "Refusal", "Term", "js_text"}:
                    out.add((name, node.args[0].value))
    return out


def test_every_key_the_code_names_exists():
    english = words.catalogue(words.DEFAULT_LANG)
    lists = words._lists(words.DEFAULT_LANG)
    missing = sorted((m, k) for m, k in _literal_keys() if k not in english and k not in lists)
    assert not missing, missing[:20]


def test_say_fills_named_placeholders_and_refuses_holes():
    from gradcam_core.base.errors import Refusal
    words.catalogue.cache_clear()
    table = words.catalogue()
    key = next((k for k, t in table.items() if words.placeholders(t)), None)
    if key is None:
        pytest.skip("the catalogue has no template with a placeholder yet")
    with pytest.raises(KeyError):
        words.say(key)  # a missing number is an error, never a sentence with a hole
    err = Refusal(key, **{n: 1 for n in words.placeholders(table[key])})
    assert words.text_of(err) == words.say(key, **err.values)
    assert err.code().startswith(key + "(")
    assert str(err) == words.text_of(err)  # a refusal reads as its sentence once the catalogue is loaded


# --------------------------------------------------------------------------- other languages (issue 28)
GLOSSARIES = Path(words.HERE) / "glossary"
_NOT_PROSE = re.compile(r"`[^`]*`|\{[^{}]*\}|https?://\S+|--[\w-]+|\$[^$]*\$|\\\([^)]*\\\)|<[^>]+>")


def _prose_of(template: str) -> str:
    """A template's words: code spans, placeholders, URLs, options, LaTeX and HTML tags taken out."""
    return _NOT_PROSE.sub(" ", template.replace("{{", "").replace("}}", ""))


@pytest.mark.parametrize("lang", words.languages()[1:])
def test_every_language_has_a_glossary(lang):
    import tomllib

    glossary = tomllib.loads((GLOSSARIES / f"{lang}.toml").read_text(encoding="utf-8"))
    assert len(glossary["terms"]) >= 20 and glossary["avoid"]


@pytest.mark.parametrize("lang", words.languages()[1:])
def test_no_template_uses_a_synonym_the_glossary_avoids(lang):
    import tomllib

    avoid = tomllib.loads((GLOSSARIES / f"{lang}.toml").read_text(encoding="utf-8"))["avoid"]
    found = []
    for key, template in words.catalogue(lang).items():
        prose = _prose_of(template)
        for phrase, instead in avoid.items():
            if re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", prose):
                found.append(f"{key}: {phrase!r} (use {instead!r})")
    assert not found, found[:20]


def test_the_prose_of_a_template_leaves_code_out():
    assert "layer" not in _prose_of("la couche `layer4` (--layer) {layer}")
    assert "couche" in _prose_of("la couche `layer4`")


def _sample_values(template: str) -> dict:
    values = {}
    for _, field, spec, _ in string.Formatter().parse(template):
        if not field:
            continue
        name = field.split(".")[0].split("[")[0]
        spec = spec or ""
        if spec and spec[-1:] in "%f":
            values[name] = 0.41
        elif spec and spec[-1:] in "d,":
            values[name] = 1234
        elif spec and spec[-1:] in "eg":
            values[name] = 0.41
        else:
            values.setdefault(name, "x")
    return values


@pytest.mark.parametrize("lang", words.languages()[1:])
def test_every_template_renders_its_numbers_the_language_way(lang):
    """Every template of the language is filled with sample numbers: nothing raises, and a French
    percentage or decimal is written ``41 %``, ``0,41`` (never ``41%`` or ``0.41``)."""
    checked = 0
    for key, template in words.catalogue(lang).items():
        if key.startswith(words.CODE_KEYS):
            continue  # code: Python's numbers in every language (tests/test_lang.py)
        values = _sample_values(template)
        try:
            text = words.say(key, lang, **values)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue  # a placeholder that wants another kind of value (a Term, a list): checked above with _Any
        for _, field, spec, _ in string.Formatter().parse(template):
            if field and spec and spec[-1:] == "%":
                checked += 1
                assert "41" in text and "41%" not in text, (key, text)
            elif field and spec and spec[-1:] == "f":
                checked += 1
                assert "0.4" not in text, (key, text)
    assert checked > 50
