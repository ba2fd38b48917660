"""Generate the seeded field set of phone photos of handwritten digits: ``tests/field_digits/``.

    python tools/make_field_digits.py            # (re)writes tests/field_digits/*.jpg + manifest.json
    python tools/make_field_digits.py --check    # regenerates in memory, compares with the files

Each photo is rendered as a phone sees a sheet of paper on a table:

* the ink is a real handwritten digit: a held-out MNIST digit (``gradcam_core.data.mnist.test_digits``)
  upsampled smoothly, thresholded, thinned to its centre line and redrawn with a pen of a chosen
  width (thin pen ... marker), in blue, black or pencil;
* the sheet is plain, ruled or squared paper, placed with a projective transform: tilted by up to
  ±10 degrees, with perspective, and often not filling the frame, so that a strip of table (wood,
  grey or dark, textured) shows at one or two borders; sometimes the edge of another sheet, or a
  fingertip at an edge;
* light is uneven, a soft cast shadow may cross the sheet; then blur, sensor noise, and JPEG at
  quality 55-90 at a phone's resolution.

The digits are taken among the held-out digits that LeNet reads right as clean 28x28 inputs, so
the rate measured on this set is the rate of the photo path (not of the model's own mistakes).
A few photos are not digits at all (scikit-image's sample photos: a cat, coffee, an astronaut ...),
and a few are blank sheets; their manifest label is ``null`` with ``kind`` "non-digit" / "blank".

Everything derives from ``SEED`` and the item number; the JPEG encoder settings are fixed, so
regenerating gives byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage, special

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT_DIR = ROOT / "tests" / "field_digits"
SEED = 20261201
N_DIGITS = 150
NON_DIGITS = ["chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry", "brick"]
N_BLANK = 3
SIZES = [(900, 1200), (960, 1280), (1050, 1400), (1200, 1600)]  # (width, height), portrait
JPEG_KW = dict(subsampling=2, optimize=False, progressive=False)  # fixed encoder settings

INKS = {"blue": (28, 52, 158), "black": (24, 24, 30), "pencil": (92, 92, 100)}
PENS = {"thin": (4, 6), "pen": (7, 10), "felt": (12, 17), "marker": (19, 26)}  # stroke px at 1000 px
TABLES = {"wood": (150, 100, 58), "grey": (128, 128, 126), "dark": (42, 40, 44)}
SKIN = (214, 160, 128)


# --------------------------------------------------------------------------- choices

def chosen_digits(n: int = N_DIGITS) -> list[tuple[int, int]]:
    """(held-out index, label) for n digits, labels cycling 0..9, each read right by LeNet."""
    import torch

    from gradcam_core.models.lenet import load_lenet
    from gradcam_core.data.mnist import test_digits

    images, labels = test_digits()
    model = load_lenet()
    with torch.no_grad():
        pred = model(torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)).argmax(1).numpy()
    per_class = [[int(i) for i in np.flatnonzero((labels == c) & (pred == c))] for c in range(10)]
    return [(per_class[j % 10][j // 10], j % 10) for j in range(n)]


def draw_conditions(rng: np.random.Generator) -> dict:
    """The random conditions of one digit photo (all plain Python values, for the manifest)."""
    w, h = SIZES[int(rng.integers(len(SIZES)))]
    if rng.random() < 0.25:
        w, h = h, w                                               # landscape
    sheet = str(rng.choice(["fills", "table", "table", "table"]))
    n_sides = int(rng.choice([1, 2])) if sheet == "table" else 0
    sides = [str(s) for s in rng.choice(["left", "right", "top", "bottom"], size=n_sides, replace=False)]
    return {
        "size": [w, h],
        "sheet": sheet,
        "table": str(rng.choice(list(TABLES))) if sheet == "table" else None,
        "table_sides": sides,
        "other_sheet_edge": bool(sheet == "fills" and rng.random() < 0.5),
        "fingertip": bool(rng.random() < 0.3),
        "tilt_deg": round(float(rng.uniform(-10, 10)), 2),
        "perspective": round(float(rng.choice([0.0, rng.uniform(0.01, 0.045)])), 4),
        "paper": str(rng.choice(["plain", "ruled", "squared"])),
        "ink": str(rng.choice(list(INKS))),
        "pen": str(rng.choice(list(PENS))),
        "digit_frac": round(float(rng.uniform(0.26, 0.42)), 3),  # 28x28 frame side / short side
        "uneven_light": bool(rng.random() < 0.7),
        "shadow": bool(rng.random() < 0.4),
        "blur_px": round(float(rng.uniform(0.4, 2.0)), 2),
        "noise": round(float(rng.uniform(0.8, 2.6)), 2),
        "jpeg_quality": int(rng.integers(55, 91)),
    }


# --------------------------------------------------------------------------- rendering helpers

def _smooth_noise(rng, shape, sigma, amp=1.0):
    n = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return amp * n / (n.std() + 1e-6)


def ink_alpha(digit28: np.ndarray, side: int, width: float) -> np.ndarray:
    """Real handwriting at ``side`` px: upsample smoothly, threshold, thin, redraw with a round pen."""
    from skimage.morphology import skeletonize
    from skimage.transform import resize

    big = resize(digit28.astype(np.float32) / 255.0, (side, side), order=3, anti_aliasing=False)
    strokes = ndimage.binary_opening(big > 0.45, iterations=1)
    centre_line = skeletonize(strokes)
    dist = ndimage.distance_transform_edt(~centre_line)
    alpha = np.clip(width / 2.0 + 0.5 - dist, 0.0, 1.0)        # anti-aliased round pen of `width`
    return alpha.astype(np.float32)


def table_texture(rng, kind: str, h: int, w: int) -> np.ndarray:
    base = np.array(TABLES[kind], np.float32) * rng.uniform(0.85, 1.12)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "wood":
        ang = rng.uniform(0, math.pi)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        v = -xx * math.sin(ang) + yy * math.cos(ang)
        period = rng.uniform(14, 30)
        grain = np.sin(2 * math.pi * (v + 9 * np.sin(u / rng.uniform(90, 200))) / period)
        tex = 0.13 * grain + 0.06 * _smooth_noise(rng, (h, w), 2.0) + 0.05 * _smooth_noise(rng, (h, w), 25)
    elif kind == "grey":
        tex = 0.07 * _smooth_noise(rng, (h, w), 3.0) + 0.06 * _smooth_noise(rng, (h, w), 30)
    else:
        tex = 0.15 * _smooth_noise(rng, (h, w), 1.5) + 0.10 * _smooth_noise(rng, (h, w), 20)
    return base[None, None, :] * (1.0 + tex[..., None])


def paper_sheet(rng, kind: str, h: int, w: int) -> np.ndarray:
    """Flat sheet (paper coordinates, same size as the frame) with its ruling, RGB float 0..255."""
    tint = np.array([246, 244, 236], np.float32) + rng.uniform(-6, 4, 3)
    sheet = np.ones((h, w, 3), np.float32) * tint
    sheet *= 1.0 + 0.008 * _smooth_noise(rng, (h, w), 4.0)[..., None]
    if kind == "plain":
        return sheet
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "ruled":
        sp, thick = rng.uniform(0.045, 0.065) * h, rng.uniform(1.6, 3.0)
        colour, strength = np.array([120, 160, 215], np.float32), rng.uniform(0.45, 0.8)
        d = np.abs(((yy - rng.uniform(0, sp)) % sp) - sp / 2) - (sp / 2 - thick / 2)
        line = np.clip(d + 0.5, 0, 1)
        sheet = sheet * (1 - strength * line[..., None]) + colour * strength * line[..., None]
        if rng.random() < 0.5:                                   # the red margin line
            x0 = rng.uniform(0.08, 0.16) * w
            m = np.clip(thick / 2 + 0.5 - np.abs(xx - x0), 0, 1)[..., None] * 0.7
            sheet = sheet * (1 - m) + np.array([220, 90, 100], np.float32) * m
        return sheet
    sp, thick = rng.uniform(0.028, 0.042) * w, rng.uniform(1.2, 2.2)
    colour, strength = np.array([150, 165, 190], np.float32), rng.uniform(0.4, 0.75)
    off = rng.uniform(0, sp, 2)
    dy = np.abs(((yy - off[0]) % sp) - sp / 2) - (sp / 2 - thick / 2)
    dx = np.abs(((xx - off[1]) % sp) - sp / 2) - (sp / 2 - thick / 2)
    line = np.maximum(np.clip(dy + 0.5, 0, 1), np.clip(dx + 0.5, 0, 1))
    return sheet * (1 - strength * line[..., None]) + colour * strength * line[..., None]


def sheet_quad(rng, cond: dict, h: int, w: int) -> np.ndarray:
    """Frame coordinates (x, y) of the sheet's corners TL, TR, BR, BL."""
    x0, x1 = -0.15 * w, 1.15 * w
    y0, y1 = -0.15 * h, 1.15 * h
    for side in cond["table_sides"]:
        s = rng.uniform(0.05, 0.16)
        if side == "left":
            x0 = s * w
        elif side == "right":
            x1 = (1 - s) * w
        elif side == "top":
            y0 = s * h
        else:
            y1 = (1 - s) * h
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    c = np.array([w / 2, h / 2])
    if cond["table_sides"]:
        # rotate about the middle of the visible sheet edge so the table strip stays in the frame
        c = np.array([(max(x0, 0) + min(x1, w)) / 2, (max(y0, 0) + min(y1, h)) / 2])
    t = math.radians(cond["tilt_deg"])
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    quad = (quad - c) @ rot.T + c
    quad += rng.uniform(-1, 1, quad.shape) * cond["perspective"] * min(w, h)
    return quad


