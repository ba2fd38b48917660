"""``python app.py --mcp``: Gradio's MCP server lists the explain tools with their argument
descriptions, an assistant calls one with a photo (a data: URL, one of the two ways Gradio's MCP
server takes a file) and gets the numbers; without the flag there is no MCP server."""
from __future__ import annotations

import ast
import asyncio
import base64
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port, stop_process

pytest.importorskip("mcp", reason="Gradio's MCP extra is not installed: pip install 'gradio[mcp]'")

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"explain_digit", "explain_digit_photo", "explain_photo"}
#: events of the page only: never tools (ui.common.PAGE_ONLY)
PAGE_ONLY = {"mnist_pick_from_grid", "spurious_open_from_link", "select_tab_from_link"}


def _get(url: str, timeout: float = 10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


@pytest.fixture(scope="module")
def mcp_app(app_client):
    """The app as a user starts it, with GRADCAM_MCP=1 (the flag's environment twin). (It asks for
    ``app_client``, which the flag-less test uses anyway, so conftest marks these tests ``app``.)"""
    port = free_port()
    env = dict(os.environ, GRADCAM_MCP="1", GRADCAM_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # keeps the pipe drained
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            try:
                if _get(url + "/gradio_api/mcp/schema")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        else:
            pytest.fail("the app with its MCP server did not start: " + "".join(lines[-20:]))
        yield url, lines  # the log so far (it grows)
    finally:
        stop_process(proc)


def _data_url(path: Path) -> str:
    """A photo as a data: URL. Gradio's MCP server takes a file as an http(s) URL, which it downloads
    only from public hosts (its SSRF guard refuses 127.0.0.1), or as a data: URL: offline, the latter."""
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


def test_the_schema_lists_the_explain_tools_with_their_arguments(mcp_app):
    url, _ = mcp_app
    import json

    schema = {t["name"]: t for t in json.loads(_get(url + "/gradio_api/mcp/schema")[1])}
    assert TOOLS <= set(schema), sorted(schema)
    for name in TOOLS:
        tool = schema[name]
        assert tool["meta"]["endpoint_name"] == name
        assert len(tool["description"]) > 40, tool  # from the Args: docstring
        props = tool["inputSchema"]["properties"]
        assert props and all(len(p.get("description", "")) > 15 for p in props.values()), (name, props)
    assert set(schema["explain_photo"]["inputSchema"]["properties"]) == {"photo", "model", "method", "target"}
    assert schema["explain_photo"]["inputSchema"]["required"] == ["photo"]
    assert "http" in schema["explain_photo"]["inputSchema"]["properties"]["photo"]["format"]
    assert schema["explain_digit"]["inputSchema"]["properties"]["index"]["type"] == "integer"
    endpoints = {t["meta"]["endpoint_name"] for t in schema.values()}
    assert not endpoints & PAGE_ONLY


async def _call_tool(url: str, name: str, arguments: dict):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url + "/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = {t.name for t in (await session.list_tools()).tools}
            assert TOOLS <= listed
            return await session.call_tool(name, arguments)


def _answer(result) -> dict:
    assert not result.isError, result
    texts = [c.text for c in result.content if c.type == "text"]
    assert len(texts) == 1, result
    return ast.literal_eval(texts[0])  # Gradio's MCP server sends a dict as its repr


def test_an_assistant_explains_a_photo(mcp_app):
    url, _ = mcp_app
    photo = _data_url(ROOT / "examples" / "animals" / "chelsea_cat.jpg")
    result = asyncio.run(_call_tool(url, "explain_photo", {"photo": photo}))
    answer = _answer(result)
    assert answer["model"] == "efficientnet_lite0" and answer["method"] == "Grad-CAM"
    top5 = answer["top5"]
    assert len(top5) == 5 and "cat" in top5[0]["name"]  # Chelsea is a tabby cat
    probs = [t["prob"] for t in top5]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.000001
    assert answer["predicted"] == top5[0]["class"] and answer["predicted_name"] == top5[0]["name"]
    assert answer["explained"] == [top5[0]]  # "predicted": the top class is the one explained


def test_an_assistant_explains_a_digit_as_the_page_does(mcp_app):
    """The tool and the page's /mnist_explain_index run the same code: the same numbers."""
    from gradio_client import Client

    url, _ = mcp_app
    answer = _answer(asyncio.run(_call_tool(url, "explain_digit", {"index": 3, "target": "predicted"})))
    page = Client(url + "/", verbose=False).predict(3, "predicted", "strongest", "relu2", "jet", "receptive field",
                                                    api_name="/mnist_explain_index")
    numbers = next(v for v in page if isinstance(v, dict) and "top5" in v)
    assert answer["predicted"] == numbers["predicted"] and answer["top5"] == numbers["top5"]
    assert abs(sum(answer["probs"]) - 1) < 1e-4


def test_a_refusal_reaches_the_assistant_as_the_pages_sentence(mcp_app):
    """A value the tool's schema allows but the app refuses: the assistant reads the app's sentence
    (a wrong type never gets this far: the MCP library checks the schema first)."""
    from gradcam_core.present.words import say
    from gradcam_core.ui.coerce import MAX_TEXT

    url, _ = mcp_app
    result = asyncio.run(_call_tool(url, "explain_digit", {"index": 3, "target": "x" * (MAX_TEXT + 1)}))
    assert result.isError
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert text == say("input.too_long", name="target", limit=MAX_TEXT)
    result = asyncio.run(_call_tool(url, "explain_digit", {"index": 5000}))
    assert result.isError and "upstream" not in result.content[0].text and "999" in result.content[0].text


def test_without_the_flag_there_is_no_mcp_server(app_client):
    """The session's app (launched as ``python app.py`` launches it, without --mcp)."""
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(app_client.src.rstrip("/") + "/gradio_api/mcp/schema")
    assert err.value.code == 404


def test_the_flag_and_its_environment_variable(monkeypatch):
    import app

    monkeypatch.delenv("GRADCAM_MCP", raising=False)
    assert app.parse_args([]).mcp is False
    assert app.parse_args(["--mcp"]).mcp is True
    monkeypatch.setenv("GRADCAM_MCP", "1")
    assert app.parse_args([]).mcp is True
