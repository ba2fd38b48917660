"""Issue 16, part 1: torchvision weights fetched by the app itself (gradcam_core/models/fetch.py).

A local HTTP server (http.server on 127.0.0.1, a free port) plays the weights source through
GRADCAM_WEIGHTS_URL. The good file is a randomly initialised state_dict saved under
torchvision's file name; its hash cannot match the name's, so the expected prefix is patched in
these tests only.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import logging
import socket
import threading
from pathlib import Path

import pytest
import torch

from gradcam_core.models import fetch
from gradcam_core.services import imagenet as svc
from gradcam_core.models import registry as M
from gradcam_core.models import weights as W
from gradcam_core.models import __main__ as models_cli
from gradcam_core.ui import fetch_panel, imagenet_tab

R50 = W.weights_filename(W.candidate_weights("resnet50")[0])  # resnet50-11ad3fa6.pth
R18 = W.weights_filename(W.candidate_weights("resnet18")[0])


@pytest.fixture
def isolated(weights_isolated, monkeypatch):
    """Empty weights folder and hub cache (conftest.weights_isolated), no fetch state, no cached probe answers."""
    wdir = weights_isolated
    monkeypatch.delenv(fetch.WEIGHTS_URL_ENV, raising=False)
    fetch.reset()
    W._probe_cache.clear()
    yield wdir
    for st in fetch.states().values():
        if st.thread is not None:
            st.thread.join(60)
    fetch.reset()
    W._probe_cache.clear()


class Source:
    """A folder served over HTTP on 127.0.0.1; counts the GET requests per file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.gets: dict[str, int] = {}
        gets = self.gets

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                gets[name] = gets.get(name, 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source(tmp_path, monkeypatch):
    folder = tmp_path / "served" / "mirror"
    folder.mkdir(parents=True)
    src = Source(tmp_path / "served")
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, src.url + "/")  # a trailing slash is fine
    yield src, folder
    src.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _accept_hash_of(monkeypatch, path: Path) -> None:
    """Test only: the random file's own hash becomes the one its torchvision name stands for."""
    digest, name, original = _sha256(path), path.name, fetch.expected_sha256_prefix
    monkeypatch.setattr(fetch, "expected_sha256_prefix", lambda n: digest[:8] if n == name else original(n))


def _wait(st: fetch.FetchState) -> fetch.FetchState:
    st.thread.join(120)
    assert not st.thread.is_alive()
    return st


def test_weights_url_replaces_torchvision_host(monkeypatch):
    w = W.candidate_weights("resnet50")[0]
    monkeypatch.delenv(fetch.WEIGHTS_URL_ENV, raising=False)
    assert fetch.source_url(w) == w.url == f"https://download.pytorch.org/models/{R50}"
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, "http://10.0.0.5:8000/weights/")
    assert fetch.source_url(w) == f"http://10.0.0.5:8000/weights/{R50}"
    assert fetch.expected_sha256_prefix(R50) == "11ad3fa6" and fetch.expected_sha256_prefix("x.pth") is None
    assert fetch.AUTO_KEYS == ("resnet50",)


def test_damaged_file_is_refused_deleted_and_explained(isolated, source):
    src, folder = source
    (folder / R50).write_bytes(b"not a checkpoint, just bytes " * 4000)  # 116 000 bytes
    st = fetch.start("resnet50")
    assert st.url == f"{src.url}/{R50}"
    _wait(st)
    assert st.phase == "failed"
    assert "the file does not match its checksum" in st.message and "11ad3fa6" in st.message
    assert st.done_bytes == st.total_bytes == 116_000
    # deleted: no weights file, no partial file left
    assert sorted(p.name for p in isolated.iterdir()) == [f".{R50}.lock"]
    assert W.find_weights("resnet50") is None
    # the reason in /imagenet_models, on the page, and when someone picks the model
    models = {m["key"]: m for m in imagenet_tab.list_models()}
    assert models["resnet50"]["available"] is False
    assert models["resnet50"]["status"].startswith("ResNet-50 weights were refused: the file does not match its checksum")
    assert "does not match its checksum" in svc.unavailable_note()
    assert "does not match its checksum" in fetch.page_note() and fetch.page_note().startswith("⚠️ ResNet-50")
    assert "does not match its checksum" in imagenet_tab._model_note("resnet50")
    # the offline default keeps answering
    assert M.default_model_key() == "efficientnet_lite0"
    assert models["efficientnet_lite0"]["available"] is True
    # a refused file is not fetched again at once (a new selection within RETRY_AFTER)
    assert fetch.start("resnet50") is st and src.gets == {R50: 1}
    assert fetch.busy() is False


