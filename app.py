"""Grad-CAM Explorer: a Gradio app that shows, step by step, where a CNN looks.

    python app.py                  # http://127.0.0.1:7860
    python app.py --share          # also ask Gradio for a public link (needs internet)
    python app.py --workshop       # phones on the venue's Wi-Fi join by QR code (listens on 0.0.0.0)
    python app.py --help           # host, port, upload limit, queue size, concurrency
"""
from __future__ import annotations

import argparse
import logging
import os
import threading

import gradio as gr
import torch

from gradcam_core import workshop
from gradcam_core.models import fetch
from gradcam_core.ui import imagenet_tab, join, mnist_tab, spurious_tab
from gradcam_core.ui import a11y, serving
from gradcam_core.present.method_texts import GRADCAM_OVERVIEW
from gradcam_core.ui.common import CSS, PAGE_ONLY, THEME

TITLE = "Grad-CAM Explorer"
PAGE_CSS = CSS + imagenet_tab.CSS + spurious_tab.CSS


def build_app(concurrency: int = 2, join_url=None) -> gr.Blocks:
    """The whole app as a gr.Blocks (launch it yourself, or run this file). ``join_url`` (an address,
    or a function returning one): show the workshop's "Join on your phone" QR panel for it."""
    with gr.Blocks(title=TITLE, delete_cache=serving.DELETE_CACHE) as demo:
        gr.Markdown(f"# {TITLE}\nWhere does a neural network look when it decides? Grad-CAM, one step at a time.")
        with gr.Accordion("What is Grad-CAM?", open=False):  # closed: on a phone it must not push results down
            gr.Markdown(GRADCAM_OVERVIEW)
        if join_url is not None:
            join.build(join_url, demo)
        # the page's query string (a deep link), read in the browser: without one, no server call
        query = gr.Textbox(serving.NO_LINK, visible=False)
        with gr.Tabs() as tabs:
            with gr.Tab("MNIST · LeNet", id="mnist"):
                mnist_tab.build(demo, concurrency_limit=concurrency, query=query)
            with gr.Tab("ImageNet", id="imagenet"):
                imagenet_tab.build(demo, concurrency_limit=concurrency, query=query)
            with gr.Tab("Shortcuts", id="spurious") as shortcuts:
                spurious_tab.build(demo, concurrency_limit=concurrency, tab=shortcuts, query=query)
        demo.load(None, None, query, js=serving.LINK_QUERY_JS, api_name="read_link", queue=False)
        query.change(_tab_from_link, query, tabs, api_name="select_tab_from_link", queue=False, **PAGE_ONLY)
        # a browser that leaves: its slow job still running stops at its next batch (serving.py)
        demo.unload(serving.mark_closed)
    return demo


def _tab_from_link(query: str | None):
    """A deep link opens on its own tab (?tab=mnist|imagenet|spurious)."""
    tab = serving.LinkRequest(query).query_params.get("tab")
    return gr.Tabs(selected=tab) if tab in {"mnist", "imagenet", "spurious"} else gr.skip()


def _env(name: str, default):
    value = os.environ.get(name)
    if value is None:
        return default
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(value)


