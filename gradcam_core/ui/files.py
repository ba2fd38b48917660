"""Result pictures as PNG files for gradio's Image/Gallery/File outputs.

Each request writes into a fresh folder inside gradio's own cache (``GRADIO_TEMP_DIR``): gradio
then serves the files where they are instead of copying them, and counts them as the app's
temporary files, which the app's ``delete_cache`` setting (serving.DELETE_CACHE) removes once
they are old. No folder here is pruned by hand."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from gradio.utils import get_upload_folder

from gradcam_core.present import codec
from gradcam_core.present.imagenet_view import download_images


def _out_dir(folder: str | Path | None) -> Path:
    """``folder`` (created if needed), or a fresh folder in gradio's cache."""
    d = Path(folder) if folder is not None else Path(get_upload_folder()) / "gradcam_explorer"
    d.mkdir(parents=True, exist_ok=True)
    return d if folder is not None else Path(tempfile.mkdtemp(dir=d))


def _save_png(arr, path: Path) -> str:
    codec.to_pil(arr).save(path, format="PNG", compress_level=1)
    return str(path)


def write_pngs(images: Sequence[np.ndarray], folder: str | Path | None = None, stem: str = "image") -> list[str]:
    """Write images as fast PNGs into ``folder`` (default: a fresh temporary folder)."""
    d = _out_dir(folder)
    return [_save_png(a, d / f"{stem}-{i}.png") for i, a in enumerate(images)]


def write_downloads(expl: Any, folder: str | Path | None = None) -> list[str]:
    """Grayscale map, coloured heat map and overlay of the first class, as PNG files
    (drawn by :func:`gradcam_core.present.imagenet_view.download_images`)."""
    d = _out_dir(folder)
    stem, images = download_images(expl)
    return [_save_png(images[k], d / f"{stem}_{k}.png") for k in ("gray", "heatmap", "overlay")]
