"""How long a person waits for the "Can I trust it?" panel (LeNet and EfficientNet-Lite0).

Times the panel's own functions end to end (parse, compute, draw the gallery / the curves
figure), exactly what one click runs on the server, minus the network.  The compute part
(``gradcam_core.analysis.sanity`` alone) is timed separately so drawing costs are visible.

    python bench/bench_sanity.py                  # 1 torch thread (the app's default: 2 cores / 2 requests)
    python bench/bench_sanity.py --threads 2 --reps 5

Prints a Markdown table (median of --reps runs after one warm-up) and the load average,
since the numbers on a shared machine depend on it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradcam_core import GradCAM  # noqa: E402

from gradcam_core.analysis import sanity
from gradcam_core.ui import trust  # noqa: E402


def timed(fn, reps: int) -> tuple[float, float]:
    fn()  # warm-up (model load, caches, first-call allocations)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (app default: cores ÷ concurrency)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--image", default=str(ROOT / "examples" / "animals" / "chelsea_cat.jpg"))
    ap.add_argument("--skip-imagenet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from gradcam_core.data.mnist import test_digits, to_tensor
    from gradcam_core.ui.mnist_tab import model as lenet

    rows = []
    digit = test_digits()[0][3].astype(np.float32) / 255.0
    net = lenet()
    x = to_tensor(digit)
    n_lenet = len(sanity.default_stages(net))

    def lenet_curves_compute():
        r = GradCAM(net, "conv2")(x)
        sanity.deletion_insertion(net, x, r.targets, r.upsampled()[0].numpy(), steps=20, baseline="zero",
                                  logits=r.logits)

    rows.append(("LeNet", f"cascade, {n_lenet} stages × 3 maps: compute", *timed(
        lambda: sanity.cascade(net, "conv2", x), args.reps)))
    rows.append(("LeNet", "cascade: panel click (+ gallery)", *timed(
        lambda: trust.mnist_cascade(digit, "predicted", "Grad-CAM"), args.reps)))
    rows.append(("LeNet", "deletion/insertion, 20 steps, 115 images: compute", *timed(lenet_curves_compute, args.reps)))
    rows.append(("LeNet", "deletion/insertion: panel click (+ figure)", *timed(
        lambda: trust.mnist_curves(digit, "predicted", "zero", 20), args.reps)))

    if not args.skip_imagenet:
        from gradcam_core.models import registry as models
        from gradcam_core.data.images import load_image

        spec = models.get_model("efficientnet_lite0")
        t = time.perf_counter()
        lite = spec.load()
        load_s = time.perf_counter() - t
        pil = load_image(args.image)
        xi = spec.preprocess(pil)
        layer = spec.default_layer
        n_lite = len(sanity.default_stages(lite))
        with torch.inference_mode():
            fwd = timed(lambda: lite(xi), args.reps)
        rows.append(("Lite0", "one forward (reference)", *fwd))
        rows.append(("Lite0", f"cascade, {n_lite} stages × 3 maps: compute", *timed(
            lambda: sanity.cascade(lite, layer, xi), args.reps)))
        rows.append(("Lite0", "cascade: panel click (+ gallery)", *timed(
            lambda: trust.imagenet_cascade(args.image, spec.key, layer, "predicted", "Grad-CAM"), args.reps)))
        for steps in (10, 20):
            n_img = 3 * 2 * (steps - 1) + 1

            def curves_compute(steps=steps):
                r = GradCAM(lite, layer)(xi)
                sanity.deletion_insertion(lite, xi, r.targets, r.upsampled()[0].numpy(), steps=steps, baseline="blur",
                                          logits=r.logits)

            rows.append(("Lite0", f"deletion/insertion, {steps} steps, {n_img} images: compute",
                         *timed(curves_compute, args.reps)))
        rows.append(("Lite0", "deletion/insertion, 10 steps (panel default): panel click (+ figure)", *timed(
            lambda: trust.imagenet_curves(args.image, spec.key, layer, "predicted", "blur", 10), args.reps)))

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} torch thread(s), median of {args.reps} (after a warm-up); "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if not args.skip_imagenet:
        print(f"(EfficientNet-Lite0 first load: {load_s:.2f} s, once per process)")
    print("\n| model | what | median s | max s |\n|---|---|---:|---:|")
    for model, what, med, mx in rows:
        print(f"| {model} | {what} | {med:.2f} | {mx:.2f} |")


if __name__ == "__main__":
    main()
