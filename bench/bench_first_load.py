"""A phone's first page load over a slow shared Wi-Fi: bytes on the wire and time to the first prediction.

    python bench/bench_first_load.py                     # 4 Mbit/s down, 1 Mbit/s up, 100 ms, 3 cold loads
    python bench/bench_first_load.py --down 10 --latency 40 --runs 1
    python bench/bench_first_load.py --url http://127.0.0.1:7860/   # an already running app

Starts ``python app.py`` on a free loopback port (unless --url), opens the page once without
throttling (the server is warm when a workshop's phones join: LeNet loaded, caches filled), then
loads it --runs times in fresh browser contexts (cold browser cache, new Gradio session) in
Debian's chromium at 390×844 with mobile emulation and touch, throttled through the Chrome
DevTools Protocol (``Network.emulateNetworkConditions``).

How bytes are counted: the sum over every network request of the bytes Chromium received
from the socket (headers + body, compressed as sent): ``Network.loadingFinished.encodedDataLength``
for a request finished before the instant measured, otherwise the response headers plus the
``Network.dataReceived.encodedDataLength`` chunks received up to that instant (this is how the
server-sent-event streams of Gradio's queue, which stay open, are counted), plus the payload of
any WebSocket frame received. ``data:`` URLs are not network requests (their bytes already
travelled inside the HTML or an event stream). Upload bytes are reported on their own.

Times are the page's own clock (``performance.now()``, 0 = navigation start), sampled every
20 ms by a script injected before the page's own: "tabs" = at least two ``[role=tab]`` elements
laid out; "first prediction" = a Gradio Label block (``data-testid="label"``) whose label
contains --prediction-label and that shows a percentage (the MNIST tab's prediction on load).
"""
from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import free_port, launch_chromium, phone_context, start_server, stop_server  # noqa: E402

TARGET_BYTES = 1.2e6  # MB here are 10^6 bytes
TARGET_SECONDS = 3.0

MARKS_JS = r"""
(() => {
  const want = %(label)s;
  const marks = {};
  window.__benchMarks = marks;
  const shown = (e) => e.offsetParent !== null && e.getBoundingClientRect().height > 0;
  const check = () => {
    if (marks.tabs === undefined) {
      const tabs = [...document.querySelectorAll('[role=tab]')].filter(shown);
      if (tabs.length >= 2) marks.tabs = performance.now();
    }
    if (marks.prediction === undefined) {
      for (const b of document.querySelectorAll('[data-testid="label"]')) {
        const t = b.textContent || '';
        if (t.includes(want) && /\d\s*%%/.test(t) && shown(b)) {
          marks.prediction = performance.now();
          const v = b.querySelector('[data-testid="label-output-value"]');
          const c = b.querySelector('dd');
          marks.predictionText = ((v ? v.textContent.trim() : '') + (c ? ' (' + c.textContent.trim() + ')' : '')
                                  || t.trim()).slice(0, 40);
          break;
        }
      }
    }
    if (marks.tabs !== undefined && marks.prediction !== undefined) clearInterval(timer);
  };
  const timer = setInterval(check, 20);
})();
"""


