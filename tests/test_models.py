"""Model registry: real EfficientNet-Lite0 predictions offline, layer sizes, weights discovery."""
from __future__ import annotations

import io
import threading
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch
from PIL import Image

from gradcam_core.cam.tokens import to_maps
from gradcam_core.models import registry as M
from gradcam_core.models import weights as W
from gradcam_core import weights_cli as models_cli
from gradcam_core.data.images import load_image
from gradcam_core.present.words import say, text_of

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}
COFFEE_CLASSES = {"espresso", "cup", "coffee mug"}


@pytest.fixture(autouse=True)
def isolated_weights(weights_isolated):
    """Empty weights folder and torch hub cache, downloads not allowed (conftest.weights_isolated)."""
    return weights_isolated


def top5(spec, model, img):
    with torch.no_grad():
        prob = model(spec.preprocess(img)).softmax(1)[0]
    v, i = prob.topk(5)
    return [(spec.categories[k], float(p)) for p, k in zip(v, i)]


# --------------------------------------------------------------------------- EfficientNet-Lite0
@pytest.fixture(scope="module")
def lite():
    spec = M.get_model("efficientnet_lite0")
    return spec, spec.load()


def test_lite0_available_offline_and_cached(lite):
    spec, model = lite
    assert spec.available and spec.reason == ""
    assert "efficientnet-lite0" in spec.status
    assert spec.load() is model
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"


def test_lite0_chelsea_is_a_cat(lite):
    from skimage import data

    spec, model = lite
    preds = top5(spec, model, load_image(data.chelsea()))
    names = [n for n, _ in preds]
    assert names[0] in CAT_CLASSES, preds
    assert len(CAT_CLASSES & set(names[:3])) >= 2, preds  # tiger cat, Egyptian cat, tabby
    assert preds[0][1] > 0.25


def test_lite0_coffee_is_espresso(lite):
    from skimage import data

    spec, model = lite
    preds = top5(spec, model, load_image(data.coffee()))
    assert preds[0][0] == "espresso" and preds[0][1] > 0.8, preds
    assert COFFEE_CLASSES & {n for n, _ in preds}


def test_lite0_same_output_as_the_package_model(lite):
    from efficientnet_lite_pytorch import EfficientNet

    spec, model = lite
    ref = EfficientNet.from_name("efficientnet-lite0")
    ref.load_state_dict(torch.load(M.lite0_weights_path(), map_location="cpu", weights_only=True))
    ref.eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5)


def test_lite0_preprocessing_follows_the_tf_recipe(lite):
    spec, _ = lite
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    crop = spec.display_image(img)
    assert crop.size == (224, 224) and crop.mode == "RGB"
    x = spec.preprocess(img)
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    expected = (torch.from_numpy(np.asarray(crop, np.float32)).permute(2, 0, 1) - 127.0) / 128.0
    assert torch.allclose(x[0], expected)
    assert x.min() >= -127 / 128 - 1e-6 and x.max() <= 128 / 128 + 1e-6
    # centre crop of 224/256 of the shorter side: a white border outside it never reaches the model
    framed = Image.new("RGB", (400, 300), "white")
    framed.paste(Image.new("RGB", (262, 262), "black"), (69, 19))
    assert np.asarray(spec.display_image(framed)).max() < 20


# --------------------------------------------------------------------------- every model
def test_categories():
    import torchvision.models as tvm

    tv = tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    for spec in M.REGISTRY.values():
        assert len(spec.categories) == 1000
        assert spec.categories == tv
    assert tv[281] == "tabby" and tv[967] == "espresso"


def _architecture(key):
    """(model, device): the real Lite0; torchvision models built on the meta device
    (no weights, no memory, no compute: only shapes matter here)."""
    if key == "efficientnet_lite0":
        return M.get_model(key).load(), "cpu"
    with torch.device("meta"):
        return W.TORCHVISION_MODELS[key][0](weights=None).eval(), "meta"


