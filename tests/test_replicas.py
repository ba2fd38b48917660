"""Issue 16, part 2: `bash deploy/replicas.sh 2 PORT`, two replicas behind HAProxy.

Browsers (Debian's chromium through playwright, as in test_browser.py) each with their own
cookies get right answers, both replicas serve some of them, a link made on one replica opens on
the other, gradio_client works through the balancer, and after one replica is killed new
sessions still get answers. Finally Ctrl-C (SIGINT to the script) stops every process.

HAProxy is Debian's package: tests/run.sh installs it (and so does deploy/replicas.sh).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
from conftest import CHROMIUM  # (the browser fixture is conftest's)
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PHONE = {"width": 390, "height": 844}
COOKIE = "GRADCAM_SRV"
PHOTOS = ["animals/chelsea_cat.jpg", "food/coffee_cup.jpg", "objects_vehicles/motorcycle.jpg", "plants/dahlia.jpg"]
LITE = "efficientnet_lite0"

pytestmark = [
    pytest.mark.skipif(not Path(HAPROXY).exists(), reason="HAProxy is not installed and could not be: "
                       "tests/run.sh (or deploy/replicas.sh) installs Debian's haproxy with apt-get"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                       "(tests/run.sh installs it with apt-get)"),
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def expected():
    """Each photo's top-1 class with EfficientNet-Lite0, computed here in the test process."""
    from gradcam_core.services import imagenet as svc

    out = {}
    for p in PHOTOS:
        expl = svc.explain_source(str(ROOT / "examples" / p), LITE, "_head_act", "Grad-CAM", "predicted", None)
        out[p] = next(iter(expl.label()))
    assert len(set(out.values())) == len(PHOTOS), out  # four different answers: no lucky match
    return out


@pytest.fixture(scope="module")
def balancer():
    run_dir = ROOT / "test-artifacts" / "replicas"  # logs and haproxy.cfg stay for a human to read
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    port = free_port()
    env = dict(os.environ, GRADCAM_REPLICAS_DIR=str(run_dir), GRADIO_ANALYTICS_ENABLED="False",
               GRADCAM_ALLOW_DOWNLOAD="0", GRADCAM_HOST="127.0.0.1")
    env.pop("GRADCAM_LINK_DIR", None)
    out_path = run_dir / "script.out"
    out = open(out_path, "w")
    proc = subprocess.Popen(["bash", "deploy/replicas.sh", "2", str(port)], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 400
    while "Ctrl-C stops them all" not in out_path.read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("deploy/replicas.sh did not come up:\n" + out_path.read_text())
        time.sleep(1)
    text = out_path.read_text()
    pids = {m[0]: int(m[1]) for m in re.findall(r"replica (r\d): pid (\d+)", text)}
    pids["haproxy"] = int(re.search(r"HAProxy: pid (\d+)", text).group(1))
    info = dict(url=f"http://127.0.0.1:{port}/", proc=proc, pids=pids, run_dir=run_dir, text=text)
    yield info
    if proc.poll() is None:  # the last test stops it with Ctrl-C; this is the fallback
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    out.close()



def _phone(browser):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    return ctx, ctx.new_page()


def _replica(ctx) -> str | None:
    return next((c["value"] for c in ctx.cookies() if c["name"] == COOKIE), None)


def _top1(page) -> str:
    return page.evaluate("() => (document.querySelector('#imagenet-label .output-class') || {}).innerText || ''")


def _wait_top1(page, want: str, timeout_ms: int = 180000) -> None:
    page.wait_for_function(
        """(want) => { const e = document.querySelector('#imagenet-label .output-class');
                       return e && e.innerText.trim() === want; }""", arg=want, timeout=timeout_ms)


def _open_imagenet(browser, url: str, cookie: str | None = None):
    ctx, page = _phone(browser)
    if cookie is not None:
        ctx.add_cookies([{"name": COOKIE, "value": cookie, "url": url}])
    problems: list[str] = []
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(f"page error {e}"))
    page.goto(url if "?" in url else url + "?tab=imagenet", wait_until="domcontentloaded")
    try:
        page.locator("#imagenet-photo input[type=file]").wait_for(state="attached", timeout=120000)
    except Exception:
        page.screenshot(path=str(ROOT / "test-artifacts" / "replicas-failed-page.png"))
        raise AssertionError(f"the page did not come up; cookies {ctx.cookies()}; {problems[:20]}")
    return ctx, page


def _upload(page, photo: str) -> None:
    page.locator("#imagenet-photo input[type=file]").set_input_files(str(ROOT / "examples" / photo))


def _client(url):
    from gradio_client import Client

    return Client(url, verbose=False, ssl_verify=False)


def _client_top1(client, photo: str) -> str:
    from gradio_client import handle_file

    from outputs import imagenet_result

    return imagenet_result(client, handle_file(str(ROOT / "examples" / photo)), LITE, "_head_act", "Grad-CAM",
                           "predicted", "none", "max", "jet", 0.5)["label"]["label"]


def test_balancer_config(balancer):
    cfg = (balancer["run_dir"] / "haproxy.cfg").read_text()
    # stickiness by an inserted cookie, never by client address; health checks; failover
    assert "cookie GRADCAM_SRV insert indirect nocache" in cfg and "balance source" not in cfg
    assert "option httpchk GET /gradio_api/app_id" in cfg and cfg.count(" check\n") == 2
    assert "option redispatch" in cfg
    assert sorted(balancer["pids"]) == ["haproxy", "r1", "r2"]
    assert all(_alive(p) for p in balancer["pids"].values())
    # one link store for both replicas
    assert f"links shared in {balancer['run_dir'] / 'links'}" in balancer["text"]


