"""Issue 15: one cell of the map, term by term, covered and re-run (gradcam_core.analysis.cell, present.cell_view and the panel's API)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gradcam_core.analysis import cell
from gradcam_core.present import cell_view
from gradcam_core.analysis.cell import CellTerms, Occlusion
from gradcam_core.cam.engine import GradCAM
from gradcam_core.cam.methods import METHODS, make_cam
from gradcam_core.data.mnist import test_digits as held_out_digits, to_tensor
from gradcam_core.models.registry import lenet_model
from gradcam_core.analysis.sanity import make_baseline


@pytest.fixture(scope="module")
def lenet():
    return lenet_model()


@pytest.fixture(scope="module")
def digit():
    images, labels = held_out_digits()
    return images[17].astype(np.float32) / 255.0


def _close(a: float, b: float, rtol: float = 1e-5, scale: float = 0.0) -> bool:
    return abs(a - b) <= rtol * max(abs(b), scale)


# =========================================================================== the terms
@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("layer", ["relu2", "conv2", "pool2"])
def test_terms_sum_to_the_signed_value_and_relu_matches_cam_at_every_cell(lenet, digit, method, layer):
    res = make_cam(method, lenet, layer)(to_tensor(digit))
    h, w = res.weighted.shape[-2:]
    for r in range(h):
        for c in range(w):
            ct = cell.cell_terms(res, r, c)
            v = float(res.weighted[0, r, c])
            # relative to the value; where the terms cancel to ~0, to 1 % of their total size (float32 rounding)
            assert _close(float(ct.terms.sum()), v, 1e-5, 1e-2 * float(np.abs(ct.terms).sum())), (r, c)
            assert ct.value == v and ct.relu == float(res.cam[0, r, c]) == max(v, 0.0)
            assert np.array_equal(ct.terms, ct.weights * ct.activations)
            assert sum(b for _, b in cell.grouped_terms(ct)) == pytest.approx(float(ct.terms.sum()), abs=1e-12)


def test_grad_cam_terms_are_alpha_times_activation(lenet, digit):
    res = GradCAM(lenet, "relu2")(to_tensor(digit), 3)
    ct = cell.cell_terms(res, 2, 5)
    assert np.allclose(ct.weights, res.weights[0].double().numpy())
    assert np.allclose(ct.activations, res.activations[0, :, 2, 5].double().numpy())
    contrib = ct.contributions()
    assert [d["value"] for d in contrib] == sorted((d["value"] for d in contrib), reverse=True)
    assert {d["channel"] for d in contrib} == set(range(16))
    assert all(d["weight"] * d["activation"] == d["value"] for d in contrib)


def test_many_channels_top_n_and_the_rest_in_one_bar_still_add_up():
    k = 40
    rng = np.random.default_rng(1)
    terms = rng.normal(size=k)
    ct = CellTerms(0, 0, (7, 7), "Grad-CAM", "channel", terms / 2, np.full(k, 2.0), terms, float(terms.sum()),
                   max(float(terms.sum()), 0.0), 1.0, 0)
    bars = cell.grouped_terms(ct, top=10)
    assert len(bars) == 11 and bars[-1][0] == "other 30 channels"
    assert sum(v for _, v in bars) == pytest.approx(ct.value, abs=1e-12)
    shown = [int(lab.split()[1]) for lab, _ in bars[:-1]]
    assert set(shown) == set(np.argsort(-np.abs(terms))[:10].tolist())
    assert [v for _, v in bars[:-1]] == sorted((v for _, v in bars[:-1]), reverse=True)
    assert "(other 30 channels)" in cell_view.equation_text(ct, top=10)


def test_equation_text_adds_up_and_names_the_relu():
    terms = np.array([0.041, -0.007, 0.0, 0.019, 0.0])
    ct = CellTerms(1, 2, (8, 8), "Grad-CAM", "channel", terms, np.ones(5), terms, 0.053, 0.053, 0.1, 3)
    assert cell_view.equation_text(ct) == "0.0410 + 0.0190 − 0.0070 (+ 0 from 2 channels) = 0.0530 → ReLU → 0.0530"
    neg = CellTerms(1, 2, (8, 8), "Grad-CAM", "channel", -terms, np.ones(5), -terms, -0.053, 0.0, 0.1, 3)
    assert cell_view.equation_text(neg).endswith("= −0.0530 → ReLU → 0.0000")


def _ct(terms, value=None, peak=0.2, kind="channel"):
    terms = np.asarray(terms, dtype=float)
    value = float(terms.sum()) if value is None else value
    return CellTerms(0, 0, (8, 8), "Grad-CAM", kind, terms, np.ones_like(terms), terms, value, max(value, 0.0),
                     peak, 3)


def test_sum_sentence_every_branch():
    s = cell_view.sum_sentence(_ct([0.05, 0.02, -0.01, -0.03, 0.0], peak=0.1))
    assert s.startswith("Channels 0 and 1 push this cell up most (+0.0500, +0.0200); channels 3 and 2 pull it "
                        "down most (−0.0300, −0.0100).")
    assert "The sum is positive (0.030), so the ReLU keeps it: this cell's heat is 30% of the map's peak (0.100)." in s
    s = cell_view.sum_sentence(_ct([0.02, 0.01, 0.0]))
    assert s.startswith("Every non-zero term pushes this cell up; the largest come from channels 0 and 1")
    s = cell_view.sum_sentence(_ct([-0.02, 0.0]))
    assert s.startswith("Every non-zero term pulls this cell down; the largest come from channel 0 (−0.0200).")
    assert "The sum is negative (−0.020), so the ReLU turns it into 0: the cell is cold in the heat map." in s
    s = cell_view.sum_sentence(_ct([0.01, -0.03]))
    assert "turns it into 0: the cell is cold in the heat map although some channels push it up." in s
    s = cell_view.sum_sentence(_ct([0.0, 0.0]))
    assert s.startswith("Every term is zero here") and "The sum is 0, and so is the cell after the ReLU." in s
    assert "gradient *at this cell*" in cell_view.sum_sentence(_ct([0.01], kind="gradient"))
    assert "Eigen-CAM has no class weights" in cell_view.sum_sentence(_ct([0.01], kind="centred"))


def _occ(before, after, randoms, pb=0.9, pa=0.5):
    return Occlusion(3, "zero", (0, 4, 0, 4), before, pb, after, pa, [(0, 4, 8, 12)] * len(randoms), list(randoms),
                     [0.8] * len(randoms))


@pytest.mark.parametrize("before, after, randoms, start, end", [
    (10.0, 6.0, [9.9, 10.1, 9.8], "Covering this cell lowers the score of '3' from 10.0 to 6.0 (P(3) 90.0% → 50.0%)",
     "the model uses what is in this cell as evidence for '3'."),
    (10.0, 8.0, [8.2, 7.9, 8.1], "Covering this cell lowers the score of '3'",
     "That is about as much as a random patch: this cell matters no more than any other region of its size."),
    (10.0, 8.0, [5.0, 6.0, 4.0], "Covering this cell lowers the score of '3'",
     "A random patch costs more: other regions matter more than this one."),
    (10.0, 12.0, [10.0, 10.1, 9.9], "Covering this cell raises the score of '3'",
     "What is in this cell speaks against '3': without it the model is surer."),
    (10.0, 12.0, [12.1, 12.5, 11.9], "Covering this cell raises the score of '3'",
     "Random patches do that too, so the rise says little about this cell."),
    (10.0, 10.2, [8.0, 7.0, 9.0], "Covering this cell barely changes the score of '3'",
     "A random patch lowers it more, so the model hardly needs this cell."),
    (10.0, 10.2, [10.0, 10.1, 9.9], "Covering this cell barely changes the score of '3'",
     "Neither does a random patch: the model does not depend on any one region of this size."),
])
def test_occlusion_sentence_every_branch(before, after, randoms, start, end):
    s = cell_view.occlusion_sentence(_occ(before, after, randoms), "3")
    assert s.startswith(start) and s.endswith(end), s
    assert f"median of {len(randoms)}" in s


def test_occlusion_sentence_says_whether_map_and_test_agree():
    hit = _occ(10.0, 6.0, [9.9, 10.0, 10.1])
    miss = _occ(10.0, 9.9, [9.9, 10.0, 10.1])
    assert cell_view.occlusion_sentence(hit, "3", relu=0.1).endswith("this cell is warm and matters.")
    assert cell_view.occlusion_sentence(miss, "3", relu=0.1).endswith("heat alone is no proof.")
    assert cell_view.occlusion_sentence(hit, "3", relu=0.0).endswith("the map misses evidence here.")
    assert cell_view.occlusion_sentence(miss, "3", relu=0.0).endswith("Neither does a random patch: the model does not "
                                                                 "depend on any one region of this size.")
    # the numbers are in the sentence: P before/after, the random median and its probability
    s = cell_view.occlusion_sentence(hit, "3")
    assert "P(3) 90.0% → 50.0%" in s and "gives 10.0 (median of 3, P 80.0%)" in s


# =========================================================================== pixels and cells
def test_pixel_to_cell_at_corners_and_edges():
    box, grid = (0, 0, 280, 280), (8, 8)
    assert cell.cell_of_pixel(0, 0, box, grid) == (0, 0)
    assert cell.cell_of_pixel(279, 0, box, grid) == (0, 7)
    assert cell.cell_of_pixel(0, 279, box, grid) == (7, 0)
    assert cell.cell_of_pixel(279, 279, box, grid) == (7, 7)
    assert cell.cell_of_pixel(280, 280, box, grid) == (7, 7)  # a browser rounds the last column up
    assert cell.cell_of_pixel(34, 35, box, grid) == (1, 0)  # 35 px per cell
    assert cell.cell_of_pixel(35, 34, box, grid) == (0, 1)
    assert cell.cell_of_pixel(140, 139, box, (4, 4)) == (1, 2)  # pool2: 70 px per cell
    for x, y in [(-1, 0), (0, -1), (281, 5), (5, 300), (float("nan"), 3), (None, 3)]:
        with pytest.raises(ValueError, match="on the map"):
            cell.cell_of_pixel(x, y, box, grid)
    # a map drawn inside a larger picture (the crop box of the whole photo)
    assert cell.cell_of_pixel(100, 50, (100, 50, 324, 274), (7, 7)) == (0, 0)
    assert cell.cell_of_pixel(323, 273, (100, 50, 324, 274), (7, 7)) == (6, 6)
    assert cell.cell_of_pixel(100 + 32, 50 + 31, (100, 50, 324, 274), (7, 7)) == (0, 1)


def test_a_tap_on_the_enlarged_picture_lands_in_the_block_it_hit():
    from gradcam_core.present import render

    img = render.enlarge(np.arange(64).reshape(8, 8), 280)
    for x, y in [(0, 0), (34, 34), (35, 35), (139, 200), (279, 279), (200, 0), (0, 279)]:
        r, c = cell.cell_of_pixel(x, y, (0, 0, 280, 280), (8, 8))
        assert img[y, x] == r * 8 + c
    # MNIST step pictures: the map is the top 280×280 square, whatever lies below
    from gradcam_core.present.steps import build_steps
    from gradcam_core.ui.cell_panel import MNIST_BOX

    res = GradCAM(lenet_model(), "relu2")(to_tensor(held_out_digits()[0][0] / 255.0))
    steps = build_steps(res, held_out_digits()[0][0] / 255.0)
    for key in ("weighted", "relu", "overlay"):
        assert steps[key].image.shape[1] == MNIST_BOX[2] and steps[key].image.shape[0] >= MNIST_BOX[3]


def test_footprints_partition_the_input():
    for grid, size, sides in [((8, 8), (28, 28), {3, 4}), ((7, 7), (224, 224), {32}), ((4, 4), (28, 28), {7})]:
        seen = np.zeros(size, int)
        for r in range(grid[0]):
            for c in range(grid[1]):
                t, b, l, rr = cell.footprint(r, c, grid, size)
                seen[t:b, l:rr] += 1
                assert {b - t, rr - l} <= sides
        assert (seen == 1).all()
    assert cell.footprint(0, 0, (8, 8), (28, 28)) == (0, 3, 0, 3)
    assert cell.footprint(7, 7, (8, 8), (28, 28)) == (24, 28, 24, 28)


@pytest.mark.parametrize("row, col, msg", [
    (8, 0, "row 8 is outside the 8×8 map: choose 0 to 7"), (0, -1, "column -1 is outside"),
    (None, 1, "Give a row"), ("a", 1, "whole number"), (1.5, 1, "whole number"), (True, 1, "Give a row"),
])
def test_bad_cells_are_refused_with_the_range(row, col, msg):
    with pytest.raises(ValueError, match=msg):
        cell.check_cell(row, col, (8, 8))


# =========================================================================== covering the cell
def test_occlusion_equals_a_direct_rerun_of_the_model(lenet, digit):
    x = to_tensor(digit)
    res = GradCAM(lenet, "relu2")(x)
    tgt = int(res.targets[0])
    occ = cell.occlude(lenet, x, tgt, 2, 5, (8, 8), baseline="zero")
    t, b, l, r = cell.footprint(2, 5, (8, 8), (28, 28))
    assert occ.box == (t, b, l, r) == (7, 10, 17, 21)
    covered = x.clone()
    covered[..., t:b, l:r] = 0.0
    with torch.inference_mode():
        direct = lenet(covered)[0]
        randoms = [lenet(cell.cover(x, torch.zeros_like(x), bx))[0, tgt].item() for bx in occ.random_boxes]
    assert occ.score_after == pytest.approx(direct[tgt].item(), rel=1e-5, abs=1e-5)
    assert occ.prob_after == pytest.approx(torch.softmax(direct, 0)[tgt].item(), rel=1e-5, abs=1e-7)
    assert occ.score_before == pytest.approx(float(res.scores[0]), rel=1e-5)
    assert occ.random_median_after == pytest.approx(float(np.median(randoms)), rel=1e-5, abs=1e-5)
    assert len(occ.random_boxes) == cell.N_RANDOM
    for rt, rb, rl, rr in occ.random_boxes:  # same size, elsewhere
        assert (rb - rt, rr - rl) == (b - t, r - l)
        assert not (rt < b and t < rb and rl < r and l < rr)
    # seeded: the same numbers again
    assert cell.occlude(lenet, x, tgt, 2, 5, (8, 8), baseline="zero").as_dict() == occ.as_dict()


def test_imagenet_cell_and_occlusion_on_the_rebuilt_input():
    from gradcam_core import imagenet as svc
    from gradcam_core.data.examples import load_manifest
    from gradcam_core.ui.cell_panel import imagenet_inspect, map_boxes, tap_to_cell

    path = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    spec = svc.get_spec("efficientnet_lite0")
    if not spec.available:
        pytest.skip("EfficientNet-Lite0 is not installed")
    pil = svc.load_photo(path)
    expl = svc.explain_photo(pil, "efficientnet_lite0", "_head_act", "Grad-CAM", None, "tabby")
    # the input rebuilt from the crop the model saw is the model's input
    assert torch.equal(cell.model_input(spec, expl.image), spec.preprocess(pil))
    rep, res, ct = imagenet_inspect(expl, 3, 2)
    assert _close(rep["sum_of_terms"], rep["value"], 1e-5, 1e-2 * float(np.abs(ct.terms).sum()))
    assert rep["relu"] == float(res.cam[0, 3, 2]) and len(rep["contributions"]) == 1280
    x = spec.preprocess(pil)
    t, b, l, r = cell.footprint(3, 2, (7, 7), (224, 224))
    covered = x.clone()
    covered[..., t:b, l:r] = make_baseline(x, "blur")[..., t:b, l:r]
    with torch.inference_mode():
        direct = spec.load()(covered)[0, ct.target].item()
    assert rep["occlusion"]["score_after"] == pytest.approx(direct, rel=1e-4, abs=1e-4)
    assert rep["occlusion"]["score_before"] == pytest.approx(float(res.scores[0]), rel=1e-4, abs=1e-4)
    # two classes side by side: a tap on the right picture inspects the second class
    boxes = map_boxes(expl)
    assert boxes == [(0, 0, 224, 224), (230, 0, 454, 224)]
    assert tap_to_cell(expl, 230 + 223, 0) == (1, 0, 6)
    assert tap_to_cell(expl, 0, 223) == (0, 6, 0)
    with pytest.raises(ValueError, match="not on the map"):
        tap_to_cell(expl, 226, 10)  # the gap between the two pictures
    with pytest.raises(ValueError, match="not on the map"):
        tap_to_cell(expl, 10, 240)  # the caption under the pictures
    wb = map_boxes(expl, whole=True)[0]
    if (wb[2] - wb[0], wb[3] - wb[1]) != expl.photo.shape[1::-1]:
        with pytest.raises(ValueError, match="the model saw"):
            tap_to_cell(expl, 0, 0, whole=True)
    assert tap_to_cell(expl, wb[0], wb[1], whole=True) == (0, 0, 0)


def test_pictures_have_the_right_rows(lenet, digit):
    res = GradCAM(lenet, "conv2")(to_tensor(digit))
    ct = cell.cell_terms(res, 4, 4)
    wf = cell_view.waterfall_image(ct)
    assert wf.dtype == np.uint8 and wf.shape[1] == 460
    assert wf.shape[0] > 20 * (len(cell.grouped_terms(ct)) + 2)  # one 20-px row per bar, the sum and the ReLU
    maps = cell_view.channel_maps_image(res, ct)
    assert maps.shape[2] == 3 and maps.shape[1] >= 3 * 112


# =========================================================================== the API on the launched app
def _readme_example() -> str:
    """The README's Python block for the cell endpoints, exactly as written there."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    return next(b for b in blocks if "/mnist_inspect_cell" in b)


