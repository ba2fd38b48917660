"""Colour maps and colour-vision deficiency (issue 17): which maps stay readable, measured.

A heat map is read by its order: low to high. Under a colour-vision deficiency (CVD) hue differences
shrink, and what is left is mostly *lightness*. So a sequential map is CVD-safe when its lightness
(CIE L*) keeps rising from one end to the other after simulating the deficiency; ``jet`` goes dark ->
light -> dark (its two ends have about the same lightness), ``viridis``, ``cividis`` and ``inferno``
rise all the way. A diverging map (gradients, signed sums) is read from its centre outwards: it is
safe when its two ends stay far apart in colour after the simulation.

Simulation: Machado, Oliveira and Fernandes (2009), full severity, applied in linear sRGB.
No gradio import.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from gradcam_core.present.words import lazy, say

__all__ = ["MACHADO", "heat_choices", "CVD_SAFE", "simulate", "lightness", "lightness_profile",
           "is_monotonic", "end_distance", "heat_map_note",
           "SIGNED_MAP", "signed_map_note"]

#: Machado et al. 2009, severity 1.0 (protanopia, deuteranopia, tritanopia), for linear RGB
MACHADO = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}

#: colour maps that keep their order under all three simulations (tests/test_colour_vision.py)
CVD_SAFE = ("cividis", "viridis", "inferno", "magma", "gray")

#: the heat-map choices as the UI shows them: (label, matplotlib name), labels from the catalogue
#: (``colour.choice_*``): jet is the tradition, the CVD-safe maps say so
def heat_choices() -> list[tuple[str, str]]:
    """The heat-map choices as the UI shows them (in the reader's language)."""
    return [(say("colour.choice_jet" if name == "jet" else "colour.choice_safe" if name in CVD_SAFE and name != "gray"
                 else "colour.choice_plain", name=name), name)
            for name in ("jet", "turbo", "cividis", "viridis", "inferno", "magma", "gray")]


#: ``HEAT_CHOICES``: worded when read, in the reader's language
__getattr__ = lazy(HEAT_CHOICES=heat_choices)


def heat_map_note() -> str:
    """Why the colour-blind-safe maps are offered (for the UI, next to the choice)."""
    return say("colour.heat_note") + " " + signed_map_note()


#: the diverging map of gradients and signed sums (present/steps.py), and a just-noticeable CIE76 ΔE
SIGNED_MAP = "RdBu_r"
JND = 2.3


def signed_map_note() -> str:
    """One sentence on the signed maps' red–blue, with its ends' distance measured under each simulation
    (:func:`end_distance`), so the claim follows the numbers."""
    kinds = ("protanopia", "deuteranopia", "tritanopia")
    d = {k: end_distance(SIGNED_MAP, k) for k in kinds}
    verdict = say("colour.signed_readable" if min(d.values()) > 10 * JND else "colour.signed_numbers")
    return say("colour.signed_note", cmap=SIGNED_MAP, **d, normal=end_distance(SIGNED_MAP), jnd=JND,
               verdict=verdict)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def simulate(rgb: np.ndarray | Sequence[float], kind: str) -> np.ndarray:
    """sRGB colours in [0, 1] (..., 3) as seen with ``kind`` of CVD; linear RGB (..., 3) in [0, 1]."""
    lin = _linear(rgb)
    return np.clip(lin @ MACHADO[kind].T, 0.0, 1.0) if kind != "none" else lin


def _lab(lin: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lightness(lin: np.ndarray) -> np.ndarray:
    """CIE L* (0…100) of linear RGB colours."""
    return _lab(lin)[..., 0]


def _samples(cmap: str, n: int) -> np.ndarray:
    import matplotlib

    return matplotlib.colormaps[cmap](np.linspace(0, 1, n))[:, :3]


def lightness_profile(cmap: str, kind: str = "none", n: int = 64) -> np.ndarray:
    """L* along the map, low to high, as seen with ``kind`` ("none" for normal vision)."""
    return lightness(simulate(_samples(cmap, n), kind))


def is_monotonic(cmap: str, kind: str = "none", n: int = 64, tol: float = 0.5) -> bool:
    """True when lightness never falls by more than ``tol`` (L* units) from low to high (or rises, for a
    map that runs light to dark)."""
    d = np.diff(lightness_profile(cmap, kind, n))
    return bool((d >= -tol).all() or (d <= tol).all())


def end_distance(cmap: str, kind: str = "none") -> float:
    """CIE76 ΔE between the two ends of the map as seen with ``kind`` (a diverging map's two signs)."""
    lab = _lab(simulate(_samples(cmap, 2), kind))
    return float(np.linalg.norm(lab[0] - lab[1]))
