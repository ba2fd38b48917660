"""bench/bench_cost.py's own accounting (no server, no model): the exclusive timers, the py-spy
sample buckets, the bytes and file URLs of an answer, the report's arithmetic."""
from __future__ import annotations

import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import bench_cost as bc  # noqa: E402


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_timers_charge_each_function_its_own_time_only():
    box = types.SimpleNamespace()
    box.inner = lambda: _burn(0.03)

    def outer():
        _burn(0.02)
        box.inner()

    box.outer = outer
    t = bc.Timers()
    t.wrap(box, "outer", "drawing")
    t.wrap(box, "inner", "encoding")
    box.outer()
    # the inner call's 30 ms go to "encoding" only; "drawing" keeps its own 20 ms
    assert 0.025 <= t.spent["encoding"] < 0.045
    assert 0.015 <= t.spent["drawing"] < 0.03
    t.undo()
    assert box.outer is outer  # the originals are back


def test_spy_samples_go_to_the_first_matching_bucket_and_waits_are_left_out(tmp_path):
    raw = tmp_path / "spy.txt"
    raw.write_text("\n".join([
        # the app's ResultImage.postprocess runs in a worker thread: it is Gradio's postprocess
        "run (threading.py:1);ResultImage.postprocess (gradcam_core/ui/common.py:183);save (PIL/Image.py:2) 3",
        "run (threading.py:1);explain (gradcam_core/ui/imagenet_tab.py:150);forward (torch/nn/conv.py:5) 5",
        "run (asyncio/base_events.py:1);handle (uvicorn/protocols/http.py:9) 2",
        "run (asyncio/base_events.py:1);EpollSelector.select (selectors.py:468) 40",  # a wait
    ]))

    class Done:
        def send_signal(self, _sig):
            pass

        def wait(self, timeout=None):
            return 0

    out = bc._spy_stop(Done(), raw)
    assert out["samples"] == 10  # the 40 waiting samples are not counted
    assert out["buckets"]["handler (the event function)"] == 0.5
    assert out["buckets"]["gradio postprocess (incl. the app's ResultImage PNG encoding)"] == 0.3
    assert out["buckets"]["queue, SSE and HTTP"] == 0.2


def test_answer_bytes_count_inline_json_and_files_apart_from_closed_ones(tmp_path):
    shown, closed = tmp_path / "a.png", tmp_path / "b.png"
    shown.write_bytes(b"x" * 1000)
    closed.write_bytes(b"y" * 300)
    answer = ["some text", {"path": str(shown), "url": "http://h/a.png"}, [{"path": str(closed)}]]
    sizes = bc._answer_bytes({2})(answer)
    assert sizes["files"] == 1000 and sizes["files_closed"] == 300
    assert sizes["json"] > len("some text")
    urls_shown, urls_closed = bc.file_urls(answer, {2})
    assert urls_shown == ["http://h/a.png"] and urls_closed == []


def test_report_splits_an_answer_into_floor_handler_and_the_rest():
    fig = {"n": 20, "loadavg": ["1.0", "1.0", "1.0"],
           "floor": {"cpu_ms": 10.0, "outputs32_cpu_ms": 13.1},
           "forward": {"cpu_ms": 40.0, "cpu_min_ms": 36.0, "wall_ms": 20.0},
           "forward_server_threads": {"cpu_ms": 20.0, "wall_ms": 20.0, "threads": 1},
           "answers": {"imagenet": {"cpu_ms": 120.0, "wall_ms": 150.0, "bytes": {"json": 2048}},
                       "mnist_index": {"cpu_ms": 50.0, "wall_ms": 60.0, "bytes": {}}},
           "handlers": {"imagenet": {"handler_ms": 70.0, "postprocess_total_ms": 15.0, "outputs": 10,
                                     "split_ms": {"model": 30.0}}}}
    text = bc.report(fig)
    # 120 = 10 + 70 + 40, and the rest = 15 (postprocess) + 25
    assert "| /imagenet_explain | **120.0 ms** | 10.0 | 70.0 | 40.0 | 15.0 (10 outputs) + 25.0 |" in text
    assert "floor + **3.06×** a 2-thread forward" in text  # (120 - 10) / 36: its minimum
    assert "floor + 5.50× a 1-thread forward" in text  # (120 - 10) / 20
    assert "**5.00×** (index)" in text  # 50 / 10
    assert "0.10 ms per extra output" in text  # (13.1 - 10) / 31
