"""Every wording branch of the trust verdicts, fed numbers, checked word by word.

The verdicts are generated from the numbers they describe (``gradcam_core.analysis.sanity``), so each
test builds the numbers by hand (a fake ``Curves`` / ``Cascade``), calls the reading, and checks
both the words (which branch) and the figures quoted.  The last tests recompute digits of the
committed 200-digit aggregate (``weights/trust_aggregate_mnist.json``) and check the MNIST
panel quotes it only under the same settings.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gradcam_core.analysis import sanity as S

ROOT = Path(__file__).resolve().parents[1]
AGG_FILE = ROOT / "weights" / "trust_aggregate_mnist.json"


def curves(d: dict, i: dict, p0: float = 0.9) -> S.Curves:
    """Fake curves with the given areas; the deletion curve starts at ``p0``."""
    f = np.linspace(0, 1, 3)
    return S.Curves(3, "zero", f, {k: np.array([p0, 0.5, 0.1]) for k in d}, {k: np.array([0.1, 0.5, p0]) for k in i},
                    dict(d), dict(i), 0)


def lines(text: str) -> list[str]:
    assert all(line.startswith("- ") for line in text.splitlines()), text
    return [line[2:] for line in text.splitlines()]


# ----------------------------------------------------------------------------- compare_area
@pytest.mark.parametrize("value, ref, lower, want", [
    (0.30, 0.60, True, "better"),   # deletion: lower area is better
    (0.77, 0.69, True, "worse"),    # the digit: Grad-CAM 0.77 vs random 0.69 is WORSE
    (0.61, 0.60, True, "same"),
    (0.52, 0.50, True, "same"),     # exactly the tolerance counts as the same
    (0.53, 0.50, True, "worse"),
    (0.80, 0.50, False, "better"),  # insertion: higher area is better
    (0.40, 0.50, False, "worse"),
    (0.49, 0.50, False, "same"),
])
def test_compare_area_directions_and_tolerance(value, ref, lower, want):
    assert S.compare_area(value, ref, lower) == want


# ----------------------------------------------------------------------------- deletion / insertion
def test_deletion_worse_than_chance_says_so():
    text = S.reading_curves(curves({"Grad-CAM": 0.77, "random": 0.69}, {"Grad-CAM": 0.64, "random": 0.63}))
    dl, il = lines(text)
    assert dl.startswith("**Deletion** (lower area is better): Grad-CAM 0.77, random order 0.69: **worse than chance**")
    assert "keeps the probability higher" in dl and "no more than chance" not in text
    assert il.startswith("**Insertion** (higher area is better): Grad-CAM 0.64, random order 0.63: "
                         "**about the same as chance** (differences up to 0.02 count as the same)")


def test_better_than_chance_is_a_ratio_of_areas_not_a_speed():
    text = S.reading_curves(curves({"Grad-CAM": 0.12, "random": 0.41}, {"Grad-CAM": 0.80, "random": 0.50}))
    dl, il = lines(text)
    assert "**better than chance**" in dl and "random's area is 3.4× Grad-CAM's" in dl  # 0.41 / 0.12
    assert "**better than chance**" in il and "its area is 1.6× random's" in il  # 0.80 / 0.50
    assert "faster" not in text


def test_deletion_same_and_insertion_worse():
    dl, il = lines(S.reading_curves(curves({"Grad-CAM": 0.60, "random": 0.61}, {"Grad-CAM": 0.40, "random": 0.55})))
    assert "**about the same as chance** (differences up to 0.02" in dl
    assert "**worse than chance**" in il and "back later than revealing random ones" in il


@pytest.mark.parametrize("sobel_d, sobel_i, words", [
    (0.28, 0.90, "a model-free edge map does better on both curves (Sobel: deletion 0.28, insertion 0.90): on "
                 "this input Grad-CAM's ranking is weaker than one that knows nothing about the model"),
    (0.28, 0.71, "a model-free edge map does better on deletion (about the same on insertion)"),
    (0.51, 0.90, "a model-free edge map does better on insertion (about the same on deletion)"),
    (0.70, 0.40, "Grad-CAM beats a model-free edge map on both curves (Sobel: deletion 0.70, insertion 0.40): its "
                 "ranking finds the pixels this model needs better than the image's edges alone do"),
    (0.60, 0.69, "Grad-CAM beats a model-free edge map on deletion (about the same on insertion)"),
    (0.51, 0.69, "a model-free edge map scores about the same"),
    (0.70, 0.90, "the result is mixed: Grad-CAM is better on deletion and worse on insertion"),
    (0.28, 0.40, "the result is mixed: Grad-CAM is worse on deletion and better on insertion"),
])
def test_edge_map_comparison_reads_the_right_way_round(sobel_d, sobel_i, words):
    c = curves({"Grad-CAM": 0.50, "random": 0.60, "Sobel": sobel_d}, {"Grad-CAM": 0.70, "random": 0.60, "Sobel": sobel_i})
    edge = [x for x in lines(S.reading_curves(c)) if x.startswith("**Edge map:**")]
    assert len(edge) == 1 and words in edge[0], edge
    # never the old, backwards inference
    assert "may simply be the image's edges" not in edge[0]


def test_low_starting_probability_is_noted():
    text = S.reading_curves(curves({"Grad-CAM": 0.1, "random": 0.1}, {"Grad-CAM": 0.1, "random": 0.1}, p0=0.08))
    assert "only 8 % to begin with" in text
    assert "to begin with" not in S.reading_curves(curves({"Grad-CAM": 0.1, "random": 0.1},
                                                          {"Grad-CAM": 0.1, "random": 0.1}, p0=0.5))


# ----------------------------------------------------------------------------- one input vs many
RECORDS = [  # index, label, target, deletion: map random Sobel, insertion: map random Sobel
    [0, 0, 0, 0.40, 0.60, 0.30, 0.70, 0.60, 0.90],  # deletion better, insertion better
    [1, 1, 1, 0.41, 0.60, 0.30, 0.61, 0.60, 0.90],  # better, same
    [2, 2, 2, 0.42, 0.60, 0.30, 0.50, 0.60, 0.90],  # better, worse
    [3, 3, 3, 0.70, 0.60, 0.30, 0.50, 0.60, 0.90],  # worse, worse
]
SETTINGS = {"layer": "relu2", "baseline": "zero", "steps": 20, "target": "predicted"}


def aggregate() -> dict:
    agg = S.aggregate_records(RECORDS)
    return {**agg, "what": "held-out digits", "one": "digit", "settings": dict(SETTINGS)}


def test_aggregate_records_counts_with_the_same_tolerance():
    agg = S.aggregate_records(RECORDS)
    assert agg["n"] == 4
    assert agg["deletion_vs_random"] == {"better": 0.75, "same": 0.0, "worse": 0.25}
    assert agg["insertion_vs_random"] == {"better": 0.25, "same": 0.25, "worse": 0.5}
    assert agg["deletion_mean"] == {"map": pytest.approx(0.4825), "random": 0.6, "Sobel": 0.3}
    with pytest.raises(ValueError):
        S.aggregate_records([])


def test_single_digit_next_to_the_aggregate_gives_both():
    """'this digit: worse than random; over N digits: better than random x % of the time'."""
    c = curves({"Grad-CAM": 0.77, "random": 0.69, "Sobel": 0.28}, {"Grad-CAM": 0.64, "random": 0.63, "Sobel": 0.9})
    last = lines(S.reading_curves(c, aggregate=aggregate(), settings=SETTINGS))[-1]
    assert last.startswith("**This digit vs 4 held-out digits** (same settings). Deletion: better than chance for "
                           "75 % (about the same 0 %, worse 25 %; mean areas Grad-CAM 0.48, random 0.60, Sobel 0.30)")
    assert "; this digit's \"worse than chance\" is less common (25 %)." in last
    assert "Insertion: better than chance for 25 % (about the same 25 %, worse 50 %" in last
    assert "; this digit's \"about the same as chance\" is less common (25 %)." in last
    # a digit that is better than chance on deletion is typical here (75 %)
    c2 = curves({"Grad-CAM": 0.3, "random": 0.6, "Sobel": 0.2}, {"Grad-CAM": 0.5, "random": 0.6, "Sobel": 0.9})
    last2 = lines(S.reading_curves(c2, aggregate=aggregate(), settings=SETTINGS))[-1]
    assert "this digit's \"better than chance\" is typical (75 %)" in last2
    # insertion worse than chance: exactly half of the digits is neither typical nor less common
    assert "this digit's \"worse than chance\" is shared by half of them (50 %)" in last2


@pytest.mark.parametrize("share, words", [(0.505, "shared by half of them"), (0.5049, "shared by half of them"),
                                          (0.506, "typical"), (0.494, "less common"), (0.9, "typical")])
def test_how_common_is_decided_on_the_percent_shown(share, words):
    assert S._how_common(share) == words


@pytest.mark.parametrize("change, words", [
    ({"layer": "conv2"}, "layer relu2 (here: conv2)"),
    ({"baseline": "blur"}, "baseline zero (here: blur)"),
    ({"steps": 8}, "steps 20 (here: 8)"),
    ({"target": "another class"}, "target predicted (here: another class)"),
])
def test_aggregate_is_not_quoted_for_other_settings(change, words):
    c = curves({"Grad-CAM": 0.77, "random": 0.69, "Sobel": 0.28}, {"Grad-CAM": 0.64, "random": 0.63, "Sobel": 0.9})
    last = lines(S.reading_curves(c, aggregate=aggregate(), settings={**SETTINGS, **change}))[-1]
    assert words in last and "so it is not quoted here" in last
    assert "%" not in last  # no share from the wrong settings


# ----------------------------------------------------------------------------- cascade
def cascade(table: dict[str, list[float]], stages=("fc", "layer4", "layer3", "layer2", "layer1")) -> S.Cascade:
    """A fake cascade whose mean rank correlations are ``table[method]`` (original first)."""
    m0 = np.zeros((4, 4), np.float32)
    results = {m: [S.Stage(n, m0, float(r), float(r)) for n, r in zip(("original",) + tuple(stages), rho)]
               for m, rho in table.items()}
    return S.Cascade("layer", torch.tensor([0]), torch.zeros(1, 3), ["original", *stages], results)


def test_cascade_falls_at_every_stage():
    cas = cascade({"Grad-CAM": [1, 0.10, 0.05, -0.02, 0.08, 0.13], "Guided backprop": [1, 0.94, 0.92, 0.79, 0.68, 0.61]})
    assert S.cascade_pattern(cas.mean_spearman("Grad-CAM")) == "falls"
    text = S.reading_cascade(cas, "Grad-CAM")
    assert text.startswith("The Grad-CAM map changes as soon as the model's weights are replaced: its rank correlation "
                           "with the original map is 0.10 after randomising fc and stays below 0.50 at every stage "
                           "(lowest -0.02, after layer3, and 0.13 with everything down to layer1 random). "
                           "It depends on what the model learned.")
    assert "(Other maps, first → last stage: Guided backprop 0.94 → 0.61.)" in text
    assert "reversed" not in text


def test_cascade_stays_high_at_every_stage():
    cas = cascade({"Guided backprop": [1, 0.94, 0.92, 0.79, 0.68, 0.61]})
    text = S.reading_cascade(cas, "Guided backprop")
    assert S.cascade_pattern(cas.mean_spearman("Guided backprop")) == "stays"
    assert "barely changes" in text and "stays at or above 0.50 at every stage (lowest 0.61, after layer1" in text
    assert text.rstrip().endswith("It shows the picture's structure more than what the model learned.")


def test_cascade_high_first_then_falls_reads_the_whole_table():
    """The issue's case: the first stage alone looked like 'structure', the table falls to −0.34 and 0.03."""
    cas = cascade({"Guided Grad-CAM": [1, 0.72, 0.55, -0.34, 0.03]}, stages=("_fc", "_conv_head", "_blocks.15", "_blocks.0"))
    text = S.reading_cascade(cas, "Guided Grad-CAM")
    assert S.cascade_pattern(cas.mean_spearman("Guided Grad-CAM")) == "falls_later"
    assert "still 0.72 after randomising _fc, but falls to -0.34 once _blocks.15 is random too" in text
    assert "0.03 with everything down to _blocks.0 random" in text
    assert "depends on what the lower layers learned" in text
    assert "shows the picture's structure more than" not in text
    assert "A negative value (-0.34) means a moderate reversal, not just a loss" in text
    assert "brightest is now among the darkest" not in text


