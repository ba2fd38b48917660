"""Issue 28: words that reach a sentence as *values* (not as catalogue templates) are catalogue words
too, so a French page never shows an English word inside a French sentence.

Each test feeds the value and checks the sentence in every language the catalogue has: English word
for word as before, and each other language worded from its own catalogue (with none of the English
codes left in it). French-only checks run when ``fr.toml`` is there.
"""
from __future__ import annotations

import contextlib
from types import SimpleNamespace as NS

import numpy as np
import pytest

from gradcam_core.base import errors, inputs
from gradcam_core.base.errors import Refusal
from gradcam_core.present import words
from gradcam_core.present.words import languages, say, text_of

LANGS = languages()
OTHER = [lang for lang in LANGS if lang != "en"]
BACKGROUNDS = ["grass", "gravel", "brick", "plain grey"]
STYLES = ["watermark", "caption"]


def in_lang(lang: str):
    """The block runs in ``lang`` (``words.use_lang``; before the language mechanism, English only)."""
    use = getattr(words, "use_lang", None)
    if use is None:
        assert lang == "en"
        return contextlib.nullcontext()
    return use(lang)


def _k(code: str) -> str:
    return code.replace(" ", "_")


# ------------------------------------------------------------------ the photo cards' variants
def test_photo_edits_offer_exactly_the_worded_variants():
    from gradcam_core.analysis.photo_edits import BACKGROUNDS as B, TEXT_STYLES as T

    assert list(B) == BACKGROUNDS and list(T) == STYLES  # each has its catalogue words (below)


@pytest.mark.parametrize("lang", LANGS)
def test_card_title_and_regions_word_the_background(lang):
    from gradcam_core.present import cards

    for bg in BACKGROUNDS:
        word = say(f"analysis.background.{_k(bg)}", lang)
        photo = say("analysis.photo.coffee", lang)
        assert cards.card_title("context", "coffee", bg, lang) == say(
            "analysis.card.title.context", lang, photo=photo.capitalize(), variant=word)
        assert cards.region_names("context", "coffee", bg, lang) == (
            say("analysis.card.region.context", lang, variant=word),
            say("analysis.card.region.context_original", lang, variant=word))
        if lang != "en":
            assert bg not in cards.card_title("context", "coffee", bg, lang)
            assert bg not in cards.region_names("context", "coffee", bg, lang)[0]
    for style in STYLES:
        assert cards.card_title("text", "cat", style, lang) == say(
            "analysis.card.title.text", lang, photo=say("analysis.photo.cat", lang).capitalize(),
            variant=say(f"analysis.text_style.{style}", lang))
    assert cards.card_title("removed", "rocket", "", lang) == say(
        "analysis.card.title.removed", lang, photo=say("analysis.photo.rocket", lang).capitalize())


def test_card_words_in_english_are_unchanged():
    from gradcam_core.present import cards

    assert cards.card_title("context", "coffee", "plain grey", "en") == "The cup and saucer on plain grey"
    assert cards.card_title("context", "cat", "grass", "en") == "The cat on grass"
    assert cards.region_names("context", "cat", "brick", "en")[0] == "the brick background"
    assert cards.card_title("text", "cat", "caption", "en") == "The cat with a caption"
    assert cards.variant_choices("context", BACKGROUNDS, "en") == [(b, b) for b in BACKGROUNDS]
    assert cards.variant_choices("text", STYLES, "en") == [(s, s) for s in STYLES]


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_card_words_in_french():
    from gradcam_core.present import cards

    assert cards.card_title("context", "coffee", "grass", "fr") == "La tasse et la soucoupe sur fond d'herbe"
    assert cards.region_names("context", "cat", "plain grey", "fr")[0] == "le fond gris uni"
    assert cards.card_title("text", "cat", "caption", "fr") == "Le chat avec texte (légende)"
    assert cards.variant_choices("context", BACKGROUNDS, "fr") == [
        ("herbe", "grass"), ("gravier", "gravel"), ("briques", "brick"), ("gris uni", "plain grey")]


@pytest.mark.parametrize("lang", LANGS)
def test_card_sentence_places_the_worded_region(lang):
    from gradcam_core.present import cards

    numbers = {"original_top3": [("cup", 0.8)], "altered_top3": [("cup", 0.6)], "original_class_prob_after": 0.6,
               "heat_share_original": 0.12, "heat_share_altered": 0.17, "region_area_original": 0.28,
               "region_area": 0.60, "experiment": "context", "photo": "coffee", "variant": "plain grey"}
    text = cards.card_sentence(numbers, lang)
    assert say("analysis.card.region.context", lang, variant=say("analysis.background.plain_grey", lang)) in text
    if lang == "en":
        assert "17 % of the heat lies on the plain grey background, which covers 60 % of the picture" in text
    else:
        assert "plain grey" not in text


