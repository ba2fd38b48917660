"""What the server keeps for every browser session after it closes, and where it comes from.

    python bench/diagnose_sessions.py                   # 2 warm-up + 8 measured browser sessions
    python bench/diagnose_sessions.py --sessions 12 --drop-closed

Launches the app in this process (``app.build_app``, queued and launched as ``python app.py``
does) on a free loopback port, runs browser sessions exactly as ``bench_visits.py`` does (open
the page, open the ImageNet tab, upload one photo, wait for the top 5, close), then looks
inside Gradio:

1. ``demo.state_holder.session_data``: one ``SessionState`` per session hash. For each, the
   bytes only that session holds (a deep size that does not count objects shared with the
   app's own components), split into ``state_data`` (the ``gr.State`` values) and
   ``config_values`` (Gradio's per-session copy of every component's config, with the last value
   each event sent to it) and components replaced by ``gr.update``-style returns;
2. other per-session containers of the queue and the app (dicts and lists that grew);
3. ``tracemalloc`` (on from the warm-up, so that what a bounded store drops is counted too):
   Python allocations made during the measured sessions and still alive at the end, grouped by
   the innermost line of this project's code and of Gradio's in their tracebacks (numpy arrays
   are traced; torch tensors and PIL images are not);
3b. the objects the garbage collector tracks, by type, whose number grew;
4. RSS of the process before and after, and (``--drop-closed``) after deleting the closed
   sessions from the state holder and collecting garbage: how much of it is reclaimable.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import os
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, free_port, launch_chromium, rss_mb  # noqa: E402

sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- sizes
def _shared_ids(demo) -> set[int]:
    """Every object reachable from the app's own components and default config: not per session."""
    seen: set[int] = set()
    stack = [b.__dict__ for b in demo.blocks.values()] + [demo.config]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
    return seen


def deep_size(o, shared: set[int], seen: set[int] | None = None) -> int:
    """Bytes held by o and what it references, skipping shared objects and objects already counted."""
    import numpy as np

    seen = set() if seen is None else seen
    total = 0
    stack = [o]
    while stack:
        x = stack.pop()
        if id(x) in seen or id(x) in shared or x is None or isinstance(x, (bool, int, float, type)):
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            total += sys.getsizeof(x) + (x.nbytes if x.base is None else 0)
            continue
        try:
            import torch

            if isinstance(x, torch.Tensor):
                total += x.element_size() * x.nelement() + 100
                continue
        except ImportError:
            pass
        if type(x).__module__.startswith("PIL.") and hasattr(x, "size") and hasattr(x, "getbands"):
            total += x.size[0] * x.size[1] * len(x.getbands()) + 200
            continue
        if callable(x) and not hasattr(x, "__dict__"):
            continue
        total += sys.getsizeof(x)
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)
        elif hasattr(x, "__dict__") and not isinstance(x, type):
            mod = type(x).__module__
            # do not walk into the app, models or the event loop from a component or a value
            if mod.startswith(("gradio.blocks", "torch", "asyncio", "fastapi", "starlette", "threading")):
                continue
            stack.append(vars(x))
        elif hasattr(x, "__slots__"):
            stack.extend(getattr(x, s, None) for s in x.__slots__ if isinstance(s, str))
    return total


def block_name(demo, _id: int, config: dict | None = None) -> str:
    """Type, id, label, and the first api_name that writes to the block."""
    b = demo.blocks.get(_id)
    if b is None:  # not a component of the app: e.g. a gr.Progress or a component built by an update
        props = (config or {}).get("props") or {}
        label = props.get("label") or ""
        return (f"{(config or {}).get('type', '?')}, an id not in demo.blocks (a new one per session)"
                + (f" '{str(label)[:40]}'" if label else ""))
    label = getattr(b, "label", None) or getattr(b, "elem_id", None) or ""
    writers = [fn.api_name for fn in demo.fns.values() if any(o._id == _id for o in fn.outputs) and fn.api_name]
    return (f"{type(b).__name__} #{_id}" + (f" '{str(label)[:40]}'" if label else "")
            + (f" ← {writers[0]}" if writers else ""))


def session_breakdown(demo, sessions: list, shared: set[int]) -> dict:
    """Mean bytes per session, per component, in state_data / config_values / replaced blocks."""
    per: dict[tuple[str, str], int] = defaultdict(int)
    totals = defaultdict(int)
    for s in sessions:
        seen: set[int] = set()
        for k, v in s.state_data.items():
            n = deep_size(v, shared, seen)
            per[("gr.State value", block_name(demo, k))] += n
            totals["state_data (gr.State values)"] += n
        for k, v in s.config_values.items():
            n = deep_size(v, shared, seen)
            per[("config_values", block_name(demo, k, v))] += n
            totals["config_values (per-session component configs + last values)"] += n
        replaced = [k for k, b in s.blocks_config.blocks.items() if demo.blocks.get(k) is not b]
        for k in replaced:
            n = deep_size(vars(s.blocks_config.blocks[k]), shared, seen)
            per[("replaced component", block_name(demo, k))] += n
            totals["components replaced by updates (blocks_config.blocks)"] += n
        n = sys.getsizeof(s.blocks_config.blocks) + sys.getsizeof(s.blocks_config.fns) + sys.getsizeof(s)
        totals["SessionState + its shallow copies of blocks/fns dicts"] += n
    k = max(1, len(sessions))
    return {"per": {key: v / k for key, v in per.items()}, "totals": {key: v / k for key, v in totals.items()}}


