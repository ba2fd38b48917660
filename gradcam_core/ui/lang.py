"""The page's language (issue 28): which one a request asks for, every event run in it, and the
page's build-time texts in every language.

- :func:`lang_of`: a request's language: the cookie ``gradcam_lang`` (set by the page's head script,
  :func:`head`), else the app's ``--lang`` default, else ``Accept-Language`` (API clients), else "en".
- :class:`LangBlocks`: ``gr.Blocks`` whose every event (streaming ones too) runs inside
  ``use_lang(lang_of(request))``: one place, not one per handler.
- :func:`localize`: the page is built once, in English, while ``words.recording()`` notes every
  sentence worded; afterwards each build-time text prop (labels, help, Markdown, buttons, tabs) is
  replaced by an ``I18nData`` key whose entries are the same catalogue keys and numbers worded in
  each language. Gradio's frontend then shows the page's language from the first view. Choices'
  labels (which the frontend does not translate) are set by one server call, only on a page that is
  not in English.
- :func:`head`: the script that decides the language before Gradio starts (``?lang=`` > the switch's
  stored choice > ``--lang`` > the browser's languages), so the frontend's labels and the server's
  sentences always agree; :func:`switch`: the "English · Français" links.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from gradcam_core.present import words
from gradcam_core.present.words import DEFAULT_LANG, languages, supported, use_lang

COOKIE = "gradcam_lang"
STORE_KEY = "gradcam_lang"

#: The app's default (``python app.py --lang fr``, ``GRADCAM_LANG``): None means "ask the browser".
_default: str | None = None


def set_default(lang: str | None) -> str | None:
    """Set the app's default language (workshop mode); an unsupported tag clears it."""
    global _default
    _default = supported(lang)
    return _default


def default() -> str | None:
    return _default


def accept_language(header: str | None) -> str | None:
    """The most wanted supported language of an ``Accept-Language`` header (q-values honoured,
    ``q=0`` refused), or None."""
    if not header:
        return None
    ranked = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return DEFAULT_LANG
        found = supported(tag)
        if found:
            return found
    return None


def _headers(request: Any) -> dict[str, str]:
    headers = getattr(request, "headers", None) or {}
    try:
        return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return {}


def _cookie(headers: dict[str, str]) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value.strip()
    return None


def lang_of(request: Any) -> str:
    """The language of a request (a ``gr.Request``, a Starlette request, or None)."""
    if request is None:
        return _default or DEFAULT_LANG
    headers = _headers(request)
    return (supported(_cookie(headers)) or _default or accept_language(headers.get("accept-language"))
            or DEFAULT_LANG)


