"""The page's language (issue 28): which language a request gets, French numbers, ``number()``,
the language following the running request, and a small page's build-time texts given in French."""
from __future__ import annotations

import asyncio
import json

import gradio as gr
import pytest

from gradcam_core.base.errors import Refusal, Term
from gradcam_core.present import words
from gradcam_core.present.words import NNBSP, current_lang, number, say, text_of, use_lang
from gradcam_core.ui import lang


class _Req:
    def __init__(self, **headers: str) -> None:
        self.headers = {k.replace("_", "-"): v for k, v in headers.items()}


@pytest.fixture
def no_default():
    before = lang.default()
    lang.set_default(None)
    yield
    lang.set_default(before)


def test_french_is_a_language():
    assert words.languages()[:1] == ["en"] and "fr" in words.languages()
    assert words.supported("fr-FR") == "fr" and words.supported("FR") == "fr" and words.supported("fr_CA") == "fr"
    assert words.supported("de") is None and words.supported("") is None and words.supported(None) is None


def test_lang_of_precedence(no_default):
    assert lang.lang_of(None) == "en"
    assert lang.lang_of(_Req()) == "en"
    assert lang.lang_of(_Req(accept_language="fr-FR,fr;q=0.9,en;q=0.8")) == "fr"
    # q-values decide, not the order; q=0 refuses a language
    assert lang.lang_of(_Req(accept_language="en;q=0.5, fr;q=0.9")) == "fr"
    assert lang.lang_of(_Req(accept_language="fr;q=0, en;q=0.5")) == "en"
    # an unknown language is passed over for the next one asked
    assert lang.lang_of(_Req(accept_language="de-DE, fr;q=0.7")) == "fr"
    assert lang.lang_of(_Req(accept_language="de-DE, it")) == "en"
    assert lang.lang_of(_Req(accept_language="garbage;q=x, ;;")) == "en"
    # the page's cookie (the switch, the head script) beats the header
    assert lang.lang_of(_Req(cookie="a=1; gradcam_lang=en", accept_language="fr")) == "en"
    assert lang.lang_of(_Req(cookie="gradcam_lang=fr", accept_language="en")) == "fr"
    # an unknown cookie value is no choice
    assert lang.lang_of(_Req(cookie="gradcam_lang=xx", accept_language="fr")) == "fr"


def test_app_default_comes_after_the_cookie_and_before_the_header(no_default):
    lang.set_default("fr")
    assert lang.lang_of(None) == "fr"
    assert lang.lang_of(_Req(accept_language="en")) == "fr"
    assert lang.lang_of(_Req(cookie="gradcam_lang=en", accept_language="fr")) == "en"
    assert lang.set_default("xx") is None and lang.lang_of(_Req(accept_language="en")) == "en"


def test_french_numbers():
    with use_lang("fr"):
        assert number(0.41) == "0,41"
        assert number(0.41, ".0%") == f"41{NNBSP}%"
        assert number(0.392, ".1%") == f"39,2{NNBSP}%"
        assert number(1234, ",") == f"1{NNBSP}234"
        assert number(1234567.891, ",.2f") == f"1{NNBSP}234{NNBSP}567,89"
        assert number(-0.5, "+.2f") == "-0,50"
        assert number(7) == "7" and number(True) == "True"
    assert number(0.41, ".0%") == "41%" and number(1234, ",") == "1,234" and number(0.41) == "0.41"
    assert number(0.41, ".0%", "fr") == f"41{NNBSP}%"


def test_the_formatter_leaves_text_values_alone():
    fmt = words._Formatter("fr")
    assert fmt.format("{a} {b:.2f} {c:.0%}", a="v1.2, 3.4%", b=0.5, c=0.25) == f"v1.2, 3.4% 0,50 25{NNBSP}%"
    # a Term among the values is worded in the sentence's language, whatever the request's
    assert say("lang.photo_credits", "fr", credits=Term("lang.digit")) == say("lang.photo_credits", "fr", credits="chiffre")


