"""Concurrency correctness through the launched app: many clients at once, different images,
targets, layers and methods on the MNIST and ImageNet endpoints; every result must equal the
one computed alone, exactly."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

from outputs import imagenet_result, mnist_result

ROOT = Path(__file__).resolve().parents[1]


def _photos(tmp_path) -> list[str]:
    """New photos (not the shipped examples, whose results the app may cache)."""
    out = []
    for i, name in enumerate(["animals/chelsea_cat.jpg", "food/coffee_cup.jpg", "objects_vehicles/motorcycle.jpg"]):
        with Image.open(ROOT / "examples" / name) as im:
            im = ImageOps.mirror(im.convert("RGB")).rotate(3 * (i + 1), expand=False)
            p = tmp_path / f"photo{i}.jpg"
            im.save(p, quality=92)
            out.append(str(p))
    return out


def _jobs(photos):
    jobs = []
    for k, (idx, target, channel) in enumerate([(5, "predicted", "strongest"), (17, "3", "2"), (230, "9", "15"),
                                                (999, "predicted", "0"), (42, "1", "strongest")]):
        jobs.append(("mnist", (idx, target, channel)))
    settings = [("_head_act", "Grad-CAM", "predicted"), ("_blocks.14", "Grad-CAM++", "281"),
                ("_head_act", "HiResCAM", "967"), ("_blocks.10", "XGrad-CAM", "predicted"),
                ("_head_act", "Counterfactual", "predicted"), ("_blocks.15", "LayerCAM", "670")]
    for k, (layer, method, target) in enumerate(settings):
        jobs.append(("imagenet", (photos[k % len(photos)], layer, method, target)))
    return jobs


def _run(client: Client, job):
    kind, args = job
    if kind == "mnist":
        out = mnist_result(client, *args)
        label, numbers = out["label"], out["numbers"]
    else:
        photo, layer, method, target = args
        out = imagenet_result(client, handle_file(photo), "efficientnet_lite0", layer, method, target, "none", "max",
                              "jet", 0.5)
        label, numbers = out["label"], out["numbers"]
    return label, numbers


def test_parallel_results_equal_sequential(app_client, tmp_path):
    jobs = _jobs(_photos(tmp_path))
    sequential = [_run(app_client, j) for j in jobs]
    clients = [Client(app_client.src, verbose=False, ssl_verify=False) for _ in range(6)]
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(clients))

    def worker(w: int) -> None:
        try:
            barrier.wait()
            # each worker runs its share twice, interleaved with the others
            for _ in range(2):
                for j in range(w, len(jobs), len(clients)):
                    results[j] = _run(clients[w], jobs[j])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == len(jobs)
    for j, (label, numbers) in enumerate(sequential):
        got_label, got_numbers = results[j]
        assert got_label == label, jobs[j]
        for key in ("target", "method", "layer", "top5"):
            assert got_numbers[key] == numbers[key], (jobs[j], key)
        assert np.array_equal(np.asarray(got_numbers["weights"]), np.asarray(numbers["weights"])), jobs[j]
        assert np.array_equal(np.asarray(got_numbers["cam"]), np.asarray(numbers["cam"])), jobs[j]


def test_shared_caches_stay_bounded_and_consistent_under_threads(monkeypatch):
    """The caches that Gradio's worker threads share (cachetools behind a lock each): 8 threads
    writing and reading at once never read another's value, never exceed the bound, never raise."""
    from gradcam_core.services import imagenet as svc
    from gradcam_core.models import weights as W
    from gradcam_core.ui.kept import KeptResults

    kept = KeptResults(capacity=16)
    monkeypatch.setattr(svc, "_cache", type(svc._cache)(maxsize=svc.CACHE_SIZE))
    monkeypatch.setattr(W, "_probe_cache", type(W._probe_cache)(maxsize=8, ttl=60))
    barrier = threading.Barrier(8)

    def worker(w: int) -> None:
        barrier.wait()
        for i in range(400):
            key = kept.put((w, i))
            assert kept.get(key) in (None, (w, i))  # pushed out by the other threads' puts, or its own value
            svc._keep(("photo", w, i), (w, i))
            hit = svc._cached(("photo", w, i))
            assert hit in (None, (w, i))  # evicted by another thread, or exactly what was kept
            with W._probe_lock:
                W._probe_cache[f"http://h{w}/{i}"] = (True, "HTTP 200")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(8)))  # a worker's failure is raised here
    assert len(kept) == 16 and len(svc._cache) == svc.CACHE_SIZE and len(W._probe_cache) == 8
