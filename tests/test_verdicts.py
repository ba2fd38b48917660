"""Every wording branch of the trust verdicts, fed numbers, checked against the catalogue.

The verdicts are codes and numbers (``gradcam_core.analysis.verdict_codes``, re-exported by
``sanity``); their words are the catalogue's ``[verdict]`` sentences, chosen and filled in by
``gradcam_core.present.verdicts``.  Each test builds the numbers by hand (a fake ``Curves`` /
``Cascade``), checks the code and the numbers the verdict carries, then checks that the reading is
the catalogue's sentence for that code with those numbers.  The last tests recompute digits of the
committed 200-digit aggregate (``weights/trust_aggregate_mnist.json``) and check the MNIST
panel quotes it only under the same settings.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gradcam_core.analysis import sanity as S
from gradcam_core.base.errors import Refusal
from gradcam_core.present import verdicts as V
from gradcam_core.present.words import number, say, use_lang

ROOT = Path(__file__).resolve().parents[1]
AGG_FILE = ROOT / "weights" / "trust_aggregate_mnist.json"


def tol() -> str:
    """The stated tolerance, in the language the test runs in."""
    return say("verdict.curves.tolerance", tol=S.AUC_TOLERANCE)


def percents(text: str) -> list[int]:
    """The whole percentages of a sentence, in either language's writing ("41 %", French "41\u202f%")."""
    return [int(x) for x in re.findall(r"(\d+)[ \u202f\u00a0]%", text)]


def curves(d: dict, i: dict, p0: float = 0.9) -> S.Curves:
    """Fake curves with the given areas; the deletion curve starts at ``p0``."""
    f = np.linspace(0, 1, 3)
    return S.Curves(3, "zero", f, {k: np.array([p0, 0.5, 0.1]) for k in d}, {k: np.array([0.1, 0.5, p0]) for k in i},
                    dict(d), dict(i), 0)


def lines(text: str) -> list[str]:
    assert all(line.startswith("- ") for line in text.splitlines()), text
    return [line[2:] for line in text.splitlines()]


def chance(verdict: str) -> str:
    return say(f"verdict.vs_chance.{verdict}")


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
    c = curves({"Grad-CAM": 0.77, "random": 0.69}, {"Grad-CAM": 0.64, "random": 0.63})
    v = S.curves_verdict(c)
    assert v.verdicts == {"deletion_random": "worse", "insertion_random": "same"} and v.sobel_pair == ""
    dl, il = lines(V.reading_curves(c))
    assert dl == (say("verdict.curves.deletion", name="Grad-CAM", area=0.77, random=0.69, verdict=chance("worse"))
                  + say("verdict.curves.deletion_worse"))
    assert il == (say("verdict.curves.insertion", name="Grad-CAM", area=0.64, random=0.63, verdict=chance("same"))
                  + say("verdict.curves.same_close", tolerance=tol()))
    # the figures as the catalogue writes them, and the stated tolerance
    a, r = number(0.77, ".2f"), number(0.69, ".2f")
    assert a in dl and r in dl and dl.index(a) < dl.index(r) and number(S.AUC_TOLERANCE, ".2f") in il


def test_better_than_chance_is_a_ratio_of_areas_not_a_speed():
    c = curves({"Grad-CAM": 0.12, "random": 0.41}, {"Grad-CAM": 0.80, "random": 0.50})
    assert S.curve_verdicts(c) == {"deletion_random": "better", "insertion_random": "better"}
    dl, il = lines(V.reading_curves(c))
    assert dl.endswith(say("verdict.curves.deletion_better", name="Grad-CAM", ratio=0.41 / 0.12))
    assert il.endswith(say("verdict.curves.insertion_better", ratio=0.80 / 0.50))
    assert number(3.4, ".1f") in dl and number(1.6, ".1f") in il  # 0.41 / 0.12, 0.80 / 0.50


def test_deletion_same_and_insertion_worse():
    c = curves({"Grad-CAM": 0.60, "random": 0.61}, {"Grad-CAM": 0.40, "random": 0.55})
    assert S.curve_verdicts(c) == {"deletion_random": "same", "insertion_random": "worse"}
    dl, il = lines(V.reading_curves(c))
    assert dl.endswith(say("verdict.curves.same_close", tolerance=tol()))
    assert il.endswith(say("verdict.curves.insertion_worse")) and chance("worse") in il


