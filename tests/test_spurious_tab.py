"""The Shortcuts tab on its own, launched and driven through gradio_client."""
from __future__ import annotations

import pytest

gradio_client = pytest.importorskip("gradio_client")
import gradio as gr  # noqa: E402
from gradio_client import Client  # noqa: E402

from conftest import launch_blocks  # noqa: E402
from gradcam_core.analysis import photo_cards, shortcut  # noqa: E402
from gradcam_core.present import shortcut_view as sview  # noqa: E402
from gradcam_core.ui import spurious_tab  # noqa: E402
from outputs import png as _png  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """The Shortcuts tab alone, wired as app.py will wire it."""
    with gr.Blocks() as demo:
        with gr.Tabs():
            with gr.Tab("Shortcuts", id="spurious"):
                spurious_tab.build(demo)
    url = launch_blocks(demo)
    try:
        yield Client(url, verbose=False, ssl_verify=False)
    finally:
        demo.close()




def test_every_event_has_a_spurious_api_name(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    expected = {"/spurious_compare", "/spurious_cue_move", "/spurious_cue_toggle", "/spurious_table",
                "/spurious_steps_mnist_clean", "/spurious_steps_mnist_shortcut"}
    for exp in photo_cards.EXPERIMENTS:
        expected |= {f"/spurious_{exp}_photo", f"/spurious_steps_{exp}_original", f"/spurious_steps_{exp}_altered"}
    assert expected <= names
    assert all(n.startswith("/spurious_") for n in names)


def test_moving_the_cue_changes_the_shortcut_models_answer(client):
    _, label, _ = sview.held_out_digit(7)
    other = (label + 3) % 10
    img, md = client.predict(7, True, other, api_name="/spurious_cue_move")
    view = sview.digit_view("x", sview.held_out_digit(7)[0], other)
    c, p = view.pred("shortcut")
    table, note = md.split("\n\n")
    assert f"**{c}**" in table.splitlines()[-1].split("|")[3]
    area = shortcut.cue_region(pos=shortcut.cue_position(other)).mean()
    assert f"covers {100 * area:.0f} % of the picture" in note  # heat on the cue next to the cue's area
    assert f"({100 * p:.0f} %)" in md
    pic = _png(img)
    assert pic.shape[0] > 100 and pic.std() > 10
    _, md_off = client.predict(7, False, other, api_name="/spurious_cue_move")
    assert "| no cue |" in md_off and "heat on cue" not in md_off


def test_bad_input_is_a_readable_error(client):
    with pytest.raises(Exception) as exc:
        client.predict(5000, True, 3, api_name="/spurious_cue_move")
    assert "999" in str(exc.value)
    with pytest.raises(Exception) as exc:
        client.predict("dahlia", "watermark", "x" * 40, api_name="/spurious_text_text")
    assert "24 characters" in str(exc.value)


def test_real_world_stakes_are_on_the_page_with_citations(client):
    md = spurious_tab.STAKES_MD
    for ref in ("Beery, Van Horn and Perona", "*Recognition in Terra Incognita*, ECCV 2018",
                "Zech et al., *PLOS Medicine* 15(11): e1002683, 2018",
                "DeGrave, Janizek and Lee, *Nature Machine Intelligence* 3: 610–619, 2021",
                "doi:10.1038/s42256-021-00338-7", "Reuters (J. Dastin, 10 October 2018)",
                "Geirhos et al.", "*Nature Machine Intelligence* 2:", "doi:10.1038/s42256-020-00257-z"):
        assert ref in md, ref
    # short paragraphs for a phone: five cases, none longer than 80 words
    paragraphs = [p for p in md.strip().split("\n\n")]
    assert len(paragraphs) == 5 and max(len(p.split()) for p in paragraphs) <= 80
    from gradcam_core.ui import lang

    comps = lang.plain(client.config)["components"]  # the page's texts as in English (markers resolved)
    assert any(c.get("props", {}).get("value") == md.strip() for c in comps)
    acc = [c for c in comps if c.get("props", {}).get("label") == "Why it matters: shortcuts found in real systems"]
    assert acc and acc[0]["props"].get("open") is False


def test_step_by_step_fills_its_block_by_name(client):
    from outputs import returns_by_label

    out = returns_by_label(client, "spurious_steps_mnist_shortcut",
                           client.predict(7, True, 3, api_name="/spurious_steps_mnist_shortcut"))
    _, label, _ = sview.held_out_digit(7)
    assert out["Steps heading"].startswith("### Step by step · your version of the digit")
    assert f"**Shortcut LeNet** on held-out digit #7 (true label {label}" in out["Steps heading"]
    assert out["Step 1 text"].startswith("### ") and out["Step 8 code"]
    assert _png(out["Step 8 image"]).std() > 5