def test_code_keeps_python_numbers_in_french():
    """A step's snippet is code: ``a = 0,5`` would be a tuple. Its comments are French, its numbers not."""
    with use_lang("fr"):
        code = say("steps.code.overlay", cmap="jet", alpha=0.5)
        assert "a = 0.5" in code and "0,5" not in code
        assert "+0.04070" in say("steps.code.average", channel=13, mean=0.0407)
        assert say("lang.photo_credits", credits=number(0.5)) == say("lang.photo_credits", credits="0,5")


def test_say_follows_the_running_request():
    assert current_lang() == "en"
    with use_lang("fr"):
        assert current_lang() == "fr"
        assert say("lang.digit") == "chiffre" and say("lang.digit", "en") == "digit"
        assert words.lines("cli.explain.csv_header") == words.lines("cli.explain.csv_header", "fr") if \
            "cli.explain.csv_header" in words._lists("en") else True
        with use_lang("en"):
            assert say("lang.digit") == "digit"
        assert say("lang.digit") == "chiffre"
    assert say("lang.digit") == "digit"
    with use_lang("xx"):  # an unsupported language: the default
        assert current_lang() == "en"


def test_refusals_and_terms_are_worded_in_the_request_language():
    err = Refusal("error.digit.index", index=5000, last=999) if words.has("error.digit.index") else None
    key = next(k for k in words.catalogue("en") if k.startswith("error.") and not words.placeholders(words.catalogue("en")[k]))
    err = Refusal(key)
    assert str(err) == say(key, "en")
    with use_lang("fr"):
        assert str(err) == say(key, "fr") == text_of(err)
        assert format(Term("lang.digit")) == "chiffre"
    assert text_of(err, "fr") == say(key, "fr")


def test_a_missing_french_key_falls_back_to_english(monkeypatch):
    real = words.catalogue
    table = dict(real("fr"))
    table.pop("lang.digit")
    monkeypatch.setattr(words, "catalogue", lambda lg="en": table if lg == "fr" else real(lg))
    with use_lang("fr"):
        assert say("lang.digit") == "digit"


def test_lang_from_argv(monkeypatch):
    assert words.lang_from_argv(["--lang", "fr", "explain"], {}) == "fr"
    assert words.lang_from_argv(["explain", "--lang=fr"], {}) == "fr"
    assert words.lang_from_argv(["explain"], {"GRADCAM_LANG": "fr_FR"}) == "fr"
    assert words.lang_from_argv(["explain"], {}) is None
    assert words.lang_from_argv(["--lang", "xx"], {}) is None


def test_recording_and_rewording():
    with words.recording() as found:
        inner = say("lang.digit")
        outer = say("lang.photo_credits", credits=inner)
    assert [f[1] for f in found] == ["lang.digit", "lang.photo_credits"]
    fr = words.reword(found, "fr")
    assert fr[inner] == "chiffre"
    assert fr[outer] == say("lang.photo_credits", "fr", credits="chiffre")  # the inner sentence reworded too


def test_localize_gives_a_small_page_in_french():
    with use_lang("en"), words.recording() as found:
        with lang.LangBlocks() as demo:
            md = gr.Markdown(say("lang.photo_credits", credits="x"))
            box = gr.Textbox(label=say("lang.switch_label"), info=say("lang.cli_help"), value="data stays data")
            radio = gr.Radio([(say("lang.digit"), "digit"), ("plain", "plain")], value="digit", label="Pick one")
            btn = gr.Button(say("lang.switch_label") + " · " + say("lang.digit"))
    i18n = lang.localize(demo, found)
    # the components keep their English (code and tests read them); the page's config is marked
    assert box.label == "Language" and box.value == "data stays data"
    props = {c["id"]: c["props"] for c in demo.get_config_file()["components"]}

    def key(block, prop):
        text = props[block._id][prop]
        assert text.startswith("__i18n__"), (prop, text)
        return json.loads(text[len("__i18n__"):])["key"]

    assert props[box._id]["value"] == "data stays data"  # an input's value is never touched
    assert props[radio._id]["label"] == "Pick one"  # not a catalogue text: left as it is
    fr, en = i18n.translations["fr"], i18n.translations["en"]
    assert en[key(md, "value")] == say("lang.photo_credits", "en", credits="x")
    assert fr[key(md, "value")] == say("lang.photo_credits", "fr", credits="x")
    assert fr[key(box, "label")] == "Langue" and en[key(box, "label")] == "Language"
    assert fr[key(box, "info")] == say("lang.cli_help", "fr")
    assert fr[key(btn, "value")] == "Langue · chiffre"  # a text made of several sentences: each piece reworded
    assert radio.choices == [("digit", "digit"), ("plain", "plain")]  # choices: set by a load event in French
    load = [fn for fn in demo.fns.values() if fn.outputs and radio in fn.outputs]
    assert len(load) == 1
    # the page's language reaches the server only through a change of a hidden box: an English page,
    # whose box keeps its "en", never calls
    assert load[0].trigger_mode and [t[1] for t in load[0].targets] == ["change"]
    assert load[0].inputs[0].value == "en"
    out_fr = load[0].fn("fr", _Req())
    assert out_fr[0]["choices"] == [("chiffre", "digit"), ("plain", "plain")]
    assert load[0].fn("en", _Req(cookie="gradcam_lang=fr"))[0] == gr.skip()
    # a refusal naming the input reads its label in the request's language
    from gradcam_core.ui.coerce import name_of

    assert name_of(box) == "Language"
    with use_lang("fr"):
        assert name_of(box) == "Langue"
    # the API's description keeps plain English labels
    info = demo.get_api_info()
    assert "translation_metadata" not in str(info)