@pytest.mark.parametrize("low, words, not_words", [
    (-0.40, "A negative value (-0.40) means a moderate reversal", "brightest is now among the darkest"),
    (-0.69, "A negative value (-0.69) means a moderate reversal", "brightest is now among the darkest"),
    (-0.70, "A value this negative (-0.70) means the ranking is largely reversed", "moderate"),
    (-0.85, "what was brightest is now among the darkest", "moderate"),
    (-0.19, None, "revers"),
])
def test_a_negative_rank_correlation_is_read_by_its_size(low, words, not_words):
    """Issue 24: ρ = −0.40 was read as "what was brightest is now among the darkest"."""
    cas = cascade({"Grad-CAM": [1, 0.10, low, 0.05, 0.08, 0.13]})
    text = S.reading_cascade(cas, "Grad-CAM")
    if words:
        assert words in text
    assert not_words not in text


def test_cascade_falls_then_recovers():
    cas = cascade({"Grad-CAM": [1, 0.20, 0.10, 0.40, 0.62, 0.70]})
    text = S.reading_cascade(cas, "Grad-CAM")
    assert S.cascade_pattern(cas.mean_spearman("Grad-CAM")) == "recovers"
    assert "falls to 0.20 after randomising fc, but is back at 0.70 once layer1 is random too" in text
    assert "a partly random network can draw a similar map, so part of the map follows the picture itself" in text


