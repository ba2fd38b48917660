"""Write the small HEIC test photos in ``tests/heic/`` (seeded: the same pictures every run).

    python tools/make_heic_fixtures.py            # writes tests/heic/*.heic

* ``chelsea_cat.heic`` — the example cat photo (``examples/animals/chelsea_cat.jpg``), 320 px wide,
  as an iPhone would store it (HEVC in a HEIF container);
* ``digit_7.heic`` — held-out MNIST digit #7 (label 7) as black ink on slightly uneven,
  slightly noisy white paper, 240×320, like a phone photo of a digit written on a sheet;
* ``rotated_cat.heic`` — the cat stored sideways with EXIF orientation 6 ("rotate 90° clockwise
  to display"), as a phone held upright writes it; the loader must show it upright.

The bytes depend on the installed libheif/x265, so tests check what the files show, not their
bytes. Needs ``pillow-heif`` (requirements.txt).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "heic"
SEED = 11
QUALITY = 80

pillow_heif.register_heif_opener()


def cat() -> Image.Image:
    with Image.open(ROOT / "examples" / "animals" / "chelsea_cat.jpg") as im:
        im = im.convert("RGB")
        return im.resize((320, round(320 * im.height / im.width)), Image.Resampling.LANCZOS)


def digit_photo(index: int = 7, seed: int = SEED) -> tuple[Image.Image, int]:
    """A held-out MNIST digit written in dark ink on a sheet: 240 wide, 320 tall, the digit
    about 150 px tall in the middle, soft light from the left and sensor noise."""
    sys.path.insert(0, str(ROOT))
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    ink = np.asarray(Image.fromarray(images[index]).resize((168, 168), Image.Resampling.BICUBIC),
                     dtype=np.float64) / 255.0
    rng = np.random.default_rng(seed)
    h, w = 320, 240
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 232 - 22 * (xx / w) - 8 * (yy / h)  # uneven light
    page = np.repeat(paper[..., None], 3, axis=2) * np.array([1.0, 0.99, 0.96])  # warm white
    y0, x0 = (h - 168) // 2, (w - 168) // 2
    pen = np.array([28.0, 30.0, 45.0])  # dark blue-black ink
    region = page[y0:y0 + 168, x0:x0 + 168]
    page[y0:y0 + 168, x0:x0 + 168] = region * (1 - ink[..., None]) + pen * ink[..., None]
    page += rng.normal(0, 3.0, page.shape)
    return Image.fromarray(np.clip(np.rint(page), 0, 255).astype(np.uint8)), int(labels[index])


def save_heic(im: Image.Image, path: Path, **kw) -> None:
    im.save(path, "HEIF", quality=QUALITY, **kw)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    c = cat()
    save_heic(c, OUT / "chelsea_cat.heic")
    d, label = digit_photo()
    save_heic(d, OUT / f"digit_{label}.heic")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: store the upright picture turned the other way
    save_heic(c.transpose(Image.Transpose.ROTATE_90), OUT / "rotated_cat.heic", exif=exif.tobytes())
    for p in sorted(OUT.glob("*.heic")):
        print(f"{p.relative_to(ROOT)}  {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