def _projective(src: np.ndarray, dst: np.ndarray):
    """The projective transform mapping the 4 points ``src`` onto ``dst``."""
    from skimage.transform import ProjectiveTransform

    if hasattr(ProjectiveTransform, "from_estimate"):            # scikit-image >= 0.26
        return ProjectiveTransform.from_estimate(src, dst)
    tform = ProjectiveTransform()
    tform.estimate(src, dst)
    return tform


def warp_sheet(sheet: np.ndarray, quad: np.ndarray, h: int, w: int):
    """Warp the flat sheet onto ``quad``; returns (rgb, coverage) in frame coordinates."""
    from skimage.transform import warp

    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)   # sheet corners (x, y)
    tform = _projective(quad, src)                                 # frame -> sheet
    rgb = np.stack([warp(sheet[..., k], tform, output_shape=(h, w), order=1, mode="edge",
                         preserve_range=True) for k in range(3)], axis=-1)
    cover = warp(np.ones((h, w), np.float32), tform, output_shape=(h, w), order=1, cval=0.0,
                 preserve_range=True)
    return rgb.astype(np.float32), cover.astype(np.float32), tform


def _soft(mask_dist: np.ndarray) -> np.ndarray:
    return np.clip(mask_dist + 0.5, 0.0, 1.0)


