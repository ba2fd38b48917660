"""The ImageNet page's own answer, before and after issue 27's lazy drawing, in one run (in process).

    python bench/bench_imagenet_page.py            # N = 20 answers each, A B A B
    python bench/bench_imagenet_page.py --n 10 --json page.json

bench_cost.py calls the public endpoints, whose answer stays full; the page's own events
(``/imagenet_run``, private) are not reachable by gradio_client. Here the page's event function is
taken from the app's event table (as bench_cost does) and called as the server calls it, followed by
Gradio's own ``Blocks.postprocess_data`` on its value; CPU is ``time.process_time`` per answer.

* **before**: the same event with the full answer the page got until now (everything drawn, the
  overlay as an inline PNG): ``imagenet_tab._explain`` forced to ``lazy=False`` and the JPEG step
  turned off, in the same process, alternating with **after** (the event as it is).
* **bytes**: the answer's JSON as sent (postprocessed, images inline) and the files the page then
  fetches at once (the step gallery, open on the page before; closed now). Each fetch costs the
  server 2.3–3 ms more (BENCHMARKS §17), not counted in the CPU column.
* **opening**: each accordion's expand event (``/imagenet_open_steps``, ``_raw``, ``_downloads``) on
  the last answer, and the refresh after an answer with all three open (``/imagenet_open_parts``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_cost import build_app_in_process, event_of, measure_forward, server_threads  # noqa: E402
from _photos import turned_cats  # noqa: E402

SETTINGS = ("efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none", "max", "jet", 0.5)


def _files_of(value, dep) -> tuple[int, int]:
    """(bytes, count) of the files the page fetches at once: the gallery's (the downloads sit in a closed
    accordion either way)."""
    import gradio as gr

    total = count = 0
    for block, v in value.items():
        if isinstance(block, gr.Gallery) and v:
            for item in v:
                total += os.path.getsize(item[0])
                count += 1
    return total, count


def _json_bytes(data) -> int:
    def default(o):
        return o.model_dump() if hasattr(o, "model_dump") else str(o)

    return len(json.dumps(data, default=default))


def run(n: int) -> dict:
    demo = build_app_in_process()
    from gradio.state_holder import SessionState

    from gradcam_core.ui import imagenet_tab as tab

    dep = event_of(demo, "imagenet_run")
    cats = turned_cats(n + 3, Path(tempfile.mkdtemp(prefix="bench-page-")))
    session = SessionState(demo)
    explain, jpeg = tab._explain, tab.view.jpeg_data_url

    def full_explain(*a, lazy=False, **k):
        return explain(*a, lazy=False, **k)

    def as_before(on: bool) -> None:
        tab._explain = full_explain if on else explain
        tab.view.jpeg_data_url = (lambda img, whole=False: img) if on else jpeg

    rows: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    state = {"before": None, "after": None}
    try:
        for i in range(n + 3):
            for kind in (("before", "after") if i % 2 == 0 else ("after", "before")):
                as_before(kind == "before")
                photo = {"path": cats[i], "meta": {"_type": "gradio.FileData"}}
                c = time.process_time()
                value = dep.fn(f"force:{i}", photo, *SETTINGS, state[kind], whole=False)
                handler = time.process_time() - c
                c = time.process_time()
                data = asyncio.run(demo.postprocess_data(dep, value, session))
                post = time.process_time() - c
                state[kind] = value[dep.outputs[tab.EXPLAIN_OUTPUTS.index("state")]]
                if i < 3:
                    continue  # warming up
                files, count = _files_of(value, dep)
                r = rows[kind]
                for k, v in (("handler_ms", handler * 1000), ("postprocess_ms", post * 1000),
                             ("cpu_ms", (handler + post) * 1000), ("json_kb", _json_bytes(data) / 1000),
                             ("files_kb", files / 1000), ("files", count)):
                    r.setdefault(k, []).append(v)
        as_before(False)
        # a new colour map on the page: before, the public full redraw (PNG overlay, everything drawn);
        # after, the page's own event with every accordion closed
        restyles: dict[str, list[float]] = {"before": [], "after": []}
        restyle_kb: dict[str, list[float]] = {"before": [], "after": []}
        full_dep, page_dep = event_of(demo, "imagenet_restyle"), event_of(demo, "imagenet_restyle_page")
        for i in range(n + 3):
            cmap = ("viridis", "jet")[i % 2]
            for kind in (("before", "after") if i % 2 == 0 else ("after", "before")):
                d = full_dep if kind == "before" else page_dep
                c = time.process_time()
                value = d.fn(state["after"], "max", cmap, 0.5, False)
                data = asyncio.run(demo.postprocess_data(d, value, session))
                spent = time.process_time() - c
                if i >= 3:
                    restyles[kind].append(spent * 1000)
                    restyle_kb[kind].append((_json_bytes(data) + _files_of(value, d)[0]) / 1000)
        opening = {}
        look = (state["after"], "max", "jet", 0.5, False)
        for name in ("imagenet_open_steps", "imagenet_open_raw", "imagenet_open_downloads", "imagenet_open_parts"):
            d = event_of(demo, name)
            args = look if name != "imagenet_open_parts" else (look[0], True, True, True, *look[1:])
            spent, sizes = [], []
            for _ in range(max(3, n // 4)):
                c = time.process_time()
                value = d.fn(*args)
                data = asyncio.run(demo.postprocess_data(d, value, session))
                spent.append(time.process_time() - c)
                sizes.append(_json_bytes(data) + _files_of(value, d)[0])
            opening[name] = {"cpu_ms": statistics.median(spent) * 1000, "kb": statistics.median(sizes) / 1000}
    finally:
        as_before(False)
    out = {k: {m: statistics.mean(v) for m, v in r.items()} for k, r in rows.items()}
    out["median_cpu_ms"] = {k: statistics.median(r["cpu_ms"]) for k, r in rows.items()}
    out["opening"] = opening
    out["restyle"] = {k: {"cpu_ms": statistics.mean(v), "kb": statistics.mean(restyle_kb[k])} for k, v in restyles.items()}
    out["forward_2"] = measure_forward(2)
    out["forward_server"] = measure_forward(server_threads())
    out["n"] = n
    out["load"] = os.getloadavg()
    return out


def report(res: dict) -> str:
    b, a = res["before"], res["after"]
    f2, f1 = res["forward_2"], res["forward_server"]
    lines = [f"n = {res['n']} answers each, alternating; load average {res['load'][0]:.1f}. One Lite0 forward in the "
             f"same run: {f2['cpu_min_ms']:.1f} ms CPU with 2 threads (min of 30; median {f2['cpu_ms']:.1f}), "
             f"{f1['cpu_min_ms']:.1f} ms with {f1['threads']} thread(s) as the server runs it (median {f1['cpu_ms']:.1f}).",
             "",
             "| the page's answer | handler | + Gradio postprocess_data | = CPU (mean; median) | JSON | files fetched |",
             "|---|---|---|---|---|---|"]
    for name, r in (("before (full)", b), ("after (lazy)", a)):
        med = res["median_cpu_ms"]["before" if r is b else "after"]
        lines.append(f"| {name} | {r['handler_ms']:.1f} ms | {r['postprocess_ms']:.1f} ms | **{r['cpu_ms']:.1f} ms**; "
                     f"{med:.1f} ms | {r['json_kb']:.0f} KB | {r['files_kb']:.0f} KB ({r['files']:.0f} files) |")
    r = res["restyle"]
    lines.append(f"| a new colour map: before (full redraw) / after (closed parts) | | | **{r['before']['cpu_ms']:.1f} / "
                 f"{r['after']['cpu_ms']:.1f} ms** | {r['before']['kb']:.0f} / {r['after']['kb']:.0f} KB (with files) | |")
    lines.append("")
    lines.append("| opening (on the last answer) | CPU (median) | bytes |")
    lines.append("|---|---|---|")
    for name, o in res["opening"].items():
        lines.append(f"| /{name} | {o['cpu_ms']:.1f} ms | {o['kb']:.0f} KB |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    res = run(args.n)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(report(res))


if __name__ == "__main__":
    main()
