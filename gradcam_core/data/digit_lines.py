"""Ruled and squared lines and a sheet's edge in a photo of a digit: found with a Hough transform
restricted to near-horizontal and near-vertical directions, and removed where they are thin (see
:func:`remove_lines`), so the digit reader (:mod:`gradcam_core.data.digit_reader`) sees only the
strokes.  Numbers only: no words."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

# ruled / squared lines and sheet edges (``remove_lines``)
LINE_MIN_LENGTH = 0.45   # a ruling's lines run at least this long ...
LINE_GAP = 8             # ... with gaps of at most this many pixels (at the working size)
LINE_MAX_TILT = 15.0     # ... within this many degrees of horizontal or vertical
RULING_SPREAD = 2.5      # lines of one ruling differ by at most this many degrees (perspective)
LONE_LINE = 0.8          # a line outside a ruling must cross this share of the picture
LINE_THIN_SHARE = 0.3    # a line is removed only if this share of it is thin (no ink on both sides)
LINE_INK_RATIO = 1.25    # pixels darker than this x the line's usual peak ink are a pen stroke on it


class _Lines:
    """The straight-line candidates of one ink mask and the measures :func:`remove_lines` needs."""

    def __init__(self, mask: np.ndarray, ink: np.ndarray | None):
        self.mask, self.ink = mask, ink
        self.h, self.w = mask.shape
        self.min_len = LINE_MIN_LENGTH * min(self.h, self.w)
        self.ys, self.xs = np.nonzero(mask)

    def candidates(self) -> list[tuple]:
        """Hough peaks near horizontal or vertical, strongest first, each as (angle key, cos, sin,
        band pixel indices, longest run, half width, signed distance of the line to the middle)."""
        from skimage.transform import hough_line, hough_line_peaks

        h, w, ys, xs, min_len = self.h, self.w, self.ys, self.xs, self.min_len
        tilt = np.deg2rad(LINE_MAX_TILT)
        step = np.deg2rad(0.25)
        theta = np.concatenate([np.arange(-np.pi / 2, -np.pi / 2 + tilt, step),      # horizontal lines
                                np.arange(-tilt, tilt, step),                        # vertical lines
                                np.arange(np.pi / 2 - tilt, np.pi / 2, step)])
        acc, angles, dists = hough_line(self.mask, theta=theta)
        votes, peak_angles, peak_dists = hough_line_peaks(acc, angles, dists, min_distance=4, min_angle=4,
                                                          threshold=0.5 * min_len, num_peaks=300)
        found = []
        by_col = np.argsort(xs, kind="stable")
        xs_sorted = xs[by_col]                   # (ys is sorted already: np.nonzero is row-major)
        for ang, dist in zip(peak_angles, peak_dists):      # strongest first
            c, s = math.cos(ang), math.sin(ang)
            # only the pixels in the rows (columns) the line can pass through, +-4 px
            if abs(s) > abs(c):                  # near-horizontal: y = (dist - x cos) / sin
                ends = sorted(((dist - c * x) / s for x in (0, w - 1)))
                pad = 4.0 / abs(s) + 1
                idx = np.arange(*np.searchsorted(ys, [ends[0] - pad, ends[1] + pad]))
            else:
                ends = sorted(((dist - s * y) / c for y in (0, h - 1)))
                pad = 4.0 / abs(c) + 1
                idx = by_col[slice(*np.searchsorted(xs_sorted, [ends[0] - pad, ends[1] + pad]))]
            dd = xs[idx] * c + ys[idx] * s - dist
            keep = np.abs(dd) <= 4.0
            near, dd = idx[keep], dd[keep]
            if len(near) < 0.5 * min_len:
                continue
            centre = float(np.median(dd))
            lo, hi = np.percentile(dd, [10, 90])
            half = float(np.clip(max(hi - centre, centre - lo) + 0.5, 1.5, 3.5))   # the line's half width
            mid = (w - 1) / 2 * c + (h - 1) / 2 * s - dist - centre   # where it passes the middle
            band = near[np.abs(dd - centre) <= half]
            run = self.longest_run(band, c, s)
            if run is None:
                continue
            # one way to name a direction: near-horizontal lines get normals in (45, 135) degrees
            key_ang, key_mid = (ang + np.pi, -mid) if ang < -np.pi / 4 else (ang, mid)
            found.append((key_ang, c, s, band, run, half, key_mid))
        return found

    def longest_run(self, band, c, s) -> int | None:
        """Votes from scattered texture (a table strip) are not a line: the longest stretch along
        the line whose gaps are at most LINE_GAP pixels (None: no pixels)."""
        t = np.unique(np.rint(self.ys[band] * c - self.xs[band] * s).astype(int))
        if len(t) == 0:
            return None
        breaks = np.flatnonzero(np.diff(t) > LINE_GAP)
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks, [len(t) - 1]])
        return int((t[ends] - t[starts]).max())

    def thin_points(self, band, c, s, half, ink_mask=None) -> np.ndarray:
        """The band's points with no ink just beside the line, on both sides."""
        ink_mask = self.mask if ink_mask is None else ink_mask
        off = half + 2.0
        thin = np.ones(len(band), dtype=bool)
        for sign in (1.0, -1.0):
            yy = np.clip(np.rint(self.ys[band] + sign * off * s).astype(int), 0, self.h - 1)
            xx = np.clip(np.rint(self.xs[band] + sign * off * c).astype(int), 0, self.w - 1)
            thin &= ~ink_mask[yy, xx]
        return thin

    def crosses_middle(self, band) -> bool:
        """Ruled lines cross the sheet's middle; a table's grain does not."""
        inside = (np.abs(self.xs[band] - self.w / 2) < self.w / 4) & (np.abs(self.ys[band] - self.h / 2) < self.h / 4)
        return inside.mean() >= 0.25

    def strength(self, band, c, s) -> float:
        """The median over the line's length of its peak ink across it (1 without ``ink``)."""
        if self.ink is None:
            return 1.0
        pos = np.rint(self.ys[band] * c - self.xs[band] * s).astype(int)
        pos -= pos.min()
        peak = np.zeros(pos.max() + 1, np.float32)
        np.maximum.at(peak, pos, self.ink[self.ys[band], self.xs[band]])
        return float(np.median(peak[peak > 0]))

    def chosen(self, found: list[tuple]) -> list[tuple]:
        """The candidates that are lines of paper: (band, cos, sin, half width, horizontal, reference ink).

        Long lines count; shorter (faint, broken) ones too when parallel to at least three long
        ones: the ruling of the same sheet (long lines in a table's texture are not thin, or lie
        away from the middle: no ruling).  A line across the whole picture is a sheet's edge."""
        h, w, min_len = self.h, self.w, self.min_len
        strong = [(f[0], self.strength(f[3], f[1], f[2])) for f in found
                  if f[4] >= min_len and self.crosses_middle(f[3]) and float(self.thin_points(f[3], f[1], f[2], f[5]).mean()) >= 0.4]
        bands, seen = [], []
        pool = list(strong)              # the ruling grows from its strong lines (a perspective fan)
        for ang, c, s, band, run, half, mid in sorted(found, key=lambda f: -f[4]):   # longest first
            horizontal = ang > np.pi / 4
            ruling = [st for (a, st) in pool if abs(a - ang) <= np.deg2rad(RULING_SPREAD)]
            if len(ruling) >= 3 and run >= 0.5 * min_len:
                ref = max(float(np.median(ruling)), self.strength(band, c, s))   # its own or the ruling's
                pool.append((ang, ref))
            elif run >= LONE_LINE * (w if horizontal else h):
                ref = self.strength(band, c, s)                   # an edge across the whole picture
            else:
                continue                                          # a long straight stroke (a "1") stays
            # one line, one band: a thick stroke on a ruled line gives several neighbouring peaks
            if any(abs(ang - a) <= np.deg2rad(1.5) and abs(mid - m) <= 6.0 for a, m in seen):
                continue
            seen.append((ang, mid))
            bands.append((band, c, s, half, horizontal, ref))
        return bands