@pytest.mark.parametrize("sobel_d, sobel_i, pair, where", [
    (0.28, 0.90, "worse", "both"),
    (0.28, 0.71, "worse", ("deletion", "insertion")),
    (0.51, 0.90, "worse", ("insertion", "deletion")),
    (0.70, 0.40, "better", "both"),
    (0.60, 0.69, "better", ("deletion", "insertion")),
    (0.51, 0.69, "same", None),
    (0.70, 0.90, "mixed", ("better", "worse")),
    (0.28, 0.40, "mixed", ("worse", "better")),
])
def test_edge_map_comparison_reads_the_right_way_round(sobel_d, sobel_i, pair, where):
    c = curves({"Grad-CAM": 0.50, "random": 0.60, "Sobel": sobel_d}, {"Grad-CAM": 0.70, "random": 0.60, "Sobel": sobel_i})
    assert S.curves_verdict(c).sobel_pair == pair
    edge = lines(V.reading_curves(c))[2:]  # after the deletion and insertion lines
    nums = dict(name="Grad-CAM", sobel_deletion=sobel_d, sobel_insertion=sobel_i)
    if pair in ("better", "worse"):
        w = (say("verdict.curves.both_curves") if where == "both" else
             say("verdict.curves.one_curve", won=say(f"verdict.curve.{where[0]}"), other=say(f"verdict.curve.{where[1]}")))
        want = say(f"verdict.curves.edge_{pair}", where=w, **nums)
    elif pair == "same":
        want = say("verdict.curves.edge_same", tolerance=tol(), **nums)
    else:
        want = say("verdict.curves.edge_mixed", on_deletion=say(f"verdict.word.{where[0]}"),
                   on_insertion=say(f"verdict.word.{where[1]}"), **nums)
    assert edge == [want]
    assert number(sobel_d, ".2f") in want and number(sobel_i, ".2f") in want


def test_low_starting_probability_is_noted():
    low = V.reading_curves(curves({"Grad-CAM": 0.1, "random": 0.1}, {"Grad-CAM": 0.1, "random": 0.1}, p0=0.08))
    assert lines(low)[-1] == say("verdict.curves.low_start", start_pct=8.0) and percents(lines(low)[-1]) == [8]
    high = V.reading_curves(curves({"Grad-CAM": 0.1, "random": 0.1}, {"Grad-CAM": 0.1, "random": 0.1}, p0=0.5))
    assert say("verdict.curves.low_start", start_pct=50.0) not in high and len(lines(high)) == 2


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
    return {**agg, "what": say("lang.held_out_digits"), "one": say("lang.digit"), "settings": dict(SETTINGS)}


def test_aggregate_records_counts_with_the_same_tolerance():
    agg = S.aggregate_records(RECORDS)
    assert agg["n"] == 4
    assert agg["deletion_vs_random"] == {"better": 0.75, "same": 0.0, "worse": 0.25}
    assert agg["insertion_vs_random"] == {"better": 0.25, "same": 0.25, "worse": 0.5}
    assert agg["deletion_mean"] == {"map": pytest.approx(0.4825), "random": 0.6, "Sobel": 0.3}
    with pytest.raises(Refusal) as err:
        S.aggregate_records([])
    assert err.value.key == "analysis.error.no_records"


def _curve_part(curve: str, share: dict, mean: dict, mine: str | None = None) -> str:
    s = say("verdict.aggregate.curve", curve=say(f"verdict.curve_title.{curve}"), better_pct=100 * share["better"],
            same_pct=100 * share["same"], worse_pct=100 * share["worse"], name="Grad-CAM", mean_map=mean["map"],
            mean_random=mean["random"], mean_sobel=mean["Sobel"])
    if mine is not None:
        s += say("verdict.aggregate.this_one", one=say("lang.digit"), verdict=chance(mine),
                 common=say(f"verdict.common.{S.how_common(share[mine])}"), pct=100 * share[mine])
    return s + say("verdict.aggregate.curve_close")


