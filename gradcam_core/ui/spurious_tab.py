"""Tab 3 · Shortcuts: right for the wrong reason, measured.

Exhibit 1 is a controlled experiment (a LeNet trained where a small square gives the label away,
next to the clean LeNet); exhibit 2 alters real photos and asks EfficientNet-Lite0 again.  Every
number on the page is computed by ``gradcam_core.services.shortcut`` (with ``analysis``: shortcut,
photo_edits, photo_cards) and drawn by ``gradcam_core.present.shortcut_view``; this module only places it.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import gradio as gr

from gradcam_core.present import cards as card_words
from gradcam_core.present import shortcut_view as sview
from gradcam_core.services import shortcut as svc
from gradcam_core.present.steps import build_steps
from gradcam_core.present import alt_text, colour_choice
from gradcam_core.present.words import lazy, say
from gradcam_core.ui.coerce import ChoiceDropdown, ChoiceRadio, CoercedCheckbox, CoercedNumber, CoercedSlider
from gradcam_core.ui import a11y, colour_menu
from gradcam_core.ui.a11y import with_alt
from gradcam_core.ui.common import PAGE_ONLY, ResultImage, by_name, scroll_js, step_sections, step_values, user_errors
from gradcam_core.ui.serving import LinkRequest

CONCURRENCY = "spurious"
#: a held-out digit on which the contrast is easy to see (the page works for any of the 1000)
DEFAULT_DIGIT = 44
MNIST_STEPS_ID = "spurious-mnist-steps"
PHOTO_STEPS_ID = "spurious-photo-steps"

#: extra CSS for this tab (append to ui.common.CSS when launching)
CSS = """
.spurious-card { border-left: 4px solid #0a8f5a; padding-left: 6px; }
"""

PHOTO_NAMES = {k: card_words.photo_name(k) for k in svc.PHOTOS}

#: Why shortcuts matter outside this page: published cases, in our own words, with references.
def stakes_md() -> str:
    return say("ui.shortcut.stakes")

#: worded when read, in the reader's language (module constants would be worded once, at import)
__getattr__ = lazy(STAKES_MD=stakes_md)



# ----------------------------------------------------------------------------- MNIST


def _alt(text: str, cmap: str) -> str:
    """A picture's text alternative, with the colours of its heat maps."""
    return f"{text} {colour_choice.colour_sentence(cmap)}"


@user_errors
def mnist_compare(index: Any, cmap: Any = None) -> dict:
    """The digit with matching cue, misleading cue and no cue, explained by both models."""
    cmap = svc.parse_cmap(cmap)
    views, label = svc.compare(index)
    title = say("ui.shortcut.compare_title")
    image, text = sview.views_image(views, title=title, cmap=cmap), sview.views_markdown(views, label)
    return {"image": with_alt(image, _alt(alt_text.views_alt(views, title), cmap)), "text": text}


_play = svc.play  # (view, true label) of a digit with the cue where the person put it


@user_errors
def mnist_play(index: Any, cue_on: Any, pos: Any, cmap: Any = None) -> dict:
    """The digit with the cue at the chosen class position (or none), both models."""
    cmap = svc.parse_cmap(cmap)
    view, label = _play(index, cue_on, pos)
    title = say("ui.shortcut.your_version")
    image, text = sview.views_image([view], title=title, cmap=cmap), sview.views_markdown([view], label)
    return {"image": with_alt(image, _alt(alt_text.views_alt([view], title), cmap)), "text": text}


@user_errors
def mnist_table() -> dict:
    t = svc.table()
    return {"table": sview.table_markdown(t), "lesson": sview.lesson_markdown(t)}


def _step_outputs(result, image, class_name: str, heading: str, cmap=None, centres=None) -> dict:
    """The step-by-step view by name: its heading and the eight steps' [text, image, code] values
    (``centres``: where each cell is drawn, LeNet's receptive-field centres; None: stretched)."""
    cmap = colour_choice.parse(cmap)
    steps = build_steps(result, image, class_name=class_name, max_channels=16, cmap=cmap, centres=centres,
                        placement_choice=False)
    values = step_values(steps)
    alts = colour_choice.with_colour(alt_text.step_alts(steps, result, class_name, centres=centres), steps, cmap)
    for i, alt in enumerate(alts):
        values[3 * i + 1] = with_alt(values[3 * i + 1], alt)
    return {"heading": heading, "steps": values}


def _mnist_steps(model_name: str):
    @user_errors
    def run(index, cue_on, pos, cmap=None):
        cmap = colour_choice.parse(cmap)
        view, label = _play(index, cue_on, pos)
        res = view.results[model_name]
        pred = int(res.targets[0])
        heading = say("ui.shortcut.steps_heading_digit", model=say(f"ui.shortcut.steps_model.{model_name}"),
                      index=int(float(index)), label=label,
                      version=sview.view_name(view), pred=pred)
        return _step_outputs(res, view.digit, str(pred), heading, cmap, view.centres(model_name))

    run.__name__ = f"steps_mnist_{model_name}"
    return run


# ----------------------------------------------------------------------------- photos


def _photo_key(experiment: str, photo) -> str:
    """The photo's code from the menu's value (its English name), its name in the reader's language,
    or the code itself; a refusal lists the names in the reader's language."""
    names = {v: k for k, v in PHOTO_NAMES.items()}
    names.update({card_words.photo_name(k): k for k in PHOTO_NAMES})
    key = names.get(photo, photo)
    if key not in svc.EXPERIMENTS[experiment]["photos"]:
        choices = ", ".join(card_words.photo_name(k) for k in svc.EXPERIMENTS[experiment]["photos"])
        raise ValueError(say("ui.shortcut.choose_photo", choices=choices))
    return key


def _card_from(experiment: str, photo, variant, text):
    return svc.card(experiment, _photo_key(experiment, photo), variant, text)


#: each experiment's inputs after the photo (the colour map comes last: an optional last input)
CARD_INPUTS = {"removed": (), "context": ("variant",), "text": ("variant", "text")}


def _card_fn(experiment: str):
    names = CARD_INPUTS[experiment]

    @user_errors
    def run(photo, *rest):
        (variant, text), cmap = _card_args(names, rest)
        cmap = colour_choice.parse(cmap)
        card = _card_from(experiment, photo, variant, text)
        return {"image": with_alt(sview.card_image(card, cmap), _alt(alt_text.card_alt(card), cmap)),
                "text": sview.card_markdown(card)}

    run.__name__ = f"card_{experiment}"
    return colour_menu.with_cmap_signature(run, "photo", names)


def _card_args(names, rest) -> tuple[tuple, object]:
    """(variant, text) and the colour map from a card event's values after the photo."""
    vals, cmap = colour_menu.split_cmap(names, rest)
    named = dict(zip(names, vals))
    return (named.get("variant"), named.get("text")), cmap


def _card_steps_fn(experiment: str, which: str):
    names = CARD_INPUTS[experiment]

    @user_errors
    def run(photo, *rest):
        (variant, text), cmap = _card_args(names, rest)
        cmap = colour_choice.parse(cmap)
        card = _card_from(experiment, photo, variant, text)
        res = card.result_original if which == "original" else card.result_altered
        img = card.original if which == "original" else card.altered
        name = card.categories[int(res.targets[0])]
        what = say("ui.shortcut.the_original_photo") if which == "original" else card_words.card_title(card.experiment, card.photo, card.variant).lower()
        heading = say("ui.shortcut.steps_heading_photo", what=what, name=name)
        return _step_outputs(res, img, name, heading, cmap)

    run.__name__ = f"steps_{experiment}_{which}"
    return colour_menu.with_cmap_signature(run, "photo", names)


# ----------------------------------------------------------------------------- layout


def _first_view_events(demo: gr.Blocks, tab: gr.Tab | None, query, jobs: list, common: dict, alts=None) -> None:
    """One event computes the tab's whole first view, once per page: on the first opening of the
    tab, or at page load when the link points at this tab (``?tab=spurious``)."""
    opened = gr.State(False)
    inputs = [opened] + [c for _, ins, _ in jobs for c in ins]
    outputs = [opened] + [c for _, _, outs in jobs for c in outs.values()]

    def first_view(is_open, *values):
        if is_open:
            return {opened: True}
        out, pos = {opened: True}, 0
        for fn, ins, outs in jobs:
            args, pos = values[pos:pos + len(ins)], pos + len(ins)
            try:
                out.update({outs[name]: value for name, value in fn(*args).items()})
            except gr.Error as exc:  # one failed exhibit must not blank the others
                gr.Warning(str(exc))
        return out

    def first_view_if_linked(query, is_open, *values):
        linked = LinkRequest(query).query_params.get("tab") == "spurious"
        return first_view(is_open, *values) if linked else {opened: is_open}

    if alts is not None:  # images go out plain, their text alternatives through ``alts`` (see a11y)
        first_view, first_view_if_linked = (a11y.alt_event(f, outputs, alts) for f in (first_view, first_view_if_linked))
        outputs = outputs + [alts]
    if tab is not None:
        tab.select(first_view, inputs, outputs, api_name="spurious_open", **common)
    if query is not None:  # the page's query string, read in the browser: only a link calls the server
        query.change(first_view_if_linked, [query] + inputs, outputs, api_name="spurious_open_from_link",
                     **PAGE_ONLY, **common)
    elif tab is None:
        demo.load(first_view, inputs, outputs, api_name="spurious_open_from_link", **PAGE_ONLY, **common)


@dataclass
class StepsBlock:
    """A heading (outside, so the page can scroll to it) and an accordion with the eight steps."""

    head: Any
    steps: list  # [text, image, code] * 8 (common.step_sections)
    accordion: Any

    @property
    def outputs(self) -> list:
        """The outputs of a step-by-step event, in the API's order."""
        return [self.head, *self.steps, self.accordion]

    def event(self, fn: Any) -> Any:
        """``fn`` returns {"heading", "steps"} (see _step_outputs); the event fills this block and opens it."""

        @functools.wraps(fn)
        def run(*args, **kwargs):
            view = fn(*args, **kwargs)
            return {self.head: view["heading"], **dict(zip(self.steps, view["steps"])),
                    self.accordion: gr.Accordion(open=True)}

        return run


def _steps_block(title: str, elem_id: str) -> StepsBlock:
    head = gr.Markdown(say("ui.shortcut.steps_block_heading", title=title),
                       elem_classes="tight-md", elem_id=elem_id, label=say("ui.shortcut.steps_heading_label"))
    with gr.Accordion(say("ui.shortcut.steps_accordion"), open=False) as acc:
        steps = step_sections()
    return StepsBlock(head, steps, acc)


def build(demo: gr.Blocks, concurrency_limit: int = 2, tab: gr.Tab | None = None,
          query: gr.Textbox | None = None) -> None:
    """Add the Shortcuts tab's contents inside the current ``gr.Tab``. Its first view is computed
    when ``tab`` is first opened (or at page load for a link to this tab; without ``tab``, at page
    load), not for every visitor of the page."""
    common = dict(concurrency_id=CONCURRENCY, concurrency_limit=concurrency_limit)
    mnist_ready, exc = svc.ready()
    if not mnist_ready:
        gr.Markdown(say("ui.shortcut.weights_missing", exc=exc))
    photos_ready, why = svc.photo_model_availability()

    gr.Markdown(
        say("ui.shortcut.intro"),
        elem_classes="tight-md",
    )
    with gr.Accordion(say("ui.shortcut.stakes_title"), open=False):
        gr.Markdown(stakes_md(), elem_classes="tight-md")
    with gr.Row():
        cmap = colour_menu.dropdown(info=say("ui.shortcut.cmap_info"))
    colour_menu.note()
    c = {**_exhibit_digits(), **_exhibit_photos(photos_ready, why), "cmap": cmap}
    _wire(demo, c, common, tab, query, mnist_ready, photos_ready)


def _exhibit_digits() -> dict:
    """Exhibit 1, a planted shortcut: the digit, its three versions, the cue you move, the
    accuracy table and the step-by-step block."""
    gr.Markdown(say("ui.shortcut.exhibit1_heading"))
    gr.Markdown(
        say("ui.shortcut.exhibit1_intro"),
        elem_classes="tight-md",
    )
    with gr.Row(equal_height=True):
        index = CoercedNumber(value=DEFAULT_DIGIT, label=say("ui.shortcut.index_label"), precision=0, minimum=0, maximum=999, scale=2)
        show = gr.Button(say("ui.shortcut.show_button"), variant="primary", scale=1)
    compare_img = ResultImage(label=say("ui.shortcut.compare_title"), interactive=False,
                              elem_classes="spurious-exhibit", show_label=False, buttons=["fullscreen"])
    compare_md = gr.Markdown(elem_classes="tight-md")

    gr.Markdown(say("ui.shortcut.move_heading"))
    cue_on = CoercedCheckbox(value=True, label=say("ui.shortcut.cue_on_label"))
    cue_pos = CoercedSlider(0, 9, value=3, step=1, label=say("ui.shortcut.cue_pos_label"),
                        info=say("ui.shortcut.cue_pos_info"))
    play_img = ResultImage(label=say("ui.shortcut.your_version"), interactive=False, elem_classes="spurious-exhibit", show_label=False,
                           buttons=["fullscreen"])
    play_md = gr.Markdown(elem_classes="tight-md")
    with gr.Row():
        steps_clean = gr.Button(say("ui.shortcut.steps_clean_button"), size="sm")
        steps_short = gr.Button(say("ui.shortcut.steps_shortcut_button"), size="sm")

    gr.Markdown(say("ui.shortcut.accuracy_heading"))
    table_md = gr.Markdown(elem_classes="tight-md")
    lesson_md = gr.Markdown()
    mnist_steps = _steps_block(say("ui.shortcut.steps_digit_title"), MNIST_STEPS_ID)
    return dict(index=index, show=show, compare_img=compare_img, compare_md=compare_md, cue_on=cue_on,
                cue_pos=cue_pos, play_img=play_img, play_md=play_md, steps_clean=steps_clean,
                steps_short=steps_short, table_md=table_md, lesson_md=lesson_md, mnist_steps=mnist_steps)


def _exhibit_photos(photos_ready: bool, why: str) -> dict:
    """Exhibit 2, real photos altered: one card per experiment and the step-by-step block."""
    gr.Markdown(say("ui.shortcut.exhibit2_heading"))
    gr.Markdown(
        say("ui.shortcut.exhibit2_intro"),
        elem_classes="tight-md",
    )
    if not photos_ready:
        gr.Markdown(say("ui.shortcut.photos_unavailable", why=why))
    cards = {}
    for exp, spec in svc.EXPERIMENTS.items():
        with gr.Column(elem_classes="spurious-card"):
            gr.Markdown(f"### {card_words.experiment_title(exp)}\n\n{card_words.experiment_about(exp)}", elem_classes="tight-md")
            # labelled in the reader's language; the value stays the English name (the API's, as before)
            photo = ChoiceDropdown([(card_words.photo_name(k), PHOTO_NAMES[k]) for k in spec["photos"]],
                                   value=PHOTO_NAMES[spec["default"][0]], label=say("ui.shortcut.photo_label"))
            variant = text = None
            if exp == "context":
                variant = ChoiceRadio(card_words.variant_choices(exp, spec["variants"]), value=spec["default"][1],
                                      label=say("ui.shortcut.background_label"))
            elif exp == "text":
                variant = ChoiceRadio(card_words.variant_choices(exp, spec["variants"]), value=spec["default"][1],
                                      label=say("ui.shortcut.style_label"))
                text = gr.Textbox(value=svc.DEFAULT_TEXT, label=say("ui.shortcut.text_label", max_chars=svc.MAX_TEXT),
                                  max_lines=1, submit_btn=True)
            img = ResultImage(label=card_words.experiment_title(exp), interactive=False, elem_classes="spurious-exhibit",
                              show_label=False, buttons=["fullscreen"])
            md = gr.Markdown(elem_classes="tight-md")
            with gr.Row():
                b0 = gr.Button(say("ui.shortcut.steps_original_button"), size="sm")
                b1 = gr.Button(say("ui.shortcut.steps_altered_button"), size="sm")
        inputs = [photo] + ([variant] if variant is not None else []) + ([text] if text is not None else [])
        cards[exp] = dict(inputs=inputs, photo=photo, variant=variant, text=text, img=img, md=md, b0=b0, b1=b1)
    photo_steps = _steps_block(say("ui.shortcut.steps_photo_title"), PHOTO_STEPS_ID)
    return dict(cards=cards, photo_steps=photo_steps)


def _wire(demo: gr.Blocks, c: dict, common: dict, tab, query, mnist_ready: bool, photos_ready: bool) -> None:
    """The tab's events; the first view is computed once per page (see _first_view_events)."""
    names = ("index", "show", "compare_img", "compare_md", "cue_on", "cue_pos", "play_img", "play_md", "steps_clean",
             "steps_short", "table_md", "lesson_md", "mnist_steps", "cards", "photo_steps")
    (index, show, compare_img, compare_md, cue_on, cue_pos, play_img, play_md, steps_clean, steps_short, table_md,
     lesson_md, mnist_steps, cards, photo_steps) = (c[k] for k in names)
    cmap = c["cmap"]  # the tab's colour map: every picture event's optional last input
    jobs = []  # (function, inputs, outputs) of the first view
    alts = a11y.alt_state()  # the images' text alternatives: sent beside the images, set on the page

    def on(trigger, fn, inputs, outs, **kw):  # an event whose images may carry a text alternative
        """``outs``: {name: component} of what ``fn`` returns by name (ui.common.by_name)."""
        if isinstance(outs, dict):
            fn, outs = by_name(fn, outs), list(outs.values())
        return trigger(a11y.alt_event(fn, outs, alts), inputs, outs + [alts], **kw)

    if mnist_ready:
        compare_out = {"image": compare_img, "text": compare_md}
        on(show.click, mnist_compare, [index, cmap], compare_out, api_name="spurious_compare", **common)
        on(index.submit, mnist_compare, [index, cmap], compare_out, api_name="spurious_compare_submit",
                     **common)
        play_in = [index, cue_on, cue_pos, cmap]
        play_out = {"image": play_img, "text": play_md}
        on(cue_pos.release, mnist_play, play_in, play_out, api_name="spurious_cue_move", **common)
        on(cue_on.input, mnist_play, play_in, play_out, api_name="spurious_cue_toggle", **common)
        on(show.click, mnist_play, play_in, play_out, api_name="spurious_cue_digit", **common)
        on(index.submit, mnist_play, play_in, play_out, api_name="spurious_cue_digit_submit", **common)
        for btn, name in ((steps_clean, "clean"), (steps_short, "shortcut")):
            on(btn.click, mnist_steps.event(_mnist_steps(name)), play_in, mnist_steps.outputs,
                      api_name=f"spurious_steps_mnist_{name}",
                      **common).success(None, js=scroll_js(MNIST_STEPS_ID))
        table_out = {"table": table_md, "lesson": lesson_md}
        jobs += [(mnist_compare, [index, cmap], compare_out), (mnist_play, play_in, play_out),
                 (mnist_table, [], table_out)]
        with gr.Row(visible=False):
            table_api = gr.Button(visible=False)
        table_api.click(by_name(mnist_table, table_out), None, [table_md, lesson_md], api_name="spurious_table",
                        **common)

    if photos_ready:
        for exp, c in cards.items():
            fn = _card_fn(exp)
            outs = {"image": c["img"], "text": c["md"]}
            c["inputs"] = c["inputs"] + [cmap]
            on(c["photo"].input, fn, c["inputs"], outs, api_name=f"spurious_{exp}_photo", **common)
            if exp == "context":
                on(c["variant"].input, fn, c["inputs"], outs, api_name=f"spurious_{exp}_background", **common)
            if exp == "text":
                on(c["variant"].input, fn, c["inputs"], outs, api_name=f"spurious_{exp}_style", **common)
                on(c["text"].submit, fn, c["inputs"], outs, api_name=f"spurious_{exp}_text", **common)
            for btn, which in ((c["b0"], "original"), (c["b1"], "altered")):
                on(btn.click, photo_steps.event(_card_steps_fn(exp, which)), c["inputs"], photo_steps.outputs,
                          api_name=f"spurious_steps_{exp}_{which}", **common).success(None, js=scroll_js(PHOTO_STEPS_ID))
            jobs.append((fn, c["inputs"], outs))

    if jobs:
        _first_view_events(demo, tab, query, jobs, common, alts)
        names = {id(index): "index", id(cue_on): "cue_on", id(cue_pos): "cue_pos", id(cmap): "cmap"}
        for exp, card in cards.items():
            names.update({id(card[k]): f"{exp}_{k}" for k in ("photo", "variant", "text") if card[k] is not None})
        _redraw_event(cmap, [job for job in jobs if any(x is cmap for x in job[1])], common, names, alts)
    images = [compare_img, play_img, *mnist_steps.steps[1::3], *photo_steps.steps[1::3], *(c["img"] for c in cards.values())]
    a11y.wire_alts(alts, [im for im in images if im is not None])


def _redraw_event(cmap, jobs: list, common: dict, names: dict, alts=None) -> None:
    """A new colour map redraws every exhibit's picture (the step-by-step blocks follow at their next
    button press): one event, ``/spurious_change_cmap``; its API parameters are named by ``names``
    (component id -> name), the colour map last."""
    inputs = list({id(x): x for _, ins, _ in jobs for x in ins if x is not cmap}.values()) + [cmap]
    outputs = [o for _, _, outs in jobs for o in outs.values()]

    def redraw(*values):
        value = {id(x): v for x, v in zip(inputs, values)}
        out, failed = {}, []
        for fn, ins, outs in jobs:
            try:
                out.update({outs[name]: v for name, v in fn(*(value[id(x)] for x in ins)).items()})
            except gr.Error as exc:  # one failed exhibit must not blank the others
                gr.Warning(str(exc))
                failed.append(exc)
        if failed and not out:  # every exhibit refused (an API call's unknown colour map): say why
            raise failed[0]
        return out

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    redraw.__signature__ = inspect.Signature([inspect.Parameter(names[id(x)], kind, default=None) for x in inputs])
    if alts is not None:  # images go out plain, their text alternatives through ``alts`` (see a11y)
        redraw, outputs = a11y.alt_event(redraw, outputs, alts), outputs + [alts]
    cmap.input(redraw, inputs, outputs, api_name="spurious_change_cmap", trigger_mode="always_last", **common)
