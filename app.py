"""Grad-CAM Explorer: a Gradio app that shows, step by step, where a CNN looks.

    python app.py                  # http://127.0.0.1:7860
    python app.py --share          # also ask Gradio for a public link (needs internet)
    python app.py --workshop       # phones on the venue's Wi-Fi join by QR code (listens on 0.0.0.0)
    python app.py --mcp            # also serve the explain tools to AI assistants (Gradio's MCP server)
    python app.py --help           # host, port, upload limit, queue size, concurrency
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import webbrowser
from collections.abc import Callable

import gradio as gr
import torch

from gradcam_core import workshop
from gradcam_core.models import fetch
from gradcam_core.ui import facilitator, imagenet_tab, join, mnist_tab, room_phone, spurious_tab
from gradcam_core.ui import a11y, lang, room_api, serving, tools
from gradcam_core.present.method_texts import gradcam_overview
from gradcam_core.present import words
from gradcam_core.present.words import say
from gradcam_core.ui.common import CSS, PAGE_ONLY, THEME

TITLE = say("ui.app.title")  # a name: the same in every language (the head script sets the tab's title)
#: The facilitator's page is a route (demo.route), and Gradio 6.31 then shows a navbar ("Home") on every
#: page, even with show_in_navbar=False and gr.Navbar(visible=False): hidden here, so the main page stays as it was.
NO_NAVBAR_CSS = "\n.gradio-container .nav-holder { display: none !important; }\n"
PAGE_CSS = (CSS + imagenet_tab.CSS + spurious_tab.CSS + room_phone.CSS + facilitator.CSS + NO_NAVBAR_CSS
            + lang.css())


def build_app(concurrency: int = 2, join_url: str | Callable[[], str] | None = None) -> gr.Blocks:
    """The whole app as a gr.Blocks (launch it yourself, or run this file). ``join_url`` (an address,
    or a function returning one): show the workshop's "Join on your phone" QR panel for it; the app
    is then in workshop mode, where anyone may open a room on the facilitator page (``/facilitator``,
    issue 26) and the rooms' Join QR codes carry that address.

    The page is built once, in English, noting every sentence it words; ``lang.localize`` then gives
    its texts in every language (``demo.i18n_instance``, for ``launch(i18n=...)``), and every event
    runs in its request's language (``lang.LangBlocks``)."""
    with words.use_lang(words.DEFAULT_LANG), words.recording() as renderings:
        demo = _build(concurrency, join_url)
    lang.localize(demo, renderings)
    return demo


def _build(concurrency: int, join_url: str | Callable[[], str] | None) -> gr.Blocks:
    with lang.LangBlocks(title=TITLE, delete_cache=serving.DELETE_CACHE) as demo:
        gr.HTML(lang.switch_html(), elem_id="lang-switch", padding=False)
        gr.Markdown(say("ui.app.heading", title=TITLE))
        # a workshop room (?room=CODE in the address): the phone's panel at the top; hidden otherwise
        room = room_phone.build()
        with gr.Accordion(say("ui.app.what_is"), open=False):  # closed: on a phone it must not push results down
            gr.Markdown(gradcam_overview())
        if join_url is not None:
            join.build(join_url, demo)
        # the page's query string (a deep link), read in the browser: without one, no server call
        query = gr.Textbox(serving.NO_LINK, visible=False)
        with gr.Tabs() as tabs:
            with gr.Tab(say("ui.app.tab_mnist"), id="mnist"):
                mnist_tab.build(demo, concurrency_limit=concurrency, query=query)
            with gr.Tab(say("ui.app.tab_imagenet"), id="imagenet"):
                gr.HTML(lang.only_in_other_languages("lang.class_names_note"), padding=False)  # class names: English
                imagenet_tab.build(demo, concurrency_limit=concurrency, query=query)
            with gr.Tab(say("ui.app.tab_shortcuts"), id="spurious") as shortcuts:
                spurious_tab.build(demo, concurrency_limit=concurrency, tab=shortcuts, query=query)
        # the explain tools: typed, state-free API endpoints (MCP tools with --mcp)
        tools.register(concurrency_limit=concurrency)
        room_api.register(concurrency_limit=concurrency, join_url=join_url)  # the workshop rooms' room_* API
        demo.load(None, None, query, js=serving.LINK_QUERY_JS, api_name="read_link", queue=False)
        query.change(_tab_from_link, query, tabs, api_name="select_tab_from_link", queue=False, **PAGE_ONLY)
        room_phone.wire(demo, room, query, tabs)
        # a browser that leaves: its slow job still running stops at its next batch (serving.py)
        demo.unload(serving.mark_closed)
    # the facilitator's page: its own address, not in the navbar (issue 26)
    with demo.route(say("room_page.route_name"), "/" + facilitator.ROUTE, show_in_navbar=False):
        facilitator.build(demo)
    return demo


def _tab_from_link(query: str | None) -> gr.Tabs | dict:
    """A deep link opens on its own tab (?tab=mnist|imagenet|spurious)."""
    tab = serving.LinkRequest(query).query_params.get("tab")
    return gr.Tabs(selected=tab) if tab in {"mnist", "imagenet", "spurious"} else gr.skip()


