"""Field photos of handwritten digits: accuracy by condition and preprocessing time, old vs new.

    python bench/bench_field_digits.py                 # new preprocessing only
    python bench/bench_field_digits.py --old OLD.py    # also a previous mnist.py, e.g.
        git show 4dfde8e:gradcam_core/mnist.py > /tmp/old_mnist.py

Section 1, the seeded set (below).  Section 2, **real photos by other people**: the 47 photos of
``../shared/field/digits`` (five writers; read from ``../shared``, never copied here), each read as
the app reads an upload (``load_image(path, max_side=1024)`` -> ``LeNetSpec.digit``: both readings,
the sheet and the whole picture, the model's confidence choosing) and counted right, refused or
wrong per source.  With ``--old`` the previous ``preprocess_digit`` runs on them too.  ``--weights F``
measures another LeNet (BENCHMARKS §11's variants: ``python tools/train_lenet.py --no-download
--epochs N --seed S --out F``).

Every photo of ``tests/field_digits/`` (made by ``tools/make_field_digits.py``) goes the way an
upload goes: ``load_image(path, max_side=1024)`` -> ``preprocess_digit`` -> LeNet.  A digit photo
counts as right when the predicted label is the true one; a refusal (ValueError) counts as not
right.  Blank sheets count as right when they are refused, non-digit photos when they are
refused with a "No digit found" message that does not call them blank.
Prints the rate overall and per condition, and the mean preprocessing time per photo.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradcam_core.data.images import load_image  # noqa: E402
from gradcam_core.models.lenet import load_lenet  # noqa: E402

SET_DIR = ROOT / "tests" / "field_digits"


def conditions(entry: dict) -> list[str]:
    """The condition tags of one manifest entry (a photo has several)."""
    c = entry["conditions"]
    if entry["kind"] != "digit":
        return [entry["kind"]]
    tags = ["table edge" if c["sheet"] == "table" else "sheet fills frame"]
    if c["sheet"] == "table":
        tags.append(f"table {c['table']}")
    if c.get("other_sheet_edge"):
        tags.append("other sheet's edge")
    if c.get("fingertip"):
        tags.append("fingertip")
    tags.append("tilt > 5 deg" if abs(c["tilt_deg"]) > 5 else "tilt <= 5 deg")
    if c["perspective"] > 0:
        tags.append("perspective")
    tags += [f"paper {c['paper']}", f"ink {c['ink']}", f"pen {c['pen']}"]
    if c["shadow"]:
        tags.append("cast shadow")
    if c["uneven_light"]:
        tags.append("uneven light")
    tags.append("blur > 1.2 px" if c["blur_px"] > 1.2 else "blur <= 1.2 px")
    tags.append("JPEG q < 70" if c["jpeg_quality"] < 70 else "JPEG q >= 70")
    return tags


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(preprocess, entries, model) -> tuple[list[bool], list[float], list[str]]:
    right, times, outcome = [], [], []
    for e in entries:
        img = np.asarray(load_image(SET_DIR / e["file"], max_side=1024))
        t0 = time.perf_counter()
        try:
            x = preprocess(img)
            err = None
        except ValueError as exc:
            err = str(exc)
        times.append(time.perf_counter() - t0)
        if err is None:
            with torch.no_grad():
                pred = int(model(torch.from_numpy(np.asarray(x, np.float32))[None, None]).argmax(1))
            outcome.append(str(pred))
            right.append(e["label"] is not None and pred == e["label"])
        else:
            outcome.append("refused: " + err[:60])
            if e["kind"] == "non-digit":   # a photo of a cat is not "blank"
                right.append("no digit found" in err.lower() and "blank" not in err.lower())
            else:
                right.append(e["label"] is None)
    return right, times, outcome


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, help="a previous gradcam_core/data/mnist.py to compare with")
    ap.add_argument("--show-wrong", action="store_true")
    ap.add_argument("--weights", type=Path, help="another LeNet weights file (e.g. from tools/train_lenet.py --out), "
                    "used both to read and to choose between the two readings")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    entries = json.loads((SET_DIR / "manifest.json").read_text(encoding="utf-8"))["items"]
    model = load_lenet(args.weights)
    if args.weights:  # the app's shared LeNet chooses between the readings: the same weights there
        from gradcam_core.models.registry import lenet_model

        lenet_model().load_state_dict(model.state_dict())

    from gradcam_core.models.registry import get_model

    runs = {"new": run(get_model("lenet").digit, entries, model)}  # as an upload: both readings, the model choosing
    if args.old:
        runs["old"] = run(load_module(args.old, "old_mnist").preprocess_digit, entries, model)
    names = list(runs)

    by_tag = defaultdict(list)
    for k, e in enumerate(entries):
        for t in ["ALL digit photos"] if e["kind"] == "digit" else []:
            by_tag[t].append(k)
        for t in conditions(e):
            by_tag[t].append(k)
    print(f"{len(entries)} photos in {SET_DIR.relative_to(ROOT)}")
    print(f"{'condition':28s} {'n':>4s} " + " ".join(f"{n + ' right':>10s}" for n in names))
    for tag in sorted(by_tag, key=lambda t: (t != "ALL digit photos", t)):
        ks = by_tag[tag]
        cells = " ".join(f"{np.mean([runs[n][0][k] for k in ks]):10.1%}" for n in names)
        print(f"{tag:28s} {len(ks):4d} {cells}")
    for n in names:
        t = np.array(runs[n][1])
        print(f"preprocessing time per photo ({n}): mean {t.mean() * 1e3:.0f} ms, median {np.median(t) * 1e3:.0f} ms")
    if len(names) == 2:
        print(f"time ratio new/old: {np.mean(runs['new'][1]) / np.mean(runs['old'][1]):.2f}")
    real_photos(model, runs_old=load_module(args.old, "old_mnist") if args.old else None,
                show_wrong=args.show_wrong)
    if args.show_wrong:
        for k, e in enumerate(entries):
            if not runs["new"][0][k]:
                print("wrong:", e["file"], "->", runs["new"][2][k])
    return 0


SHARED = ROOT.parent / "shared" / "field" / "digits"


def real_photos(model, runs_old=None, show_wrong: bool = False) -> None:
    """Section 2: right / refused / wrong per source on the shared real photos (see the docstring)."""
    import csv

    from gradcam_core.models.registry import get_model

    if not (SHARED / "MANIFEST.tsv").exists():
        print(f"\n(no {SHARED}: the real-photo section is skipped)")
        return
    with open(SHARED / "MANIFEST.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    readers = {"new": lambda img: get_model("lenet").digit(img)}
    if runs_old is not None:
        readers["old"] = lambda img: runs_old.preprocess_digit(np.asarray(img))
    print(f"\nreal photos by other people: {len(rows)} in {SHARED}")
    for name, read in readers.items():
        per = defaultdict(lambda: [0, 0, 0])
        times = []
        for r in rows:
            img = load_image(SHARED / r["file"], max_side=1024)
            t0 = time.perf_counter()
            try:
                x = read(img)
            except ValueError as exc:
                times.append(time.perf_counter() - t0)
                per[r["source_repo"]][1] += 1
                if show_wrong:
                    print(f"  {name} refused {r['file']}: {str(exc)[:70]}")
                continue
            times.append(time.perf_counter() - t0)
            with torch.no_grad():
                pred = int(model(torch.from_numpy(np.asarray(x, np.float32))[None, None]).argmax(1))
            ok = pred == int(r["label"])
            per[r["source_repo"]][0 if ok else 2] += 1
            if show_wrong and not ok:
                print(f"  {name} wrong {r['file']}: read {pred}")
        print(f"{name}: {'source':48s} {'n':>3s} {'right':>6s} {'refused':>8s} {'wrong':>6s}")
        for src, (ok, ref, bad) in sorted(per.items()):
            n = ok + ref + bad
            print(f"{name}: {src:48s} {n:3d} {ok:3d} ({ok / n:4.0%}) {ref:4d} {bad:6d}")
        tot = np.sum(list(per.values()), axis=0)
        print(f"{name}: {'ALL':48s} {tot.sum():3d} {tot[0]:3d} ({tot[0] / tot.sum():4.0%}) {tot[1]:4d} {tot[2]:6d};"
              f" reading time per photo: mean {np.mean(times) * 1e3:.0f} ms, median {np.median(times) * 1e3:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