def test_single_digit_next_to_the_aggregate_gives_both():
    """'this digit: worse than random; over N digits: better than random x % of the time'."""
    agg = aggregate()
    c = curves({"Grad-CAM": 0.77, "random": 0.69, "Sobel": 0.28}, {"Grad-CAM": 0.64, "random": 0.63, "Sobel": 0.9})
    last = lines(V.reading_curves(c, aggregate=agg, settings=SETTINGS))[-1]
    parts = [_curve_part("deletion", agg["deletion_vs_random"], agg["deletion_mean"], "worse"),
             _curve_part("insertion", agg["insertion_vs_random"], agg["insertion_mean"], "same")]
    assert last == say("verdict.aggregate.head", one=say("lang.digit"), n=4, what=say("lang.held_out_digits"),
                       parts=" ".join(parts))
    # the numbers as written: 75 % better, mean area 0.48; this digit's verdict is less common (25 %)
    assert percents(parts[0])[0] == 75 and percents(parts[0])[-1] == 25
    assert number(0.4825, ".2f") in parts[0] and say("verdict.common.less_common") in parts[0]
    # a digit that is better than chance on deletion is typical here (75 %); insertion worse than
    # chance: exactly half of the digits is neither typical nor less common
    c2 = curves({"Grad-CAM": 0.3, "random": 0.6, "Sobel": 0.2}, {"Grad-CAM": 0.5, "random": 0.6, "Sobel": 0.9})
    last2 = lines(V.reading_curves(c2, aggregate=agg, settings=SETTINGS))[-1]
    assert _curve_part("deletion", agg["deletion_vs_random"], agg["deletion_mean"], "better") in last2
    assert _curve_part("insertion", agg["insertion_vs_random"], agg["insertion_mean"], "worse") in last2
    assert S.how_common(0.75) == "typical" and S.how_common(0.5) == "half"


@pytest.mark.parametrize("share, code", [(0.505, "half"), (0.5049, "half"), (0.506, "typical"),
                                         (0.494, "less_common"), (0.9, "typical")])
def test_how_common_is_decided_on_the_percent_shown(share, code):
    assert S.how_common(share) == code
    assert say(f"verdict.common.{code}")  # every code has its words


#: the settings' named values and their catalogue words (a layer name or a number of steps stays as it is)
VALUE_KEYS = {"zero": "baseline.zero", "blur": "baseline.blur", "predicted": "target.predicted",
              "another class": "target.another_class", "receptive field": "placement.receptive_field",
              "stretched": "placement.stretched"}


def worded(value: object) -> object:
    return say(f"verdict.aggregate.setting_value.{VALUE_KEYS[value]}") if value in VALUE_KEYS else value


@pytest.mark.parametrize("change", [{"layer": "conv2"}, {"baseline": "blur"}, {"steps": 8},
                                    {"target": "another class"}])
def test_aggregate_is_not_quoted_for_other_settings(change):
    ((k, ours),) = change.items()
    assert S.aggregate_mismatch(aggregate(), {**SETTINGS, **change}) == [(k, SETTINGS[k], ours)]
    c = curves({"Grad-CAM": 0.77, "random": 0.69, "Sobel": 0.28}, {"Grad-CAM": 0.64, "random": 0.63, "Sobel": 0.9})
    last = lines(V.reading_curves(c, aggregate=aggregate(), settings={**SETTINGS, **change}))[-1]
    listed = say("verdict.aggregate.setting", setting=say(f"verdict.aggregate.setting_name.{k}"),
                 theirs=worded(SETTINGS[k]), ours=worded(ours))
    assert last == say("verdict.aggregate.other_settings", n=4, what=say("lang.held_out_digits"), settings=listed)
    assert str(worded(SETTINGS[k])) in last and str(worded(ours)) in last
    assert "%" not in last  # no share from the wrong settings


