"""Build examples/ from photos that ship inside installed registry packages.

    python tools/make_examples.py            # writes examples/*, manifest.json, README.md
    python tools/make_examples.py --no-predict

Sources: scikit-image's bundled data files, scikit-learn's sample images and
matplotlib's sample data.  Nothing is downloaded: a scikit-image image whose
file is not in the installed wheel (those are fetched with pooch on first
use) is skipped and recorded under "skipped" in the manifest.  Credits and
licences are taken from each package's own notes (docstrings, README.txt,
embedded JPEG comments); where a package states none, the manifest says so.

``gradcam_core.data.examples.load_manifest()`` is what the app uses to list the examples.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: python tools/make_examples.py
    sys.path.insert(0, str(ROOT))

from gradcam_core.data.examples import CATEGORY_ORDER, EXAMPLES_DIR  # noqa: E402

MAX_SIDE = 640
JPEG_QUALITY = 90



@dataclass
class Source:
    file: str  # relative to examples/
    title: str
    category: str
    package: str  # distribution name on PyPI
    function: str  # how to get it in Python
    package_path: str  # file inside the installed package
    credit: str
    licence: str
    licence_source: str  # where we read the credit / licence
    note: str = ""


def _pkg_file(module: str, rel: str) -> Path:
    mod = __import__(module, fromlist=["__file__"])
    return Path(mod.__file__).parent / rel


SOURCES: list[Source] = [
    Source("animals/chelsea_cat.jpg", "Chelsea the cat", "animals", "scikit-image", "skimage.data.chelsea()",
           "skimage/data/chelsea.png", "Stefan van der Walt (photographer)",
           "CC0 (no copyright restrictions)", "docstring of skimage.data.chelsea"),
    # Not in the scikit-image wheel (fetched with pooch on first use): recorded as skipped.
    Source("animals/golden_eagle.jpg", "Golden eagle", "animals", "scikit-image", "skimage.data.eagle()",
           "skimage/data/eagle.png", "Dayane Machado (photographer)", "CC0", "docstring of skimage.data.eagle"),
    Source("food/coffee_cup.jpg", "Coffee cup", "food", "scikit-image", "skimage.data.coffee()",
           "skimage/data/coffee.png", "Rachel Michetti (photographer); courtesy of Pikolo Espresso Bar",
           "CC0 (no copyright restrictions)", "docstring of skimage.data.coffee"),
    Source("objects_vehicles/rocket_launch.jpg", "Falcon 9 launch (DSCOVR)", "objects/vehicles", "scikit-image",
           "skimage.data.rocket()", "skimage/data/rocket.jpg", "SpaceX (SpaceX Photos on Flickr)",
           "public domain (released by SpaceX)", "docstring of skimage.data.rocket"),
    Source("objects_vehicles/motorcycle.jpg", "Motorcycle (stereo left view)", "objects/vehicles", "scikit-image",
           "skimage.data.stereo_motorcycle()[0]", "skimage/data/motorcycle_left.png",
           "Middlebury 2014 stereo dataset: N. Nesic, P. Westling, X. Wang, Y. Kitajima, G. Krathwohl, "
           "D. Scharstein (Middlebury College); downsampled 4× by scikit-image",
           "unknown: scikit-image does not state a licence for this image",
           "docstring of skimage.data.stereo_motorcycle",
           "Cite Scharstein et al., GCPR 2014, when publishing. Drop it if an explicit licence is required."),
    Source("people/astronaut_eileen_collins.jpg", "Astronaut Eileen Collins", "people", "scikit-image",
           "skimage.data.astronaut()", "skimage/data/astronaut.png", "NASA (Great Images database)",
           "public domain (no known copyright restrictions)", "docstring of skimage.data.astronaut"),
    Source("people/grace_hopper.jpg", "Grace Hopper", "people", "matplotlib",
           "matplotlib.cbook.get_sample_data('grace_hopper.jpg')", "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
           "unknown: matplotlib gives no author; the JPEG's embedded comment names its source as "
           "Wikimedia Commons, File:Grace_Hopper.jpg",
           "unknown: matplotlib states none (its sample_data README and LICENSE do not cover this file)",
           "matplotlib sample_data/README.txt, LICENSE, JPEG comment",
           "Probably the official U.S. Navy portrait (a U.S. government work, hence public domain), "
           "but that could not be checked offline."),
    Source("plants/dahlia.jpg", "Dahlia (flower.jpg)", "plants", "scikit-learn",
           "sklearn.datasets.load_sample_image('flower.jpg')", "sklearn/datasets/images/flower.jpg",
           "Flickr user vultilion (the README's attribution line says danielbuechele, but its source link "
           "is vultilion's photostream); retrieved by Robert Layton",
           "CC BY 2.0 (attribution required)", "sklearn/datasets/images/README.txt",
           "ImageNet has no 'dahlia' class: a good case for asking what the model can and cannot name."),
    Source("scenes/china_temple.jpg", "Temple tower by a lake, China (china.jpg)", "scenes", "scikit-learn",
           "sklearn.datasets.load_sample_image('china.jpg')", "sklearn/datasets/images/china.jpg",
           "Flickr user danielbuechele; retrieved by Robert Layton",
           "CC BY 2.0 (attribution required)", "sklearn/datasets/images/README.txt"),
    Source("people/cameraman.jpg", "Photographer with a camera on a tripod (camera)", "people", "scikit-image",
           "skimage.data.camera()", "skimage/data/camera.png", "Lav Varshney (photographer)",
           "CC0 (no copyright restrictions)", "docstring of skimage.data.camera", "Greyscale, stored as RGB."),
    Source("objects_vehicles/greek_coins.jpg", "Greek coins from Pompeii", "objects/vehicles", "scikit-image",
           "skimage.data.coins()", "skimage/data/coins.png", "Brooklyn Museum Collection",
           "no known copyright restrictions (as stated by scikit-image)", "docstring of skimage.data.coins",
           "Greyscale, stored as RGB. ImageNet has no coin class."),
    Source("scenes/hubble_deep_field.jpg", "Hubble eXtreme Deep Field", "scenes", "scikit-image",
           "skimage.data.hubble_deep_field()", "skimage/data/hubble_deep_field.jpg", "NASA (HubbleSite)",
           "public domain (NASA: may be freely used)", "docstring of skimage.data.hubble_deep_field",
           "ImageNet has no class for galaxies: every answer is a guess."),
    Source("textures/grass.jpg", "Grass (texture)", "textures", "scikit-image", "skimage.data.grass()",
           "skimage/data/grass.png", "linolafett on DeviantArt (Grass-01); cropped and made greyscale by scikit-image",
           "CC0", "docstring of skimage.data.grass", "Greyscale, stored as RGB."),
    Source("textures/gravel.jpg", "Gravel (texture)", "textures", "scikit-image", "skimage.data.gravel()",
           "skimage/data/gravel.png", "CC0Textures (Gravel04); cropped and made greyscale by scikit-image",
           "CC0", "docstring of skimage.data.gravel", "Greyscale, stored as RGB."),
    Source("textures/brick_wall.jpg", "Brick wall (texture)", "textures", "scikit-image", "skimage.data.brick()",
           "skimage/data/brick.png", "CC0Textures (Bricks25); transformed and made greyscale by scikit-image",
           "CC0", "docstring of skimage.data.brick", "Greyscale, stored as RGB."),
]


#: Where else photos were looked for (dogs, birds, vehicles, food with a stated licence), and why
#: nothing more was taken; written into examples/README.md.
CHECKED = [
    "scikit-image 0.26 (`skimage/data/`): its everyday photos with a stated licence are all used above. "
    "Also there: `retina.jpg` and `cell.png` (CC0, but a fundus photograph and a microscope image, not "
    "everyday photos), `moon.png` (no licence stated), `horse.png` (a black-and-white clip-art silhouette). "
    "The golden eagle, its only bird, is not in the wheel (see \"Not included\"). No dog, no vehicle besides "
    "the motorcycle and the rocket, no food besides the coffee.",
    "scikit-learn (`sklearn/datasets/images/`): `china.jpg` and `flower.jpg`, both used. The dahlia "
    "comes from here, not from scikit-image.",
    "matplotlib (`mpl-data/sample_data/`): `grace_hopper.jpg` is used; the other files are charts, logos "
    "and data.",
    "gradio (`gradio/media_assets/images/`): ships `cheetah.jpg`, `cheetah1.jpg`, `lion.jpg`, `tower.jpg` and "
    "`groot.jpeg`, but states no photographer, source or licence for them (the package's Apache-2.0 licence "
    "covers its code), so they are not included.",
    "imageio: its standard images are downloaded on first use, not shipped in the package.",
    "PyPI's package list, searched by description for packages that ship sample, test or stock photos: it "
    "finds clients that download from stock-photo sites and generators of synthetic test images, but no "
    "package that ships photos of dogs, birds, vehicles or food with a stated licence.",
]


def _site_file(src: Source) -> Path:
    pkg, rel = src.package_path.split("/", 1)
    return _pkg_file(pkg, rel)


def _read_pixels(src: Source) -> np.ndarray:
    """Pixels of *src*, from the file inside the installed package only (never a download)."""
    f = _site_file(src)
    if not f.is_file():
        raise FileNotFoundError(
            f"{src.package_path} is not in the installed {src.package}; its loader would download it "
            "(scikit-image fetches such files with pooch), which is not possible offline"
        )
    if src.function == "skimage.data.stereo_motorcycle()[0]":
        import skimage.data

        return skimage.data.stereo_motorcycle()[0]
    with Image.open(f) as im:
        return np.asarray(im.convert("RGB"))


def _save_jpeg(arr: np.ndarray, dest: Path) -> tuple[int, int]:
    im = Image.fromarray(arr)
    im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        s = MAX_SIDE / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    im.save(dest, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return im.size


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _predict(paths: list[Path]) -> list[list[dict]]:
    from gradcam_core.data.images import load_image
    from gradcam_core.models.registry import get_model
    import torch

    spec = get_model("efficientnet_lite0")
    model = spec.load()
    out = []
    for p in paths:
        x = spec.preprocess(load_image(p))
        with torch.no_grad():
            prob = model(x).softmax(1)[0]
        top = prob.topk(3)
        out.append([{"label": spec.categories[i], "prob": round(float(v), 3)}
                    for v, i in zip(top.values.tolist(), top.indices.tolist())])
    return out


def _readme(entries: list[dict], skipped: list[dict], predicted: bool) -> str:
    lines = [
        "# Example photos",
        "",
        "Built by `python tools/make_examples.py` from photos that ship inside installed Python",
        "packages (nothing downloaded). JPEG, quality 90, longer side at most 640 px.",
        "`manifest.json` holds the same information for the app (`load_manifest()` in",
        "`gradcam_core/data/examples.py`). Credits and licences are as stated by each package;",
        "\"unknown\" means the package states none.",
        "",
        "| file | title | source | credit | licence | notes |" + (" EfficientNet-Lite0 top-1 |" if predicted else ""),
        "| --- | --- | --- | --- | --- | --- |" + (" --- |" if predicted else ""),
    ]
    for e in entries:
        src = f"{e['package']} {e['package_version']}: `{e['function']}`"
        row = f"| `{e['file']}` | {e['title']} | {src} | {e['credit']} | {e['licence']} | {e.get('note', '')} |"
        if predicted:
            t = e["efficientnet_lite0_top3"][0]
            row += f" {t['label']} ({t['prob']:.2f}) |"
        lines.append(row)
    lines += ["", "Attribution for the CC BY 2.0 photos (scikit-learn's `china.jpg` and `flower.jpg`) must be",
              "kept wherever they are shown; the app's examples panel should display the credit column."]
    if skipped:
        lines += ["", "## Not included", ""]
        lines += [f"- {s['title']} (`{s['function']}`): {s['reason']}" for s in skipped]
    lines += ["", "## Where else we looked", "",
              "More photos of dogs, birds, vehicles and food were looked for in registry packages; none was "
              "found with a stated licence. What was checked:", ""]
    lines += [f"- {c}" for c in CHECKED]
    return "\n".join(lines) + "\n"


def build(out_dir: Path = EXAMPLES_DIR, predict: bool = True) -> dict:
    out_dir = Path(out_dir)
    entries, skipped = [], []
    for src in SOURCES:
        try:
            arr = _read_pixels(src)
        except Exception as e:  # missing file, package not installed, ...
            skipped.append({"title": src.title, "package": src.package, "function": src.function,
                            "credit": src.credit, "licence": src.licence, "reason": str(e)})
            continue
        w, h = _save_jpeg(arr, out_dir / src.file)
        entries.append({
            "file": src.file, "title": src.title, "category": src.category,
            "package": src.package, "package_version": _version(src.package),
            "function": src.function, "package_path": src.package_path,
            "credit": src.credit, "licence": src.licence, "licence_source": src.licence_source,
            "note": src.note, "size": [w, h],
        })
    if predict and entries:
        for e, top in zip(entries, _predict([out_dir / e["file"] for e in entries])):
            e["efficientnet_lite0_top3"] = top
    manifest = {
        "about": "Example photos for Grad-CAM Explorer; generated by tools/make_examples.py",
        "categories": [c for c in CATEGORY_ORDER if any(e["category"] == c for e in entries)],
        "examples": entries,
        "skipped": skipped,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(_readme(entries, skipped, predict), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/make_examples.py", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=EXAMPLES_DIR, help="output folder (default: examples/)")
    ap.add_argument("--no-predict", action="store_true", help="skip EfficientNet-Lite0 predictions")
    args = ap.parse_args(argv)
    m = build(args.out, predict=not args.no_predict)
    for e in m["examples"]:
        top = e.get("efficientnet_lite0_top3", [{}])[0]
        pred = f"  -> {top['label']} ({top['prob']:.2f})" if top else ""
        print(f"{e['file']:<40} {e['size'][0]}×{e['size'][1]}{pred}")
    for s in m["skipped"]:
        print(f"skipped {s['title']}: {s['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
