"""The MNIST page's own answer, in process (issue 27, BENCHMARKS §17 "MNIST tab"): CPU per answer
of the event function the server calls for a tap on "Explain" (and Gradio's ``Blocks.postprocess_data``
on its value), and the bytes of that answer, for the checkout given (run it on two checkouts, A B A B).

    python bench/bench_mnist_page.py [--n 40] [--repo PATH]

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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="answers per row (after 3 to warm up)")
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="the checkout to measure")
    args = ap.parse_args(argv)
    sys.path.insert(0, args.repo)
    os.chdir(args.repo)
    sys.path.insert(0, str(Path(args.repo) / "bench"))
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