class WireLog:
    """Everything Chromium tells DevTools about the page's network traffic."""

    def __init__(self, cdp):
        self.req: dict[str, dict] = {}
        self.chunks: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
        self.finished: dict[str, tuple[float, int]] = {}
        self.ws_frames: list[tuple[float, int]] = []
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketFrameReceived", self._ws)

    def _sent(self, e):
        r = e["request"]
        entry = self.req.setdefault(e["requestId"], {})
        entry.update(url=r["url"], ts=e["timestamp"], type=e.get("type", "Other"),
                     upload=len(r.get("postData", "") or "") if r.get("hasPostData") else 0)

    def _response(self, e):
        r = e["response"]
        entry = self.req.setdefault(e["requestId"], {"url": r["url"], "ts": e["timestamp"]})
        headers = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
        entry.update(type=e.get("type", entry.get("type", "Other")), mime=r.get("mimeType", ""),
                     encoding=headers.get("content-encoding", ""), header_bytes=r.get("encodedDataLength", 0),
                     status=r.get("status"))

    def _data(self, e):
        self.chunks[e["requestId"]].append((e["timestamp"], e.get("dataLength", 0), e.get("encodedDataLength", 0)))

    def _finished(self, e):
        self.finished[e["requestId"]] = (e["timestamp"], e.get("encodedDataLength", 0))

    def _ws(self, e):
        self.ws_frames.append((e["timestamp"], len(e["response"].get("payloadData", ""))))

    def document(self) -> tuple[str, dict] | None:
        docs = [(rid, r) for rid, r in self.req.items() if r.get("type") == "Document"]
        return min(docs, key=lambda d: d[1]["ts"]) if docs else None

    def wire_bytes(self, rid: str, until: float) -> int:
        if rid in self.finished and self.finished[rid][0] <= until:
            return self.finished[rid][1]
        r = self.req.get(rid, {})
        if r.get("ts", until + 1) > until:
            return 0
        return r.get("header_bytes", 0) + sum(enc for ts, _, enc in self.chunks.get(rid, []) if ts <= until)

    def decoded_bytes(self, rid: str) -> int:
        return sum(n for _, n, _ in self.chunks.get(rid, []))

    def totals(self, until: float) -> dict:
        per = {}
        for rid, r in self.req.items():
            if r.get("url", "").startswith("data:"):
                continue
            n = self.wire_bytes(rid, until)
            if n:
                per[rid] = n
        ws = sum(n for ts, n in self.ws_frames if ts <= until)
        up = sum(r.get("upload", 0) for rid, r in self.req.items() if r.get("ts", until + 1) <= until)
        return {"per_request": per, "total": sum(per.values()) + ws, "websocket": ws, "upload": up}


def short_url(url: str, base: str) -> str:
    p = urlsplit(url)
    path = p.path if url.startswith(base.rstrip("/")) else f"{p.netloc}{p.path}"
    q = p.query
    for key in ("session_hash=",):
        if key in q:
            q = q.split(key)[0] + key + "…"
    s = path + (f"?{q}" if q else "")
    return s if len(s) <= 70 else s[:67] + "…"


def one_load(browser, url: str, args, throttle: bool, label: str) -> dict:
    ctx = phone_context(browser)
    try:
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        if throttle:
            cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": args.latency,
                "downloadThroughput": args.down * 1e6 / 8, "uploadThroughput": args.up * 1e6 / 8})
        log = WireLog(cdp)
        import json
        page.add_init_script(MARKS_JS % {"label": json.dumps(label)})
        page.goto(url, wait_until="commit", timeout=args.timeout * 1000)
        page.wait_for_function("() => window.__benchMarks && window.__benchMarks.prediction !== undefined "
                               "&& window.__benchMarks.tabs !== undefined",
                               timeout=args.timeout * 1000, polling=100)
        marks = page.evaluate("() => window.__benchMarks")
        # what else arrives once the prediction is on screen (the rest of the page-load events)
        page.wait_for_timeout(args.settle * 1000)
        doc = log.document()
        if doc is None:
            raise RuntimeError("no Document request seen")
        doc_id, doc_req = doc
        t0 = doc_req["ts"]  # CDP monotonic clock; the page's performance.now() starts a few ms earlier
        at_pred = log.totals(t0 + marks["prediction"] / 1000)
        at_end = log.totals(float("inf"))
        return {"marks": marks, "at_pred": at_pred, "at_end": at_end, "log": log, "doc_id": doc_id,
                "doc": doc_req, "html_decoded": log.decoded_bytes(doc_id),
                "html_wire": log.wire_bytes(doc_id, float("inf"))}
    finally:
        ctx.close()


