"""Workshop mode: phones on a venue's Wi-Fi join the facilitator's laptop by QR code.

No gradio here (the page panel is ``gradcam_core.ui.join``).  What this module does:

* ``lan_addresses()`` — the machine's IPv4 addresses that other devices on the network can
  reach (loopback 127/8 and link-local 169.254/16 left out), from ``psutil.net_if_addrs()`` when
  psutil is installed, otherwise from the kernel's interface list (Linux) or the host name;
* ``join_urls(host, port)`` — the ``http://<ip>:<port>/`` addresses phones should open;
* ``qr_svg`` / ``qr_png`` / ``qr_terminal`` — a QR code of an address (``segno``);
* ``SOURCES_NOTE`` and ``banner()`` — what works on a phone over plain HTTP, and the text the
  terminal prints at start.
"""
from __future__ import annotations

import io
import ipaddress
import socket
import struct
import sys

import segno

from gradcam_core.present.words import lazy, say

__all__ = ["lan_addresses", "join_urls", "choose_join_url", "qr_svg", "qr_png", "qr_terminal",
           "sources_note", "banner", "ALL_INTERFACES"]

ALL_INTERFACES = {"0.0.0.0", "", "::", "*"}

# Browsers expose the camera (getUserMedia) and the clipboard API only to secure contexts:
# HTTPS pages or localhost. A phone opening http://10.x.y.z:7860/ gets neither.
def sources_note() -> str:
    return say("ui.workshop.sources_note")


#: ``SOURCES_NOTE``: worded when read, in the reader's language
__getattr__ = lazy(SOURCES_NOTE=sources_note)


def _usable(ip: str) -> bool:
    """True for an IPv4 address another device can open: not loopback, link-local, unspecified
    or multicast."""
    try:
        a = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    return (a.version == 4 and not (a.is_loopback or a.is_link_local or a.is_unspecified or a.is_multicast))


def _from_psutil() -> list[str] | None:
    try:
        import psutil
    except ImportError:
        return None
    out = []
    for _name, addrs in psutil.net_if_addrs().items():
        out += [a.address for a in addrs if a.family == socket.AF_INET]
    return out


def _from_ioctl() -> list[str] | None:
    """Linux without psutil: each interface's IPv4 address via SIOCGIFADDR (one per interface)."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "if_nameindex"):
        return None
    import fcntl

    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _idx, name in socket.if_nameindex():
            try:
                req = struct.pack("256s", name.encode()[:15])
                res = fcntl.ioctl(s.fileno(), 0x8915, req)  # SIOCGIFADDR
            except OSError:  # no IPv4 address, or down
                continue
            out.append(socket.inet_ntoa(res[20:24]))
    return out


def _from_hostname() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [i[4][0] for i in infos]


def lan_addresses(raw: list[str] | None = None) -> list[str]:
    """IPv4 addresses of this machine that phones on the same network can open, deduplicated
    in the interfaces' order. ``raw`` replaces discovery (for tests)."""
    if raw is None:
        raw = _from_psutil()
        if raw is None:
            raw = _from_ioctl()
        if not raw:
            raw = _from_hostname()
    seen: list[str] = []
    for ip in raw:
        if _usable(ip) and ip not in seen:
            seen.append(ip)
    return seen


def join_urls(host: str, port: int, addresses: list[str] | None = None) -> list[str]:
    """The addresses phones should open for a server listening on ``host:port``.

    All interfaces (0.0.0.0): every LAN address. A specific non-loopback address: that one.
    Loopback only: none (a phone cannot reach it)."""
    if host in ALL_INTERFACES:
        ips = lan_addresses() if addresses is None else lan_addresses(addresses)
    elif _usable(host):
        ips = [host]
    else:
        try:
            ipaddress.ip_address(host)
            ips = []  # loopback, link-local, IPv6: not advertised
        except ValueError:  # a host name: advertise it as given
            ips = [host] if host not in {"localhost"} else []
    return [f"http://{ip}:{int(port)}/" for ip in ips]


def choose_join_url(share_url: str | None, lan_urls: list[str]) -> str | None:
    """What the QR code holds: the share link when there is one, otherwise the first LAN address."""
    if share_url:
        return share_url if share_url.endswith("/") else share_url + "/"
    return lan_urls[0] if lan_urls else None


def _qr(url: str) -> segno.QRCode:
    if not url:
        raise ValueError(say("ui.workshop.no_qr_address"))
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str, scale: int = 8) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (black on white, 4-module border)."""
    buf = io.BytesIO()
    _qr(url).save(buf, kind="svg", scale=scale, border=4, dark="#000", light="#fff", xmldecl=False,
                  svgns=True, title=url)
    return buf.getvalue().decode("utf-8")


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as PNG bytes."""
    buf = io.BytesIO()
    _qr(url).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_terminal(url: str) -> str:
    """The QR code of ``url`` drawn with block characters, for a terminal (half-height rows)."""
    buf = io.StringIO()
    _qr(url).terminal(out=buf, compact=True, border=2)
    return buf.getvalue()


def banner(lan_urls: list[str], share_url: str | None = None, qr: bool = True) -> str:
    """What the terminal shows at start in workshop mode."""
    lines = ["", say("ui.workshop.banner_title")]
    if share_url:
        lines.append(say("ui.workshop.banner_share", share_url=share_url))
    for u in lan_urls:
        lines.append(f"  {u}")
    if not lan_urls and not share_url:
        lines.append(say("ui.workshop.banner_no_address"))
    target = choose_join_url(share_url, lan_urls)
    if qr and target:
        lines += [say("ui.workshop.banner_qr", target=target), qr_terminal(target).rstrip("\n")]
    if not share_url or lan_urls:
        lines.append(sources_note())
    return "\n".join(lines) + "\n"