def _env(name: str, default: bool | int | float | str) -> bool | int | float | str:
    value = os.environ.get(name)
    if value is None:
        return default
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return type(default)(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Each option: its flag, else GRADCAM_*, else (host, port) Gradio's GRADIO_SERVER_*, else the default."""
    ap = argparse.ArgumentParser(description=say("cli.app.description"))
    on_space = os.environ.get("SYSTEM") == "spaces"  # Hugging Face Spaces sets this
    ap.add_argument("--host", default=None,
                    help=say("cli.app.host_help"))
    ap.add_argument("--port", type=int, default=_env("GRADCAM_PORT", _env("GRADIO_SERVER_PORT", 7860)))
    ap.add_argument("--workshop", action="store_true", default=_env("GRADCAM_WORKSHOP", False),
                    help=say("cli.app.workshop_help"))
    ap.add_argument("--no-browser", action="store_true", default=_env("GRADCAM_NO_BROWSER", False),
                    help=say("cli.app.no_browser_help"))
    ap.add_argument("--share", action="store_true", default=_env("GRADCAM_SHARE", False),
                    help=say("cli.app.share_help"))
    ap.add_argument("--max-file-size", default=_env("GRADCAM_MAX_FILE_SIZE", "10mb"), help=say("cli.app.max_file_size_help"))
    ap.add_argument("--queue-size", type=int, default=_env("GRADCAM_QUEUE_SIZE", 64), help=say("cli.app.queue_size_help"))
    ap.add_argument("--concurrency", type=int, default=_env("GRADCAM_CONCURRENCY", 2),
                    help=say("cli.app.concurrency_help"))
    ap.add_argument("--status-every", type=float, default=_env("GRADCAM_STATUS_EVERY", 1.0),
                    help=say("cli.app.status_every_help"))
    ap.add_argument("--threads", type=int, default=_env("GRADCAM_TORCH_THREADS", 0),
                    help=say("cli.app.threads_help"))
    ap.add_argument("--cache-examples", choices=["lazy", "eager", "off"],
                    default=_env("GRADCAM_EXAMPLE_CACHE", "lazy"),
                    help=say("cli.app.cache_examples_help"))
    ap.add_argument("--mcp", action="store_true", default=_env("GRADCAM_MCP", False),
                    help=say("cli.app.mcp_help"))
    ap.add_argument("--lang", choices=words.languages(), default=words.supported(os.environ.get("GRADCAM_LANG")),
                    help=say("lang.app_help"))
    args = ap.parse_args(argv)
    if args.host is None:
        args.host = (os.environ.get("GRADCAM_HOST") or os.environ.get("GRADIO_SERVER_NAME")
                     or ("0.0.0.0" if on_space or args.workshop else "127.0.0.1"))
    return args


def facilitator_address(host: str, port: int) -> str:
    """The facilitator page's address on this laptop (``--workshop`` prints it): loopback, since
    the facilitator opens it here; the phones get the LAN address of the join QR code."""
    return f"http://127.0.0.1:{int(port)}/{facilitator.ROUTE}" if host in workshop.ALL_INTERFACES or host in (
        "127.0.0.1", "localhost") else f"http://{host}:{int(port)}/{facilitator.ROUTE}"


def opens_browser(args: argparse.Namespace, environ: dict | None = None, platform: str | None = None) -> bool:
    """Whether ``--workshop`` opens the facilitator page in this laptop's browser: yes, unless
    ``--no-browser``, or there is no screen to open it on (Linux without X or Wayland: a server, CI)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not args.workshop or args.no_browser or environ.get("SYSTEM") == "spaces":
        return False
    return platform in ("darwin", "win32") or bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def mcp_available() -> bool:
    """Whether Gradio's MCP server can run here (its extra, ``gradio[mcp]``, is installed); if not,
    the log says how to get it and the app runs without it."""
    try:
        import mcp  # noqa: F401 - only its presence is checked
    except ImportError:
        logging.warning("No MCP server: the 'mcp' package is missing. Install it with: pip install 'gradio[mcp]'")
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    with words.use_lang(words.lang_from_argv(argv)):  # the terminal's messages and --help
        _main(argv)


def _main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serving.tune_allocator()  # two malloc arenas: memory of closed sessions goes back (issue 23)
    args = parse_args(argv)
    lang.set_default(args.lang)  # before the page is built: its head script carries the default
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
        print(say("room_page.facilitator_banner", url=facilitator_address(args.host, args.port)), flush=True)
    demo = build_app(concurrency=args.concurrency, join_url=(lambda: join_url["url"]) if args.workshop else None)
    serving.install_memory_probe()  # debug only: does nothing unless GRADCAM_MEMORY_PROBE is set
    demo.queue(max_size=args.queue_size, default_concurrency_limit=args.concurrency,
               status_update_rate=args.status_every or "auto")
    launch = dict(server_name=args.host, server_port=args.port, max_file_size=args.max_file_size, css=PAGE_CSS,
                  show_error=False, app_kwargs=lang.app_kwargs(serving.app_kwargs()), theme=THEME,
                  head=serving.preload_head() + a11y.head(),  # a11y: names, keyboard, focus
                  i18n=demo.i18n_instance,
                  mcp_server=mcp_available() if args.mcp else False)
    if not args.share:
        if not opens_browser(args):
            demo.launch(**launch)
            return
        demo.launch(prevent_thread_lock=True, **launch)
        webbrowser.open(facilitator_address(args.host, args.port))  # --workshop opens the facilitator page
        demo.block_thread()
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
    if opens_browser(args):
        webbrowser.open(facilitator_address(args.host, args.port))
    else:
        logging.warning("No public share link: Gradio's tunnel could not be set up (no internet, or its "
                        "helper binary could not be downloaded). The app is served locally at %s.", demo.local_url)
    demo.block_thread()


if __name__ == "__main__":
    main()