def add_fingertip(rng, img: np.ndarray) -> str:
    h, w = img.shape[:2]
    side = str(rng.choice(["left", "right", "bottom"]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = rng.uniform(0.08, 0.11) * min(w, h), rng.uniform(0.14, 0.20) * min(w, h)  # half width, reach
    if side == "bottom":
        cx, cy = rng.uniform(0.2, 0.8) * w, h + 0.2 * b
        u, v = (xx - cx) / a, (yy - cy) / b
    elif side == "left":
        cx, cy = -0.2 * b, rng.uniform(0.25, 0.8) * h
        u, v = (yy - cy) / a, (xx - cx) / b
    else:
        cx, cy = w + 0.2 * b, rng.uniform(0.25, 0.8) * h
        u, v = (yy - cy) / a, (xx - cx) / b
    r = np.sqrt(u * u + v * v)
    alpha = _soft((1.0 - r) * a)
    shade = np.clip(1.05 - 0.35 * r ** 3, 0.55, 1.05)
    skin = np.array(SKIN, np.float32) * rng.uniform(0.8, 1.08) * shade[..., None]
    # its shadow on the paper, slightly offset
    sh = ndimage.gaussian_filter(alpha, 12)
    sh = np.roll(sh, (int(0.03 * h), int(0.02 * w)), axis=(0, 1))
    img *= (1 - 0.35 * sh)[..., None]
    img[:] = img * (1 - alpha[..., None]) + skin * alpha[..., None]
    return side


def lighting(rng, h: int, w: int, cond: dict) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yn, xn = yy / h - 0.5, xx / w - 0.5
    light = np.full((h, w), rng.uniform(0.88, 1.02), np.float32)
    if cond["uneven_light"]:
        g = rng.uniform(-0.3, 0.3, 2)
        light += g[0] * xn + g[1] * yn - rng.uniform(0.1, 0.35) * (xn * xn + yn * yn)
    if cond["shadow"]:
        ang = rng.uniform(0, 2 * math.pi)
        proj = xn * math.cos(ang) + yn * math.sin(ang) + 0.04 * np.sin(yn * 9 + xn * 7)
        edge = rng.uniform(-0.05, 0.3)                  # shadow covers the side beyond `edge`
        soft = rng.uniform(0.01, 0.05)
        part = special.expit((proj - edge) / soft)
        light *= 1.0 - rng.uniform(0.25, 0.45) * part
    return np.clip(light, 0.2, 1.2)


def camera(rng, img: np.ndarray, cond: dict) -> Image.Image:
    img = ndimage.gaussian_filter(img, (cond["blur_px"], cond["blur_px"], 0))
    img = img + rng.normal(0.0, cond["noise"], img.shape).astype(np.float32)
    img = img + rng.normal(0.0, cond["noise"] * 0.6, img.shape[:2]).astype(np.float32)[..., None]
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def render_digit_photo(rng: np.random.Generator, digit28: np.ndarray, cond: dict) -> Image.Image:
    w, h = cond["size"]
    short = min(w, h)
    scene = table_texture(rng, cond["table"] or "grey", h, w)
    sheet = paper_sheet(rng, cond["paper"], h, w)

    quad = sheet_quad(rng, cond, h, w)
    to_sheet = _projective(quad, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64))
    # the digit goes where the middle of the frame (a little off) lands on the sheet
    mid = np.array([[w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h]])
    sx, sy = to_sheet(mid)[0]
    scale = np.linalg.norm(to_sheet(mid + [1, 0])[0] - to_sheet(mid)[0])       # sheet px per frame px
    side = int(round(cond["digit_frac"] * short * scale))
    lo, hi = PENS[cond["pen"]]
    width = rng.uniform(lo, hi) * short / 1000.0 * scale
    alpha = ink_alpha(digit28, side, width)
    if cond["ink"] == "pencil":
        alpha *= np.clip(rng.uniform(0.55, 0.8) + 0.18 * _smooth_noise(rng, alpha.shape, 1.0), 0.2, 1.0)
    else:
        alpha *= rng.uniform(0.85, 0.97)
    top, left = int(round(sy - side / 2)), int(round(sx - side / 2))
    colour = np.array(INKS[cond["ink"]], np.float32) * rng.uniform(0.85, 1.15)
    region = sheet[top:top + side, left:left + side]
    a = alpha[: region.shape[0], : region.shape[1], None]
    sheet[top:top + side, left:left + side] = region * (1 - a) + np.minimum(region, colour) * a

    paper, cover, _ = warp_sheet(sheet, quad, h, w)
    if cond["sheet"] == "table":
        # a thin contact shadow on the table just outside the sheet
        shadow = np.clip(ndimage.gaussian_filter(cover, 4) - cover, 0, 1)
        scene *= (1 - 0.8 * shadow)[..., None]
    img = scene * (1 - cover[..., None]) + paper * cover[..., None]

    if cond["other_sheet_edge"]:
        # the straight edge of another sheet lying on top, near one border
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = math.radians(rng.uniform(-8, 8))
        if rng.random() < 0.5:
            pos = rng.choice([0.06, 0.94]) * h + rng.uniform(-0.02, 0.02) * h
            d = (yy - h / 2) * math.cos(ang) - (xx - w / 2) * math.sin(ang) - (pos - h / 2)
            d = d if pos > h / 2 else -d
        else:
            pos = rng.choice([0.06, 0.94]) * w + rng.uniform(-0.02, 0.02) * w
            d = (xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang) - (pos - w / 2)
            d = d if pos > w / 2 else -d
        over = _soft(d)[..., None]
        edge_shadow = np.exp(-np.clip(-d, 0, None) / 3.0) * (d < 0)
        img = img * (1 - 0.3 * edge_shadow[..., None])
        img = img * (1 - over) + np.array([240, 238, 232], np.float32) * 0.97 * over
    if cond["fingertip"]:
        cond["fingertip_side"] = add_fingertip(rng, img)
    img = img * lighting(rng, h, w, cond)[..., None]
    return camera(rng, img, cond)


def render_blank(rng: np.random.Generator, k: int) -> tuple[Image.Image, dict]:
    cond = draw_conditions(rng)
    cond.update(paper=["plain", "ruled", "squared"][k % 3], sheet="table", table=["grey", "wood", "dark"][k % 3],
                table_sides=[["left"], ["top", "right"], ["bottom"]][k % 3])
    w, h = cond["size"]
    scene = table_texture(rng, cond["table"], h, w)
    sheet = paper_sheet(rng, cond["paper"], h, w)
    paper, cover, _ = warp_sheet(sheet, sheet_quad(rng, cond, h, w), h, w)
    img = scene * (1 - cover[..., None]) + paper * cover[..., None]
    img = img * lighting(rng, h, w, cond)[..., None]
    return camera(rng, img, cond), cond


def render_non_digit(name: str) -> Image.Image:
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    img = Image.fromarray(arr.astype(np.uint8))
    f = 1000 / max(img.size)
    return img.resize((round(img.width * f), round(img.height * f)), Image.Resampling.BICUBIC)


def encode(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **JPEG_KW)
    return buf.getvalue()


# --------------------------------------------------------------------------- the set

def item_rng(k: int) -> np.random.Generator:
    return np.random.default_rng([SEED, k])


def make_item(k: int, digits=None) -> tuple[str, bytes, dict]:
    """Item k of the set: (file name, JPEG bytes, manifest entry)."""
    from gradcam_core.data.mnist import test_digits

    rng = item_rng(k)
    if k < N_DIGITS:
        digits = digits or chosen_digits()
        index, label = digits[k]
        cond = draw_conditions(rng)
        img = render_digit_photo(rng, test_digits()[0][index], cond)
        name = f"d{k:03d}_{label}.jpg"
        entry = {"file": name, "label": label, "kind": "digit", "mnist_index": index, "conditions": cond}
        return name, encode(img, cond["jpeg_quality"]), entry
    j = k - N_DIGITS
    if j < len(NON_DIGITS):
        img = render_non_digit(NON_DIGITS[j])
        name = f"n{j:02d}_{NON_DIGITS[j]}.jpg"
        entry = {"file": name, "label": None, "kind": "non-digit", "source": f"skimage.data.{NON_DIGITS[j]}",
                 "conditions": {"size": list(img.size), "jpeg_quality": 85}}
        return name, encode(img, 85), entry
    j -= len(NON_DIGITS)
    img, cond = render_blank(rng, j)
    name = f"b{j:02d}_blank.jpg"
    return name, encode(img, cond["jpeg_quality"]), {"file": name, "label": None, "kind": "blank", "conditions": cond}


def library_versions() -> dict:
    """The libraries whose numerics or JPEG encoder shape the bytes (same versions: same files)."""
    import PIL
    import scipy
    import skimage

    return {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__,
            "pillow": PIL.__version__}


def n_items() -> int:
    return N_DIGITS + len(NON_DIGITS) + N_BLANK


def build(out_dir: Path = OUT_DIR, check: bool = False) -> int:
    digits = chosen_digits()
    entries, bad = [], []
    out_dir.mkdir(parents=True, exist_ok=True)
    for k in range(n_items()):
        name, data, entry = make_item(k, digits)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entries.append(entry)
        path = out_dir / name
        if check:
            if not path.exists() or path.read_bytes() != data:
                bad.append(name)
        else:
            path.write_bytes(data)
    manifest = {"seed": SEED, "generator": "tools/make_field_digits.py", "n_digits": N_DIGITS,
                "note": "digits are held-out MNIST digits that LeNet reads right as clean 28x28 input",
                "versions": library_versions(), "items": entries}
    text = json.dumps(manifest, indent=1, sort_keys=False) + "\n"
    if check:
        if (out_dir / "manifest.json").read_text(encoding="utf-8") != text:
            bad.append("manifest.json")
        print("identical" if not bad else f"differs: {bad}")
        return 1 if bad else 0
    (out_dir / "manifest.json").write_text(text, encoding="utf-8")
    total = sum(p.stat().st_size for p in out_dir.glob("*.jpg"))
    print(f"wrote {len(entries)} photos to {out_dir} ({total / 1e6:.1f} MB)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="compare with the files instead of writing")
    args = ap.parse_args(argv)
    return build(args.out, args.check)


if __name__ == "__main__":
    sys.exit(main())