# ----------------------------------------------------------------------------- cascade
def cascade(table: dict[str, list[float]], stages=("fc", "layer4", "layer3", "layer2", "layer1")) -> S.Cascade:
    """A fake cascade whose mean rank correlations are ``table[method]`` (original first)."""
    m0 = np.zeros((4, 4), np.float32)
    results = {m: [S.Stage(n, m0, float(r), float(r)) for n, r in zip(("original",) + tuple(stages), rho)]
               for m, rho in table.items()}
    return S.Cascade("layer", torch.tensor([0]), torch.zeros(1, 3), ["original", *stages], results)


def end(rho: float, stage: str) -> str:
    return say("verdict.cascade.end", last_rho=rho, last=stage)


def test_cascade_falls_at_every_stage():
    cas = cascade({"Grad-CAM": [1, 0.10, 0.05, -0.02, 0.08, 0.13], "Guided backprop": [1, 0.94, 0.92, 0.79, 0.68, 0.61]})
    v = S.cascade_verdict(cas, "Grad-CAM")
    assert (v.pattern, v.stages[v.lowest], v.reversal) == ("falls", "layer3", "")
    assert v.others == (("Guided backprop", 0.94, 0.61),)
    nums = dict(method="Grad-CAM", first_rho=0.10, first="fc", high=0.5, low_rho=-0.02, low_stage="layer3",
                end=end(0.13, "layer1"))
    other = say("verdict.cascade.other", method="Guided backprop", first_rho=0.94, last_rho=0.61)
    assert V.reading_cascade(cas, "Grad-CAM") == (
        say("verdict.cascade.falls", **nums) + say("verdict.cascade.falls_several", **nums)
        + say("verdict.cascade.falls_close") + say("verdict.cascade.others", maps=other))
    assert number(0.10, ".2f") in say("verdict.cascade.falls", **nums)
    assert number(-0.02, ".2f") in say("verdict.cascade.falls_several", **nums)


def test_cascade_stays_high_at_every_stage():
    cas = cascade({"Guided backprop": [1, 0.94, 0.92, 0.79, 0.68, 0.61]})
    v = S.cascade_verdict(cas, "Guided backprop")
    assert (v.pattern, v.stages[v.lowest], v.others) == ("stays", "layer1", ())
    nums = dict(method="Guided backprop", first_rho=0.94, first="fc", high=0.5, low_rho=0.61, low_stage="layer1",
                end=end(0.61, "layer1"))
    assert V.reading_cascade(cas, "Guided backprop") == (
        say("verdict.cascade.stays", **nums) + say("verdict.cascade.stays_several", **nums)
        + say("verdict.cascade.stays_close"))


def test_cascade_high_first_then_falls_reads_the_whole_table():
    """The issue's case: the first stage alone looked like 'structure', the table falls to −0.34 and 0.03."""
    cas = cascade({"Guided Grad-CAM": [1, 0.72, 0.55, -0.34, 0.03]}, stages=("_fc", "_conv_head", "_blocks.15", "_blocks.0"))
    v = S.cascade_verdict(cas, "Guided Grad-CAM")
    assert (v.pattern, v.stages[v.first_low], v.stages[v.lowest], v.reversal) == (
        "falls_later", "_blocks.15", "_blocks.15", "moderate")
    text = V.reading_cascade(cas, "Guided Grad-CAM")
    assert text == (say("verdict.cascade.falls_later", method="Guided Grad-CAM", first_rho=0.72, first="_fc",
                        fall_rho=-0.34, fall_stage="_blocks.15", low_rho=-0.34, low_stage="_blocks.15",
                        end=end(0.03, "_blocks.0"))
                    + say("verdict.cascade.reversal_moderate", low_rho=-0.34))
    assert all(number(x, ".2f") in text for x in (-0.34, 0.03, 0.72))


@pytest.mark.parametrize("low, code", [(-0.40, "moderate"), (-0.69, "moderate"), (-0.70, "strong"),
                                       (-0.85, "strong"), (-0.19, "")])
