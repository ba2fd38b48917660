"""Where the repository's top-level data folders are: ``weights/`` and ``examples/``.

Three places, first found wins:
1. ``$GRADCAM_HOME`` (a folder holding ``weights/`` and ``examples/``): your own trained weights or
   photos, without touching the installed package;
2. the working copy this package runs from (``python app.py``, ``pip install -e .``): its top level;
3. the copy an installed package carries (``pip install .``): ``gradcam_core/_home/`` (pyproject.toml
   and setup.py put it there).

Why package data and not ``data-files`` or a required ``GRADCAM_HOME``: a wheel's package data
travels with the code into any venv and is found from ``__file__`` with no configuration, whereas
data-files land under a prefix the code would have to guess, and a required variable makes
``pip install . && gradcam-explorer models`` fail until someone sets it. This module imports nothing
of the package (the bottom layer, as ``errors``).
"""
from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "GRADCAM_HOME"
PACKAGE = Path(__file__).resolve().parents[1]  # gradcam_core/ (this file is gradcam_core/base/home.py)
CHECKOUT = PACKAGE.parent
INSTALLED = PACKAGE / "_home"
FOLDERS = ("weights", "examples")


def home() -> Path:
    """The folder holding ``weights/`` and ``examples/`` (see the module's docstring)."""
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    if all((CHECKOUT / name).is_dir() for name in FOLDERS):
        return CHECKOUT
    return INSTALLED


def path(folder: str) -> Path:
    """``home() / folder`` for one of :data:`FOLDERS` (``path("weights") / "lenet_mnist.pt"``)."""
    if folder not in FOLDERS:
        raise KeyError(folder)
    return home() / folder
