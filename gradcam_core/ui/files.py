"""Result pictures as PNG files for gradio's Image/Gallery/File outputs.

Each request writes into a fresh folder inside gradio's own cache (``GRADIO_TEMP_DIR``): gradio
then serves the files where they are instead of copying them, and counts them as the app's
temporary files, which the app's ``delete_cache`` setting (serving.DELETE_CACHE) removes once
they are old. No folder here is pruned by hand."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from gradio.utils import get_upload_folder

from gradcam_core.cam.postprocess import normalize, upsample
from gradcam_core.present import codec, paint
from gradcam_core.present.imagenet_view import overlay_images


def _out_dir(folder: str | Path | None) -> Path:
    """``folder`` (created if needed), or a fresh folder in gradio's cache."""
    d = Path(folder) if folder is not None else Path(get_upload_folder()) / "gradcam_explorer"
    d.mkdir(parents=True, exist_ok=True)
    return d if folder is not None else Path(tempfile.mkdtemp(dir=d))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"


def _save_png(arr, path: Path) -> str:
    codec.to_pil(arr).save(path, format="PNG", compress_level=1)
    return str(path)


def write_pngs(images: Sequence[np.ndarray], folder: str | Path | None = None, stem: str = "image") -> list[str]:
    """Write images as fast PNGs into ``folder`` (default: a fresh temporary folder)."""
    d = _out_dir(folder)
    return [_save_png(a, d / f"{stem}-{i}.png") for i, a in enumerate(images)]


def write_downloads(expl, folder: str | Path | None = None) -> list[str]:
    """Grayscale map, coloured heat map and overlay of the first class, as PNG files.

    The grayscale map is the normalised map at the input size (0 → black, 1 → white); the
    coloured one uses the chosen colormap; the overlay the chosen opacity.
    """
    d = _out_dir(folder)
    v = expl.views[0]
    H, W_ = expl.image.shape[:2]
    heat = normalize(upsample(v.result.cam[0], (H, W_)), expl.norm).numpy()
    gray = np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8)
    stem = f"{_slug(expl.model_key)}_{_slug(expl.layer)}_{_slug(expl.method)}_{v.target}-{_slug(v.name)}"
    overlay = expl.overlays[0] if expl.overlays else overlay_images(expl)[0]
    return [
        _save_png(gray, d / f"{stem}_gray.png"),
        _save_png(paint.colorize(heat, expl.cmap, 0.0, 1.0), d / f"{stem}_heatmap.png"),
        _save_png(overlay, d / f"{stem}_overlay.png"),
    ]