@pytest.mark.parametrize("key", list(M.REGISTRY))
def test_layers_exist_with_advertised_sizes(key):
    spec = M.get_model(key)
    assert spec.default_layer in spec.layer_names
    assert len(set(spec.layer_names)) == len(spec.layers)
    model, device = _architecture(key)
    modules = dict(model.named_modules())
    seen: dict[str, list[tuple[int, int]]] = {}
    hooks = []
    for info in spec.layers:
        assert info.name in modules, f"{key}: {info.name} is not a module"
        # a transformer layer's tokens or channels-last output, read as maps as the engine reads it
        hooks.append(modules[info.name].register_forward_hook(
            lambda m, i, o, n=info.name: seen.setdefault(n, []).append(tuple(to_maps(o, spec.layout_of(n)).shape[-2:]))))
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, *spec.input_size, device=device))
    finally:
        for h in hooks:
            h.remove()
    assert out.shape == (1, 1000)
    for info in spec.layers:
        assert seen[info.name] == [info.size], f"{key}.{info.name}: {seen[info.name]} vs {info.size}"
    sizes = [l.size[0] for l in spec.layers]
    assert sizes == sorted(sizes, reverse=True)  # shallow → deep


# --------------------------------------------------------------------------- torchvision weights
def test_unknown_model_and_unlisted_layer_are_codes():
    with pytest.raises(KeyError) as e:
        M.get_model("nope")
    assert (e.value.key, e.value.values["model"]) == ("error.model.unknown", "nope")
    assert text_of(e.value).startswith("unknown model 'nope'; choose from resnet18, resnet50, ")
    with pytest.raises(KeyError) as e:
        M.get_model("lenet").layer("fc9")
    assert e.value.key == "error.model.layer_not_listed" and e.value.values["names"] == M.get_model("lenet").layer_names
    assert text_of(e.value).startswith("lenet has no listed layer 'fc9'; choose from ['conv1', ")


def test_a_missing_lenet_is_a_refusal_with_the_training_command(tmp_path):
    from dataclasses import replace

    spec = replace(M.get_model("lenet_shortcut"), weights_file=tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError) as e:
        spec.load()
    assert (e.value.key, e.value.values) == ("error.model.shortcut_missing", {
        "path": str(tmp_path / "none.pt"), "command": "python tools/train_shortcut.py"})
    assert text_of(e.value) == (f"Shortcut LeNet weights not found at {tmp_path / 'none.pt'}. "
                                "Train them first with: python tools/train_shortcut.py")


def _worded(a: M.Availability) -> tuple[bool, str]:
    return a.ok, say(a.key, **a.values)


def test_availability_codes_say_what_the_status_says(isolated_weights, monkeypatch, tmp_path):
    """Every state of every model, as a code and numbers, words to today's status line; and each
    model's description is in the catalogue."""
    from dataclasses import replace

    for key, spec in M.MODELS.items():
        assert _worded(spec.availability_code()) == spec.availability(), key
        assert say(f"model.description.{key}") == spec.description
    r18 = M.get_model("resnet18")
    code = r18.availability_code()
    assert (code.ok, code.key) == (False, "model.status.missing")
    assert code.values["names"] == "resnet18-f37072fd.pth" and code.values["env"] == W.ALLOW_DOWNLOAD_ENV
    (isolated_weights / "resnet18-f37072fd.pth").write_bytes(b"x")
    code = r18.availability_code()
    assert (code.ok, code.key, code.values) == (True, "model.status.weights_file",
                                                {"path": str(isolated_weights / "resnet18-f37072fd.pth")})
    assert _worded(code) == r18.availability()
    monkeypatch.setattr(W, "download_allowed", lambda: True)
    for probe, key in [((True, "HTTP 200"), "model.status.will_download"), ((False, "offline"), "model.status.unreachable")]:
        monkeypatch.setattr(W, "probe", lambda url, timeout=None, probe=probe: probe)
        code = M.get_model("vgg16").availability_code()
        assert code.key == key and _worded(code) == M.get_model("vgg16").availability(), key
    gone = replace(M.get_model("lenet_shortcut"), weights_file=tmp_path / "none.pt")
    assert gone.availability_code() == M.Availability(False, "error.model.shortcut_missing", {
        "path": str(tmp_path / "none.pt"), "command": "python tools/train_shortcut.py"})
    assert _worded(gone.availability_code()) == gone.availability()
    monkeypatch.setattr(M.importlib.util, "find_spec", lambda name: None)
    lite = M.get_model("efficientnet_lite0")
    assert lite.availability_code() == M.Availability(False, "model.status.lite_code_package")
    assert _worded(lite.availability_code()) == lite.availability()