@pytest.mark.parametrize("lang", LANGS)
def test_variant_menus_label_in_the_reader_language_and_keep_the_codes(lang):
    from gradcam_core.present import cards

    for exp, codes, key in (("context", BACKGROUNDS, "analysis.background_name"), ("text", STYLES, "analysis.text_style")):
        pairs = cards.variant_choices(exp, codes, lang)
        assert [v for _, v in pairs] == codes  # the handlers and the API still take the codes
        assert [label for label, _ in pairs] == [say(f"{key}.{_k(c)}", lang) for c in codes]


@pytest.mark.parametrize("lang", LANGS)
def test_photo_menu_accepts_the_reader_names_and_lists_them(lang):
    from gradcam_core.present import cards
    from gradcam_core.ui import spurious_tab

    with in_lang(lang):
        assert spurious_tab._photo_key("context", cards.photo_name("cat", lang)) == "cat"
        assert spurious_tab._photo_key("context", "cat") == "cat"  # the menu's value, any language
        with pytest.raises(ValueError) as err:
            spurious_tab._photo_key("context", "rocket")  # not a photo of this experiment
    names = ", ".join(cards.photo_name(k, lang) for k in ("cat", "coffee", "dahlia"))
    assert str(err.value) == say("ui.shortcut.choose_photo", lang, choices=names)


# ------------------------------------------------------------------ the two LeNets
def _result(cam: np.ndarray, digit: int, p: float):
    import torch

    probs = torch.full((1, 10), (1 - p) / 9)
    probs[0, digit] = p
    return NS(method="Grad-CAM", cam=torch.as_tensor(cam, dtype=torch.float32)[None], probs=probs,
              targets=torch.tensor([digit]), input_size=(28, 28))


@pytest.mark.parametrize("lang", LANGS)
def test_alt_text_names_each_lenet_in_the_reader_language(lang):
    from gradcam_core.present import alt_text

    corner = np.zeros((4, 4))
    corner[0, 3] = 1.0
    views = [NS(name="no cue", results={"clean": _result(corner, 7, 0.874), "shortcut": _result(corner, 1, 0.5)})]
    with in_lang(lang):
        text = alt_text.views_alt(views, "Digit 7")
        short = alt_text._short(views[0].results["clean"])
    want = say("alt.view_model", lang, model=say("shortcut.model_word.clean", lang), digit=7, pct=87, heat=short)
    assert want in text
    if lang == "en":
        assert "clean LeNet reads 7 (87 %)" in text and "shortcut LeNet reads 1 (50 %)" in text
    else:
        assert say("shortcut.model_word.shortcut", lang) in text


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_alt_text_lenets_in_french():
    assert say("alt.view_model", "fr", model=say("shortcut.model_word.clean", "fr"), digit=7, pct=87,
               heat="x").startswith("LeNet propre lit 7")
    assert say("alt.view_model", "fr", model=say("shortcut.model_word.shortcut", "fr"), digit=1, pct=50,
               heat="x").startswith("LeNet à raccourci lit 1")


@pytest.mark.parametrize("lang", LANGS)
def test_step_heading_names_the_lenet_in_the_reader_language(lang):
    from gradcam_core.ui import spurious_tab

    with in_lang(lang):
        out = spurious_tab._mnist_steps("clean")(7, True, 3)
    heading = out["heading"]
    if lang == "en":
        assert "**Clean LeNet** on held-out digit #7" in heading
    else:
        assert "Clean" not in heading and say("ui.shortcut.steps_model.clean", lang) in heading
    if lang == "fr":
        assert "**LeNet propre** sur le chiffre mis de côté" in heading


# ------------------------------------------------------------------ a refusal's choices
@pytest.mark.parametrize("lang", LANGS)
def test_one_of_joins_the_choices_with_the_reader_or(lang):
    with in_lang(lang):
        assert format(errors.one_of(["a", "b", "c"])) == say("error.list.one_of", lang, some="a, b", last="c")
        assert errors.one_of(["only"]) == "only" and errors.one_of([]) == ""
        with pytest.raises(Refusal) as err:
            inputs.parse_placement("sideways")
        text = text_of(err.value)
    assert say("error.list.one_of", lang, some="'receptive field'", last="'stretched'") in text
    if lang == "en":
        assert "choose 'receptive field' or 'stretched' (" in text
    else:
        assert " or " not in text


