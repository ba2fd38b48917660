"""New photos for the memory benchmarks: every visit uploads a photo the server has never seen.

The example photos are recognised by content (``gradcam_core.data.examples``): their results come
from a shared cache and their pictures are the same strings each time, so a benchmark that cycles
through them measures far less per visit than visitors who bring their own photos do. Here each
photo is an example photo cropped, flipped, rotated, re-coloured and re-compressed at random
(seeded): a different JPEG file every time, which no cache knows.
"""
from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageEnhance

from _server import ROOT


def new_photos(n: int, folder: Path, seed: int = 23, side: int = 1024) -> list[Path]:
    """``n`` distinct JPEGs (at most ``side`` px, like a phone photo after the page's resize) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "examples").rglob("*.jpg"))
    rng = random.Random(seed)
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        with Image.open(src) as im:
            im = im.convert("RGB")
            w, h = im.size
            f = rng.uniform(0.6, 0.95)  # a random crop of 60–95 % of each side
            cw, ch = int(w * f), int(h * f)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            im = im.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR, expand=False)
            im = ImageEnhance.Color(im).enhance(rng.uniform(0.7, 1.3))
            im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.8, 1.2))
            im.thumbnail((side, side))
            path = folder / f"visit-{i:04d}-{src.stem}.jpg"
            im.save(path, format="JPEG", quality=rng.randint(80, 92))
        out.append(path)
    return out


def turned_cats(n: int, folder: Path, root: Path = ROOT) -> list[str]:
    """``n`` versions of the example cat, mirrored and turned by 1, 2, … degrees: photos no cache knows,
    of the same kind as a shipped example (the ImageNet request benchmarks)."""
    from PIL import ImageOps

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with Image.open(root / "examples" / "animals" / "chelsea_cat.jpg") as im:
        for k in range(n):
            p = folder / f"cat{k}.jpg"
            ImageOps.mirror(im.convert("RGB")).rotate(k + 1).save(p, quality=90)
            out.append(str(p))
    return out
