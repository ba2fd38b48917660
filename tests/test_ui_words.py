"""The page's and the command line's own words (en.toml ``[ui]`` and ``[cli]``): every entry is used by
the code, and what the command lines print is the catalogue's text with its numbers filled in."""
from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from gradcam_core import cli
from gradcam_core.present import words
from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parents[1]


def _flat(text: str) -> str:
    """argparse re-wraps help texts: compare them with their white space folded."""
    return re.sub(r"\s+", " ", text).strip()


def _keys_named_in_code() -> set[str]:
    out = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "gradcam_core").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in {"say", "Term", "js_text"}
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                out.add(node.args[0].value)
            # a family of keys named by an f-string (say(f"ui.mnist.choice.{v}")): its constant prefix
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "say"
                    and node.args and isinstance(node.args[0], ast.JoinedStr) and node.args[0].values
                    and isinstance(node.args[0].values[0], ast.Constant) and str(node.args[0].values[0].value).endswith(".")):
                out.add(str(node.args[0].values[0].value))
    return out


def _used(key: str, named: set[str]) -> bool:
    """A key is used when the code names it, or names the family it belongs to (``prefix.`` + one word)."""
    return key in named or any(n.endswith(".") and key.startswith(n) and "." not in key[len(n):] for n in named)


def test_every_ui_and_cli_entry_is_used():
    ours = {k for k in words.catalogue() if k.split(".")[0] in {"ui", "cli"}}
    assert len(ours) > 250  # the page's and the CLI's words are all here
    named = _keys_named_in_code()
    unused = sorted(k for k in ours if not _used(k, named))
    assert not unused, f"entries no code says (remove them, or use them): {unused[:10]}"


def _run(argv: list[str], main) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit:
            pass
    return _flat(out.getvalue())


@pytest.mark.parametrize("key", [k for k in words.catalogue() if k.startswith("cli.help.")
                                 and k not in {"cli.help.description", "cli.help.epilog", "cli.help.explain",
                                               "cli.help.models", "cli.help.models_description"}])
def test_explain_help_is_the_catalogues(key):
    assert _flat(say(key)) in _run(["explain", "--help"], cli.main)


def test_top_level_help_is_the_catalogues():
    text = _run(["--help"], cli.main)
    for key in ("cli.help.description", "cli.help.epilog", "cli.help.explain", "cli.help.models"):
        assert _flat(say(key)) in text, key
    assert _flat(say("cli.help.models_description")) in _run(["models", "--help"], cli.main)


def test_the_apps_help_is_the_catalogues():
    import app

    text = _run(["--help"], app.parse_args)
    keys = [k for k in words.catalogue() if k.startswith("cli.app.")]
    assert len(keys) == 12  # one help text per flag, --mcp and --no-browser included
    for key in keys:
        assert _flat(say(key)) in text, key


@pytest.mark.parametrize("argv, environ, platform, opens", [
    (["--workshop"], {"DISPLAY": ":0"}, "linux", True),
    (["--workshop"], {"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    (["--workshop"], {}, "darwin", True),
    (["--workshop"], {}, "win32", True),
    (["--workshop"], {}, "linux", False),  # a server or CI: no screen
    (["--workshop", "--no-browser"], {"DISPLAY": ":0"}, "linux", False),
    (["--workshop"], {"DISPLAY": ":0", "SYSTEM": "spaces"}, "linux", False),
    ([], {"DISPLAY": ":0"}, "darwin", False),  # without --workshop the app opens no page, as before
])
def test_workshop_opens_the_facilitator_page_where_there_is_a_screen(argv, environ, platform, opens):
    import app

    assert app.opens_browser(app.parse_args(argv), environ, platform) is opens


def test_models_listing_says_each_models_state_with_the_catalogues_words(capsys):
    from gradcam_core.models.registry import REGISTRY

    cli.cmd_models()
    lines = capsys.readouterr().out.splitlines()
    for key, spec in REGISTRY.items():
        ok, status = spec.availability()
        state = say("cli.models.available") if ok else say("cli.models.not_available")
        row = [line for line in lines if line.startswith(f"{key}  [")]
        assert len(row) == 1 and row[0].startswith(say("cli.models.row", key=key, state=state, title=spec.title, mark=""))
        what = say("cli.models.source") if ok else say("cli.models.reason")
        assert say("cli.models.status", what=what, status=status) in lines
        assert say("cli.models.layers", layers=", ".join(spec.layer_names), dl=spec.default_layer) in lines


@pytest.mark.parametrize("argv, key, values", [
    (["explain", "x.png", "--batch-size", "0"], "cli.explain.batch_size_too_small", {"value": 0}),
    (["explain", "x.png", "--threads", "0"], "cli.explain.threads_too_small", {"value": 0}),
    (["explain", "x.png", "--model", "nope"], "cli.explain.unknown_model", None),
])
def test_usage_errors_are_the_catalogues(argv, key, values, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    if values is None:  # the unknown model: its key and the list of keys
        values = {"key": "nope", "keys": ", ".join(cli._model_keys())}
    assert err.strip() == say("cli.explain.usage_error", prog=cli.PROG, msg=say(key, **values))


def test_placement_is_refused_for_imagenet_models_with_the_catalogues_words(capsys):
    from gradcam_core.models.registry import default_model_key

    assert cli.main(["explain", str(ROOT / "examples"), "--placement", "receptive field",
                     "--model", default_model_key()]) == 2
    want = say("cli.explain.usage_error", prog=cli.PROG,
               msg=say("cli.explain.placement_lenet_only", placement="receptive field"))
    assert capsys.readouterr().err.strip() == want


def test_workshop_banner_lines_are_the_catalogues():
    from gradcam_core import workshop

    text = workshop.banner(["http://10.0.0.5:7860/"], "https://abc.gradio.live/", qr=False).splitlines()
    assert text[1] == say("ui.workshop.banner_title")
    assert text[2] == say("ui.workshop.banner_share", share_url="https://abc.gradio.live/")
    assert text[3] == "  http://10.0.0.5:7860/"
    assert text[4] == say("ui.workshop.sources_note")
    nothing = workshop.banner([], None, qr=False).splitlines()
    assert nothing[1:] == [say("ui.workshop.banner_title"), say("ui.workshop.banner_no_address"),
                           say("ui.workshop.sources_note")]