def test_cascade_with_one_stage():
    cas = cascade({"Grad-CAM": [1, 0.3], "Guided backprop": [1, 0.9]}, stages=("fc3",))
    text = S.reading_cascade(cas, "Grad-CAM")
    assert "is 0.30 after randomising fc3. It depends on what the model learned." in text
    assert "(Other maps, same stage: Guided backprop 0.90.)" in text
    assert "at or above 0.50 at every stage" not in S.reading_cascade(cas, "Guided backprop")


# ----------------------------------------------------------------------------- the committed aggregate
@pytest.fixture(scope="module")
def agg_file() -> dict:
    return json.loads(AGG_FILE.read_text(encoding="utf-8"))


def test_aggregate_file_records_match_a_recomputation(agg_file, one_torch_thread):
    import importlib.util

    from gradcam_core.models.lenet import load_lenet
    from gradcam_core.data.mnist import test_digits

    spec = importlib.util.spec_from_file_location("trust_aggregate", ROOT / "tools" / "trust_aggregate.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)  # by path: no clash with any installed "tools" package
    digit_record = tool.digit_record

    assert agg_file["n"] == 200 and agg_file["baseline"] == "zero" and agg_file["steps"] == 20
    # issue 24: the pixels are ranked by the map as the MNIST tab draws it, and the file says so
    assert agg_file["placement"] == "receptive field"
    assert agg_file["record_fields"] == list(S.RECORD_FIELDS)
    net = load_lenet()
    images, labels = test_digits()
    for layer, entry in agg_file["layers"].items():
        recs = entry["records"]
        assert [r[0] for r in recs] == list(range(200))
        # the summary is what the records say
        assert entry["summary"] == S.aggregate_records(recs, agg_file["tolerance"])
        for i in (0, 17, 123, 199):
            got = digit_record(net, layer, images[i], i, int(labels[i]), agg_file["steps"], agg_file["baseline"],
                               agg_file["placement"])
            assert got[:3] == recs[i][:3]
            np.testing.assert_allclose(got[3:], recs[i][3:], atol=2e-6)


def test_mnist_panel_uses_a_layer_the_aggregate_has(agg_file):
    pytest.importorskip("gradio")
    from gradcam_core.ui import trust
    from gradcam_core.ui.mnist_tab import LAYER

    assert LAYER in agg_file["layers"]
    agg = trust.mnist_aggregate(LAYER)
    assert agg["settings"] == {"layer": LAYER, "baseline": "zero", "steps": 20, "target": "predicted",
                               "placement": "receptive field"}
    assert agg["n"] == 200 and agg["what"] == "held-out digits"
    # a layer without an entry: the summary of another layer comes back with ITS layer name,
    # so the reading names the difference instead of quoting it
    other = trust.mnist_aggregate("fc1")
    assert other["settings"]["layer"] != "fc1"


def test_mnist_curves_quote_the_aggregate_only_with_its_settings(agg_file, one_torch_thread):
    pytest.importorskip("gradio")
    from gradcam_core.data.mnist import test_digits
    from gradcam_core.ui import trust
    from gradcam_core.ui.mnist_tab import LAYER

    images, _ = test_digits()
    digit = images[17].astype(np.float32) / 255.0
    share = agg_file["layers"][LAYER]["summary"]["deletion_vs_random"]["better"]
    text = trust.mnist_curves(digit, "predicted", "zero", 20).reading
    assert (f"**This digit vs 200 held-out digits** (same settings). Deletion: better than chance for "
            f"{100 * share:.0f} %") in text
    text8 = trust.mnist_curves(digit, "predicted", "zero", 8).reading
    assert "steps 20 (here: 8)" in text8 and "not quoted" in text8
    # ranked by the stretched drawing, the digit is not compared with digits ranked by the aligned one
    text_s = trust.mnist_curves(digit, "predicted", "zero", 20, placement="stretched").reading
    assert "placement receptive field (here: stretched)" in text_s and "not quoted" in text_s


def test_readme_quotes_the_committed_aggregate(agg_file):
    share = agg_file["layers"]["relu2"]["summary"]["deletion_vs_random"]["better"]
    readme = (ROOT / "docs" / "TEACHING.md").read_text(encoding="utf-8")
    assert f"`relu2` Grad-CAM beats random on deletion for {100 * share:.1f} % of them" in readme


#: relu2 cell r sees input rows 2r … 2r+13 (LeNet: 5×5 convolutions without padding, a 2×2 pool):
#: centre 2r + 6.5.  Written from the architecture.
RELU2_CENTRES = 2 * np.arange(8) + 6.5


def aligned_map(cam: np.ndarray) -> np.ndarray:
    """Oracle: an 8×8 relu2 map drawn at 28×28 with each cell at RELU2_CENTRES (SciPy, bilinear
    between centres, the edge value beyond them)."""
    from scipy.interpolate import RegularGridInterpolator

    q = np.clip(np.arange(28, dtype=np.float64), RELU2_CENTRES[0], RELU2_CENTRES[-1])
    pts = np.stack(np.meshgrid(q, q, indexing="ij"), -1)
    return RegularGridInterpolator((RELU2_CENTRES, RELU2_CENTRES), np.asarray(cam, np.float64))(pts)


def test_mnist_curves_rank_pixels_by_the_map_as_drawn(one_torch_thread):
    """issue 24: deletion/insertion rank the pixels by the map the tab draws (each cell at the centre
    of what it sees), not by the stretched one; the panel follows the tab's placement choice."""
    pytest.importorskip("gradio")
    from gradcam_core.cam.engine import GradCAM
    from gradcam_core.data.mnist import test_digits, to_tensor
    from gradcam_core.models.registry import lenet_model
    from gradcam_core.ui import trust

    images, _ = test_digits()
    digit = images[17].astype(np.float32) / 255.0
    net, x = lenet_model(), to_tensor(digit)
    res = GradCAM(net, "relu2")(x, None)
    expect = {}
    for placement, sal in (("receptive field", aligned_map(res.cam[0].numpy())),
                           ("stretched", res.upsampled()[0].numpy())):
        c = S.deletion_insertion(net, x, res.targets, sal.astype(np.float32), steps=20, baseline="zero",
                                 logits=res.logits)
        expect[placement] = (c.auc_deletion["Grad-CAM"], c.auc_insertion["Grad-CAM"])
    assert expect["receptive field"] != expect["stretched"]  # the placement changes the ranking
    for placement in ("receptive field", "stretched", None):
        got = trust.mnist_curves(digit, "predicted", "zero", 20, placement=placement).table
        row = {r[0]: r for r in got}["Grad-CAM"]
        want = expect[placement or "receptive field"]
        assert row[1] == pytest.approx(round(want[0], 3), abs=1e-3) and \
            row[2] == pytest.approx(round(want[1], 3), abs=1e-3), (placement, row, want)


# ----------------------------------------------------------------------------- Shortcuts cards: heat per area
def card_numbers(experiment: str, h0: float, a0: float, h1: float, a1: float) -> dict:
    regions = {"context": ("the grass background", "the original background"),
               "removed": ("the area the rocket filled", "the rocket (and 3 px around it)"),
               "text": ("the caption strip", "the same area (strip)")}[experiment]
    return {"experiment": experiment, "original_top3": [["espresso", 0.95], ["cup", 0.01], ["x", 0.01]],
            "altered_top3": [["espresso", 0.40], ["cup", 0.2], ["x", 0.01]], "original_class_prob_after": 0.40,
            "region": regions[0], "region_original": regions[1], "region_area": a1, "region_area_original": a0,
            "heat_share_original": h0, "heat_share_altered": h1}


@pytest.mark.parametrize("h0, a0, h1, a1, word, d1, d0", [
    # more heat share but on a region twice as large: LESS heat per area (the card)
    (0.12, 0.28, 0.17, 0.60, "less heat than before", "0.28", "0.43"),
    # the same heat share on a smaller region: MORE heat per area
    (0.20, 0.40, 0.20, 0.25, "more heat than before", "0.80", "0.50"),
    # twice the share on twice the area: the same per area (within 10 %)
    (0.10, 0.30, 0.21, 0.60, "about the same heat as before (within 10 %)", "0.35", "0.33"),
])
def test_context_card_compares_heat_per_area(h0, a0, h1, a1, word, d1, d0):
    from gradcam_core.analysis import photo_cards

    s = photo_cards.card_sentence(card_numbers("context", h0, a0, h1, a1))
    assert f"{100 * h1:.0f} % of the heat lies on the grass background, which covers {100 * a1:.0f} % of the picture" in s
    assert f"the original background covered {100 * a0:.0f} % and held {100 * h0:.0f} %" in s
    assert f"Per unit of area that is {word}: {d1} vs {d0} (1.00 = heat spread evenly)." in s


@pytest.mark.parametrize("experiment, h0, h1, word", [
    ("removed", 0.16, 0.07, "less heat on the same area"),
    ("removed", 0.07, 0.16, "more heat on the same area"),
    ("text", 0.16, 0.17, "about the same heat on the same area (within 10 %)"),
    ("text", 0.16, 0.02, "less heat on the same area"),
])
def test_same_area_cards_state_the_area_and_compare(experiment, h0, h1, word):
    from gradcam_core.analysis import photo_cards

    n = card_numbers(experiment, h0, 0.18, h1, 0.18)
    s = photo_cards.card_sentence(n)
    assert f"lies on {n['region']} (18 % of the picture)" in s
    assert f"the same area held {100 * h0:.0f} %: {word}, {h1 / 0.18:.2f} vs {h0 / 0.18:.2f} per unit of area" in s


def test_per_area_comparison_edge_cases():
    from gradcam_core.analysis import photo_cards

    assert photo_cards.heat_per_area(0.2, 0.0) == 0.0
    assert photo_cards.heat_per_area(0.17, 0.6) == pytest.approx(0.2833, abs=1e-4)
    assert photo_cards.compare_per_area(0.0, 0.0) == "same"
    assert photo_cards.compare_per_area(0.1, 0.0) == "more"
    assert photo_cards.compare_per_area(1.10, 1.00) == "same" and photo_cards.compare_per_area(1.11, 1.00) == "more"
    assert photo_cards.compare_per_area(0.90, 1.00) == "same" and photo_cards.compare_per_area(0.89, 1.00) == "less"


def test_card_captions_name_the_region_they_measure():
    """The context card measures the background, i.e. OUTSIDE the object's outline: the captions
    say 'background', never 'in outline'."""
    from types import SimpleNamespace


    from gradcam_core.present import shortcut_view as sview

    assert sview.region_labels(SimpleNamespace(experiment="context", variant="grass")) == ("old background", "new background")
    assert sview.region_labels(SimpleNamespace(experiment="removed", variant="")) == ("object", "filled area")
    assert sview.region_labels(SimpleNamespace(experiment="text", variant="caption")) == ("strip area", "caption strip")
    assert sview.region_labels(SimpleNamespace(experiment="text", variant="watermark"))[1] == "watermark box"