@pytest.mark.parametrize("lang", LANGS)
def test_text_style_refusal_words_its_or(lang):
    from gradcam_core.analysis import photo_edits

    with in_lang(lang):
        with pytest.raises(Refusal) as err:
            photo_edits.stamp_text("cat", "hello", "neon")
        text = text_of(err.value)
    assert err.value.key == "analysis.error.unknown_text_style" and err.value.values["variant"] == "neon"
    assert text == say("analysis.error.unknown_text_style", lang, variant="neon",
                       choices=say("error.list.one_of", lang, some="watermark", last="caption"))
    if lang == "en":
        assert text == "Unknown text style 'neon'; choose watermark or caption."


# ------------------------------------------------------------------ a summary's settings
def _aggregate(settings: dict) -> dict:
    return {"n": 200, "what": "held-out digits", "one": "digit", "settings": settings}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name, theirs, ours", [("target", "predicted", "another class"),
                                                ("placement", "receptive field", "stretched"),
                                                ("baseline", "zero", "blur"), ("steps", 20, 8),
                                                ("layer", "relu2", "conv2")])
def test_other_settings_are_worded(lang, name, theirs, ours):
    from gradcam_core.present import verdicts

    text = verdicts.reading_aggregate(_aggregate({name: theirs}), settings={name: ours}, lang=lang)
    w = lambda v: say(f"verdict.aggregate.setting_value.{name}.{_k(v)}", lang) if isinstance(v, str) and name not in ("layer",) else v  # noqa: E731
    listed = say("verdict.aggregate.setting", lang, setting=say(f"verdict.aggregate.setting_name.{name}", lang),
                 theirs=w(theirs), ours=w(ours))
    assert text == say("verdict.aggregate.other_settings", lang, n=200, what="held-out digits", settings=listed)
    if lang == "en":  # word for word as before
        assert f"({name} {theirs} (here: {ours}))" in text
    elif isinstance(theirs, str) and name != "layer":
        assert f"{theirs} (" not in text and str(ours) not in text


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_other_settings_in_french():
    from gradcam_core.present import verdicts

    text = verdicts.reading_aggregate(_aggregate({"target": "predicted"}), settings={"target": "another class"},
                                      lang="fr")
    assert "classe cible prédite (ici" in text and "une autre classe)" in text


# ------------------------------------------------------------------ the menus' named choices
@pytest.mark.parametrize("lang", LANGS)
def test_named_menu_choices_are_labelled_and_keep_their_codes(lang):
    from gradcam_core.ui import imagenet_extras, mnist_tab

    with in_lang(lang):
        targets = mnist_tab._named_choices(mnist_tab.TARGETS)
        channels = mnist_tab._named_choices(["strongest", "0", "15"])
        pred, none = imagenet_extras.named_choice("predicted"), imagenet_extras.named_choice("none")
        no_second_label = imagenet_extras.is_no_second(none[0])
        no_second_code = imagenet_extras.is_no_second("none") and imagenet_extras.is_no_second("")
        a_class = imagenet_extras.is_no_second("tabby")
    assert targets[0] == (say("ui.mnist.choice.predicted", lang), "predicted")
    assert targets[1:] == [(c, c) for c in mnist_tab.TARGETS[1:]]
    assert channels == [(say("ui.mnist.choice.strongest", lang), "strongest"), ("0", "0"), ("15", "15")]
    assert pred == (say("ui.imagenet.choice.predicted", lang), "predicted")
    assert none == (say("ui.imagenet.choice.none", lang), "none")
    assert no_second_label and no_second_code and not a_class
    if lang == "en":  # the English page is unchanged
        assert targets[0] == ("predicted", "predicted") and none == ("none", "none")


@pytest.mark.parametrize("lang", LANGS)
def test_the_reader_word_for_predicted_is_accepted(lang):
    classes = [str(d) for d in range(10)]
    with in_lang(lang):
        typed = [w.strip() for w in say("input.words.predicted", lang).split(",")]
        assert all(inputs.parse_target(w, classes, "MNIST") is None for w in typed)
        assert all(inputs.parse_target(w.upper(), classes, "MNIST") is None for w in typed)
        assert inputs.parse_target("predicted", classes, "MNIST") is None  # the code, in every language
        assert inputs.parse_target("7", classes, "MNIST") == 7
    if lang == "fr":
        assert "prédite" in typed


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_predicted_in_french_is_not_a_word_of_an_english_request():
    classes = [str(d) for d in range(10)]
    with in_lang("en"):
        with pytest.raises(Refusal):
            inputs.parse_target("prédite", classes, "MNIST")