README_EXAMPLE = _readme_example()


@pytest.fixture(scope="module")
def fresh_client(app_client):
    """A new session on the launched app (its own state)."""
    from gradio_client import Client

    return lambda: Client(app_client.src, verbose=False, ssl_verify=False)


def test_mnist_endpoint_on_the_launched_app(fresh_client, lenet):
    from gradio_client.exceptions import AppError

    client = fresh_client()
    # the first view (digit #0, predicted class) is the session's explanation before any call
    first = client.predict(0, 0, api_name="/mnist_inspect_cell")
    images, labels = held_out_digits()
    res0 = GradCAM(lenet, "relu2")(to_tensor(images[0].astype(np.float32) / 255.0))
    assert first["value"] == pytest.approx(float(res0.weighted[0, 0, 0]), rel=1e-5, abs=1e-9)

    client.predict(17, "3", "strongest", "conv2", api_name="/mnist_explain_index")
    out = client.predict(3, 4, api_name="/mnist_inspect_cell")
    res = GradCAM(lenet, "conv2")(to_tensor(images[17].astype(np.float32) / 255.0), 3)
    assert out["row"] == 3 and out["col"] == 4 and out["target"] == 3 and out["layer"] == "conv2"
    assert out["value"] == pytest.approx(float(res.weighted[0, 3, 4]), rel=1e-5)
    assert out["relu"] == pytest.approx(float(res.cam[0, 3, 4]), rel=1e-5, abs=1e-9)
    assert sum(t["value"] for t in out["contributions"]) == pytest.approx(out["value"], rel=1e-5, abs=1e-7)
    assert len(out["contributions"]) == 16
    assert set(out["occlusion"]) >= {"score_before", "score_after", "random_median_after"}
    assert out["occlusion"]["score_before"] == pytest.approx(float(res.logits[0, 3]), rel=1e-5)
    for bad, msg in [((8, 0), "outside the 8×8 map"), ((0, -1), "outside the 8×8 map")]:
        with pytest.raises(AppError, match=msg):
            client.predict(*bad, api_name="/mnist_inspect_cell")


