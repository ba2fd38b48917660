"""Choose a transformer's default layer by measurement on the example photos (issue 29).

    python tools/choose_default_layers.py                         # swin_t and convnext_tiny, every listed layer
    python tools/choose_default_layers.py --models swin_t --steps 10 --photos 4
    python tools/choose_default_layers.py --boxes boxes.json      # + the heat inside each photo's object box

Needs the pretrained weights (``python -m gradcam_core weights download swin_t convnext_tiny``);
without them it says so and exits 2: random weights would choose nothing.

For every photo of ``examples/`` and every listed layer of each model, Grad-CAM of the model's
predicted class (the photo's label as the model reads it), drawn over the model's crop, is scored
two ways:

* **deletion / insertion** (``analysis/deletion.py``, Petsiuk et al. 2018): remove (reveal) the
  pixels in the order the map ranks them and follow the class probability; a map that puts its
  heat on what the class needs gives a low deletion area and a high insertion area.  The score of
  a layer is the mean of (insertion − deletion) over the photos.
* **heat on the object**, when ``--boxes`` gives boxes: a JSON object ``{"animals/chelsea_cat.jpg":
  [x0, y0, x1, y1], ...}`` in the photo's pixels.  The share of the map's heat inside the box (on
  the model's crop) against the share of the crop the box covers.  The example photos ship without
  boxes, so this is off by default.

Prints a Markdown table per model (mean and spread over the photos, the layer the registry uses
marked) and the layer with the best score: copy it into BENCHMARKS.md, and change the registry's
default only if the measurement says so.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradcam_core.analysis.deletion import deletion_insertion  # noqa: E402
from gradcam_core.cam.engine import GradCAM  # noqa: E402
from gradcam_core.cam.postprocess import upsample  # noqa: E402
from gradcam_core.data.examples import load_manifest  # noqa: E402
from gradcam_core.data.images import load_image  # noqa: E402
from gradcam_core.models import registry as M  # noqa: E402
from gradcam_core.models import weights as W  # noqa: E402
import gradcam_core.present.words  # noqa: E402,F401  (layer labels are worded once the catalogue is loaded)


def box_on_crop(spec: M.ModelSpec, size: tuple[int, int], box: list[float]) -> np.ndarray:
    """(H, W) mask of the model's input that lies inside ``box`` (photo pixels), via the crop the
    model sees (``registry.crop_box``)."""
    left, top, right, bottom = M.crop_box(spec, size)
    h, w = spec.input_size
    sx, sy = w / (right - left), h / (bottom - top)
    x0, y0, x1, y1 = ((box[0] - left) * sx, (box[1] - top) * sy, (box[2] - left) * sx, (box[3] - top) * sy)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def measure(key: str, photos: list[dict], steps: int, boxes: dict[str, list[float]]) -> list[dict]:
    spec = M.get_model(key)
    model = spec.load(allow_download=False)
    rows = []
    for info in spec.layers:
        cam = GradCAM(model, info.name, layout=spec.layout_of(info.name))
        scores, shares = [], []
        for entry in photos:
            img = load_image(entry["path"])
            x = spec.preprocess(img)
            r = cam(x)  # the predicted class
            heat = upsample(r.cam, spec.input_size)[0].numpy()
            curves = deletion_insertion(model, x, r.targets, heat, steps=steps, compare=(), logits=r.logits)
            scores.append(curves.auc_insertion["Grad-CAM"] - curves.auc_deletion["Grad-CAM"])
            box = boxes.get(entry["file"])
            if box is not None and heat.sum() > 0:
                mask = box_on_crop(spec, img.size, box)
                shares.append(float(heat[mask].sum() / heat.sum()) - float(mask.mean()))
        rows.append({"layer": info.name, "label": info.label, "score": statistics.fmean(scores),
                     "spread": statistics.pstdev(scores), "box": statistics.fmean(shares) if shares else None,
                     "photos": len(scores), "default": info.name == spec.default_layer})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["swin_t", "convnext_tiny"],
                    choices=["vit_b_16", "swin_t", "convnext_tiny"])
    ap.add_argument("--steps", type=int, default=20, help="deletion / insertion steps")
    ap.add_argument("--photos", type=int, default=0, help="only the first N example photos (0: all)")
    ap.add_argument("--boxes", type=Path, help="JSON: example file → [x0, y0, x1, y1] of its object, photo pixels")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    missing = [k for k in args.models if W.find_weights(k) is None]
    if missing:
        names = ", ".join(W.weights_filename(W.candidate_weights(k)[0]) for k in missing)
        print(f"No pretrained weights for {', '.join(missing)} ({names} in {W.weights_dir()}); run "
              f"`python -m gradcam_core weights download {' '.join(missing)}` first.", file=sys.stderr)
        return 2
    photos = load_manifest()
    photos = photos[: args.photos] if args.photos else photos
    boxes = json.loads(args.boxes.read_text(encoding="utf-8")) if args.boxes else {}
    for key in args.models:
        rows = measure(key, photos, args.steps, boxes)
        title = M.get_model(key).title
        print(f"\n# {title}: Grad-CAM of the predicted class on {rows[0]['photos']} example photo(s), "
              f"{args.steps} deletion/insertion steps (blur baseline)\n")
        print("| layer | insertion − deletion AUC (mean) | spread (sd) | heat share − area share in the box |")
        print("|---|---:|---:|---:|")
        for r in rows:
            box = "" if r["box"] is None else f"{r['box']:+.3f}"
            mark = " (registry default)" if r["default"] else ""
            print(f"| {r['label']}{mark} | {r['score']:.3f} | {r['spread']:.3f} | {box} |")
        best = max(rows, key=lambda r: (r["box"] if boxes else r["score"]))
        print(f"\nbest: {best['layer']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