def test_resnet18_unavailable_without_weights_file():
    spec = M.get_model("resnet18")
    assert not spec.available
    reason = spec.reason
    assert "weights/" in reason and "resnet18-f37072fd.pth" in reason
    assert "python -m gradcam_core weights download resnet18" in reason
    with pytest.raises(M.ModelUnavailableError) as e:
        spec.load()
    assert (e.value.key, e.value.values["title"]) == ("error.model.unavailable", "ResNet-18")
    why = e.value.values["why"]  # the nested reason is a code too, which words itself
    assert (why.key, why.values) == ("model.status.missing", W.missing_values("resnet18"))
    assert str(why) == reason == say("model.status.missing", **W.missing_values("resnet18"))
    assert text_of(e.value) == f"ResNet-18 is not available: {reason}"
    assert "resnet18" not in [s.key for s in M.available_models()]
    assert M.availability()["efficientnet_lite0"][0]


def test_resnet18_appears_when_file_is_placed(isolated_weights):
    path = W.save_random_weights("resnet18", isolated_weights)
    assert path.name == "resnet18-f37072fd.pth" and path.parent == isolated_weights
    spec = M.get_model("resnet18")
    assert spec.available and str(path) in spec.status
    assert "resnet18" in [s.key for s in M.available_models()]
    model = spec.load()
    assert spec.load() is model and not model.training
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    with torch.no_grad():
        logits = model(spec.preprocess(img))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
    # the random file really was loaded (not torchvision's init, not pretrained weights)
    saved = torch.load(path, weights_only=True)
    assert torch.equal(model.fc.weight, saved["fc.weight"])
    # display_image is exactly what preprocess normalises
    crop = spec.display_image(img)
    assert crop.size == (224, 224)
    t = spec.transforms()
    x = torch.from_numpy(np.asarray(crop, np.float32) / 255.0).permute(2, 0, 1)
    x = (x - torch.tensor(t.mean)[:, None, None]) / torch.tensor(t.std)[:, None, None]
    assert torch.allclose(spec.preprocess(img)[0], x, atol=1e-5)
    # and it goes away again with the file (checked at call time)
    path.unlink()
    assert not spec.available


def test_densenet_checkpoint_with_old_key_names(isolated_weights):
    torch.manual_seed(0)
    sd = W.TORCHVISION_MODELS["densenet121"][0](weights=None).state_dict()
    old = {}
    for k, v in sd.items():  # torchvision's published file uses "norm.1" instead of "norm1"
        for a in ("norm", "relu", "conv"):
            for n in ("1", "2"):
                k = k.replace(f".{a}{n}.", f".{a}.{n}.")
        old[k] = v
    assert any(".norm.1." in k for k in old)
    torch.save(old, isolated_weights / "densenet121-a639ec97.pth")
    model = M.get_model("densenet121").load()
    assert torch.equal(model.classifier.weight, sd["classifier.weight"])


