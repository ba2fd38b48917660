"""A classic LeNet-5 style network for 28x28 MNIST digits.

The model takes raw pixel intensities in [0, 1] (bright ink on a dark
background, as in MNIST) and applies the MNIST mean/std normalisation itself,
so callers never have to remember it.  The normalisation constants are plain
Python floats, not buffers, so the saved state dict contains only the learned
weights.

Shapes for one (1, 28, 28) input::

    conv1  (6, 24, 24) -> pool1 (6, 12, 12)
    conv2 (16,  8,  8) -> pool2 (16, 4, 4)   # conv2 is the Grad-CAM layer
    flatten 256 -> fc1 120 -> fc2 84 -> fc3 10
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np
import torch
from torch import nn

from gradcam_core.base.errors import Refusal
from gradcam_core.base import home


class WeightsMissing(Refusal, FileNotFoundError):
    """A LeNet's weights file is not there: the path and the command that trains it (a ``Refusal``,
    and the FileNotFoundError callers of :func:`load_lenet` have always caught)."""

CLASSES = [str(i) for i in range(10)]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

DEFAULT_WEIGHTS = home.path("weights") / "lenet_mnist.pt"

TOOLS = PurePosixPath("tools")  # the training scripts, run from the repository's root
TRAIN_COMMAND = f"python {TOOLS / 'train_lenet.py'}"
#: the LeNet trained with a planted cue (the shortcut experiment, gradcam_core.analysis.shortcut)
SHORTCUT_WEIGHTS = DEFAULT_WEIGHTS.parent / "lenet_shortcut.pt"
SHORTCUT_TRAIN_COMMAND = f"python {TOOLS / 'train_shortcut.py'}"
#: (module name, (maps, height, width)) of the layers that keep a spatial map, for one 28×28 digit
SPATIAL_LAYERS = {"conv1": (6, 24, 24), "relu1": (6, 24, 24), "pool1": (6, 12, 12),
                  "conv2": (16, 8, 8), "relu2": (16, 8, 8), "pool2": (16, 4, 4)}
DEFAULT_LAYER = "relu2"  # the rectified maps, the Grad-CAM convention (see method_texts)


class LeNet(nn.Module):
    """LeNet for 1x28x28 inputs in [0, 1]; returns 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.relu3 = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU(inplace=True)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - MNIST_MEAN) / MNIST_STD
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


def load_lenet(path: str | Path | None = None) -> LeNet:
    """Build a LeNet, load trained weights on the CPU and switch to eval mode.

    Raises ``WeightsMissing`` (a FileNotFoundError and a ``Refusal`` naming the training command)
    if the weights file does not exist.
    """
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsMissing("error.model.lenet_missing", path=str(path), command=TRAIN_COMMAND)
    model = LeNet()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model


def top_probability(model: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """A scorer for ``mnist.preprocess_digit(..., score=...)``: a stack of 28×28 digits in [0, 1]
    (N, 28, 28) → the model's top-1 softmax probability for each (N,), without gradients."""

    def score(digits: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(digits, dtype=np.float32)).reshape(-1, 1, 28, 28)
        with torch.inference_mode():
            return torch.softmax(model(x), dim=1).amax(dim=1).numpy()

    return score
