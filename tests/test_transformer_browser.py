"""Issue 29 on a phone (390×844, touch): ViT-B/16 picked in the ImageNet tab, a photo explained in the
words of patch tokens, a token tapped with a finger (its per-dimension breakdown on screen), and the
last block's empty map explained on screen with the measured share.

The app runs with a random-weight ViT-B/16 (tests/test_transformer_app.py's ``save_vit``): its
predictions mean nothing; the words, the grid and the share of zero gradients do not depend on them."""
from __future__ import annotations

import pytest

from conftest import free_port_in, start_server, stop_process
from gradcam_core.models import weights as W
from test_browser import ARTIFACTS, CHROMIUM, ROOT, _no_horizontal_overflow, _open_on_a_phone, _wait_for_image
from test_cell_browser import _tap_image
from test_transformer_app import save_vit

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (tests/run.sh installs it with apt-get)")


@pytest.fixture(scope="module")
def vit_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("vit-browser")
    save_vit(root / "weights")
    port = free_port_in(8050, 8099)
    proc, _ = start_server(port, env={W.WEIGHTS_DIR_ENV: str(root / "weights"), "TORCH_HOME": str(root / "torch"),
                                      W.ALLOW_DOWNLOAD_ENV: "0"})
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_process(proc)


def _text(page, selector: str) -> str:
    return page.evaluate("(s) => { const e = document.querySelector(s); return e ? e.innerText : ''; }", selector)


def _pick(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option).click()


def test_a_vit_token_tapped_and_its_last_block_explained_on_a_phone(vit_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    ctx, page, errors = _open_on_a_phone(browser, vit_server)
    page.get_by_role("tab", name="ImageNet").click()
    _pick(page, "imagenet-model", "ViT-B/16")
    page.wait_for_function("() => /GELU/.test(document.body.innerText)", timeout=60000)  # the model's note
    page.locator("#imagenet-photo input[type=file]").set_input_files(
        str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"))
    page.wait_for_function("() => /patch tokens, the class token left out/.test(document.body.innerText)",
                           timeout=180000)
    _wait_for_image(page, "Where the model found the evidence", timeout_ms=60000)
    # the middle of the 224×224 overlay lies in token (row 7, column 7) of ViT's 14×14 grid
    _tap_image(page, "#imagenet-result img", 7.5 / 14, 7.5 / 14 * 224 / page.locator("#imagenet-result img").first
               .evaluate("e => e.naturalHeight"))
    page.wait_for_function("() => /Cell \\(row 7, column 7\\)/.test(document.querySelector('#imagenet-cell-sum')"
                           "?.innerText || '')", timeout=180000)
    tapped = _text(page, "#imagenet-cell-sum")
    assert "of the 14×14 map" in tapped and "other 758 dimensions" in tapped and "dimension" in tapped
    assert "Each bar is one embedding dimension's term" in page.evaluate("() => document.body.innerText")
    page.screenshot(path=str(ARTIFACTS / "phone-vit-token.png"), full_page=False)

    _pick(page, "imagenet-layer", "block 12 of 12, output · 14×14")
    page.wait_for_function("() => /The map is empty/.test(document.body.innerText)", timeout=180000)
    assert "100.0% of the gradients on the patch tokens" in page.evaluate("() => document.body.innerText")
    _no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "phone-vit-last-block.png"), full_page=False)
    assert not errors, errors
    ctx.close()