def _strings(o):
    """Every str inside nested dicts/lists."""
    stack = [o]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            yield x
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)


def _holders(obj, depth: int) -> list[str]:
    """Chains of referrers of obj (containers, then the objects owning them), up to depth levels."""
    import inspect

    out: list[str] = []
    mine = {id(out)}  # this function's own lists refer to the objects it looks at

    def describe(r) -> str:
        if isinstance(r, dict):
            return f"dict(keys {list(r)[:5]})"
        return type(r).__module__ + "." + type(r).__qualname__

    def walk(o, chain, level):
        found = gc.get_referrers(o)
        mine.add(id(found))
        refs = [r for r in found if not inspect.isframe(r) and id(r) not in mine]
        mine.add(id(refs))
        if not refs or level >= depth:
            out.append(" ← ".join(chain) if level else "nothing but this script's variable: the string is freed")
            return
        for r in refs[:3]:
            if type(r).__name__ in ("generator", "coroutine", "cell"):
                out.append(" ← ".join(chain + [describe(r)]))
                continue
            walk(r, chain + [describe(r)], level + 1)

    walk(obj, ["str"], 0)
    return out or ["nothing: it was freed"]


def containers(obj, prefix: str) -> dict[str, int]:
    """len() of every dict/list/set attribute of obj (to spot per-session growth)."""
    out = {}
    for name, v in list(vars(obj).items()):
        if isinstance(v, (dict, list, set)):
            out[f"{prefix}.{name}"] = len(v)
    return out


def _type_counts() -> dict[str, int]:
    """How many objects of each type the garbage collector tracks (after a collection)."""
    gc.collect()
    counts: dict[str, int] = defaultdict(int)
    for o in gc.get_objects():
        t = type(o)
        counts[f"{t.__module__}.{t.__qualname__}"] += 1
    return counts


def malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