def test_imagenet_endpoint_on_the_launched_app(fresh_client):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from gradcam_core.data.examples import load_manifest

    client = fresh_client()
    with pytest.raises(AppError, match="Explain a photo first"):
        client.predict(3, 3, api_name="/imagenet_inspect_cell")
    path = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    client.predict(handle_file(path), "efficientnet_lite0", "_head_act", "Grad-CAM", "predicted", "none",
                   "max", "jet", 0.5, api_name="/imagenet_explain")
    out = client.predict(3, 3, api_name="/imagenet_inspect_cell")
    assert out["grid"] == [7, 7] and len(out["contributions"]) == 1280
    assert sum(t["value"] for t in out["contributions"]) == pytest.approx(out["value"], rel=1e-5, abs=1e-6)
    assert out["occlusion"]["score_after"] != out["occlusion"]["score_before"]
    with pytest.raises(AppError, match="row 7 is outside the 7×7 map"):
        client.predict(7, 0, api_name="/imagenet_inspect_cell")


def test_readme_example_runs(app_client, tmp_path, monkeypatch, capsys):
    """The README's gradio_client example, as written there (the URL and photo pointed at this test's)."""
    import shutil

    from gradcam_core.data.examples import load_manifest

    path = next(e["path"] for e in load_manifest() if e["file"].endswith("chelsea_cat.jpg"))
    shutil.copy(path, tmp_path / "cat.jpg")
    monkeypatch.chdir(tmp_path)
    code = README_EXAMPLE.replace("http://127.0.0.1:7860/", app_client.src)
    scope: dict = {}
    exec(compile(code, "README example", "exec"), scope)
    printed = capsys.readouterr().out
    assert "→ ReLU →" in printed and scope["cell"]["grid"] == [7, 7]
    assert len(scope["cell"]["contributions"]) == 1280
