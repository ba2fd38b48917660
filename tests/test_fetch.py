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
from gradcam_core import weights_cli as models_cli
from gradcam_core.present import fetch_text
from gradcam_core.present.words import text_of
from gradcam_core.ui import fetch_panel, imagenet_tab

R50 = W.weights_filename(W.candidate_weights("resnet50")[0])  # resnet50-11ad3fa6.pth
R18 = W.weights_filename(W.candidate_weights("resnet18")[0])


@pytest.fixture
def isolated(fetch_isolated):
    """conftest.fetch_isolated: an empty weights folder, no fetch state, no cached probe answers."""
    return fetch_isolated


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
    assert st.reason.key == "fetch.bad.mirrored" and st.reason.values["want"] == "11ad3fa6"
    _words_agree("resnet50")
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
    _words_agree("resnet50")


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
                _words_agree("resnet18")
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
        _words_agree("resnet50")
        _wait(st)
    finally:
        silent.close()
    assert st.phase == "offline" and "no answer within 2.5 s" in st.message
    # offline: nothing changes from today
    assert fetch.note("resnet50") == "" and fetch.page_note() == "" and not fetch.busy()
    assert M.default_model_key() == "efficientnet_lite0"
    models = {m["key"]: m for m in imagenet_tab.list_models()}
    assert models["resnet50"]["status"] == "no weights file in weights/ — run `python -m gradcam_core weights download resnet50`"
    assert sorted(p.name for p in isolated.iterdir()) == []