# --------------------------------------------------------------------------- run
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warmup", type=int, default=2, help="browser sessions before measuring")
    ap.add_argument("--sessions", type=int, default=8, help="measured browser sessions")
    ap.add_argument("--photo", default=None,
                    help="an example photo uploaded by every session (default: a new photo each session, "
                         "see bench/_photos.py, as visitors bring their own)")
    ap.add_argument("--frames", type=int, default=30, help="tracemalloc traceback depth")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds after the last session before looking (with a short GRADCAM_SESSION_GRACE: "
                         "longer than it, so that the app has dropped the closed sessions)")
    ap.add_argument("--drop-closed", action="store_true",
                    help="then delete closed sessions from the state holder and report the RSS")
    args = ap.parse_args(argv)

    import torch

    import app as app_module
    from bench_visits import visit

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    demo = app_module.build_app(concurrency=2)
    demo.queue(max_size=64, default_concurrency_limit=2, status_update_rate=1.0)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=app_module.PAGE_CSS,
                max_file_size="10mb", show_error=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    if args.photo:
        photos = [ROOT / "examples" / args.photo] * (args.warmup + args.sessions)
    else:
        import tempfile

        from _photos import new_photos

        photos = new_photos(args.warmup + args.sessions, Path(tempfile.mkdtemp(prefix="diagnose-")), seed=7)
    vargs = argparse.Namespace(tab="ImageNet", photo_label="Your photo", result_label="Top 5", timeout=120.0,
                               click_after=20.0)
    from playwright.sync_api import sync_playwright

    holder = demo.state_holder
    queue = demo._queue
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                # traced from the warm-up on: a result that a bounded store (KEPT, caches) drops during the
                # measured sessions was allocated while traced, so its freeing is counted too
                tracemalloc.start(args.frames)
                for i in range(args.warmup):
                    ok, _, err = visit(browser, url, photos[i], vargs)
                    if not ok:
                        print("warm-up session failed:", err, file=sys.stderr)
                time.sleep(3)
                gc.collect()
                malloc_trim()
                before_ids = set(holder.session_data)
                before_len = {**containers(queue, "queue"), **containers(demo, "demo"), **containers(holder, "state_holder")}
                rss_before = rss_mb(os.getpid())
                types0 = _type_counts()
                snap0 = tracemalloc.take_snapshot()
                ok_n = 0
                for i in range(args.sessions):
                    ok, dt, err = visit(browser, url, photos[args.warmup + i], vargs)
                    ok_n += ok
                    if not ok:
                        print("session failed:", err, file=sys.stderr)
            finally:
                browser.close()
        time.sleep(args.settle)  # heartbeats end; Gradio marks the sessions closed (and the app may drop them)
        gc.collect()
        snap1 = tracemalloc.take_snapshot()
        types1 = _type_counts()
        traced_after = tracemalloc.get_traced_memory()[0]
        malloc_trim()
        rss_after = rss_mb(os.getpid())
        after_len = {**containers(queue, "queue"), **containers(demo, "demo"), **containers(holder, "state_holder")}
        new = [holder.session_data[k] for k in holder.session_data if k not in before_ids]
        n = max(1, args.sessions)

        print(f"# what a closed session keeps · gradio {__import__('gradio').__version__} · "
              f"{args.sessions} measured browser sessions ({ok_n} showed their top 5) after {args.warmup} warm-up\n")
        print(f"Sessions in `demo.state_holder.session_data`: {len(holder.session_data)} "
              f"({sum(s.is_closed for s in holder.session_data.values())} marked closed; "
              f"capacity {holder.capacity}). Closed sessions' gr.State values are deleted "
              f"{new[0].STATE_TTL_WHEN_CLOSED if new else 3600} s after their last write; the SessionState itself "
              f"(config_values, replaced components) only when more than `state_session_capacity` sessions exist.\n")
        print(f"RSS of this process: {rss_before:.0f} MB before → {rss_after:.0f} MB after the measured sessions: "
              f"{(rss_after - rss_before) / n:.2f} MB per session (with tracemalloc on, which adds its own).\n")

        shared = _shared_ids(demo)
        bd = session_breakdown(demo, new, shared)
        print("Mean bytes per closed session, by where Gradio keeps them:\n")
        print("| kept in | kB per session |\n|---|---:|")
        for k, v in sorted(bd["totals"].items(), key=lambda kv: -kv[1]):
            print(f"| {k} | {v / 1e3:.1f} |")
        print(f"| **total** | **{sum(bd['totals'].values()) / 1e3:.1f}** |")
        print("\nLargest items per closed session:\n")
        print("| kept in | component | kB per session |\n|---|---|---:|")
        for (where, name), v in sorted(bd["per"].items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"| {where} | {name} | {v / 1e3:.1f} |")

        more = sorted(((t, types1.get(t, 0) - c0) for t, c0 in types0.items()), key=lambda tc: -tc[1])
        more += [(t, c) for t, c in types1.items() if t not in types0]
        print("\nObjects tracked by the garbage collector whose number grew (per measured session):\n")
        print("| type | more per session |\n|---|---:|")
        for t, d in sorted(more, key=lambda tc: -tc[1])[:args.top]:
            if d > 0:
                print(f"| `{t}` | {d / n:.1f} |")

        grown = {k: (before_len.get(k, 0), v) for k, v in after_len.items() if v != before_len.get(k, 0)}
        print("\nOther containers of the queue, the app and the state holder that changed length "
              "(before → after the measured sessions):\n")
        if grown:
            print("| container | before | after |\n|---|---:|---:|")
            for k, (a, b) in sorted(grown.items()):
                print(f"| `{k}` | {a} | {b} |")
        else:
            print("none")

        stats = snap1.compare_to(snap0, "traceback")
        by_site: dict[tuple[str, str], int] = defaultdict(int)
        for st in stats:
            if st.size_diff <= 0:
                continue
            # the innermost line of this project's code (tracemalloc's frames go from the oldest to the newest)
            ours = next((f"{Path(f.filename).relative_to(ROOT)}:{f.lineno}" for f in reversed(st.traceback)
                         if f.filename.startswith(str(ROOT)) and "/bench/" not in f.filename), "-")
            gr_site = next((f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in reversed(st.traceback)
                            if "site-packages/gradio/" in f.filename), "-")
            by_site[(ours, gr_site)] += st.size_diff
        total = sum(by_site.values())
        print(f"\ntracemalloc: Python allocations made during the measured sessions and alive after them: "
              f"{total / 1e6 / n:.2f} MB per session. Largest, by our line and Gradio's line in the traceback:\n")
        print("| our code | gradio | kB per session |\n|---|---|---:|")
        for (ours, gsite), v in sorted(by_site.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"| `{ours}` | `{gsite}` | {v / 1e3 / n:.1f} |")

        if args.drop_closed:
            closed = [k for k, s in holder.session_data.items() if s.is_closed]
            # the largest string a measured closed session's config holds: who else keeps it once the session is gone?
            probe = max((x for s in new if s.is_closed for x in _strings(s.config_values)), key=len, default=None)
            new.clear()  # this script's own references to the sessions
            for k in closed:
                holder.delete_state(k)
                holder.session_data.pop(k, None)
                holder.time_last_used.pop(k, None)
            gc.collect()
            traced_drop = tracemalloc.get_traced_memory()[0]
            malloc_trim()
            print(f"\nAfter deleting the {len(closed)} closed sessions from the state holder and gc: traced Python "
                  f"memory {(traced_after - traced_drop) / 1e6 / max(1, len(closed)):.2f} MB lower per deleted session; "
                  f"RSS {rss_mb(os.getpid()):.0f} MB after malloc_trim (was {rss_after:.0f} MB).")
            if probe is not None:
                print(f"\nWho still holds the largest string of a deleted session's config ({len(probe) / 1e3:.0f} kB, "
                      f"{probe[:30]!r}…) after the deletion:\n")
                for line in _holders(probe, depth=4):
                    print(f"- {line}")
        tracemalloc.stop()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