def test_a_negative_rank_correlation_is_read_by_its_size(low, code):
    """Issue 24: ρ = −0.40 was read as "what was brightest is now among the darkest"."""
    cas = cascade({"Grad-CAM": [1, 0.10, low, 0.05, 0.08, 0.13]})
    assert S.cascade_verdict(cas, "Grad-CAM").reversal == code
    text = V.reading_cascade(cas, "Grad-CAM")
    for kind in ("moderate", "strong"):
        sentence = say(f"verdict.cascade.reversal_{kind}", low_rho=low)
        assert (sentence in text) == (kind == code)
    if code:
        assert f"({number(low, '.2f')})" in text


def test_cascade_falls_then_recovers():
    cas = cascade({"Grad-CAM": [1, 0.20, 0.10, 0.40, 0.62, 0.70]})
    v = S.cascade_verdict(cas, "Grad-CAM")
    assert (v.pattern, v.stages[v.highest], v.rho[v.highest]) == ("recovers", "layer1", 0.70)
    assert V.reading_cascade(cas, "Grad-CAM") == say(
        "verdict.cascade.recovers", method="Grad-CAM", first_rho=0.20, first="fc", high_rho=0.70, high_stage="layer1",
        end=end(0.70, "layer1"), high=0.5, low_rho=0.10, low_stage="layer4")


def test_cascade_with_one_stage():
    cas = cascade({"Grad-CAM": [1, 0.3], "Guided backprop": [1, 0.9]}, stages=("fc3",))
    assert not S.cascade_verdict(cas, "Grad-CAM").several
    other = say("verdict.cascade.other_one_stage", method="Guided backprop", first_rho=0.9)
    assert V.reading_cascade(cas, "Grad-CAM") == (
        say("verdict.cascade.falls", method="Grad-CAM", first_rho=0.3, first="fc3") + say("verdict.cascade.falls_close")
        + say("verdict.cascade.others_one_stage", maps=other))
    gb = V.reading_cascade(cas, "Guided backprop")
    assert gb.startswith(say("verdict.cascade.stays", method="Guided backprop", first_rho=0.9, first="fc3")
                         + say("verdict.cascade.stays_close"))
    assert V.reading_cascade(cascade({"Grad-CAM": [1]}, stages=()), "Grad-CAM") == ""


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
    assert agg["n"] == 200
    # a Term: worded in the reader's language, whichever it is when it is read
    assert str(agg["what"]) == say("lang.held_out_digits") and str(agg["one"]) == say("lang.digit")
    for lang in ("en", "fr"):
        with use_lang(lang):
            assert str(agg["what"]) == say("lang.held_out_digits", lang) and str(agg["one"]) == say("lang.digit", lang)
    with use_lang("en"):
        assert str(agg["what"]) == "held-out digits"
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
    head = say("verdict.aggregate.head", one=say("lang.digit"), n=200, what=say("lang.held_out_digits"), parts="")
    assert head in text and percents(text.split(head)[1])[0] == int(format(100 * share, ".0f"))
    text8 = trust.mnist_curves(digit, "predicted", "zero", 8).reading
    listed = say("verdict.aggregate.setting", setting=say("verdict.aggregate.setting_name.steps"), theirs=20, ours=8)
    assert say("verdict.aggregate.other_settings", n=200, what=say("lang.held_out_digits"), settings=listed) in text8
    # ranked by the stretched drawing, the digit is not compared with digits ranked by the aligned one
    text_s = trust.mnist_curves(digit, "predicted", "zero", 20, placement="stretched").reading
    listed = say("verdict.aggregate.setting", setting=say("verdict.aggregate.setting_name.placement"),
                 theirs=worded("receptive field"), ours=worded("stretched"))
    assert say("verdict.aggregate.other_settings", n=200, what=say("lang.held_out_digits"), settings=listed) in text_s


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
    photo, variant = {"context": ("coffee", "grass"), "removed": ("rocket", ""), "text": ("cat", "caption")}[experiment]
    return {"experiment": experiment, "photo": photo, "variant": variant,
            "original_top3": [["espresso", 0.95], ["cup", 0.01], ["x", 0.01]],
            "altered_top3": [["espresso", 0.40], ["cup", 0.2], ["x", 0.01]], "original_class_prob_after": 0.40,
            "region_area": a1, "region_area_original": a0, "heat_share_original": h0, "heat_share_altered": h1}