# ------------------------------------------------------------------ steps.ink.zero
@pytest.mark.parametrize("lang", LANGS)
def test_the_all_zero_ink_sentence_closes_its_parentheses(lang):
    from gradcam_core.present import method_texts

    for this_ink in (None, 0.2):
        with in_lang(lang):
            text = method_texts.ink_text(None, 0.31, this_ink=this_ink)
        assert text.count("(") == text.count(")"), text
    if lang == "en":
        assert text.startswith("This digit: the map is all zero, so there is no heat to place; the zone within 2 px "
                               "of the ink covers 31 % of the picture (ink: the pixels of value ≥ 0.5; it covers 20 %")


# ------------------------------------------------------------------ on a page
@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_a_french_page_labels_the_named_choices_in_french_and_keeps_the_codes():
    """The menus built with the worded choices: a French page's load event relabels them (ui/lang.py),
    the values the handlers receive stay the codes; an English page is left as built."""
    import gradio as gr

    from gradcam_core.present import cards
    from gradcam_core.ui import imagenet_extras, lang, mnist_tab

    with words.use_lang("en"), words.recording() as found:
        with lang.LangBlocks() as demo:
            menus = [gr.Radio(cards.variant_choices("context", BACKGROUNDS), value="grass"),
                     gr.Radio(cards.variant_choices("text", STYLES), value="caption"),
                     gr.Dropdown(mnist_tab._named_choices(mnist_tab.TARGETS), value="predicted"),
                     gr.Dropdown(mnist_tab._named_choices(["strongest", "0"]), value="strongest"),
                     gr.Dropdown([imagenet_extras.named_choice("predicted")], value="predicted", allow_custom_value=True),
                     gr.Dropdown([imagenet_extras.named_choice("none")], value="none", allow_custom_value=True)]
    lang.localize(demo, found)
    load = [fn for fn in demo.fns.values() if fn.outputs and menus[0] in fn.outputs]
    assert len(load) == 1
    outputs = load[0].outputs

    def on_page(cookie: str) -> dict:
        req = NS(headers={"cookie": cookie})
        return dict(zip([id(c) for c in outputs], load[0].fn(None, req)))

    fr, en = on_page("gradcam_lang=fr"), on_page("gradcam_lang=en")
    with words.use_lang("fr"):
        want = [cards.variant_choices("context", BACKGROUNDS), cards.variant_choices("text", STYLES),
                mnist_tab._named_choices(mnist_tab.TARGETS), mnist_tab._named_choices(["strongest", "0"]),
                [imagenet_extras.named_choice("predicted")], [imagenet_extras.named_choice("none")]]
    for menu, choices in zip(menus, want):
        assert [tuple(c) for c in fr[id(menu)]["choices"]] == choices
        assert en[id(menu)] == gr.skip()
        assert [v for _, v in menu.choices] == [v for _, v in choices]  # the codes, whatever the language
    assert ("herbe", "grass") in want[0] and ("prédite", "predicted") == want[4][0]