def parse_args(argv=None) -> argparse.Namespace:
    """Each option: its flag, else GRADCAM_*, else (host, port) Gradio's GRADIO_SERVER_*, else the default."""
    ap = argparse.ArgumentParser(description="Grad-CAM Explorer web app")
    on_space = os.environ.get("SYSTEM") == "spaces"  # Hugging Face Spaces sets this
    ap.add_argument("--host", default=None,
                    help="address to listen on (default 127.0.0.1; 0.0.0.0 with --workshop or on a Space)")
    ap.add_argument("--port", type=int, default=_env("GRADCAM_PORT", _env("GRADIO_SERVER_PORT", 7860)))
    ap.add_argument("--workshop", action="store_true", default=_env("GRADCAM_WORKSHOP", False),
                    help="phones on this Wi-Fi join: listen on all interfaces, print the LAN address and "
                         "a QR code, show a 'Join on your phone' QR code on the page")
    ap.add_argument("--share", action="store_true", default=_env("GRADCAM_SHARE", False),
                    help="ask Gradio for a public share link (needs internet; falls back to local)")
    ap.add_argument("--max-file-size", default=_env("GRADCAM_MAX_FILE_SIZE", "10mb"), help="upload limit, e.g. 10mb")
    ap.add_argument("--queue-size", type=int, default=_env("GRADCAM_QUEUE_SIZE", 64), help="max waiting requests")
    ap.add_argument("--concurrency", type=int, default=_env("GRADCAM_CONCURRENCY", 2),
                    help="requests run at once per model (≤ cores makes sense)")
    ap.add_argument("--status-every", type=float, default=_env("GRADCAM_STATUS_EVERY", 1.0),
                    help="seconds between queue-position updates to waiting browsers (0: after every "
                         "finished request, Gradio's default, which costs the server a broadcast per answer)")
    ap.add_argument("--threads", type=int, default=_env("GRADCAM_TORCH_THREADS", 0),
                    help="torch intra-op threads per request (0: cores ÷ concurrency)")
    ap.add_argument("--cache-examples", choices=["lazy", "eager", "off"],
                    default=_env("GRADCAM_EXAMPLE_CACHE", "lazy"),
                    help="example photos' results: cached on first use (lazy), computed at start-up "
                         "in the background (eager), or never cached (off)")
    args = ap.parse_args(argv)
    if args.host is None:
        args.host = (os.environ.get("GRADCAM_HOST") or os.environ.get("GRADIO_SERVER_NAME")
                     or ("0.0.0.0" if on_space or args.workshop else "127.0.0.1"))
    return args


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serving.tune_allocator()  # two malloc arenas: memory of closed sessions goes back (issue 23)
    args = parse_args(argv)
    cores = os.cpu_count() or 1
    torch.set_num_threads(args.threads or max(1, cores // max(1, args.concurrency)))
    torch.set_flush_denormal(True)  # tiny activations otherwise slow CPU kernels by up to ~18x
    os.environ["GRADCAM_EXAMPLE_CACHE"] = args.cache_examples
    fetch.start_background()  # ResNet-50's weights, if their source answers (a thread: start never waits)
    if args.cache_examples == "eager":
        from gradcam_core.services.imagenet import warm_example_cache

        threading.Thread(target=warm_example_cache, name="warm-example-cache", daemon=True).start()
    lan = workshop.join_urls(args.host, args.port) if args.workshop else []
    join_url = {"url": workshop.choose_join_url(None, lan)}  # becomes the share link if there is one
    if args.workshop:
        print(workshop.banner(lan), flush=True)
    demo = build_app(concurrency=args.concurrency, join_url=(lambda: join_url["url"]) if args.workshop else None)
    serving.install_memory_probe()  # debug only: does nothing unless GRADCAM_MEMORY_PROBE is set
    demo.queue(max_size=args.queue_size, default_concurrency_limit=args.concurrency,
               status_update_rate=args.status_every or "auto")
    launch = dict(server_name=args.host, server_port=args.port, max_file_size=args.max_file_size, css=PAGE_CSS,
                  show_error=False, app_kwargs=serving.app_kwargs(), theme=THEME,
                  head=serving.preload_head() + a11y.head())  # a11y: names, keyboard, focus
    if not args.share:
        demo.launch(**launch)
        return
    try:
        demo.launch(share=args.share, prevent_thread_lock=True, **launch)
    except Exception as exc:  # the tunnel failed in a way Gradio did not absorb: serve locally
        logging.warning("No public share link (%s: %s); serving locally only.", type(exc).__name__, exc)
        demo.launch(prevent_thread_lock=True, **launch)
    if getattr(demo, "share_url", None):
        logging.info("Public link: %s (valid while this process runs)", demo.share_url)
        if args.workshop:  # the QR code (page and terminal) now holds the share link
            join_url["url"] = workshop.choose_join_url(demo.share_url, [])
            print(workshop.banner(lan, demo.share_url), flush=True)
    else:
        logging.warning("No public share link: Gradio's tunnel could not be set up (no internet, or its "
                        "helper binary could not be downloaded). The app is served locally at %s.", demo.local_url)
    demo.block_thread()


if __name__ == "__main__":
    main()
