"""The MNIST page's own answer, in process (issue 27, BENCHMARKS §17 "MNIST tab"): CPU per answer
of the event function the server calls for a tap on "Explain" (and Gradio's ``Blocks.postprocess_data``
on its value), and the bytes of that answer, for the checkout given (run it on two checkouts, A B A B).

    python bench/bench_mnist_page.py [--n 40] [--repo PATH] [--served]

``--served``: the same page answer through the launched app (``app.py`` on a port in 7900-7949),
called as the page calls it (the queue's HTTP protocol with the event's ``fn_index``: gradio_client
refuses private events), server process CPU time over N sequential answers, and the floor (bench_cost's
bare app) in the same run. ``--follow-ups``: each answer also followed by the requests the page makes because
of it (bench_page_served.Page: the change events of the gr.States the answer changed).

Before issue 27 the page's tap ran the public ``/mnist_explain_index``; since, it runs the private
``mnist_page_index`` (never with the steps), ``mnist_open_steps`` when the steps are opened, and
``mnist_draw_open_steps`` after each answer while they are open (the same function). gradio_client cannot call private events, so this is in process.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

SETTINGS = ("predicted", "strongest", "relu2", "jet", "receptive field")


def _port(lo: int = 7900, hi: int = 7949) -> int:
    from bench._server import free_port_in

    return free_port_in(lo, hi)

def _page_call(http, url: str, fn_index: int, data: list, session: str) -> dict:
    """One event as the page sends it: join the queue, read the event's stream to its end."""
    r = http.post(url + "gradio_api/queue/join", json={"data": data, "event_data": None, "fn_index": fn_index,
                                                       "trigger_id": None, "session_hash": session})
    r.raise_for_status()
    with http.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    if not msg.get("success", False):
                        raise RuntimeError(str(msg)[:300])
                    return msg
    raise RuntimeError("the stream ended before the answer")


def served(repo: str, n: int, follow_ups: bool = False) -> dict:
    """The page's answer through the launched app (see the module's text), and the floor."""
    import subprocess
    import uuid

    import bench_cost
    import httpx

    bench_cost.port_in_range = lambda lo=7900, hi=7949: _port(lo, hi)  # this bench's ports
    floor = bench_cost.measure_floor(n)["cpu_ms"]
    port = _port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, GRADIO_ANALYTICS_ENABLED="False"))
    try:
        with httpx.Client(timeout=120) as http:
            for _ in range(600):
                try:
                    config = http.get(url + "config").json()
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    time.sleep(0.5)
            deps = {d.get("api_name"): d["id"] for d in config["dependencies"]}
            lazy = "mnist_page_index" in deps
            fn_index = deps["mnist_page_index" if lazy else "mnist_explain_index"]
            session = uuid.uuid4().hex[:11]
            row = {"follow_ups": 0}
            page = None
            if follow_ups:  # the page's requests caused by the answer: the changed gr.States' change events
                from bench_page_served import Page

                page = Page(http, url)
                page.session = session
            for i in range(3 + n):
                data = [100 + i, *SETTINGS] + ([None] if lazy else [])
                if i == 3:
                    c0, t0 = bench_cost.cpu_of(proc.pid), time.perf_counter()
                    row["follow_ups"] = 0
                msg = _page_call(http, url, fn_index, data, session)
                row["json_kb"] = len(json.dumps(msg["output"])) / 1000
                for sid in (msg["output"].get("changed_state_ids") or []) if page is not None else []:
                    for dep in page.python_deps(sid, "change"):
                        page.call(dep, {}, trigger=sid)
                        row["follow_ups"] += 1
            row["follow_ups"] /= n
            row["cpu_ms"] = (bench_cost.cpu_of(proc.pid) - c0) / n * 1000
            row["wall_ms"] = (time.perf_counter() - t0) / n * 1000
            row["floor_ms"] = floor
            row["x_floor"] = row["cpu_ms"] / floor
            row["event"] = "mnist_page_index" if lazy else "mnist_explain_index"
            return row
    finally:
        bench_cost.stop_server(proc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="answers per row (after 3 to warm up)")
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="the checkout to measure")
    ap.add_argument("--served", action="store_true", help="through the launched app (see above)")
    ap.add_argument("--follow-ups", action="store_true",
                    help="with --served: also make the requests the page makes because of each answer (the change "
                         "events of the gr.States it changed, e.g. the images' text alternatives before issue 27's alt box)")
    args = ap.parse_args(argv)
    sys.path.insert(0, args.repo)
    os.chdir(args.repo)
    sys.path.insert(0, str(Path(args.repo) / "bench"))
    if args.served:
        print(json.dumps(served(args.repo, args.n, args.follow_ups), indent=1))
        return 0
    import bench_cost
    from gradio.state_holder import SessionState

    demo = bench_cost.build_app_in_process()
    names = {f.api_name: f for f in demo.fns.values()}
    lazy = "mnist_page_index" in names
    rows = {"page answer (tap on Explain)": ("mnist_page_index", True) if lazy else ("mnist_explain_index", None)}
    if lazy:
        rows["opening the steps (or drawing them after an answer while open)"] = ("mnist_open_steps", None)
    rows["API /mnist_explain_index"] = ("mnist_explain_index", None)
    out = {"checkout": args.repo, "lazy": lazy}
    for row, (name, steps_open) in rows.items():
        dep = names[name]
        session = SessionState(demo)
        kept = None
        handler, post, sizes = [], [], []
        for i in range(3 + args.n):
            index = 100 + i
            if name == "mnist_open_steps":
                kept = names["mnist_page_index"].fn(index, *SETTINGS, None)
                kept = next(v for c, v in kept.items() if c is names["mnist_page_index"].outputs[-1])
                call = (kept,)
            elif steps_open is None:
                call = (index, *SETTINGS)
            else:
                call = (index, *SETTINGS, kept)
            c = time.process_time()
            value = dep.fn(*call)
            h = time.process_time() - c
            if steps_open is not None:
                kept = next(v for comp, v in value.items() if comp is dep.outputs[-1])
            c = time.process_time()
            data = asyncio.run(demo.postprocess_data(dep, value, session))
            p = time.process_time() - c
            if i >= 3:
                handler.append(h)
                post.append(p)
                sizes.append(len(json.dumps(data, default=str)))
        n = len(handler)
        out[row] = {"handler_ms": sum(handler) / n * 1000, "postprocess_ms": sum(post) / n * 1000,
                    "total_ms": (sum(handler) + sum(post)) / n * 1000, "json_kb": sum(sizes) / n / 1000,
                    "outputs": len(dep.outputs)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