class LangBlocks(gr.Blocks):
    """``gr.Blocks`` whose events run in the request's language (``call_function`` is the one place
    every event goes through; a generator's later steps come back through it, and anyio's worker
    threads copy the context, so handlers and their threads see the language)."""

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        """``Blocks.launch`` with the page's translations however it is launched (gradio's launch
        replaces ``i18n_instance`` with its ``i18n`` argument, None unless given)."""
        if kwargs.get("i18n") is None and getattr(self, "i18n_instance", None) is not None:
            kwargs["i18n"] = self.i18n_instance
        return super().launch(*args, **kwargs)

    async def call_function(self, block_fn: Any, processed_input: list[Any], iterator: Any = None,
                            requests: Any = None, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request = requests[0] if isinstance(requests, list) and requests else requests
        with use_lang(lang_of(request)):
            return await super().call_function(block_fn, processed_input, iterator, requests, *args, **kwargs)

    async def process_api(self, block_fn: Any, inputs: list[Any], state: Any = None, request: Any = None,
                          *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The whole event in the request's language: the inputs' checks (a refusal raised while
        preprocessing), the call, and the outputs."""
        first = request[0] if isinstance(request, list) and request else request
        with use_lang(lang_of(first)):
            return await super().process_api(block_fn, inputs, state, request, *args, **kwargs)

    def get_config_file(self) -> dict[str, Any]:
        """The page's config with its build-time texts as translation markers (:func:`localize`):
        the components themselves keep their English, for the code and the tests that read them."""
        config = super().get_config_file()
        marks = getattr(self, "_lang_marks", None)
        if marks:
            for component in config.get("components", []):
                props = component.get("props", {})
                for prop, key in marks.get(component.get("id"), {}).items():
                    if prop in props:
                        props[prop] = str(I18nData(key))
        return config

    def get_api_info(self, *args: Any, **kwargs: Any) -> Any:
        """The API's description (``view_api``, MCP tools) with its labels in plain English, never
        the page's translation markers."""
        return plain(super().get_api_info(*args, **kwargs))


def plain(value: Any, texts: dict[str, str] | None = None) -> Any:
    """A page config (or any part of it) with its translation markers replaced by their English
    (from the config's own ``i18n_translations`` when it carries them, else this process's page)."""
    if texts is None:
        found = value.get("i18n_translations") if isinstance(value, dict) else None
        texts = (found or {}).get(DEFAULT_LANG) or _TEXTS.get(DEFAULT_LANG, {})
    if isinstance(value, dict):
        if value.get("__type__") == "translation_metadata" and "key" in value:
            return texts.get(value["key"], value["key"])
        return {k: plain(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, texts) for v in value]
    if isinstance(value, I18nData):
        return texts.get(value.key, value.key)
    if isinstance(value, str) and value.startswith(_MARK):
        try:
            key = json.loads(value[len(_MARK):])["key"]
        except (ValueError, KeyError, TypeError):
            return value
        return texts.get(key, key)
    return value


_MARK = "__i18n__"


# --------------------------------------------------------------------------- the page's texts
#: Text props Gradio's frontend translates when they hold an ``I18nData`` marker.
TEXT_PROPS = ("label", "info", "placeholder", "description", "title")
#: Components whose ``value`` is a text to read (never an input a handler compares).
VALUE_TEXT = (gr.Markdown, gr.HTML, gr.Button)
CHOICE_COMPONENTS = (gr.Radio, gr.Dropdown, gr.CheckboxGroup)
_MIN_PIECE = 4


class Rewording:
    """English texts of a built page and their rendering in each other language."""

    def __init__(self, renderings: list[words.Rendering], langs: Iterable[str] | None = None) -> None:
        self.langs = [lang for lang in (langs or languages()) if lang != DEFAULT_LANG]
        self.tables = {lang: words.reword(renderings, lang) for lang in self.langs}
        self._patterns: dict[str, re.Pattern | None] = {}
        self._stripped: dict[str, dict[str, str]] = {}

    def _pattern(self, lang: str) -> re.Pattern | None:
        if lang not in self._patterns:
            pieces = sorted({t.strip() for t, f in self.tables[lang].items() if t != f and len(t.strip()) >= _MIN_PIECE},
                            key=len, reverse=True)
            # a piece that starts (ends) with a letter must not start (end) inside a word
            alts = [("(?<!\\w)" if p[0].isalnum() else "") + re.escape(p) + ("(?!\\w)" if p[-1].isalnum() else "")
                    for p in pieces]
            self._patterns[lang] = re.compile("|".join(alts)) if alts else None
            self._stripped[lang] = {t.strip(): f.strip() for t, f in self.tables[lang].items()}
        return self._patterns[lang]

    def text(self, english: str, lang: str) -> str:
        """``english`` in ``lang``: a whole recorded sentence, else each recorded piece in it."""
        table = self.tables.get(lang)
        if not table or not english:
            return english
        if english in table:
            return table[english]
        pattern = self._pattern(lang)
        stripped = self._stripped[lang]
        if english.strip() in stripped:
            return stripped[english.strip()]
        return pattern.sub(lambda m: stripped[m.group(0)], english) if pattern else english


#: Every page text replaced by a marker: {language: {key: text}} (for code that reads a prop back).
_TEXTS: dict[str, dict[str, str]] = {}


#: {English page text: its key}, to give a prop read back in the reader's language.
_KEYS: dict[str, str] = {}


def prop_text(value: Any) -> Any:
    """A component prop as the reader reads it (e.g. a label naming an input in a refusal): a page
    text (or an ``I18nData`` marker) in the current language; anything else as it is."""
    key = value.key if isinstance(value, I18nData) else _KEYS.get(value) if isinstance(value, str) else None
    if key is None:
        return value
    english = _TEXTS.get(DEFAULT_LANG, {})
    return _TEXTS.get(words.current_lang(), english).get(key) or english.get(key, value)


def _key(text: str) -> str:
    import hashlib

    return "gc." + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def localize(demo: gr.Blocks, renderings: list[words.Rendering], langs: Iterable[str] | None = None) -> gr.I18n:
    """Mark the build-time texts of ``demo`` (a :class:`LangBlocks`) for translation in its page
    config (the components keep their English); returns the ``gr.I18n`` to launch with (also
    installed on ``demo``). Choices' labels get a load event per page (only a
    page that is not in English calls it)."""
    rw = Rewording(renderings, langs)
    entries: dict[str, dict[str, str]] = {DEFAULT_LANG: {}, **{lang: {} for lang in rw.langs}}

    def marker(english: str) -> I18nData | str:
        others = {lang: rw.text(english, lang) for lang in rw.langs}
        if all(text == english for text in others.values()):
            return english
        key = _key(english)
        entries[DEFAULT_LANG][key] = english
        for lang, text in others.items():
            entries[lang][key] = text
        return I18nData(key)

    choice_sets: dict[str, list[tuple[gr.components.Component, dict[str, list]]]] = {}
    marks: dict[int, dict[str, str]] = {}
    for block in list(demo.blocks.values()):
        props = TEXT_PROPS + (("value",) if isinstance(block, VALUE_TEXT) else ())
        for prop in props:
            value = getattr(block, prop, None)
            if isinstance(value, str) and value.strip():
                mark = marker(value)
                if isinstance(mark, I18nData):
                    marks.setdefault(block._id, {})[prop] = mark.key
        if isinstance(block, CHOICE_COMPONENTS) and getattr(block, "choices", None):
            per_lang = {}
            for lang in rw.langs:
                translated = [(rw.text(str(label), lang), value) for label, value in block.choices]
                if translated != [(str(label), value) for label, value in block.choices]:
                    per_lang[lang] = translated
            if per_lang:
                choice_sets.setdefault(getattr(block, "page", ""), []).append((block, per_lang))
    if isinstance(getattr(demo, "title", None), str):
        # the tab's title is set by the head script (a <title> is not a component)
        pass
    _wire_choices(demo, choice_sets)
    demo._lang_marks = marks  # LangBlocks.get_config_file puts them in the page's config
    for lang, table in entries.items():
        _TEXTS.setdefault(lang, {}).update(table)
    _KEYS.update({text: key for key, text in entries[DEFAULT_LANG].items()})
    i18n = gr.I18n(**entries)
    demo.i18n_instance = i18n  # the config built at launch carries it in the first page too
    return i18n


def _wire_choices(demo: gr.Blocks, choice_sets: dict[str, list]) -> None:
    """Per page: a hidden box gets the page's language in the browser (no server call); only when it
    is not English does its change ask the server for the choices' labels in that language."""
    for page, items in choice_sets.items():
        components = [c for c, _ in items]

        def set_choices(page_lang: str | None, request: gr.Request, items: list = items) -> list:
            lang = supported(page_lang) or lang_of(request)
            return [gr.update(choices=per_lang[lang]) if lang in per_lang else gr.skip() for _, per_lang in items]

        before = demo.current_page
        demo.current_page = page
        try:
            with demo:
                box = gr.Textbox(DEFAULT_LANG, visible=False)
                demo.load(None, None, box, js=_PAGE_LANG_JS, queue=False, api_visibility="private")
                box.change(set_choices, box, components, queue=False, show_progress="hidden",
                           api_visibility="private")
        finally:
            demo.current_page = before


_PAGE_LANG_JS = "() => window.gradcamLang || 'en'"


# --------------------------------------------------------------------------- the browser's side
_HEAD = """<script>
(function () {
  var SUPPORTED = __SUPPORTED__, FALLBACK = __DEFAULT__, TITLES = __TITLES__;
  function pick(tag) {
    var base = String(tag || '').toLowerCase().replace('_', '-').split('-')[0];
    return SUPPORTED.indexOf(base) >= 0 ? base : null;
  }
  var lang = null;
  try { lang = pick(new URLSearchParams(location.search).get('lang')); } catch (e) {}
  if (!lang) { try { lang = pick(localStorage.getItem('__STORE__')); } catch (e) {} }
  if (!lang) lang = pick(FALLBACK);
  if (!lang) {
    var asked = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language];
    for (var i = 0; i < asked.length && !lang; i++) lang = pick(asked[i]);
  }
  lang = lang || 'en';
  window.gradcamLang = lang;
  try {
    Object.defineProperty(navigator, 'language', {get: function () { return lang; }, configurable: true});
    Object.defineProperty(navigator, 'languages', {get: function () { return [lang]; }, configurable: true});
  } catch (e) {}
  document.documentElement.lang = lang;
  document.cookie = '__COOKIE__=' + lang + '; path=/; SameSite=Lax; max-age=31536000';
  if (TITLES[lang]) {
    var setTitle = function () { if (document.title !== TITLES[lang]) document.title = TITLES[lang]; };
    setTitle();
    document.addEventListener('DOMContentLoaded', function () {
      setTitle();
      var t = document.querySelector('title');
      if (t) new MutationObserver(setTitle).observe(t, {childList: true, characterData: true, subtree: true});
    });
  }
  // the switch (lang.switch_html()): the page again in the other language, with the answer it shows:
  // the open tab's deep link (its "copy link" button makes it: at once for MNIST, through the server
  // for ImageNet, which keeps the photo), else the page's own address; always with lang= set
  // the open tab: the one whose own element shows (a closed tab's panel is not displayed)
  var MARKS = {mnist: '#mnist-copy-link', imagenet: '#imagenet-copy-link', spurious: '.spurious-exhibit'};
  function visible(tab) {
    return [].some.call(document.querySelectorAll(MARKS[tab]), function (e) { return e.offsetParent !== null; });
  }
  function go(to, address) {
    var url = new URL(address || location.href, location.href);
    url.searchParams.set('lang', to);
    location.assign(url.toString());
  }
  function linkOf(prefix, done) {
    var btn = document.getElementById(prefix + '-copy-link');
    var box = function () { return document.querySelector('#' + prefix + '-link-box textarea, #' + prefix + '-link-box input'); };
    if (!btn || !box()) return done(null);
    var before = box().value;
    btn.click();
    // the new link: a changed value; or, once nothing is pending any more (the same result asked for
    // the same link twice), the value there is
    var waited = 0, timer = setInterval(function () {
      waited += 100;
      var v = box() && box().value;
      var busy = document.querySelector('.pending, .generating');
      if ((v && v !== before) || (v && waited >= 1500 && !busy) || waited > 20000) { clearInterval(timer); done(v || null); }
    }, 100);
  }
  window.gradcamSwitchLang = function (to) {
    try { localStorage.setItem('__STORE__', to); } catch (e) {}
    document.cookie = '__COOKIE__=' + to + '; path=/; SameSite=Lax; max-age=31536000';
    var tab = ['mnist', 'imagenet', 'spurious'].filter(visible)[0];
    var shown = tab === 'mnist' || (tab === 'imagenet' && document.querySelector('#imagenet-label .output-class'));
    if (!shown) {
      var url = new URL(location.href);
      if (tab) url.searchParams.set('tab', tab);
      go(to, url.toString());
      return false;
    }
    linkOf(tab, function (link) {
      if (link) return go(to, link);
      var url = new URL(location.href); url.searchParams.set('tab', tab); go(to, url.toString());
    });
    return false;
  };
})();
</script>
"""


def app_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``launch(app_kwargs=...)`` with :class:`HeadScript` added innermost (after gzip)."""
    from starlette.middleware import Middleware

    return {**kwargs, "middleware": [*kwargs.get("middleware", []), Middleware(HeadScript)]}


def head(title_key: str = "ui.app.title") -> str:
    """The script that sets the page's language before Gradio starts (:class:`HeadScript` puts it
    first in the page)."""
    titles = {lang: words.say(title_key, lang) for lang in languages()}
    return (_HEAD.replace("__SUPPORTED__", json.dumps(languages()))
            .replace("__DEFAULT__", json.dumps(_default))
            .replace("__TITLES__", json.dumps(titles, ensure_ascii=False))
            .replace("__STORE__", STORE_KEY).replace("__COOKIE__", COOKIE))


_NAV = '<nav class="lang-switch" aria-label="{label}">{links}</nav>'
class HeadScript:
    """ASGI middleware that puts :func:`head`'s script first in every HTML page the app serves.

    ``launch(head=...)`` is no place for it: Gradio's frontend adds that head only once it has
    loaded the config, after it has chosen its language from ``navigator.language``. Put in the page
    itself, the script runs before Gradio starts. (Inside the gzip middleware: it sees plain HTML.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        body: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if not headers.get(b"content-type", b"").startswith(b"text/html") or b"content-encoding" in headers:
                    start["pass"] = True
                    await send(message)
                    return
                start["message"] = message
                return
            if start.get("pass"):
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            i = page.find(b"<head>")
            if i >= 0:
                page = page[:i + 6] + head().encode("utf-8") + page[i + 6:]
            first = start["message"]
            headers = [(k, v) for k, v in first.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**first, "headers": headers})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, capture)


