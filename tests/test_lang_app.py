"""The API in the client's language (issue 28): ``python app.py`` answers a gradio_client that sends
``Accept-Language: fr`` in French, and one that sends nothing in English, exactly as before."""
from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from conftest import app_server
from gradcam_core.present.words import NNBSP, say

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "animals" / "chelsea_cat.jpg"


@pytest.fixture(scope="module")
def url():
    yield from app_server(7960, 7979)


def _client(url: str, lang: str | None) -> Client:
    headers = {"Accept-Language": lang} if lang else None
    return Client(url, verbose=False, ssl_verify=False, headers=headers)


@pytest.fixture(scope="module")
def photo_answers(url):
    return {lang: _client(url, lang).predict(handle_file(str(PHOTO)), api_name="/imagenet_explain")
            for lang in ("fr-FR,fr;q=0.9,en;q=0.5", None)}


def test_imagenet_explain_in_french_for_a_french_client(photo_answers):
    fr, en = photo_answers["fr-FR,fr;q=0.9,en;q=0.5"], photo_answers[None]
    summary_fr, summary_en = fr[0], en[0]
    assert summary_en.startswith("**") and " sees **" in summary_en and "%)" in summary_en  # English, as before
    assert " voit **" in summary_fr and f"{NNBSP}%" in summary_fr and " sees " not in summary_fr
    # the same numbers in both: the prediction and its probabilities do not depend on the language
    assert fr[1] == en[1]
    # the percentage English writes 39.2% is written 39,2 % in French (decimal comma, narrow space)
    import re

    pct_en = re.findall(r"\((\d+)\.(\d)%\)", summary_en)
    assert pct_en and f"({pct_en[0][0]},{pct_en[0][1]}{NNBSP}%)" in summary_fr


def test_mnist_in_french_and_unchanged_in_english(url):
    fr = _client(url, "fr").predict(5, "predicted", "strongest", api_name="/mnist_explain_index")
    en = _client(url, None).predict(5, "predicted", "strongest", api_name="/mnist_explain_index")
    steps_fr = [x for x in fr if isinstance(x, str) and x.startswith("### ")]
    steps_en = [x for x in en if isinstance(x, str) and x.startswith("### ")]
    assert len(steps_fr) == len(steps_en) == 8
    assert steps_en[1].startswith("### 2 · ") and "Gradients" in steps_en[1]
    assert "Rétropropagez" in steps_fr[1] and "Backpropagate" not in steps_fr[1]
    assert fr[0] == en[0]  # the prediction is the same
    numbers_fr, numbers_en = dict(fr[2]), dict(en[2])  # the numbers too; only the sentence naming the digit differs
    source_fr, source_en = numbers_fr.pop("source"), numbers_en.pop("source")
    assert numbers_fr == numbers_en and source_en.startswith("held-out") and "mis de côté" in source_fr
    # the logit English writes 14.410 is 14,410 in French
    import re

    logit = re.search(r"y\^c = (-?\d+)\.(\d+)", steps_en[1])
    assert logit and f"y^c = {logit.group(1)},{logit.group(2)}" in steps_fr[1]
    # code stays code: Python's numbers in both
    code_fr = [x for x in fr if isinstance(x, str) and "overlay = (1 - a)" in x][0]
    assert "a = 0.5" in code_fr


def test_a_refusal_in_french(url):
    for lang, key_lang in (("fr", "fr"), (None, "en")):
        with pytest.raises(Exception) as err:
            _client(url, lang).predict(5000, "predicted", "strongest", api_name="/mnist_explain_index")
        text = str(err.value)
        assert "999" in text and "__i18n__" not in text
        label = say("ui.mnist.index_label", key_lang, last=999)
        assert label in text.replace("&#x27;", "'")  # the refusal names the input by its label, in that language
        if key_lang == "en":
            assert "between 0 and 999" in text


def test_the_api_description_has_plain_labels(url):
    info = _client(url, None).view_api(return_format="dict", print_info=False)
    assert "__i18n__" not in str(info) and "translation_metadata" not in str(info)
