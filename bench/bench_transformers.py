"""Issue 29: what ViT-B/16, Swin-T and ConvNeXt-Tiny cost, beside ResNet-50, in one run.

* ``--cost`` (BENCHMARKS §1): one explanation ÷ one plain forward, in interleaved pairs (the
  median ratio, as ``bench_engine.py``), on each model's default layer in its layout: ours (1
  target; 3 targets from one forward) and pytorch-grad-cam's GradCAM with its ``reshape_transform``
  (the tutorials' recipe).  torch-cam and captum are left out for the transformers: they take no
  reshaping, so they do not explain a token layer.
* ``--memory`` (BENCHMARKS §6): each model in a fresh process, loaded through the registry from a
  random-weights file of the real shapes under torchvision's file name (parameter memory is the
  trained weights'), then one Grad-CAM on its default layer: RSS after the imports, after the load,
  after the explanation, and the process's peak (VmHWM).

    python bench/bench_transformers.py --cost --reps 20
    python bench/bench_transformers.py --memory

Random weights: the cost and the memory do not depend on the values.  Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ("resnet50", "vit_b_16", "swin_t", "convnext_tiny")
#: pytorch-grad-cam's reshape_transform for each layout (its ViT and Swin tutorials)
ORACLE_RESHAPE = {
    "cnn": None,
    "tokens": lambda t: t[:, 1:, :].reshape(t.size(0), 14, 14, t.size(2)).permute(0, 3, 1, 2),
    "channels_last": lambda t: t.permute(0, 3, 1, 2),
}


def _model(key: str):
    import torch
    from torch import nn

    from gradcam_core.models import weights as W

    torch.manual_seed(0)
    model = W.TORCHVISION_MODELS[key][0](weights=None).eval()
    if key == "vit_b_16":  # torchvision starts the head at zero; the cost is the same, the maps are not empty
        nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


def cost(reps: int, threads: int) -> None:
    import torch

    from bench.bench_engine import measure
    from gradcam_core.cam.engine import GradCAM
    from gradcam_core.models import registry as M

    torch.set_num_threads(threads)
    x = torch.randn(1, 3, 224, 224)
    print(f"# explanation ÷ forward · input {tuple(x.shape)} · torch {torch.__version__} · {threads} threads · "
          f"{platform.machine()} · {reps} interleaved pairs · {time.strftime('%Y-%m-%d')} · random weights\n")
    print("| model | layer (layout) | explanation | forward (ms) | explanation (ms) | median ratio to forward |")
    print("|---|---|---|---:|---:|---:|")
    for key in KEYS:
        spec = M.get_model(key)
        layer, layout = spec.default_layer, spec.layout_of(spec.default_layer)
        model = _model(key)
        ours = GradCAM(model, layer, layout=layout)
        fns = {"ours: Grad-CAM, 1 target": lambda x: ours(x, target=1),
               "ours: Grad-CAM, 3 targets (one forward)": lambda x: ours.explain_many(x, [1, 2, 3])}
        from pytorch_grad_cam import GradCAM as PGGradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        module = model.get_submodule(layer)

        def pgc(x, module=module, layout=layout, model=model):
            with PGGradCAM(model=model, target_layers=[module], reshape_transform=ORACLE_RESHAPE[layout]) as cam:
                return cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])

        fns["pytorch-grad-cam GradCAM" + (" + reshape_transform" if layout != "cnn" else "")] = pgc
        for name, fn in fns.items():
            ratio, f, e = measure(model, x, fn, reps, warmup=2)
            print(f"| {spec.title} | {layer} ({layout}) | {name} | {f * 1e3:.1f} | {e * 1e3:.1f} | {ratio:.3f}x |",
                  flush=True)
        for p in model.parameters():
            p.grad = None


def _rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    got = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, kb = line.split(":")
            got[name] = int(kb.split()[0]) / 1024
    return got["VmRSS"], got["VmHWM"]


def _memory_child(key: str) -> None:
    """In a fresh process (GRADCAM_WEIGHTS_DIR set by the parent): load ``key`` through the registry,
    one Grad-CAM on its default layer; print the RSS figures as JSON."""
    import torch

    from gradcam_core.cam.engine import GradCAM
    from gradcam_core.models import registry as M

    torch.set_num_threads(2)
    spec = M.get_model(key)
    before = _rss_mb()[0]
    model = spec.load()
    loaded = _rss_mb()[0]
    GradCAM(model, spec.default_layer, layout=spec.layout_of(spec.default_layer))(torch.randn(1, 3, 224, 224))
    after, peak = _rss_mb()
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"imports": before, "loaded": loaded, "explained": after, "peak": peak, "params": params}))


def memory() -> None:
    from gradcam_core.models import registry as M
    from gradcam_core.models import weights as W

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-weights-") as wdir:
        for key in KEYS:
            W.save_random_weights(key, wdir)
            env = {**os.environ, W.WEIGHTS_DIR_ENV: wdir, "PYTHONPATH": str(ROOT)}
            out = subprocess.run([sys.executable, __file__, "--memory-child", key], env=env, capture_output=True,
                                 text=True, check=True).stdout
            rows.append((M.get_model(key), json.loads(out.strip().splitlines()[-1])))
    print(f"# memory with each model loaded alone · {platform.machine()} · {os.cpu_count()} cores · "
          f"{time.strftime('%Y-%m-%d')} · a fresh process each, loaded through the registry, random weights of the "
          f"real shapes · one Grad-CAM on the default layer\n")
    print("| model | parameters (M) | RSS after imports (MB) | + model loaded (MB) | + one Grad-CAM (MB) | peak RSS, VmHWM (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for spec, r in rows:
        print(f"| {spec.title} | {r['params'] / 1e6:.1f} | {r['imports']:.0f} | {r['loaded'] - r['imports']:+.0f} | "
              f"{r['explained'] - r['loaded']:+.0f} | {r['peak']:.0f} |")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", action="store_true", help="explanation ÷ forward (BENCHMARKS §1)")
    ap.add_argument("--memory", action="store_true", help="RSS with each model loaded (BENCHMARKS §6)")
    ap.add_argument("--memory-child", metavar="KEY", help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    if args.memory_child:
        _memory_child(args.memory_child)
        return
    if args.cost:
        cost(args.reps, args.threads)
    if args.memory:
        memory()


if __name__ == "__main__":
    main()
