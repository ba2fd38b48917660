"""Numbers drawn into pictures: compact number text and the ticks of colour bars and bar charts.

Tick positions come from ``matplotlib.ticker.MaxNLocator`` (1/2/5 x 10^k steps) and their labels
from ``matplotlib.ticker.ScalarFormatter`` (the fewest decimals that keep neighbours apart; an
order of magnitude, which a figure writes once at the axis end, is written into each label here,
``2e−4``, since a strip has no room for it). No figure is created: the formatter runs on a dummy
axis.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Iterator, Sequence

from matplotlib import ticker

from gradcam_core.present.words import number_text

__all__ = ["format_number", "nice_ticks", "tick_labels", "tick_candidates"]


def written(label: str) -> str:
    """A number written the English way (``0.012``, ``1.3e-4``) as the reader writes it: the decimal
    sign of the running request's language (French: ``0,012``); digits and signs unchanged."""
    return number_text(label)


def format_number(x: float, sig: int = 2, plus: bool = False) -> str:
    """Compact number text: 0.012, 1.3e-4, -2.5, 1234, 0 (French: 0,012, 1,3e-4, -2,5).

    Plain decimals for 1e-3 <= |x| < 1e5 (``sig`` significant digits, trailing
    zeros dropped), otherwise short scientific notation (``1.3e-4``, ``2e6``).
    ``plus=True`` prefixes positive numbers with '+'. The decimal sign is the reader's
    (:func:`written`): these texts go into sentences and pictures, never into code.
    """
    return written(_plain_number(x, sig, plus))


def _plain_number(x: float, sig: int = 2, plus: bool = False) -> str:
    """:func:`format_number`, always with a decimal point (the cached tick labels hold these)."""
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    sig = max(1, int(sig))
    a = abs(x)
    if 1e-3 <= a < 1e5:
        e = math.floor(math.log10(a))
        dec = max(0, sig - 1 - e)
        s = f"{x:.{dec}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
    else:
        s = f"{x:.{sig - 1}e}"
        mant, ex = s.split("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        s = f"{mant}e{int(ex)}"
    if s in ("-0", "+0"):
        s = "0"
    if plus and x > 0 and not s.startswith("+"):
        s = "+" + s
    return s


#: Plain labels for 1e-3 <= |tick| < 1e5, as format_number writes numbers; scientific outside.
_POWER_LIMITS = (-3, 5)
#: One locator per tick count: ``tick_values`` changes nothing in it, so threads share them.
_LOCATORS = {n: ticker.MaxNLocator(nbins=n - 1, steps=[1, 2, 5, 10]) for n in (3, 4, 5, 6)}
_local = threading.local()  # one formatter per thread: ``set_locs`` keeps its state in it


def nice_ticks(lo: float, hi: float, n: int) -> list[float]:
    """At most ``n`` ticks at multiples of a 1/2/5 x 10^k step, inside [lo, hi] (MaxNLocator)."""
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [lo]
    locator = _LOCATORS.get(n) or ticker.MaxNLocator(nbins=max(1, n - 1), steps=[1, 2, 5, 10])
    eps = 1e-9 * span
    return [float(f"{t:.12g}") for t in locator.tick_values(lo, hi) if lo - eps <= t <= hi + eps]


def _formatter() -> ticker.ScalarFormatter:
    fmt = getattr(_local, "fmt", None)
    if fmt is None:
        fmt = ticker.ScalarFormatter(useOffset=False)
        fmt.set_powerlimits(_POWER_LIMITS)
        fmt.create_dummy_axis()
        _local.fmt = fmt
    return fmt


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels of evenly spaced ticks (ScalarFormatter): the same decimals on every label, distinct,
    and ``2e−4`` (the order of magnitude in each label) for very small or large values."""
    return [written(s) for s in _labels(tuple(float(t) for t in ticks))]


@lru_cache(maxsize=1024)
def _labels(ticks: tuple[float, ...]) -> tuple[str, ...]:
    if len(ticks) < 2:
        return tuple(_plain_number(t, 3) for t in ticks)
    fmt = _formatter()
    fmt.axis.set_view_interval(min(ticks), max(ticks))
    fmt.set_locs(list(ticks))
    offset = fmt.get_offset()  # "1e−4" when an order of magnitude is factored out, else ""
    power = offset[1:] if offset.startswith("1e") else ""
    return tuple(s if not power or t == 0 else s + power for t, s in ((t, fmt(t)) for t in ticks))


@lru_cache(maxsize=1024)
def _nice(lo: float, hi: float, n: int) -> tuple[float, ...]:
    return tuple(nice_ticks(lo, hi, n))


def tick_candidates(lo: float, hi: float) -> Iterator[tuple[list[float], list[str]]]:
    """(ticks, labels) options, most ticks first: 3-5 nice ticks, then the ends and the middle,
    then the ends alone (a caller takes the first whose labels fit; the rest are never computed)."""
    lo, hi = float(lo), float(hi)
    seen = set()
    for n in (6, 5, 4, 3):
        ticks = _nice(lo, hi, n)
        if 3 <= len(ticks) <= 5 and ticks not in seen:
            seen.add(ticks)
            yield list(ticks), [written(s) for s in _labels(ticks)]
    if hi > lo:
        mid = (lo + hi) / 2
        yield [lo, mid, hi], [format_number(v, 2) for v in (lo, mid, hi)]
        yield [lo, hi], [format_number(v, 2) for v in (lo, hi)]
    else:
        yield [lo], [format_number(lo, 3)]


def place_1d(centres: Sequence[float], sizes: Sequence[float], length: float,
             min_gap: float) -> tuple[list[float], bool]:
    """Clamp label boxes inside [0, length]; report whether neighbours keep ``min_gap``."""
    starts = []
    for c, s in zip(centres, sizes):
        starts.append(min(max(c - s / 2, 0.0), max(length - s, 0.0)))
    ok = all(starts[i] + sizes[i] + min_gap <= starts[i + 1] for i in range(len(starts) - 1))
    return starts, ok