def html_over_plain_http(url: str) -> tuple[int, int, str]:
    """The page fetched without a browser, asking for compression: (decoded, sent, encoding)."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", "User-Agent": "bench"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        enc = r.headers.get("Content-Encoding", "") or ""
    decoded = gzip.decompress(body) if enc == "gzip" else body
    return len(decoded), len(body), enc or "none"


def mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def report(runs: list[dict], url: str, args, plain: tuple[int, int, str]) -> None:
    tabs = [r["marks"]["tabs"] / 1000 for r in runs]
    pred = [r["marks"]["prediction"] / 1000 for r in runs]
    b_pred = [r["at_pred"]["total"] for r in runs]
    b_end = [r["at_end"]["total"] for r in runs]
    med = statistics.median
    print(f"# first load on a phone · {args.down:g} Mbit/s down, {args.up:g} Mbit/s up, {args.latency:g} ms latency · "
          f"390×844 mobile emulation · {platform.machine()} · {os.cpu_count()} cores · {time.strftime('%Y-%m-%d')} · "
          f"median of {len(runs)} cold loads\n")
    print("| run | tabs visible (s) | first prediction (s) | bytes before the first prediction (MB) | "
          f"bytes after {args.settle:g} s more (MB) | upload before the prediction (kB) | prediction shown |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for i, r in enumerate(runs, 1):
        print(f"| {i} | {tabs[i - 1]:.2f} | {pred[i - 1]:.2f} | {mb(b_pred[i - 1])} | {mb(b_end[i - 1])} | "
              f"{r['at_pred']['upload'] / 1e3:.1f} | {r['marks'].get('predictionText', '')} |")
    print()
    last = sorted(runs, key=lambda r: r["at_pred"]["total"])[(len(runs) - 1) // 2]  # the median run by bytes
    doc = last["doc"]
    print(f"Page HTML: {mb(last['html_decoded'])} MB uncompressed, {mb(last['html_wire'])} MB on the wire "
          f"(Content-Encoding: {doc.get('encoding') or 'none'}); fetched with `Accept-Encoding: gzip` outside the "
          f"browser: {mb(plain[0])} MB → {mb(plain[1])} MB ({plain[2]}).\n")
    # breakdown by type and the largest requests, for the median run, up to the prediction
    log, per = last["log"], last["at_pred"]["per_request"]
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rid, n in per.items():
        t = log.req[rid].get("type", "Other")
        by_type[t][0] += n
        by_type[t][1] += 1
    if last["at_pred"]["websocket"]:
        by_type["WebSocket frames"] = [last["at_pred"]["websocket"], len(log.ws_frames)]
    total = last["at_pred"]["total"] or 1
    print("Bytes before the first prediction, by resource type (median run):\n")
    print("| type | requests | MB | share |\n|---|---:|---:|---:|")
    for t, (n, k) in sorted(by_type.items(), key=lambda kv: -kv[1][0]):
        print(f"| {t} | {k} | {mb(n)} | {100 * n / total:.0f} % |")
    print("\nLargest requests before the first prediction (median run):\n")
    print("| request | type | encoding | MB on the wire |\n|---|---|---|---:|")
    for rid, n in sorted(per.items(), key=lambda kv: -kv[1])[:args.top]:
        r = log.req[rid]
        print(f"| `{short_url(r['url'], url)}` | {r.get('type', '')} | {r.get('encoding') or 'none'} | {mb(n)} |")
    ok_b, ok_t = med(b_pred) <= TARGET_BYTES, med(pred) <= TARGET_SECONDS
    print("\n| target | measured (median) | result |\n|---|---:|---|")
    print(f"| ≤ {TARGET_BYTES / 1e6:g} MB on the wire before the first prediction | {mb(med(b_pred))} MB | "
          f"{'pass' if ok_b else 'FAIL'} |")
    print(f"| first prediction within {TARGET_SECONDS:g} s | {med(pred):.2f} s | {'pass' if ok_t else 'FAIL'} |")
    print(f"| (tabs visible, for reference) | {med(tabs):.2f} s | |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--down", type=float, default=4.0, help="download, Mbit/s")
    ap.add_argument("--up", type=float, default=1.0, help="upload, Mbit/s")
    ap.add_argument("--latency", type=float, default=100.0, help="added round-trip latency, ms")
    ap.add_argument("--runs", type=int, default=3, help="cold loads measured (median reported)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to keep counting after the prediction")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds allowed for one load")
    ap.add_argument("--prediction-label", default="Prediction", help="text in the label of the first gr.Label")
    ap.add_argument("--top", type=int, default=10, help="largest requests listed")
    ap.add_argument("--url", help="measure an app already running here instead of starting one")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    proc = None
    url = args.url
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        proc, _ = start_server(port)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                one_load(browser, url, args, throttle=False, label=args.prediction_label)  # warm the server
                runs = [one_load(browser, url, args, throttle=True, label=args.prediction_label)
                        for _ in range(args.runs)]
            finally:
                browser.close()
        plain = html_over_plain_http(url)
    finally:
        if proc is not None:
            stop_server(proc)
    report(runs, url, args, plain)


if __name__ == "__main__":
    main()
