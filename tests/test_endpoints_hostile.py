"""Every public endpoint answers wrong-typed, empty, huge and hostile values with a result or a clear
sentence from the catalogue, never Gradio's generic "The upstream Gradio app has raised an exception",
and the server keeps answering.

The endpoints and their parameters come from the launched app's own ``view_api`` (so a new endpoint
is covered without touching this file). Each parameter in turn gets the hostile values of its kind,
the others keep their documented defaults. Image parameters are left out (``tests/test_hostile.py``
sends 310 hostile files); with no photo the photo endpoints refuse before any model runs, but their
other inputs still go through the components' checks (``gradcam_core/ui/coerce.py``), which run
before the handler.
"""
from __future__ import annotations

import ast
import html
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest

from gradcam_core.present import words

ROOT = Path(__file__).resolve().parents[1]
GENERIC = "The upstream Gradio app has raised an exception"
#: Gradio's own refusals: clear enough, but not the app's words (the components replace them)
GRADIO_OWN = ("is not in the list of choices", "is less than minimum value", "is greater than maximum value")
HUGE = "x" * 100_000
IMAGE_COMPONENTS = {"image", "safeimage", "sketchpad", "safesketchpad", "imageeditor", "file"}
NUMERIC_COMPONENTS = {"number", "coercednumber", "slider", "coercedslider"}


def hostile_values(component: str) -> list:
    """The values one parameter is sent: empty, wrong-typed, non-finite, huge and structured ones, and
    a number where a name is expected."""
    # NaN as text: JSON has no NaN, and gradio_client refuses to send a float one
    common = [None, "", "abc", 1e308, -1e308, "nan", HUGE, [1, 2], {"a": 1}]
    if component.lower() in NUMERIC_COMPONENTS:
        return common + [-3, 2.5, True]
    return common + [7]


@cache
def _template_patterns() -> list[re.Pattern]:
    out = []
    for template in words.catalogue().values():
        parts, pattern = [], ""
        for literal, field, _, _ in __import__("string").Formatter().parse(template):
            pattern += re.escape(literal)
            if field is not None:
                pattern += ".+?"
            parts.append(literal)
        if sum(len(p) for p in parts) >= 8:  # a bare "{name}" would match anything
            out.append(re.compile(pattern, re.S))
    return out