def test_good_file_is_fetched_once_loaded_and_becomes_the_default(isolated, source, monkeypatch, caplog):
    src, folder = source
    served = W.save_random_weights("resnet50", folder, seed=3)
    assert served.name == R50
    _accept_hash_of(monkeypatch, served)
    monkeypatch.setitem(imagenet_tab._BUILT_DEFAULT, "key", "efficientnet_lite0")
    caplog.set_level(logging.INFO, logger="gradcam.fetch")

    states = fetch.start_background()  # what app.py does at start
    assert [s.key for s in states] == ["resnet50"]
    st = _wait(states[0])
    assert st.phase == "done", st.message
    assert src.gets == {R50: 1}
    final = isolated / R50
    assert Path(st.message) == final
    assert _sha256(final) == _sha256(served)
    assert sorted(p.name for p in isolated.iterdir()) == [f".{R50}.lock", R50]
    size = served.stat().st_size
    assert st.done_bytes == st.total_bytes == size and st.percent == 100
    # progress in the log, 0 % to 100 % in steps of 10
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Fetching ResNet-50 weights: ")]
    assert lines[0].startswith("Fetching ResNet-50 weights: 0 % (0.0 MiB of ")
    assert lines[-1] == f"Fetching ResNet-50 weights: 100 % ({size / 2**20:.1f} MiB of {size / 2**20:.1f} MiB)"
    assert [int(l.split(": ")[1].split(" %")[0]) // 10 for l in lines] == list(range(11))
    # loaded: the model carries the served (random) weights
    model = M.get_model("resnet50").load()
    ref = torch.load(str(served), map_location="cpu", weights_only=True)
    assert torch.equal(model.state_dict()["fc.weight"], ref["fc.weight"])
    # the default on new page loads
    assert M.default_model_key() == "resnet50"
    out = imagenet_tab.refresh_models("efficientnet_lite0")
    assert out["model"].value == "resnet50" and out["model_note"].startswith("**ResNet-50**:")
    assert out["box"] == "✅ ResNet-50 weights fetched: new pages open on ResNet-50 (reload this one to switch)."
    assert out["timer"].active is False
    # a page whose model someone already chose keeps it
    assert imagenet_tab.refresh_models("vgg16")["model"].value == "vgg16"
    models = {m["key"]: m for m in imagenet_tab.list_models()}
    assert models["resnet50"]["available"] is True and models["resnet50"]["status"] == f"weights file {final}"
    assert fetch.start("resnet50") is st and src.gets == {R50: 1}  # present: nothing more to do


def test_progress_on_the_page_and_one_download_per_file(isolated, source, monkeypatch):
    src, folder = source
    served = W.save_random_weights("resnet18", folder, seed=1)
    _accept_hash_of(monkeypatch, served)
    first_chunk, go_on = threading.Event(), threading.Event()
    seen = []
    real_stream = fetch._stream

    def held_stream(url, part, progress):  # after the first MiB: look at the page, wait for the test
        def hold(done, total):
            progress(done, total)
            if done == fetch.CHUNK and not first_chunk.is_set():
                seen.append((fetch.page_note(), fetch.note("resnet18"), fetch.busy(),
                             fetch_panel.on_load()["timer"].active))
                first_chunk.set()
                assert go_on.wait(60)
        return real_stream(url, part, hold)

    monkeypatch.setattr(fetch, "_stream", held_stream)
    # someone picks ResNet-18: fetched on first selection
    assert fetch_panel.selected("resnet18")["timer"].active is True
    assert first_chunk.wait(60)
    # meanwhile: the same model picked again, and a synchronous download (the CLI's, and
    # GRADCAM_ALLOW_DOWNLOAD=1's on first use) of the same file: both wait for the running one
    st = fetch.state("resnet18")
    assert fetch.start("resnet18") is st
    got = []
    t = threading.Thread(target=lambda: got.append(fetch.download("resnet18", progress=False)))
    t.start()
    go_on.set()
    _wait(st)
    t.join(120)
    assert st.phase == "done", st.message
    assert src.gets == {R18: 1}
    assert got == [isolated / R18] and _sha256(isolated / R18) == _sha256(served)
    size = served.stat().st_size
    pct = 100 * fetch.CHUNK // size
    text = f"Fetching ResNet-18 weights: {pct} % (1.0 MiB of {size / 2**20:.1f} MiB)"
    assert seen == [(f"⏳ {text}. EfficientNet-Lite0 works meanwhile.",
                     f"{text}; use another model meanwhile", True, True)]
    # the last tick stops polling and refreshes the model list
    out = fetch_panel._poller(imagenet_tab._model_note, imagenet_tab.ALL_AVAILABLE)("resnet18")
    assert out["timer"].active is False and ("ResNet-18", "resnet18") in [tuple(c) for c in out["model"].choices]
    assert out["model_note"].startswith("**ResNet-18**:")
    assert out["box"] == "✅ ResNet-18 weights fetched: ResNet-18 is ready."


def test_unreachable_source_does_not_hold_the_start(isolated, monkeypatch):
    # a port that accepts connections and never answers: the probe can only end at its timeout
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}")
    try:
        assert W.PROBE_TIMEOUT == 2.5  # the whole cost of an unreachable source, paid in a thread
        states = fetch.start_background()
        st = states[0]
        # start_background has returned while the probe is still waiting for its answer
        assert st.phase == "checking" and st.thread.is_alive() and st.thread.daemon
        assert fetch.busy() and fetch.page_note().startswith("⏳ Fetching ResNet-50 weights: checking http://127.0.0.1:")
        _wait(st)
    finally:
        silent.close()
    assert st.phase == "offline" and "no answer within 2.5 s" in st.message
    # offline: nothing changes from today
    assert fetch.note("resnet50") == "" and fetch.page_note() == "" and not fetch.busy()
    assert M.default_model_key() == "efficientnet_lite0"
    models = {m["key"]: m for m in imagenet_tab.list_models()}
    assert models["resnet50"]["status"] == "no weights file in weights/ — run `python -m gradcam_core.models download resnet50`"
    assert sorted(p.name for p in isolated.iterdir()) == []