def test_browsers_each_stay_on_their_replica_and_get_right_answers(balancer, browser, expected):
    url = balancer["url"]
    phones = [_open_imagenet(browser, url) for _ in PHOTOS]  # four phones open the page at once
    for (ctx, page), photo in zip(phones, PHOTOS):
        _upload(page, photo)  # upload, queue/join and the SSE stream: all on the phone's replica
    for (ctx, page), photo in zip(phones, PHOTOS):
        _wait_top1(page, expected[photo])
    served = [_replica(ctx) for ctx, _ in phones]
    assert sorted(served) == ["r1", "r1", "r2", "r2"], served  # round robin for new sessions
    # a second request on the same page: same replica, right answer
    ctx, page = phones[0]
    _upload(page, PHOTOS[1])
    _wait_top1(page, expected[PHOTOS[1]])
    assert _replica(ctx) == served[0]
    balancer["phones"] = phones
    balancer["served"] = served


def test_a_link_made_on_one_replica_opens_on_the_other(balancer, browser, expected):
    ctx, page = balancer["phones"][2]  # showing PHOTOS[2], an uploaded photo (kept only when linked)
    made_on = _replica(ctx)
    page.get_by_role("button", name="Copy a link to this result").click()
    page.wait_for_function("""() => [...document.querySelectorAll('textarea, input')]
                                      .some(e => /[?&]photo=up%3A|[?&]photo=up:/.test(e.value))""", timeout=60000)
    link = page.evaluate("""() => [...document.querySelectorAll('textarea, input')].map(e => e.value)
                                  .find(v => /[?&]photo=up/.test(v))""")
    assert link.startswith(balancer["url"]) and "tab=imagenet" in link
    other = {"r1": "r2", "r2": "r1"}[made_on]
    ctx2, page2 = _open_imagenet(browser, link, cookie=other)
    _wait_top1(page2, expected[PHOTOS[2]])
    assert _replica(ctx2) == other
    # the photo is in the one shared link folder
    assert len(list((balancer["run_dir"] / "links").iterdir())) == 1
    ctx2.close()


def test_gradio_client_through_the_balancer(balancer, expected):
    clients = [_client(balancer["url"]) for _ in range(2)]
    assert sorted(c.cookies.get(COOKIE) for c in clients) == ["r1", "r2"]  # it keeps the balancer's cookie
    for c, photo in zip(clients, PHOTOS[:2]):
        assert _client_top1(c, photo) == expected[photo]
        assert _client_top1(c, PHOTOS[3]) == expected[PHOTOS[3]]


def test_new_sessions_work_after_a_replica_dies(balancer, browser, expected):
    pids = balancer["pids"]
    os.kill(pids["r1"], signal.SIGKILL)
    deadline = time.time() + 30
    while _alive(pids["r1"]) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(pids["r1"])
    # right away, before the health checks notice: a new session's first request is redispatched
    log = balancer["run_dir"] / "haproxy.log"
    for _ in range(2):  # round robin would send one of these two to r1
        try:
            with urllib.request.urlopen(balancer["url"] + "?tab=imagenet", timeout=60) as r:
                assert r.status == 200 and f"{COOKIE}=r2;" in r.headers["Set-Cookie"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{e}; HAProxy's log ends with:\n" + "\n".join(log.read_text().splitlines()[-15:]))
    # the health checks take r1 out (2 failed checks, 2 s apart)
    deadline = time.time() + 60
    while "Server replicas/r1 is DOWN" not in log.read_text() and time.time() < deadline:
        time.sleep(0.5)
    assert "Server replicas/r1 is DOWN" in log.read_text()
    fresh = [_open_imagenet(browser, balancer["url"]) for _ in range(2)]
    for (ctx, page), photo in zip(fresh, PHOTOS[:2]):
        _upload(page, photo)
    for (ctx, page), photo in zip(fresh, PHOTOS[:2]):
        _wait_top1(page, expected[photo])
        assert _replica(ctx) == "r2"
    # a phone whose session was on the dead replica gets a working page again after a reload
    i = balancer["served"].index("r1")
    ctx, page = balancer["phones"][i]
    page.reload(wait_until="domcontentloaded")
    page.locator("#imagenet-photo input[type=file]").wait_for(state="attached", timeout=120000)
    _upload(page, PHOTOS[3])
    _wait_top1(page, expected[PHOTOS[3]])
    assert _replica(ctx) == "r2"
    # and gradio_client
    c = _client(balancer["url"])
    assert c.cookies.get(COOKIE) == "r2" and _client_top1(c, PHOTOS[0]) == expected[PHOTOS[0]]
    for ctx, _ in fresh + balancer["phones"]:
        ctx.close()


def test_ctrl_c_stops_them_all(balancer):
    proc = balancer["proc"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    deadline = time.time() + 30
    while any(_alive(p) for p in balancer["pids"].values()) and time.time() < deadline:
        time.sleep(0.2)
    assert {k: _alive(p) for k, p in balancer["pids"].items()} == {"r1": False, "r2": False, "haproxy": False}
