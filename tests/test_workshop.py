"""Workshop mode: LAN addresses, QR codes (decoded with zxing-cpp), the page's join panel and a real
`python app.py --workshop` that binds all interfaces and answers on the address it prints.

The "printed address answers" check never touches this machine's real network: it makes its own
network namespace joined by a veth pair (10.x.y.1 on this side, .2 inside), and requests the
printed 10.x.y.1 address from inside the namespace.
"""
from __future__ import annotations

import base64
import html as html_mod
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from gradcam_core import workshop
from gradcam_core.present.words import say
from gradcam_core.ui import lang

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from conftest import free_port, stop_process  # noqa: E402


def _decode_qr(img: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(img)]


def _qr_in_html(html: str) -> list[str]:
    """Decode every inline PNG QR code in a piece of the page."""
    found = []
    for b64 in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html):
        found += _decode_qr(Image.open(io.BytesIO(base64.b64decode(b64))))
    return found


# ----------------------------------------------------------------------------- addresses
def test_lan_addresses_keep_only_what_a_phone_can_open_in_order():
    raw = ["127.0.0.1", "169.254.10.3", "10.0.0.5", "0.0.0.0", "192.168.1.20", "10.0.0.5",
           "fe80::1%eth0", "224.0.0.1", "172.16.4.2", "not-an-ip"]
    assert workshop.lan_addresses(raw) == ["10.0.0.5", "192.168.1.20", "172.16.4.2"]
    assert workshop.lan_addresses(["127.0.0.1", "127.0.1.1"]) == []


def test_lan_addresses_discovered_here_exclude_loopback_and_link_local():
    found = workshop.lan_addresses()
    assert all(not ip.startswith(("127.", "169.254.")) for ip in found), found
    assert all(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip) for ip in found), found


@pytest.mark.skipif(shutil.which("ip") is None, reason="no `ip` command to compare with")
def test_discovery_without_psutil_finds_what_ip_addr_lists(monkeypatch):
    """The small fallback (no psutil) sees every interface's IPv4 address that `ip` shows."""
    monkeypatch.setattr(workshop, "_from_psutil", lambda: None)
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    listed = workshop.lan_addresses([line.split()[3].split("/")[0] for line in out.splitlines()])
    found = workshop.lan_addresses()
    assert set(found) <= set(listed)
    by_interface = {}  # the fallback reads one (the primary) address per interface
    for line in out.splitlines():
        by_interface.setdefault(line.split()[1], line.split()[3].split("/")[0])
    assert set(workshop.lan_addresses(list(by_interface.values()))) == set(found)


def test_join_urls_follow_the_listening_host():
    lan = ["10.1.2.3", "127.0.0.1", "192.168.0.9"]
    assert workshop.join_urls("0.0.0.0", 8000, lan) == ["http://10.1.2.3:8000/", "http://192.168.0.9:8000/"]
    assert workshop.join_urls("192.168.0.9", 7860, lan) == ["http://192.168.0.9:7860/"]
    assert workshop.join_urls("127.0.0.1", 7860, lan) == []  # a phone cannot reach loopback
    assert workshop.join_urls("localhost", 7860, lan) == []
    assert workshop.join_urls("laptop.local", 7860, lan) == ["http://laptop.local:7860/"]


def test_the_qr_code_holds_the_share_link_when_there_is_one():
    lan = ["http://10.1.2.3:8000/", "http://192.168.0.9:8000/"]
    assert workshop.choose_join_url(None, lan) == "http://10.1.2.3:8000/"
    assert workshop.choose_join_url("https://abc123.gradio.live", lan) == "https://abc123.gradio.live/"
    assert workshop.choose_join_url(None, []) is None


# ----------------------------------------------------------------------------- QR codes
@pytest.mark.parametrize("url", ["http://10.1.2.3:8000/", "http://192.168.100.200:65535/",
                                 "https://0123456789abcdef.gradio.live/"])
def test_qr_png_decodes_to_the_address(url):
    img = Image.open(io.BytesIO(workshop.qr_png(url)))
    assert _decode_qr(img) == [url]


