"""Shared fixtures: one launched app per test session, driven through gradio_client."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)

# the rooms' store of this test session (the launched app, the hostile-values test opening rooms):
# a fresh folder, never the real default one, whose rooms would count toward GRADCAM_MAX_ROOMS for hours
if not os.environ.get("GRADCAM_ROOMS_URL") and not os.environ.get("GRADCAM_ROOMS_DIR"):
    os.environ["GRADCAM_ROOMS_DIR"] = tempfile.mkdtemp(prefix="gradcam-test-rooms-")


# one way to find a port and to stop a server, shared with the benchmarks: bench/ is a package of the
# repository (pytest.ini puts its root on the path), so no path is patched here
from bench._server import free_port  # noqa: E402
from bench._server import stop_server as stop_process  # noqa: E402,F401
from bench._server import wait_listening  # noqa: E402,F401
from bench._server import free_port_in, start_server  # noqa: E402


#: The session's one ``python app.py`` of :func:`app_server`: {"proc": ..., "url": ...} once started.
_SHARED_APP: dict = {}


def app_server(lo: int, hi: int):
    """A module fixture's body (``yield from app_server(lo, hi)``): the URL of ``python app.py`` as a
    user starts it, once it listens. One app serves every module that asks, for the whole session (a
    start is ~8 s of one core's CPU, and the modules only visit pages): the first module starts it on
    a free port of its ``lo``–``hi`` (each test module keeps to a range of its own, so runs side by
    side do not take each other's ports); it is started again if it has died, and stopped when the
    session ends (:func:`pytest_sessionfinish`)."""
    proc = _SHARED_APP.get("proc")
    if proc is None or proc.poll() is not None:
        port = free_port_in(lo, hi)
        proc, _ = start_server(port)
        _SHARED_APP.update(proc=proc, url=f"http://127.0.0.1:{port}/")
    yield _SHARED_APP["url"]


def pytest_sessionfinish(session, exitstatus):
    """Stop :func:`app_server`'s app."""
    proc = _SHARED_APP.pop("proc", None)
    if proc is not None:
        stop_process(proc)


def launch_blocks(demo, **kw):
    """Launch a gr.Blocks on a free local port (non-blocking); returns its URL."""
    from app import PAGE_CSS
    from gradcam_core.ui.common import THEME
    from gradcam_core.ui.serving import app_kwargs

    demo.queue(default_concurrency_limit=2)
    port = free_port()
    kw.setdefault("app_kwargs", app_kwargs())
    kw.setdefault("theme", THEME)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=PAGE_CSS,
                max_file_size="10mb", show_error=False, **kw)
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def app_client():
    """The whole app (all tabs), launched once for the session."""
    from gradio_client import Client

    import app

    demo = app.build_app()
    url = launch_blocks(demo)
    try:
        # ssl_verify=False: plain http on 127.0.0.1 has no TLS, and otherwise gradio_client builds a
        # certificate-verifying SSL context (re-reading the CA bundle, ~55 ms of CPU) on every call.
        yield Client(url, verbose=False, ssl_verify=False)
    finally:
        demo.close()


#: The output of ``browser_app`` (a test reads it while the app runs).
BROWSER_SERVER_LOG = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser-test-server.log"


@pytest.fixture(scope="session")
def browser_app():
    """``python app.py`` as a user starts it, for the real-browser modules that take tests/test_browser.py's
    ``server`` (test_browser, test_a11y, test_cell_browser, test_crop_browser): started once for the
    session, not once per module (a start is ~8 s of one core's CPU). No time limit on Score-CAM:
    test_browser's leaving-phone test needs a job that would run for minutes. Its output goes to
    :data:`BROWSER_SERVER_LOG`, a file, not a pipe."""
    import subprocess
    import sys

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", GRADCAM_SCORE_CAM_LIMIT="0")
    BROWSER_SERVER_LOG.parent.mkdir(exist_ok=True)
    with open(BROWSER_SERVER_LOG, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=BROWSER_SERVER_LOG.parents[1],
                                env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_listening(proc, port, BROWSER_SERVER_LOG)
            yield f"http://127.0.0.1:{port}/"
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module: on 2 shared cores, two threads fighting cost
    several times more than one (and LeNet's ops are too small to split)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: Debian's chromium (playwright downloads nothing); the real-browser tests share one per module.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def weights_isolated(tmp_path, monkeypatch):
    """An empty weights folder and torch hub cache, and no download setting from the environment."""
    from gradcam_core.models import weights as W

    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(wdir))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(W.ALLOW_DOWNLOAD_ENV, raising=False)
    return wdir


@pytest.fixture
def fetch_isolated(weights_isolated, monkeypatch):
    """:func:`weights_isolated`, and no fetch state or cached probe answers before or after (a fetch
    thread still running is waited for)."""
    from gradcam_core.models import fetch
    from gradcam_core.models import weights as W

    monkeypatch.delenv(fetch.WEIGHTS_URL_ENV, raising=False)
    fetch.reset()
    W._probe_cache.clear()
    yield weights_isolated
    for st in fetch.states().values():
        if st.thread is not None:
            st.thread.join(60)
    fetch.reset()
    W._probe_cache.clear()


# --------------------------------------------------------------------------- markers
#: Modules whose tests start a server of their own (a launched app, HAProxy replicas, a weights
#: source) or a real browser; their tests are marked ``app`` / ``browser``, never ``fast``. A module
#: named ``test_*_browser`` is a browser module and ``test_*_app`` / ``test_*_replicas`` an app
#: module by its name alone.
_BROWSER_MODULES = {"test_browser", "test_cell_browser", "test_a11y"}
_APP_MODULES = {"test_launch", "test_replicas", "test_serving", "test_concurrency", "test_workshop", "test_fetch", "test_transformer_fetch", "test_package",
                "test_mcp"}


def pytest_collection_modifyitems(config, items):
    """Every test gets one of three markers, so a quick run is ``pytest -m fast`` (no server, no
    browser) and ``pytest -m "not browser"`` leaves out the real browser: ``browser`` for the
    Chromium tests, ``app`` for tests that use the launched app (the ``app_client`` fixture) or
    start servers, ``fast`` for the rest."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in _BROWSER_MODULES or module.endswith("_browser") or "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        elif module in _APP_MODULES or module.endswith(("_app", "_replicas")) or "app_client" in fixtures:
            item.add_marker(pytest.mark.app)
        else:
            item.add_marker(pytest.mark.fast)


# --------------------------------------------------------------------------- languages (issue 28)
#: Modules whose tests feed numbers to each wording branch and compare the sentence with the
#: catalogue's ``say(key, **numbers)``: each of their tests runs once per language (``[en]``, ``[fr]``),
#: the whole test inside ``use_lang``. A test that checks English words themselves is marked
#: ``@pytest.mark.english_only`` (it runs in English only).
WORDING_MODULES = {"test_texts", "test_verdicts", "test_alt_text", "test_room_view"}


def pytest_generate_tests(metafunc):
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in WORDING_MODULES and "wording_lang" in metafunc.fixturenames:
        from gradcam_core.present.words import languages

        english_only = metafunc.definition.get_closest_marker("english_only") is not None
        metafunc.parametrize("wording_lang", ["en"] if english_only else languages(), indirect=True)


@pytest.fixture(autouse=True)
def wording_lang(request):
    """The language a test runs in ("en" unless its module is one of WORDING_MODULES)."""
    from gradcam_core.present.words import use_lang

    lang = getattr(request, "param", "en")
    with use_lang(lang):
        yield lang