def test_refused_connection_is_offline(isolated, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, f"http://127.0.0.1:{port}")
    st = _wait(fetch.start_background()[0])
    assert st.phase == "offline" and "refused" in st.message.lower()
    assert M.default_model_key() == "efficientnet_lite0"


def test_opt_out_fetches_nothing(isolated, source, monkeypatch):
    src, folder = source
    _accept_hash_of(monkeypatch, W.save_random_weights("resnet18", folder))
    monkeypatch.setenv(W.ALLOW_DOWNLOAD_ENV, "0")
    assert fetch.opted_out()
    assert fetch.start_background() == [] and fetch.start("resnet18") is None
    fetch_panel.selected("resnet18")
    assert fetch.states() == {} and src.gets == {} and W.find_weights("resnet18") is None


def test_cli_download_refuses_a_damaged_file(isolated, source, capsys):
    src, folder = source
    (folder / R18).write_bytes(b"\x00" * 5000)
    assert models_cli.main(["download", "resnet18"]) == 1
    err = capsys.readouterr().err
    assert "error: the file does not match its checksum" in err
    assert W.find_weights("resnet18") is None and src.gets == {R18: 1}


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                    "(tests/run.sh installs it with apt-get)")
def test_the_page_shows_progress_then_opens_on_resnet50(isolated, source, monkeypatch):
    """In a browser: a page open during the fetch shows its progress; a page opened after it
    opens on ResNet-50."""
    from playwright.sync_api import sync_playwright

    import app
    from conftest import launch_blocks

    src, folder = source
    served = W.save_random_weights("resnet50", folder, seed=5)
    _accept_hash_of(monkeypatch, served)
    first_chunk, go_on = threading.Event(), threading.Event()
    real_stream = fetch._stream

    def held_stream(url, part, progress):
        def hold(done, total):
            progress(done, total)
            if done == fetch.CHUNK:
                first_chunk.set()
                assert go_on.wait(180)
        return real_stream(url, part, hold)

    monkeypatch.setattr(fetch, "_stream", held_stream)
    demo = app.build_app()  # built offline-style: EfficientNet-Lite0 is the default
    assert imagenet_tab._BUILT_DEFAULT["key"] == "efficientnet_lite0"
    url = launch_blocks(demo) + "?tab=imagenet"
    try:
        st = fetch.start_background()[0]
        assert first_chunk.wait(60)
        pct = 100 * fetch.CHUNK // served.stat().st_size
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text(f"Fetching ResNet-50 weights: {pct} %").wait_for(timeout=120000)
            assert page.locator("#imagenet-fetch").inner_text().startswith("⏳")
            go_on.set()
            _wait(st)
            assert st.phase == "done", st.message
            # the open page hears it from its timer; a new page opens on ResNet-50
            page.get_by_text("ResNet-50 weights fetched").wait_for(timeout=60000)
            page2 = b.new_page()
            page2.goto(url, wait_until="domcontentloaded")
            page2.wait_for_function("() => [...document.querySelectorAll('input')].some(e => e.value === 'ResNet-50')",
                                    timeout=120000)
            page2.get_by_text("50-layer residual network").first.wait_for(timeout=30000)
            b.close()
    finally:
        go_on.set()
        demo.close()