def test_qr_svg_and_terminal_are_the_same_symbol_as_the_png():
    url = "http://10.1.2.3:8000/"
    svg = workshop.qr_svg(url, scale=8)
    png = Image.open(io.BytesIO(workshop.qr_png(url, scale=8)))
    assert svg.startswith("<svg") and f"<title>{url}</title>" in svg
    m = re.search(r'width="(\d+)" height="(\d+)"', svg)
    assert (int(m.group(1)), int(m.group(2))) == png.size  # same modules, same border, same scale
    side = png.size[0] // 8 - 2 * 4  # modules per side
    rows = workshop.qr_terminal(url).rstrip("\n").split("\n")
    assert len(rows) == -(-(side + 2 * 2) // 2)  # two module rows per text row, 2-module border
    assert all(len(r) == side + 2 * 2 for r in rows)


def test_banner_gives_addresses_a_qr_and_which_sources_work():
    text = workshop.banner(["http://10.1.2.3:8000/", "http://192.168.0.9:8000/"])
    assert "http://10.1.2.3:8000/" in text and "http://192.168.0.9:8000/" in text
    assert say("ui.workshop.banner_qr", target="http://10.1.2.3:8000/") in text and "▄" in text
    assert say("ui.workshop.sources_note") in text  # plain HTTP: which sources work
    shared = workshop.banner([], "https://abc.gradio.live/")
    assert say("ui.workshop.banner_share", share_url="https://abc.gradio.live/") in shared
    assert say("ui.workshop.banner_qr", target="https://abc.gradio.live/") in shared
    assert say("ui.workshop.sources_note") not in shared
    assert say("ui.workshop.banner_no_address") in workshop.banner([])


def test_join_panel_shows_a_qr_of_the_address_and_what_works():
    from gradcam_core.ui import join

    url = "http://10.20.30.1:7861/"
    html = join.panel_html(url)
    assert _qr_in_html(html) == [url]
    assert f"class='join-url'>{url}<" in html
    assert html_mod.escape(say("ui.workshop.sources_note")) in html
    https = join.panel_html("https://abc.gradio.live/")
    assert _qr_in_html(https) == ["https://abc.gradio.live/"] and say("ui.join.https_note") in https
    assert html_mod.escape(say("ui.workshop.sources_note")) not in https
    assert join.panel_html(None).endswith(say("ui.join.no_address"))


def test_join_panel_on_the_built_page(monkeypatch):
    """build_app(join_url=...) puts the panel in the page's config; build_app() has none."""
    import app

    url = "http://10.20.30.1:7861/"
    with_panel = lang.plain(app.build_app(join_url=url).get_config_file())  # (the page's texts as in English)
    htmls = [c["props"].get("value") or "" for c in with_panel["components"] if c["type"] == "html"]
    assert [q for h in htmls for q in _qr_in_html(h)] == [url]
    labels = [c["props"].get("label") for c in with_panel["components"] if c["type"] == "accordion"]
    assert say("ui.join.title") in labels
    plain = lang.plain(app.build_app().get_config_file())
    assert say("ui.join.title") not in [c["props"].get("label") for c in plain["components"]]


# ----------------------------------------------------------------------------- the real thing
def _listening(port: int) -> set[str]:
    """Local IPv4 addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    out = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        ip_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            out.add(".".join(str(b) for b in bytes.fromhex(ip_hex)[::-1]))
    return out


class _Netns:
    """A network namespace joined to this host by a veth pair: host side 10.x.y.1/30, inside .2."""

    def __init__(self):
        tag = f"{random.randrange(16**6):06x}"
        self.name, self.host_if, self.ns_if = f"gcx-{tag}", f"gcxh{tag}", f"gcxn{tag}"
        x, y = random.randrange(100, 250), random.randrange(1, 63) * 4
        self.host_ip, self.ns_ip = f"10.{x}.{y}.1", f"10.{x}.{y}.2"
        self.made = False

    def create(self) -> str | None:
        """None when made, else the reason it could not be."""
        if not sys.platform.startswith("linux") or shutil.which("ip") is None:
            return "no `ip` command (iproute2) on this machine"
        if os.geteuid() != 0:
            return "creating a network namespace needs root"
        steps = [["ip", "netns", "add", self.name],
                 ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                 ["ip", "link", "set", self.ns_if, "netns", self.name],
                 ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                 ["ip", "link", "set", self.host_if, "up"],
                 ["ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if],
                 ["ip", "netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up"],
                 ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"]]
        for i, cmd in enumerate(steps):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if i == 0 and r.returncode == 0:
                self.made = True
            if r.returncode != 0:
                return f"`{' '.join(cmd)}` failed: {r.stderr.strip() or r.returncode}"
        return None

    def get(self, url: str) -> tuple[int | None, str]:
        """HTTP status of ``url`` requested from inside the namespace."""
        code = ("import sys, urllib.request\n"
                "with urllib.request.urlopen(sys.argv[1], timeout=20) as r: print(r.status)")
        r = subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", code, url],
                           capture_output=True, text=True, timeout=60)
        return (int(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip().isdigit() else None,
                r.stderr[-500:])

    def delete(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)  # removes both ends
        if self.made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def test_workshop_launch_binds_all_interfaces_prints_a_reachable_address_and_shows_its_qr():
    ns = _Netns()
    no_ns = ns.create()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in
           {"GRADCAM_HOST", "GRADIO_SERVER_NAME", "GRADCAM_PORT", "GRADIO_SERVER_PORT", "GRADCAM_SHARE"}}
    env.update(GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "app.py", "--workshop", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 240
        status = None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                    status = r.status
                break
            except OSError:
                time.sleep(1)
        log = "".join(lines)
        assert status == 200, f"the app did not answer on loopback:\n{log}"
        # 1. it listens on every interface, not only loopback
        assert _listening(port) == {"0.0.0.0"}, _listening(port)
        # 2. the printed addresses: http://<LAN ip>:<port>/, no loopback, plus the terminal QR code
        printed = re.findall(r"^  (http://[\d.]+:\d+/)", log, flags=re.M)
        assert printed, log
        assert all(u.endswith(f":{port}/") and "//127." not in u and "//169.254." not in u for u in printed)
        assert say("ui.workshop.banner_qr", target=printed[0]) in log and say("ui.workshop.sources_note") in log
        # ... and the facilitator's page (issue 26), opened on this laptop
        assert say("room_page.facilitator_banner", url=f"http://127.0.0.1:{port}/facilitator") in log, log
        # 3. the page's QR code decodes to the (first) printed address
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=20) as r:
            config = lang.plain(json.load(r))  # the page's texts as in English (translation markers resolved)
        qr = [q for c in config["components"] if c["type"] == "html"
              for q in _qr_in_html(c["props"].get("value") or "")]
        assert qr == [printed[0]], (qr, printed)
        # 4. a printed address answers, requested from another host (our own namespace)
        if no_ns is None:
            mine = f"http://{ns.host_ip}:{port}/"
            assert mine in printed, (mine, printed)
            code, err = ns.get(mine)
            assert code == 200, err
        else:
            print(f"SKIPPED the from-another-host request: {no_ns}")
    finally:
        stop_process(proc)
        ns.delete()
    if no_ns is not None:
        pytest.skip(f"bind, loopback and QR checked; the request from another host was skipped: {no_ns}")


def test_join_panel_follows_the_url_on_each_page_load():
    """With a function, the panel is drawn again on page load: a share link that appears after
    launch replaces the LAN address in the QR code (app.main sets it when --share succeeds)."""
    import gradio as gr

    from gradcam_core.ui import join

    holder = {"url": "http://10.20.30.1:7861/"}
    with gr.Blocks() as demo:
        panel = join.build(lambda: holder["url"], demo)
    assert _qr_in_html(panel.value) == ["http://10.20.30.1:7861/"]
    loads = [f for f in demo.fns.values() if [o._id for o in f.outputs] == [panel._id]]
    assert len(loads) == 1 and loads[0].api_visibility == "private"
    holder["url"] = workshop.choose_join_url("https://abc123.gradio.live", ["http://10.20.30.1:7861/"])
    assert _qr_in_html(loads[0].fn()) == ["https://abc123.gradio.live/"]
