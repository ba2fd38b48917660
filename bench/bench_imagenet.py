"""ImageNet tab: server-side time of one full response vs a plain forward pass of the same model.

"Full response" = what the tab's /imagenet_explain handler does for an uploaded photo: decode
the file, preprocess, one forward + backward (Grad-CAM, default layer), top-5, overlay, raw map
with colour bar, the step gallery (all 8 steps drawn) and the 3 downloads, every picture
written as a PNG file.  (Not included: gradio's own copy of those files into its cache, the
queue and the network.)  The baseline is ``model(x)`` under ``torch.inference_mode`` on the
already preprocessed tensor.  Each repetition times both back to back; the median of the
ratios is reported, so drift of a shared machine cancels out.

Also reported: the same response for an example photo (its raw result is cached, so only the
drawing is left), and Score-CAM's cost on each model's default layer (one masked forward per
channel, in batches of 32): measured when it fits in ``--score-cam-budget`` seconds, otherwise
estimated from timed batches.

    python bench/bench_imagenet.py                          # every available model
    python bench/bench_imagenet.py --random resnet18 resnet50   # + torchvision models, random weights
    python bench/bench_imagenet.py --reps 30 --threads 2

Random weights cost the same time as real ones.  Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradcam_core.services import imagenet as svc  # noqa: E402
from gradcam_core.cam import scorecam_budget  # noqa: E402
from gradcam_core.models import weights as W  # noqa: E402
from gradcam_core.data.examples import load_manifest  # noqa: E402
from gradcam_core.cam.methods import ScoreCAM, make_cam  # noqa: E402
from gradcam_core.models.registry import REGISTRY  # noqa: E402


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _photo_paths(tmp: Path) -> tuple[str, str]:
    """(an upload that is not an example: never cached, the example photo itself)."""
    example = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    upload = tmp / "upload.png"
    svc.load_photo(example).save(upload)  # same picture, different bytes: not recognised as an example
    return str(upload), example


def bench_model(key: str, upload: str, example: str, reps: int) -> dict:
    from gradcam_core.ui import imagenet_tab  # the real handler (imports gradio)

    spec = REGISTRY[key]
    model = spec.load()
    x = spec.preprocess(svc.load_photo(upload))
    args = (key, spec.default_layer, "Grad-CAM", "predicted", "none", "max", "jet", 0.5)

    def forward():
        with torch.inference_mode():
            model(x)

    def respond(photo):
        out = imagenet_tab.explain(photo, *args)
        assert len(out) == imagenet_tab.N_EXPLAIN_OUTPUTS

    cam = make_cam("Grad-CAM", model, spec.default_layer)
    for _ in range(2):  # warm-up: lazy inits, caches, allocator
        forward()
        respond(upload)
        respond(example)
    fwd, full, ratio, cached, gradcam, gc_ratio = [], [], [], [], [], []
    for _ in range(reps):
        a = _timed(forward)
        b = _timed(lambda: respond(upload))
        c = _timed(lambda: respond(example))
        d = _timed(lambda: cam(x))
        fwd.append(a)
        full.append(b)
        cached.append(c)
        gradcam.append(d)
        ratio.append(b / a)
        gc_ratio.append(d / a)
    med = statistics.median
    return {
        "key": key, "title": spec.title, "layer": spec.default_layer, "forward": med(fwd), "full": med(full),
        "ratio": med(ratio), "cached": med(cached), "gradcam_ratio": med(gc_ratio), "model": model, "x": x,
    }


def bench_score_cam(row: dict, budget: float) -> dict:
    spec = REGISTRY[row["key"]]
    model, x = row["model"], row["x"]
    with torch.inference_mode():
        k = int(make_cam("Eigen-CAM", model, spec.default_layer)(x).activations.shape[1])
    bs = scorecam_budget.SCORE_CAM_BATCH
    batch = x.expand(min(bs, k), -1, -1, -1).contiguous()

    def one_batch():
        with torch.inference_mode():
            model(batch)

    one_batch()
    per_batch = statistics.median(_timed(one_batch) for _ in range(3))
    n_batches = -(-k // bs)
    estimate = per_batch * n_batches
    if estimate <= budget:
        cam = ScoreCAM(model, spec.default_layer, batch_size=bs, max_channels=None)  # exact: every channel
        seconds, how = _timed(lambda: cam(x)), "measured"
    else:
        seconds, how = estimate, f"estimated ({n_batches} batches × {per_batch:.2f} s)"
    return {"channels": k, "seconds": seconds, "how": how, "ratio": seconds / row["forward"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=15, help="interleaved repetitions per model")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the app uses cores ÷ concurrency)")
    ap.add_argument("--random", nargs="*", default=[], metavar="KEY",
                    help="also bench these torchvision models with random weights ("
                    + ", ".join(W.TORCHVISION_MODELS) + ")")
    ap.add_argument("--score-cam-budget", type=float, default=90.0,
                    help="measure Score-CAM when its estimate is below this many seconds, else estimate")
    ap.add_argument("--no-score-cam", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.random:
            wdir = tmp / "weights"
            for key in args.random:
                W.save_random_weights(key, wdir)
            os.environ[W.WEIGHTS_DIR_ENV] = str(wdir)
        upload, example = _photo_paths(tmp)
        keys = [k for k, s in REGISTRY.items() if s.available]
        rows = []
        for key in keys:
            print(f"… {REGISTRY[key].title}", file=sys.stderr, flush=True)
            row = bench_model(key, upload, example, args.reps)
            if not args.no_score_cam:
                row["score"] = bench_score_cam(row, args.score_cam_budget)
            rows.append(row)

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} thread(s), median of {args.reps} interleaved repetitions"
          + (f"; random weights: {', '.join(args.random)}" if args.random else "") + "\n")
    print("| model | layer | forward | full response | × forward | example (cached) | Grad-CAM alone × forward |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['title']} | {r['layer']} | {r['forward'] * 1e3:.0f} ms | {r['full'] * 1e3:.0f} ms | "
              f"**{r['ratio']:.2f}×** | {r['cached'] * 1e3:.0f} ms | {r['gradcam_ratio']:.2f}× |")
    if not args.no_score_cam:
        print("\n| model | Score-CAM layer | channels | time | × forward | how |")
        print("|---|---|---:|---:|---:|---|")
        for r in rows:
            s = r["score"]
            print(f"| {r['title']} | {r['layer']} | {s['channels']} | {s['seconds']:.1f} s | {s['ratio']:.0f}× | "
                  f"{s['how']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
