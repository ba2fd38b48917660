"""The Shortcuts tab on its own, launched and driven through gradio_client."""
from __future__ import annotations

import pytest

gradio_client = pytest.importorskip("gradio_client")
import gradio as gr  # noqa: E402
from gradio_client import Client  # noqa: E402

from conftest import launch_blocks  # noqa: E402
from gradcam_core import spurious as S  # noqa: E402
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
    for exp in S.EXPERIMENTS:
        expected |= {f"/spurious_{exp}_photo", f"/spurious_steps_{exp}_original", f"/spurious_steps_{exp}_altered"}
    assert expected <= names
    assert all(n.startswith("/spurious_") for n in names)


def test_moving_the_cue_changes_the_shortcut_models_answer(client):
    _, label, _ = S.held_out_digit(7)
    other = (label + 3) % 10
    img, md = client.predict(7, True, other, api_name="/spurious_cue_move")
    view = S.digit_view("x", S.held_out_digit(7)[0], other)
    c, p = view.pred("shortcut")
    assert f"**{c}**" in md.splitlines()[-1].split("|")[3]
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