def remove_lines(mask: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray:
    """Pixels of long straight thin lines in ``mask`` (ruled or squared paper, a sheet's edge).

    Lines are found with a Hough transform restricted to near-horizontal and near-vertical
    directions.  A line counts when it belongs to a ruling (at least three parallel lines, each
    at least ``LINE_MIN_LENGTH`` of the shorter side long, thin and crossing the middle; its
    fainter parallels then count from half that length) or when it crosses ``LONE_LINE`` of the
    picture (a sheet's edge).  Along each line only
    the thin pixels go (no ink on both sides across the line, other lines not counted) that are
    not much darker than the line itself (``LINE_INK_RATIO`` x its median peak ink, when ``ink`` is
    given), so where a digit's stroke crosses or follows a ruled line, the stroke stays.  A
    detected line whose pixels are mostly not thin (a thick stroke of a tall "1") is left alone.
    """
    out = np.zeros_like(mask)
    lines = _Lines(mask, ink)
    if mask.sum() < lines.min_len:
        return out
    bands = lines.chosen(lines.candidates())
    ys, xs = lines.ys, lines.xs
    family = {True: np.zeros_like(mask), False: np.zeros_like(mask)}   # horizontal / vertical lines
    for band, _c, _s, _half, horizontal, _ref in bands:
        family[horizontal][ys[band], xs[band]] = True
    for band, c, s, half, horizontal, ref in bands:
        # ink across the line, not counting the crossing lines of the other direction (a grid);
        # a parallel neighbour that close is the rest of a thick stroke, not another ruled line
        thin = lines.thin_points(band, c, s, half, mask & ~family[not horizontal])
        if thin.mean() < LINE_THIN_SHARE:
            continue
        if ink is not None:      # much darker than the ruling: a pen stroke on the line, kept
            thin &= ink[ys[band], xs[band]] <= LINE_INK_RATIO * ref
        out[ys[band[thin]], xs[band[thin]]] = True
    return out


def ruled_lines(ink: np.ndarray, sigma: float) -> np.ndarray:
    """A photo's ruled lines (``remove_lines``), grown by a pixel but without the darker ink on them.

    Lines are found on a lower threshold than the marks, where faint ruling is still continuous.
    """
    lines = remove_lines(ink > max(2.5 * sigma, 0.02), ink)
    return ndimage.binary_dilation(lines) & (ink <= ndimage.maximum_filter(np.where(lines, ink, 0), 3)
                                             * LINE_INK_RATIO)