@pytest.mark.parametrize("h0, a0, h1, a1, word, d1, d0", [
    # more heat share but on a region twice as large: LESS heat per area (the card)
    (0.12, 0.28, 0.17, 0.60, "less", 0.17 / 0.60, 0.12 / 0.28),
    # the same heat share on a smaller region: MORE heat per area
    (0.20, 0.40, 0.20, 0.25, "more", 0.80, 0.50),
    # twice the share on twice the area: the same per area (within 10 %)
    (0.10, 0.30, 0.21, 0.60, "same", 0.35, 0.10 / 0.30),
])
def test_context_card_compares_heat_per_area(h0, a0, h1, a1, word, d1, d0):
    from gradcam_core.analysis import photo_cards
    from gradcam_core.present import cards

    assert photo_cards.compare_per_area(photo_cards.heat_per_area(h1, a1), photo_cards.heat_per_area(h0, a0)) == word
    s = cards.card_sentence(card_numbers("context", h0, a0, h1, a1))
    tol = say("analysis.card.tolerance", tol_pct=10) if word == "same" else ""
    region, old = cards.region_names("context", "coffee", "grass")
    assert (region, old) == (say("analysis.card.region.context", photo=say("analysis.photo.coffee"),
                                 variant=say("analysis.background.grass")),
                             say("analysis.card.region.context_original", photo=say("analysis.photo.coffee"),
                                 variant=say("analysis.background.grass")))
    heat = say("analysis.card.heat.context", heat_pct=100 * h1, region=region, area_pct=100 * a1,
               old_region=old, old_area_pct=100 * a0, old_heat_pct=100 * h0,
               amount=say(f"analysis.card.amount.context.{word}"), tolerance=tol, per_area=d1, old_per_area=d0)
    assert s == say("analysis.card.sentence", prediction=say("analysis.card.stayed", top="espresso", p0=0.95, p1=0.40),
                    heat=heat)
    assert number(d1, ".2f") in s and number(d0, ".2f") in s and s.index(number(d1, ".2f")) < s.rindex(number(d0, ".2f"))
    assert round(100 * h1) in percents(s) and round(100 * a1) in percents(s)


@pytest.mark.parametrize("experiment, h0, h1, word", [
    ("removed", 0.16, 0.07, "less"),
    ("removed", 0.07, 0.16, "more"),
    ("text", 0.16, 0.17, "same"),
    ("text", 0.16, 0.02, "less"),
])
def test_same_area_cards_state_the_area_and_compare(experiment, h0, h1, word):
    from gradcam_core.present import cards

    n = card_numbers(experiment, h0, 0.18, h1, 0.18)
    region, _ = cards.region_names(experiment, n["photo"], n["variant"])
    tol = say("analysis.card.tolerance", tol_pct=10) if word == "same" else ""
    heat = say(f"analysis.card.heat.{experiment}", heat_pct=100 * h1, region=region, area_pct=18, old_heat_pct=100 * h0,
               amount=say(f"analysis.card.amount.same_area.{word}"), tolerance=tol, per_area=h1 / 0.18,
               old_per_area=h0 / 0.18)
    assert cards.card_sentence(n) == say("analysis.card.sentence", prediction=say(
        "analysis.card.stayed", top="espresso", p0=0.95, p1=0.40), heat=heat)
    assert number(h1 / 0.18, ".2f") in heat and number(h0 / 0.18, ".2f") in heat and 18 in percents(heat)


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

    def label(code: str) -> str:
        return say(f"shortcut.region.{code}")

    assert sview.region_labels(SimpleNamespace(experiment="context", variant="grass")) == (
        label("old_background"), label("new_background"))
    assert sview.region_labels(SimpleNamespace(experiment="removed", variant="")) == (label("object"), label("filled_area"))
    assert sview.region_labels(SimpleNamespace(experiment="text", variant="caption")) == (
        label("strip_area"), label("caption_strip"))
    assert sview.region_labels(SimpleNamespace(experiment="text", variant="watermark"))[1] == label("watermark_box")
    # the English words the captions must use (the context card measures the background, never "in outline")
    with use_lang("en"):
        assert (label("old_background"), label("new_background")) == ("old background", "new background")