def test_events_run_in_the_request_language():
    with lang.LangBlocks() as demo:
        out = gr.Textbox()
        btn = gr.Button("x")
        btn.click(lambda: say("lang.digit") + "/" + number(0.5, ".0%"), None, out)
    fn = next(iter(demo.fns.values()))
    req = gr.Request(headers={"cookie": "gradcam_lang=fr"})
    got = asyncio.run(demo.call_function(fn, [], requests=req))
    assert got["prediction"] == f"chiffre/50{NNBSP}%"
    got = asyncio.run(demo.call_function(fn, [], requests=gr.Request(headers={"accept-language": "en-GB"})))
    assert got["prediction"] == "digit/50%"
    assert current_lang() == "en"  # nothing leaks out of the event


def test_generator_events_keep_the_language_on_every_step():
    def steps():
        yield say("lang.digit")
        yield say("lang.digit") + "!"

    with lang.LangBlocks() as demo:
        out = gr.Textbox()
        gr.Button("x").click(steps, None, out)
    fn = next(iter(demo.fns.values()))
    req = gr.Request(headers={"cookie": "gradcam_lang=fr"})
    first = asyncio.run(demo.call_function(fn, [], requests=req))
    second = asyncio.run(demo.call_function(fn, [], iterator=first["iterator"], requests=req))
    assert (first["prediction"], second["prediction"]) == ("chiffre", "chiffre!")


def test_head_script_and_switch():
    head = lang.head()
    assert '"fr"' in head and "gradcam_lang" in head and "navigator" in head
    switch = lang.switch_html()
    assert 'lang="fr"' in switch and "Français" in switch and 'lang="en"' in switch and "English" in switch
    assert 'href="?lang=fr"' in switch
    js = lang.js_text("lang.digit")
    assert '"fr": "chiffre"' in js and "window.gradcamLang" in js


def test_the_cli_speaks_french_with_lang(capsys, monkeypatch):
    from gradcam_core import cli

    monkeypatch.delenv("GRADCAM_LANG", raising=False)
    assert cli.main(["--lang", "fr", "--help"]) == 0
    out = capsys.readouterr().out
    assert say("cli.help.description", "fr").split("\n")[0][:30] in out.replace("\n", " ")
    assert cli.main(["--help"]) == 0
    assert say("cli.help.description", "en")[:30] in capsys.readouterr().out.replace("\n", " ")
    # --lang after the command too, and the weights tool
    assert cli.main(["weights", "--lang=fr", "--help"]) == 0
    out = capsys.readouterr().out
    assert say("model.cli.description", "fr") in out and say("model.cli.description", "en") not in out
    monkeypatch.setenv("GRADCAM_LANG", "fr")
    assert cli.main(["--help"]) == 0
    assert say("cli.help.description", "fr")[:30] in capsys.readouterr().out.replace("\n", " ")
    assert current_lang() == "en"  # the CLI's language does not leak out of main()