@cache
def _pending_fragments() -> tuple[str, ...]:
    """The literal text (of plain and f-strings) in the modules whose words have not moved to the
    catalogue yet (test_catalogue's PENDING): their messages are accepted until they move, then only
    the catalogue counts."""
    from test_catalogue import PENDING

    found = set()
    for module in sorted(PENDING):
        tree = ast.parse((ROOT / "gradcam_core" / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = " ".join(node.value.split())
                if len(text) >= 10 and len(re.findall(r"[A-Za-z]{2,}", text)) >= 2:
                    found.add(text)
    return tuple(found)


def from_the_catalogue(message: str) -> bool:
    return any(p.fullmatch(message) for p in _template_patterns())


def from_a_pending_module(message: str) -> bool:
    text = " ".join(message.split())
    return any(fragment in text for fragment in _pending_fragments())


def is_clear(message: str) -> bool:
    """A sentence the app wrote: from the catalogue (or, until their words move there, from a module
    still listed as pending), not Gradio's generic or own wording, and not a stack trace."""
    text = html.unescape(message).strip()
    if not text or GENERIC in text or "Traceback" in text or any(g in text for g in GRADIO_OWN):
        return False
    return from_the_catalogue(text) or from_a_pending_module(text)


def test_the_judge_tells_clear_messages_from_generic_ones():
    from gradcam_core.present.words import say

    assert is_clear(say("input.not_a_number", name="Row"))
    assert is_clear(html.escape(say("input.out_of_range", name="Digit index (0–999)", low=0, high=999, value=1e308)))
    assert not is_clear(GENERIC + " but has not enabled verbose error reporting.")
    assert not is_clear("Value: abc is not in the list of choices: ['max', 'minmax']")
    assert not is_clear("Something entirely unheard of happened somewhere")
    assert not is_clear("")


def _calls(info: dict) -> list[tuple[str, int, object, list]]:
    calls = []
    for name, ep in sorted(info["named_endpoints"].items()):
        params = ep["parameters"]
        defaults = [p.get("parameter_default") for p in params]
        for i, p in enumerate(params):
            if p["component"].lower() in IMAGE_COMPONENTS:
                continue
            for value in hostile_values(p["component"]):
                args = list(defaults)
                args[i] = value
                calls.append((name, i, value, args))
    return calls


def _call(client, name: str, args: list, tries: int = 2) -> tuple[str, str]:
    """("result", "") or ("refused", the message). The app's refusals arrive as ``AppError``; any
    other exception is the transport's (a dropped stream on two busy cores): tried once more, then
    reported with its type."""
    from gradio_client.exceptions import AppError

    try:
        client.predict(*args, api_name=name)
        return "result", ""
    except AppError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - judged below, with its type
        if tries > 1:
            return _call(client, name, args, tries - 1)
        return "refused", f"{type(exc).__name__}: {exc}"


def test_every_public_endpoint_answers_hostile_values_clearly(app_client):
    info = app_client.view_api(return_format="dict", print_info=False)
    assert len(info["named_endpoints"]) >= 40, sorted(info["named_endpoints"])
    assert not info["unnamed_endpoints"], "every public event has an api_name"
    calls = _calls(info)
    assert len(calls) > 1500  # every parameter of every endpoint, about ten values each
    # four at a time: most calls are refused by a component before any handler runs
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda c: _call(app_client, c[0], c[3]), calls))
    unclear = {}  # message -> the first call that got it
    for (name, i, value, _), (kind, msg) in zip(calls, outcomes):
        if kind == "refused" and not is_clear(msg):
            param = info["named_endpoints"][name]["parameters"][i]["parameter_name"]
            unclear.setdefault(msg[:160], []).append(f"{name}({param}={repr(value)[:24]})")
    counts = Counter(kind for kind, _ in outcomes)
    assert not unclear, f"{sum(map(len, unclear.values()))} of {len(calls)} calls got no clear message ({counts}): " + \
        "; ".join(f"{msg!r} ← {len(where)} calls, e.g. {where[0]}" for msg, where in list(unclear.items())[:12])
    assert counts["refused"] > len(calls) // 2  # most hostile values are refused, not silently accepted
    # the server still answers, with the right numbers
    models = app_client.predict(api_name="/imagenet_models")
    assert any(m.get("key") == "efficientnet_lite0" for m in models), models


@pytest.mark.parametrize("api_name, args, key, values", [
    ("/mnist_explain_index", ["abc", "predicted", "strongest", "relu2", "jet", "receptive field"],
     "input.not_a_number", {}),
    ("/mnist_explain_index", ["", "predicted", "strongest", "relu2", "jet", "receptive field"], "input.missing", {}),
    ("/imagenet_restyle", ["max", "jet", "abc", False], "input.not_a_number", {}),
    ("/spurious_cue_move", [44, True, "nan", "jet"], "input.not_finite", {}),
    ("/spurious_cue_move", [44, True, 1e308, "jet"], "input.out_of_range", {"low": 0, "high": 9, "value": 1e308}),
    ("/imagenet_find_classes", [1e308], "input.not_text", {"name": "query"}),
    ("/imagenet_restyle", ["max", "jet", 0.5, "abc"], "input.not_a_switch", {}),
])
def test_the_refusal_names_the_input_in_the_catalogues_words(app_client, api_name, args, key, values):
    """The issue's examples, word for word: the sentence is the catalogue's, with the input's label."""
    from gradio_client.exceptions import AppError

    info = app_client.view_api(return_format="dict", print_info=False)["named_endpoints"][api_name]
    with pytest.raises(AppError) as err:
        app_client.predict(*args, api_name=api_name)
    message = html.unescape(str(err.value))
    if "name" not in values:  # the label of the component that got the bad value
        bad = next(i for i, (a, p) in enumerate(zip(args, info["parameters"])) if a != p.get("parameter_default"))
        label = info["parameters"][bad]["label"]
        values = {**values, "name": label}
    assert message == words.say(key, **values)


def test_a_missing_slider_value_is_its_starting_value(app_client):
    """``None`` for a slider (an API caller leaving it out) is what the page starts with, as the
    app's parsers read a missing colour map or opacity: the grid's first page, digits #0 to #49."""
    captions = [item["caption"] for item in app_client.predict(None, api_name="/mnist_grid_page")]
    assert [c.split(" ")[0] for c in captions] == [f"#{i}" for i in range(50)]
    second = [item["caption"] for item in app_client.predict(2, api_name="/mnist_grid_page")]
    assert second[0].startswith("#50 ")
