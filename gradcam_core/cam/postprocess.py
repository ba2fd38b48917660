"""Helpers kept apart from the raw result: upsampling and the two normalisations.

* ``normalize_max`` divides by the maximum: 0 stays 0, so a weak map *looks* weak next to
  a strong one when both use the same scale, and "no evidence" stays dark.
* ``normalize_minmax`` stretches every map to [0, 1]: it always shows the relative layout,
  even for a map whose values are all tiny — which also makes noise look like a finding.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gradcam_core.base.errors import Refusal

__all__ = ["upsample", "place", "heat_picture", "normalize_max", "normalize_minmax", "normalize"]


def _batched(cam: torch.Tensor) -> tuple[torch.Tensor, bool]:
    cam = torch.as_tensor(cam, dtype=torch.float32)
    if cam.dim() == 2:
        return cam[None], True
    if cam.dim() == 3:
        return cam, False
    raise Refusal("error.engine.map_shape", shape=tuple(cam.shape))


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (h, w) or (N, h, w) maps to ``size`` = (H, W), same layout back."""
    c, single = _batched(cam)
    out = F.interpolate(c[:, None], size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)[:, 0]
    return out[0] if single else out


def place(cam: torch.Tensor, size: tuple[int, int], centres: Sequence[np.ndarray]) -> torch.Tensor:
    """(h, w) or (N, h, w) maps drawn at ``size`` = (H, W) with each cell *at the centre of what it
    sees*: ``centres`` = (row centres (h,), column centres (w,)) in input pixel indices (see
    ``analysis.cell.cell_centres``).  Between two centres the value is interpolated linearly (row by
    row, then column by column: bilinear); beyond the outermost centres it stays the edge cell's.
    The stretched drawing, :func:`upsample`, puts cell r at (r + 0.5)·H/h − 0.5 instead."""
    c, single = _batched(cam)
    H, W = (int(s) for s in size)
    ys, xs = (np.asarray(v, dtype=np.float64) for v in centres)
    a = c.double().numpy()
    cols = np.arange(W, dtype=np.float64)
    rows = np.arange(H, dtype=np.float64)
    across = np.stack([[np.interp(cols, xs, line) for line in m] for m in a])  # (N, h, W)
    out = np.stack([[np.interp(rows, ys, across[n, :, j]) for j in range(W)] for n in range(a.shape[0])])
    out = torch.from_numpy(out.transpose(0, 2, 1).copy()).float()  # (N, H, W)
    return out[0] if single else out


def heat_picture(cam: torch.Tensor, size: tuple[int, int], centres: Sequence[np.ndarray] | None = None) -> torch.Tensor:
    """The map as it is drawn over the input: :func:`place` at ``centres``, or stretched
    (:func:`upsample`) when ``centres`` is None."""
    return upsample(cam, size) if centres is None else place(cam, size, centres)


def normalize_max(cam: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """cam / max|cam| per map: [0, 1] for a ReLU map, [-1, 1] for a signed one; zeros stay zero."""
    c, single = _batched(cam)
    peak = c.flatten(1).abs().amax(dim=1).clamp_min(eps)[:, None, None]
    out = c / peak
    return out[0] if single else out


def normalize_minmax(cam: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(cam - min) / (max - min) per map (a constant map becomes all zeros)."""
    c, single = _batched(cam)
    flat = c.flatten(1)
    lo = flat.amin(dim=1)[:, None, None]
    span = (flat.amax(dim=1) - flat.amin(dim=1))[:, None, None]
    out = torch.where(span > eps, (c - lo) / span.clamp_min(eps), torch.zeros_like(c))
    return out[0] if single else out


def normalize(cam: torch.Tensor, how: str = "max") -> torch.Tensor:
    """Dispatch on ``how`` in {"max", "minmax"}."""
    if how == "max":
        return normalize_max(cam)
    if how == "minmax":
        return normalize_minmax(cam)
    raise Refusal("error.norm.unknown", norm=how)
