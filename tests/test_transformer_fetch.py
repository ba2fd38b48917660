"""Issue 29: the transformers' weights are fetched like ResNet-50's (gradcam_core/models/fetch.py).

A local HTTP server (127.0.0.1, a free port) plays the weights source through GRADCAM_WEIGHTS_URL,
as in test_fetch.py.  The good file is a random-weight Swin-T saved under torchvision's file name;
its hash cannot match the name's, so the expected prefix is patched for that file only.  A damaged
ViT-B/16 file is refused by the real hash check.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from gradcam_core.cam.engine import GradCAM
from gradcam_core.models import fetch
from gradcam_core.models import registry as M
from gradcam_core.models import weights as W
from gradcam_core.present.words import say

SWIN = W.weights_filename(W.candidate_weights("swin_t")[0])  # swin_t-704ceda3.pth
VIT = W.weights_filename(W.candidate_weights("vit_b_16")[0])  # vit_b_16-c867db91.pth


@pytest.fixture
def isolated(fetch_isolated):
    """conftest.fetch_isolated; a model loaded from this test's folder is not kept."""
    yield fetch_isolated
    for key in ("swin_t", "vit_b_16"):
        M.get_model(key)._cache = None


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A folder served over HTTP on 127.0.0.1 as GRADCAM_WEIGHTS_URL (test_fetch's ``Source``); counts
    the GETs per file."""
    from test_fetch import Source

    folder = tmp_path / "served" / "mirror"
    folder.mkdir(parents=True)
    src = Source(tmp_path / "served")
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, src.url)
    yield src.url, folder, src.gets
    src.close()


def _wait(st: fetch.FetchState) -> fetch.FetchState:
    st.thread.join(180)
    assert not st.thread.is_alive()
    return st


def test_swin_is_fetched_on_selection_hash_checked_loaded_and_explained(isolated, source, monkeypatch):
    url, folder, gets = source
    spec = M.get_model("swin_t")
    assert not spec.available  # offline so far: listed with the reason
    served = W.save_random_weights("swin_t", folder, seed=4)
    assert served.name == SWIN
    digest = hashlib.sha256(served.read_bytes()).hexdigest()
    original = fetch.expected_sha256_prefix
    monkeypatch.setattr(fetch, "expected_sha256_prefix", lambda n: digest[:8] if n == SWIN else original(n))

    fetch.on_select("swin_t")  # what picking it on the page does
    st = fetch.state("swin_t")
    assert st is not None and st.url == f"{url}/{SWIN}"
    _wait(st)
    assert st.phase == "done", st.message
    final = isolated / SWIN
    assert Path(st.message) == final and gets == {SWIN: 1}
    size = served.stat().st_size
    assert st.done_bytes == st.total_bytes == size and st.percent == 100
    assert st.progress_text() == say("fetch.percent", title="Swin-T", percent=100, done_mib=size / 2**20,
                                     total_mib=size / 2**20)
    assert fetch.page_note() == "✅ Swin-T weights fetched: Swin-T is ready."
    # available, loaded with the served weights, and explained on its default layer as maps
    assert spec.availability() == (True, f"weights file {final}")
    model = spec.load()
    ref = torch.load(str(served), map_location="cpu", weights_only=True)
    assert torch.equal(model.state_dict()["head.weight"], ref["head.weight"])
    r = GradCAM(model, spec.default_layer, layout=spec.layout_of(spec.default_layer))(torch.rand(1, 3, 224, 224))
    assert r.layout == "channels_last" and r.cam.shape == (1, 7, 7) and r.zero_grad_share < 1.0
    # present: nothing more is fetched; ResNet-50 stays the default only when it is there
    assert fetch.start("swin_t") is st and gets == {SWIN: 1}
    assert M.default_model_key() == "efficientnet_lite0"


def test_a_damaged_vit_file_is_refused_by_its_hash_and_deleted(isolated, source):
    url, folder, gets = source
    (folder / VIT).write_bytes(b"not a checkpoint " * 5000)  # 85 000 bytes
    st = _wait(fetch.start("vit_b_16"))
    assert st.phase == "failed"
    assert st.reason.key == "fetch.bad.mirrored" and st.reason.values["want"] == "c867db91"
    assert st.reason.values["got"] == hashlib.sha256(b"not a checkpoint " * 5000).hexdigest()[:8]
    assert sorted(p.name for p in isolated.iterdir()) == [f".{VIT}.lock"]  # nothing kept
    assert W.find_weights("vit_b_16") is None and not M.get_model("vit_b_16").available
    assert fetch.page_note().startswith("⚠️ ViT-B/16 weights were refused: the file does not match its checksum")
    assert fetch.start("vit_b_16") is st and gets == {VIT: 1}  # not fetched again at once


def test_offline_selection_is_a_reason_not_a_wait(isolated, monkeypatch):
    """No source: picking ConvNeXt-Tiny starts a check that ends offline with the reason, and the
    model stays listed as unavailable with the download command."""
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, "http://127.0.0.1:9/nowhere")  # discard port: refused
    fetch.on_select("convnext_tiny")
    st = _wait(fetch.state("convnext_tiny"))
    assert st.phase == "offline" and st.reason.key == "fetch.bad.unreachable"
    ok, why = M.get_model("convnext_tiny").availability()
    assert not ok and "python -m gradcam_core weights download convnext_tiny" in why
