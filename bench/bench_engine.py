"""Cost of one explanation relative to a plain forward pass, measured in interleaved pairs.

For each repetition we time a plain ``torch.inference_mode`` forward and then the
explanation on the same input, back to back, and keep the ratio; the median ratio is
reported, so slow drift of the machine (turbo, other load) cancels out.

    python bench/bench_engine.py                      # ResNet-18, ours only
    python bench/bench_engine.py --compare            # + torch-cam, captum, pytorch-grad-cam
    python bench/bench_engine.py --model lenet --reps 200

Random weights are used for torchvision models: the cost does not depend on the values.
Prints a Markdown table (copy it into BENCHMARKS.md with the date and machine).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradcam_core import GradCAM  # noqa: E402


def build(name: str):
    import torchvision

    if name == "lenet":
        from gradcam_core.models.lenet import LeNet

        return LeNet().eval(), "conv2", torch.rand(1, 1, 28, 28)
    ctor = getattr(torchvision.models, name)
    layer = {"resnet18": "layer4", "resnet50": "layer4", "vgg16": "features.29", "densenet121": "features.norm5"}.get(
        name, "layer4"
    )
    return ctor().eval(), layer, torch.randn(1, 3, 224, 224)


def explainers(model, layer_name, compare: bool):
    layer = model.get_submodule(layer_name)
    ours = GradCAM(model, layer_name)
    out = {
        "ours: Grad-CAM, 1 target": lambda x: ours(x, target=1),
        "ours: Grad-CAM, 3 targets (one forward)": lambda x: ours.explain_many(x, [1, 2, 3]),
    }
    if not compare:
        return out
    try:
        from torchcam.methods import GradCAM as TCGradCAM

        def torchcam_call(x):
            with TCGradCAM(model, target_layer=layer_name) as ex:  # hooks set up per call
                scores = model(x)
                return ex(1, scores)

        out["torch-cam GradCAM"] = torchcam_call
    except ImportError:
        pass
    try:
        from captum.attr import LayerGradCam

        lgc = LayerGradCam(model, layer)
        out["captum LayerGradCam"] = lambda x: lgc.attribute(x, target=1, relu_attributions=True)
    except ImportError:
        pass
    try:
        from pytorch_grad_cam import GradCAM as PGGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        def pgc_call(x):
            with PGGradCAM(model=model, target_layers=[layer]) as cam:
                return cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])

        out["pytorch-grad-cam GradCAM"] = pgc_call
    except ImportError:
        pass
    return out


def measure(model, x, fn, reps: int, warmup: int = 5) -> tuple[float, float, float]:
    for _ in range(warmup):
        with torch.inference_mode():
            model(x)
        fn(x)
    ratios, fwd_times, exp_times = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        with torch.inference_mode():
            model(x)
        t1 = time.perf_counter()
        fn(x)
        t2 = time.perf_counter()
        fwd_times.append(t1 - t0)
        exp_times.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    return statistics.median(ratios), statistics.median(fwd_times), statistics.median(exp_times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18", help="resnet18, resnet50, vgg16, densenet121 or lenet")
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--compare", action="store_true", help="also time torch-cam, captum and pytorch-grad-cam")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, layer, x = build(args.model)
    print(f"# {args.model}, layer {layer}, input {tuple(x.shape)}, torch {torch.__version__}, "
          f"{args.threads} threads, {platform.processor() or platform.machine()}, {args.reps} interleaved pairs\n")
    print("| explanation | forward (ms) | explanation (ms) | median ratio to forward |")
    print("|---|---:|---:|---:|")
    for name, fn in explainers(model, layer, args.compare).items():
        ratio, f, e = measure(model, x, fn, args.reps)
        print(f"| {name} | {f * 1e3:.1f} | {e * 1e3:.1f} | {ratio:.3f}x |", flush=True)


if __name__ == "__main__":
    main()
