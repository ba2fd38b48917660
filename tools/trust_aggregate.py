"""Deletion / insertion over held-out MNIST digits, computed once for the "Can I trust it?" panel.

    python tools/trust_aggregate.py                       # conv2, relu2, pool2; 200 digits
    python tools/trust_aggregate.py --layers relu2 --n 200
    python tools/trust_aggregate.py --placement stretched   # rank by the stretched drawing instead

Writes ``weights/trust_aggregate_mnist.json``: the settings used and, per hooked layer, one
record per digit (:data:`gradcam_core.analysis.sanity.RECORD_FIELDS`: index, label, explained class,
the deletion and insertion areas of Grad-CAM, the random order and the Sobel map) and their
summary (:func:`gradcam_core.analysis.sanity.aggregate_records`: how often Grad-CAM is better than,
about the same as, or worse than the random order on each curve, and the mean areas).

The settings are the MNIST panel's defaults: removed pixels become black ("zero"), 20 steps,
Grad-CAM of the predicted class, the pixels ranked by the map as the MNIST tab draws it (placement
"receptive field": each cell at the centre of what it sees; ``analysis.cell.drawn_heat``).
Everything is seeded: the random order of digit k uses seed k
(so the digits' random baselines are independent), and the run is deterministic on CPU.
The panel quotes the summary only when its own layer, baseline, steps and placement are these.
``tests/test_verdicts.py`` recomputes a few digits and checks them against the records.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gradcam_core.analysis import sanity  # noqa: E402
from gradcam_core.analysis.cell import drawn_heat  # noqa: E402
from gradcam_core.base.inputs import DEFAULT_PLACEMENT, PLACEMENTS, parse_placement  # noqa: E402
from gradcam_core.cam.engine import GradCAM  # noqa: E402

OUT = ROOT / "weights" / "trust_aggregate_mnist.json"
LAYERS = ("conv2", "relu2", "pool2")
N_DIGITS = 200
BASELINE = "zero"
STEPS = 20


def digit_record(net, layer: str, digit_u8: np.ndarray, index: int, label: int,
                 steps: int = STEPS, baseline: str = BASELINE, placement: str = DEFAULT_PLACEMENT) -> list:
    """The record of one held-out digit (uint8 28×28): Grad-CAM of the predicted class on
    ``layer``, drawn at 28×28 with ``placement``, against a random order (seed = ``index``) and Sobel."""
    x = torch.from_numpy(np.asarray(digit_u8, dtype=np.float32) / 255.0)[None, None]
    res = GradCAM(net, layer)(x, None)
    curves = sanity.deletion_insertion(net, x, res.targets, drawn_heat(net, layer, res, 0, placement), steps=steps,
                                       baseline=baseline, logits=res.logits, seed=int(index))
    return sanity.curve_record(curves, index, label)


def compute(layers=LAYERS, n: int = N_DIGITS, steps: int = STEPS, baseline: str = BASELINE,
            placement: str = DEFAULT_PLACEMENT) -> dict:
    from gradcam_core.models.lenet import load_lenet
    from gradcam_core.data.mnist import test_digits

    net = load_lenet()
    images, labels = test_digits()
    out = {
        "about": "Deletion/insertion areas of Grad-CAM vs a random order and a Sobel edge map, "
                 "LeNet on held-out MNIST digits; written by tools/trust_aggregate.py",
        "command": f"python tools/trust_aggregate.py --layers {' '.join(layers)} --n {n} --placement '{placement}'",
        "what": "held-out digits",
        "model": "weights/lenet_mnist.pt",
        "digits": f"gradcam_core.data.mnist.test_digits(), the first {n}",
        "n": int(n),
        "baseline": baseline,
        "steps": int(steps),
        "target": "predicted",
        "placement": placement,
        "seed": "the digit's index (random order)",
        "tolerance": sanity.AUC_TOLERANCE,
        "record_fields": list(sanity.RECORD_FIELDS),
        "layers": {},
    }
    for layer in layers:
        t0 = time.perf_counter()
        records = [digit_record(net, layer, images[i], i, int(labels[i]), steps, baseline, placement)
                   for i in range(n)]
        out["layers"][layer] = {"summary": sanity.aggregate_records(records), "records": records}
        s = out["layers"][layer]["summary"]
        print(f"{layer}: {n} digits in {time.perf_counter() - t0:.1f} s; deletion vs random {s['deletion_vs_random']}, "
              f"means {s['deletion_mean']}; insertion vs random {s['insertion_vs_random']}, means {s['insertion_mean']}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", nargs="+", default=list(LAYERS))
    ap.add_argument("--n", type=int, default=N_DIGITS)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--baseline", default=BASELINE, choices=sanity.BASELINES)
    ap.add_argument("--placement", default=DEFAULT_PLACEMENT, type=parse_placement,
                    help=f"how the map is drawn before its pixels are ranked: {' or '.join(PLACEMENTS)} "
                         f"(default: {DEFAULT_PLACEMENT})")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = compute(args.layers, args.n, args.steps, args.baseline, args.placement)
    args.out.write_text(json.dumps(data, separators=(",", ":")).replace('],[', '],\n[') + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