@pytest.mark.parametrize("lang", LANGS)
def test_a_pushed_locked_view_names_its_tab_by_its_title(lang):
    """The facilitator's "Pushed: a locked view of the … tab." names the tab as the page titles it
    (it used to print the code: "spurious"), in the reader's language."""
    from gradcam_core.ui import facilitator

    with in_lang(lang):
        titles = [facilitator.tab_title(t) for t in ("mnist", "imagenet", "spurious")]
        unknown = facilitator.tab_title("other")
    assert titles == [say(f"ui.app.tab_{t}", lang) for t in ("mnist", "imagenet", "shortcuts")]
    assert unknown == "other"
    if lang == "en":
        assert titles == ["MNIST · LeNet", "ImageNet", "Shortcuts"]


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_the_shortcuts_tab_menus_in_french():
    """The Shortcuts tab as app.py builds it (in English, recorded, then localized): on a French page
    the photo, background and text-style menus are relabelled in French, their values unchanged."""
    import gradio as gr

    from gradcam_core.present import cards
    from gradcam_core.ui import lang, spurious_tab

    with words.use_lang("en"), words.recording() as found:
        with lang.LangBlocks() as demo:
            with gr.Tabs():
                with gr.Tab("Shortcuts", id="spurious"):
                    spurious_tab.build(demo)
    lang.localize(demo, found)
    menus = [b for b in demo.blocks.values() if isinstance(b, (gr.Radio, gr.Dropdown))]
    load = [fn for fn in demo.fns.values() if fn.outputs and any(m in fn.outputs for m in menus)
            and "set_choices" in getattr(fn.fn, "__name__", "")]
    assert len(load) == 1
    fr = dict(zip([id(c) for c in load[0].outputs], load[0].fn(None, NS(headers={"cookie": "gradcam_lang=fr"}))))
    relabelled = {tuple(tuple(c) for c in fr[id(m)]["choices"]) for m in menus if id(m) in fr and fr[id(m)] != gr.skip()}
    with words.use_lang("fr"):
        backgrounds = tuple(cards.variant_choices("context", BACKGROUNDS))
        styles = tuple(cards.variant_choices("text", STYLES))
        photos = tuple((cards.photo_name(k), spurious_tab.PHOTO_NAMES[k]) for k in ("cat", "coffee", "dahlia"))
    assert {backgrounds, styles, photos} <= relabelled, relabelled
    assert ("chat", "cat") in photos and ("herbe", "grass") in backgrounds and ("légende", "caption") in styles


# ------------------------------------------------------------------ numbers written outside templates
def _point(lang: str) -> str:
    return words.number(0.5, ".1f", lang)[1] if hasattr(words, "number") else "."


@pytest.mark.parametrize("lang", LANGS)
def test_compact_numbers_and_tick_labels_use_the_reader_decimal_sign(lang):
    """ticks.format_number's texts go into sentences (step captions, α = …) and pictures (number
    grids, colour bars): a French reader gets 0,012, not 0.012. Digits and signs stay as they are."""
    from gradcam_core.present import ticks

    d = _point(lang)
    with in_lang(lang):
        compact = [ticks.format_number(0.0123, plus=True), ticks.format_number(-2.54), ticks.format_number(1.3e-4),
                   ticks.format_number(1234.4), ticks.format_number(0)]
        labels = ticks.tick_labels([0.0, 0.5, 1.0])
        first = next(ticks.tick_candidates(0.0, 0.7))
    assert compact == ["+0.012", "-2.5", "1.3e-4", "1234", "0"] if lang == "en" else \
        compact == [f"+0{d}012", f"-2{d}5", f"1{d}3e-4", "1234", "0"]
    assert labels == [f"0{d}0", f"0{d}5", f"1{d}0"]
    assert first == ([0.0, 0.2, 0.4, 0.6], [f"0{d}0", f"0{d}2", f"0{d}4", f"0{d}6"])
    with in_lang("en"):  # the labels are cached without the reader's sign: an English page after a French one
        assert ticks.tick_labels([0.0, 0.5, 1.0]) == ["0.0", "0.5", "1.0"]


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_a_french_step_caption_writes_alpha_with_a_comma():
    from gradcam_core.present import ticks

    with in_lang("fr"):
        text = say("steps.average.caption", channel=3, n=64, mean=ticks.format_number(0.0123, plus=True))
    assert text.endswith("α = +0,012")


@pytest.mark.parametrize("lang", LANGS)
def test_numbers_in_code_snippets_stay_python(lang):
    """A code snippet is code in every language: ``a = 0.5`` (``a = 0,5`` would be a tuple; the
    catalogue's ``steps.code.*`` keep Python's numbers: ``words.CODE_KEYS``)."""
    from gradcam_core.present import method_texts

    with in_lang(lang):
        overlay = method_texts.overlay_code("jet", 0.5)
        average = say("steps.code.average", channel=3, mean=0.01234)
    assert "\na = 0.5\n" in overlay
    assert average.rstrip().endswith("= +0.01234")


@pytest.mark.parametrize("lang", LANGS)
def test_cascade_tiles_write_rho_and_ssim_the_reader_way(lang):
    from gradcam_core.ui import trust

    picture = np.zeros((8, 8), dtype=np.float32)
    stage = lambda r, s: NS(map=np.eye(8, dtype=np.float32), spearman=r, ssim=s)  # noqa: E731
    cas = NS(stages=["original", "fc3", "fc2"], results={"Grad-CAM": [stage(1.0, 1.0), stage(0.854, 0.321),
                                                                     stage(-0.2, 0.05)]})
    with in_lang(lang):
        items = trust._gallery_items(cas, picture, None)["Grad-CAM"]
    d = _point(lang)
    assert items[1][1].endswith(f" · ρ=0{d}85 · SSIM=0{d}32")
    assert items[2][1].endswith(f" · ρ=-0{d}20 · SSIM=0{d}05")