_JS_TEXT = "({texts}[window.gradcamLang || 'en'] || {fallback})"
_LINK = ('<a href="?lang={lang}" lang="{lang}" hreflang="{lang}" data-lang="{lang}" '
         'onclick="return window.gradcamSwitchLang({quoted})">{name}</a>')


def js_text(key: str, **values: Any) -> str:
    """A JavaScript expression that is the catalogue's sentence in the page's language."""
    texts = {lang: words.say(key, lang, **values) for lang in languages()}
    return _JS_TEXT.format(texts=json.dumps(texts, ensure_ascii=False), fallback=json.dumps(texts[DEFAULT_LANG]))


def switch_html() -> str:
    """The visible switch: one link per language, each named in its own language (never translated)
    and marked with its ``lang``; the current one is shown in bold (CSS on ``<html lang>``)."""
    links = [_LINK.format(lang=lang, quoted=html.escape(json.dumps(lang)), name=html.escape(words.catalogue(lang)["lang.name"]))
             for lang in languages()]
    return _NAV.format(label=html.escape(words.say("lang.switch_label")), links=" · ".join(links))


_ONLY = '<p class="lang-only" data-only="{lang}" lang="{lang}">{text}</p>'


def only_in_other_languages(key: str) -> str:
    """HTML for a sentence the page shows only in the other languages (a page in English never
    shows it): e.g. that ImageNet's class names stay in English. Worded from each catalogue."""
    return "".join(_ONLY.format(lang=lg, text=html.escape(words.catalogue(lg)[key]))
                   for lg in languages() if lg != DEFAULT_LANG)


def css() -> str:
    """The switch's look, and which language-only sentences show (by ``<html lang>``)."""
    shown = "\n".join(_CSS_LANG.replace("LG", lg) for lg in languages())
    return SWITCH_CSS + "\n.lang-only { display: none; }\n" + shown + "\n"


_CSS_LANG = """html[lang="LG"] .lang-only[data-only="LG"] { display: block; }
html[lang="LG"] .lang-switch a[data-lang="LG"] { font-weight: bold; text-decoration: none; color: inherit; }"""
SWITCH_CSS = """
.lang-switch { text-align: right; font-size: 0.95em; }
.lang-switch a { display: inline-block; padding: 10px 6px; min-height: 44px; box-sizing: border-box; }
"""