def test_refused_connection_is_offline(isolated, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    monkeypatch.setenv(fetch.WEIGHTS_URL_ENV, f"http://127.0.0.1:{port}")
    st = _wait(fetch.start_background()[0])
    assert st.phase == "offline" and "refused" in st.message.lower()
    assert st.reason.key == "fetch.bad.unreachable" and text_of(st.reason) == st.message
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
    with pytest.raises(fetch.ChecksumError) as refused:
        fetch.fetch_file("resnet18")
    assert refused.value.key == "fetch.bad.mirrored" and text_of(refused.value) == str(refused.value)


def _words_agree(key: str) -> None:
    """present.fetch_text (the catalogue's [fetch]) says word for word what models/fetch.py says."""
    assert fetch_text.page_note() == fetch.page_note()
    assert fetch_text.note(key) == fetch.note(key)
    for st in fetch.states().values():
        assert fetch_text.progress_text(st) == st.progress_text()
        if st.phase in ("failed", "offline"):
            assert st.reason is not None and text_of(st.reason) == st.message


@pytest.mark.parametrize("phase, done, total", [
    ("checking", 0, None), ("fetching", 3 * 2**20 + 12345, None), ("fetching", 0, 97_800_000),
    ("fetching", 42 * 2**20, 97_800_000), ("fetching", 97_800_000, 97_800_000),
    ("failed", 0, None), ("offline", 0, None), ("done", 0, None)])
@pytest.mark.parametrize("key", ["resnet50", "resnet18"])  # fetched at start, or on selection
def test_every_fetch_wording_branch_comes_from_the_catalogue(isolated, monkeypatch, phase, done, total, key):
    """Every branch of the progress, the model note and the page note, fed numbers: the catalogue's
    words equal today's sentences, and the numbers are written into them."""
    reason = fetch.ChecksumError("fetch.bad.checksum", url="http://m/x.pth",
                                 got="00ff00ff", want="11ad3fa6", env=fetch.WEIGHTS_URL_ENV, base="", name="x.pth",
                                 folder="weights")
    if phase == "offline":
        reason = fetch.FetchRefused("fetch.bad.unreachable", url="http://m/x.pth", why="timed out")
    failed = phase in ("failed", "offline")
    st = fetch.FetchState(key, phase, url=f"http://m/{key}.pth", done_bytes=done, total_bytes=total,
                          message=text_of(reason) if failed else "", reason=reason if failed else None)
    monkeypatch.setitem(fetch._states, key, st)
    _words_agree(key)
    page = fetch_text.page_note()
    if phase == "fetching" and total:
        assert f"{100 * done // total} % ({done / 2**20:.1f} MiB of {total / 2**20:.1f} MiB)" in page
    elif phase == "fetching":
        assert f"{done / 2**20:.1f} MiB so far" in page
    elif phase == "failed":
        assert page == f"⚠️ {fetch.title(key)} weights were refused: {text_of(reason)}."
        assert "its name says 11ad3fa6…" in page and "copy torchvision's x.pth into weights by hand" in page
    elif phase == "done":
        assert page.startswith(f"✅ {fetch.title(key)} weights fetched: ")
    elif phase == "offline":
        assert page == "" and fetch_text.note(key) == "" and st.message == "http://m/x.pth is not reachable (timed out)"


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """A source that promises 4 000 bytes and sends 1 000, then closes (``/short/…``) or stalls
    (``/stall/…``: the connection stays open and silent until the test ends)."""

    stalled: list = []

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "4000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        if self.path.startswith("/stall/"):
            done = threading.Event()
            self.stalled.append(done)
            done.wait(30)

    def log_message(self, *args):
        pass


@pytest.fixture
def misbehaving():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    for ev in _Misbehaving.stalled:
        ev.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", ["weights.pth", R18])  # without a hash in its name, and with one
def test_a_cut_download_says_how_much_arrived_and_leaves_nothing(tmp_path, misbehaving, name):
    """torch.hub.download_url_to_file does not compare the bytes with Content-Length (with a hash
    in the name, a cut file fails the hash): the adapter around it says what happened."""
    seen = []
    part = tmp_path / ".part"
    with pytest.raises(W.WeightsError, match=r"failed: got 1000 of 4000 bytes$") as cut:
        fetch._stream(f"{misbehaving}/short/{name}", part, lambda done, total: seen.append((done, total)))
    assert cut.value.key == "fetch.bad.short" and cut.value.values["done"] == 1000 and cut.value.values["total"] == 4000
    assert text_of(cut.value) == str(cut.value)
    assert seen[0] == (0, 4000) and seen[-1] == (1000, 4000)
    assert list(tmp_path.iterdir()) == []  # neither torch's temporary file nor the part


def test_a_source_that_stops_sending_is_given_up_after_the_read_timeout(tmp_path, misbehaving, monkeypatch):
    """download_url_to_file's urlopen has no timeout: the adapter gives it READ_TIMEOUT in this thread."""
    monkeypatch.setattr(fetch, "READ_TIMEOUT", 1.0)
    with pytest.raises(W.WeightsError, match="timed out") as silent:
        fetch._stream(f"{misbehaving}/stall/weights.pth", tmp_path / ".part", None)
    assert silent.value.key == "fetch.bad.failed" and text_of(silent.value) == str(silent.value)
    assert list(tmp_path.iterdir()) == []


def test_other_users_of_torch_hub_keep_its_own_behaviour(tmp_path, source):
    """The adapter acts only inside fetch's own download: elsewhere torch.hub's tqdm bar and its
    urlopen (no timeout given) are what they were."""
    import torch.hub

    src, folder = source
    (folder / "plain.bin").write_bytes(b"y" * 3000)
    calls = []
    real_urlopen = fetch._hub_urlopen
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(fetch, "_hub_urlopen", lambda req, *a, **k: calls.append(k) or real_urlopen(req, *a, **k))
    try:
        torch.hub.download_url_to_file(f"{src.url}/plain.bin", str(tmp_path / "plain.bin"), progress=False)
        assert calls == [{}]  # no timeout added
        assert (tmp_path / "plain.bin").read_bytes() == b"y" * 3000
        fetch._stream(f"{src.url}/plain.bin", tmp_path / "again.bin", None)
        assert calls[-1] == {"timeout": fetch.READ_TIMEOUT}
    finally:
        monkeypatch.undo()


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