@pytest.mark.parametrize("lang", LANGS)
def test_the_curves_name_the_random_ranking_and_write_their_axes_the_reader_way(lang):
    from gradcam_core.present import charts
    from gradcam_core.ui import trust

    table = [["Grad-CAM", 0.2, 0.6], ["random", 0.5, 0.4], ["Sobel", 0.4, 0.5]]
    with in_lang(lang):
        names = [charts.ranking_name(n) for n in ("Grad-CAM", "random", "Sobel")]
        rows = trust._auc_rows(NS(table=lambda: table))
        fmt = charts._axis_labels()
        fmt.create_dummy_axis()
        fmt.set_locs([0.0, 0.5, 1.0])
        axis = [fmt(v) for v in (0.0, 0.5, 1.0)]
    random = say("imagenet.curves.ranking.random", lang)
    assert names == ["Grad-CAM", random, "Sobel"]
    assert rows == [["Grad-CAM", 0.2, 0.6], [random, 0.5, 0.4], ["Sobel", 0.4, 0.5]]
    d = _point(lang)
    assert axis == [f"0{d}0", f"0{d}5", f"1{d}0"]
    if lang == "en":
        assert random == "random"
    else:
        assert random != "random"


@pytest.mark.skipif("fr" not in LANGS, reason="fr.toml not assembled on this branch yet")
def test_the_whole_page_in_french_labels_every_named_choice_once():
    """The app as it is served: a French page's menus show the French label of each named choice,
    and nothing else that was worded at build with the same English text takes its place (the page
    is reworded by English text: ``input.words.predicted`` once turned the label "predicted" into
    the list of accepted words)."""
    import app

    demo = app.build_app()
    loads = [fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "set_choices"]
    shown = {}
    for fn in loads:
        for comp, update in zip(fn.outputs, fn.fn(None, NS(headers={"cookie": "gradcam_lang=fr"}))):
            if isinstance(update, dict) and "choices" in update and getattr(comp, "elem_id", None):
                shown[comp.elem_id] = [tuple(c) for c in update["choices"]]
    with words.use_lang("fr"):
        want = {"mnist-target": (say("ui.mnist.choice.predicted"), "predicted"),
                "mnist-channel": (say("ui.mnist.choice.strongest"), "strongest"),
                "imagenet-target": (say("ui.imagenet.choice.predicted"), "predicted"),
                "imagenet-target2": (say("ui.imagenet.choice.none"), "none")}
    for elem_id, first in want.items():
        assert shown[elem_id][0] == first, (elem_id, shown[elem_id][:3])
    assert ("prédite", "predicted") == shown["mnist-target"][0]


@pytest.mark.parametrize("lang", LANGS)
def test_text_alternatives_join_their_parts_the_reader_way(lang):
    """The two sides of a photo card's text alternative (and the two LeNets of a view) are joined
    with the language's separator (French: a narrow no-break space before the semicolon)."""
    from gradcam_core.present import alt_text

    corner = np.zeros((4, 4))
    corner[0, 3] = 1.0
    card = NS(experiment="context", photo="cat", variant="grass", result_original=_result(corner, 3, 0.87),
              result_altered=_result(corner, 5, 0.5), categories=[f"c{i}" for i in range(10)])
    views = [NS(name="no cue", results={"clean": _result(corner, 7, 0.874), "shortcut": _result(corner, 1, 0.5)})]
    with in_lang(lang):
        sides = [say("alt.card_side", what=say(f"alt.{w}"), name=n, pct=p, heat=alt_text._short(r))
                 for w, n, p, r in (("original", "c3", 87, card.result_original), ("altered", "c5", 50, card.result_altered))]
        text = alt_text.card_alt(card)
        views_text = alt_text.views_alt(views, "7")
        second = say("alt.view_model", model=say("shortcut.model_word.shortcut"), digit=1, pct=50,
                     heat=alt_text._short(views[0].results["shortcut"]))
    sep = say("alt.join.parts", lang)
    assert sep.join(sides) in text
    assert sep + second in views_text
    assert sep == ("; " if lang == "en" else sep)
    if lang == "fr":
        assert sep == "\u202f; "