def test_broken_weights_file_gives_a_clear_error(isolated_weights):
    (isolated_weights / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    spec = M.get_model("resnet18")
    assert spec.available  # availability only looks for the file
    with pytest.raises(M.ModelUnavailableError) as e:
        spec.load()
    assert e.value.key == "error.model.unloadable" and e.value.values["title"] == "ResNet-18"
    assert text_of(e.value).startswith("ResNet-18 could not be loaded: could not read weights file ")


def test_resnet50_accepts_v2_or_v1_and_uses_matching_transforms(isolated_weights):
    spec = M.get_model("resnet50")
    (isolated_weights / "resnet50-0676ba61.pth").write_bytes(b"x")  # classic V1 name
    assert spec.available and spec.transforms().resize_size == [256]
    (isolated_weights / "resnet50-11ad3fa6.pth").write_bytes(b"x")  # V2, preferred
    assert spec.transforms().resize_size == [232]


def test_default_model_key(isolated_weights):
    assert M.default_model_key() == "efficientnet_lite0"
    (isolated_weights / "resnet18-f37072fd.pth").write_bytes(b"x")
    assert M.default_model_key() == "resnet18"
    (isolated_weights / "resnet50-11ad3fa6.pth").write_bytes(b"x")
    assert M.default_model_key() == "resnet50"


def test_availability_is_cheap_and_loads_nothing(monkeypatch):
    """Listing what is available reads no weights file and builds no network (its cost is in bench/)."""
    import torch

    def no_load(*a, **k):
        raise AssertionError("availability loaded a weights file")

    monkeypatch.setattr(torch, "load", no_load)
    for _ in range(20):
        M.availability()
    assert M.get_model("vgg16")._cache is None


def test_offline_download_fails_fast(monkeypatch):
    monkeypatch.setenv(W.ALLOW_DOWNLOAD_ENV, "1")
    W._probe_cache.clear()
    url = W.candidate_weights("resnet18")[0].url
    ok, _ = W.probe(url)
    if ok:
        pytest.skip("this machine can reach download.pytorch.org")
    spec = M.get_model("resnet18")
    assert not spec.available and "not reachable" in spec.reason
    with pytest.raises(M.ModelUnavailableError) as e:
        spec.load()
    assert e.value.key == "error.model.unavailable" and "offline" in text_of(e.value)
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert models_cli.main(["download", "resnet18"]) == 1
    assert "not reachable" in err.getvalue() and "Traceback" not in err.getvalue()


def test_probe_gives_up_quickly(monkeypatch):
    """The probe hands its deadline to urllib and joins its thread with the same deadline (how long that
    takes is measured in bench/, never timed here)."""
    import threading
    import urllib.request

    W._probe_cache.clear()
    seen = {}
    real_join = threading.Thread.join

    def urlopen(req, timeout=None):
        seen["urlopen"] = timeout
        raise OSError("no network in this test")

    def join(self, timeout=None):
        if self.name == "gradcam-weights-probe":
            seen["join"] = timeout
        return real_join(self, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(threading.Thread, "join", join)
    ok, msg = W.probe("http://gradcam-explorer.invalid/x.pth", timeout=1.0)
    assert not ok and msg
    assert seen == {"urlopen": 1.0, "join": 1.0}


def test_cli_list(isolated_weights):
    out = io.StringIO()
    with redirect_stdout(out):
        assert models_cli.main(["list"]) == 0
    text = out.getvalue()
    assert "resnet18" in text and "missing" in text and "download resnet18" in text
    assert "efficientnet_lite0" in text and "bundled" in text
    W.save_random_weights("resnet18", isolated_weights)
    out = io.StringIO()
    with redirect_stdout(out):
        models_cli.main(["list", "--verify"])
    line = next(l for l in out.getvalue().splitlines() if l.startswith("resnet18"))
    assert "present" in line and "MiB" in line and "MISMATCH" in line  # random ≠ torchvision's file


def test_load_is_thread_safe(isolated_weights):
    W.save_random_weights("resnet18", isolated_weights)
    spec = M.get_model("resnet18")
    got, errors = [], []

    def worker():
        try:
            got.append(spec.load())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 4
    assert all(m is got[0] for m in got)


def test_manifest_examples_load():
    from gradcam_core.data.examples import load_manifest

    entries = load_manifest()
    assert len(entries) >= 8
    for e in entries:
        assert {"file", "title", "category", "package", "function", "credit", "licence"} <= set(e)
        img = load_image(e["path"])
        assert max(img.size) <= 640


@pytest.mark.parametrize("key", [k for k, s in M.REGISTRY.items() if s.family != "vit"])
def test_gradcam_runs_on_every_listed_layer(key):
    """The engine works on every layer the UI offers, for every model (random weights for the
    torchvision ones: the architecture, in-place and functional ReLUs included, is what matters).
    ViT-B/16 (whose last block has no gradient on its patch tokens, by design) is in test_transformers.py."""
    from gradcam_core import GradCAM

    spec = M.get_model(key)
    torch.manual_seed(0)
    model = spec.load() if key == "efficientnet_lite0" else W.TORCHVISION_MODELS[key][0](weights=None).eval()
    x = torch.rand(1, 3, *spec.input_size)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for info in spec.layers:
        r = GradCAM(model, info.name, layout=spec.layout_of(info.name))(x, target=3)
        assert tuple(r.cam.shape[-2:]) == info.size, (key, info.name)
        assert torch.isfinite(r.cam).all() and r.gradients.abs().sum() > 0, (key, info.name)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_both_lenets_are_in_the_one_registry_and_loaded_once():
    """Every caller gets the same LeNet object from the registry: the MNIST tab, the Shortcuts
    experiment, the trust panels, the ink share and the CLI."""
    from gradcam_core import cli
    from gradcam_core.analysis import shortcut
    from gradcam_core.models.lenet import CLASSES, DEFAULT_WEIGHTS, SHORTCUT_WEIGHTS
    from gradcam_core.services import mnist as mnist_svc

    clean, short = M.get_model("lenet"), M.get_model("lenet_shortcut")
    assert clean.dataset == short.dataset == "MNIST" and clean.categories == list(CLASSES)
    assert clean.weights_file == DEFAULT_WEIGHTS and short.weights_file == SHORTCUT_WEIGHTS
    assert clean.default_layer == "relu2" and clean.layer("pool2").size == (4, 4)
    assert set(M.REGISTRY) < set(M.MODELS) and {"lenet", "lenet_shortcut"} == set(M.MODELS) - set(M.REGISTRY)
    net = M.lenet_model()
    assert mnist_svc.model() is net and shortcut.load_clean() is net  # the tab, panels and CLI run it (services.mnist)
    assert cli.load_backend("lenet").model is net and clean.load() is net
    assert shortcut.load_shortcut() is M.lenet_model("lenet_shortcut") is not net
    # preprocessing and the display image come with the spec: a 28×28 digit, bright ink on black
    from PIL import Image

    from gradcam_core.data.mnist import test_digits

    paper = Image.fromarray(255 - test_digits()[0][0]).resize((112, 112))
    x = clean.preprocess(paper)
    assert tuple(x.shape) == (1, 1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    shown = np.asarray(clean.display_image(paper))
    assert shown.shape == (28, 28, 3) and int(shown[0, 0, 0]) == 0 and shown.max() > 200
    assert int(net(x).argmax()) == int(test_digits()[1][0])


def test_layer_labels_and_descriptions_are_catalogue_codes_with_numbers():
    """Each layer label is a [model.layer] key with the layer's name and map size (plus its stage or
    block number): worded, it reads as the pickers always showed it, and every key is used."""
    used = set()
    for spec in M.MODELS.values():
        assert spec.description == say(spec.description_key) != ""
        for info in spec.layers:
            used.add(info.label_key)
            h, w = info.size
            assert info.label == say(info.label_key, name=info.name, h=h, w=w, **dict(info.label_values))
    assert used == {"model.layer." + k for k in words_in("model.layer")}
    assert M.get_model("resnet50").layer("layer2").label == "layer2 (stage 2, 28×28)"
    assert M.get_model("resnet18").layer("layer4").label == "layer4 (last stage, 7×7)"
    assert M.get_model("vgg16").layer("features.30").label == "pool5 (features.30, 7×7)"
    assert M.get_model("vgg16").layer("features.29").label == "relu5_3 after the last conv (features.29, 14×14)"
    assert M.get_model("densenet121").layer("features.transition2").label == "transition 2 (14×14)"
    assert M.get_model("efficientnet_lite0").layer("_blocks.10").label == "stage 5 (_blocks.10, 14×14)"
    assert M.get_model("lenet").layer("conv2").label == "conv2 · 16 maps of 8×8"
    assert M.get_model("lenet").layer("relu2").label == "relu2 · 16 maps of 8×8 (default)"
    assert M.get_model("lenet_shortcut").title == "LeNet with a shortcut (MNIST + planted cue)"
    # a label a person types is still accepted by the layer parser
    assert M.get_model("lenet").resolve_layer("conv2 · 16 maps of 8×8") == "conv2"


def words_in(section: str) -> set[str]:
    from gradcam_core.present.words import catalogue

    return {k[len(section) + 1:] for k in catalogue() if k.startswith(section + ".")}
